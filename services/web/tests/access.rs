//! Who may call what: every route of the table, without a session, with a
//! session of each role, and state-changing calls without their CSRF token.
//! In-process (the router), over a real SQLite catalog and a local store.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use moocpipe_catalog::{Catalog, Role};
use moocpipe_storage::LocalStore;
use moocpipe_web::routes::{Access, Kind, ROUTES};
use moocpipe_web::{App, ServeConfig, SharedApp, Store};
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    app: SharedApp,
}

const PASSWORD: &str = "a long enough password";

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Catalog::open_local(dir.path()).await.expect("catalog");
    for (name, role) in [
        ("ada", Role::Admin),
        ("cai", Role::Caidd),
        ("stu", Role::Studio),
    ] {
        catalog.add_user(name, role, PASSWORD).await.expect("user");
    }
    let store = LocalStore::open(dir.path().join("store")).expect("store");
    let app = App::new(
        catalog,
        Store::Local(store),
        None,
        None,
        ServeConfig::default(),
    );
    Fixture { _dir: dir, app }
}

/// A concrete path for a route: placeholders filled with made-up values.
fn concrete(path: &str) -> String {
    path.replace("{take_id}", "no-such-take")
        .replace("{course}", "no-such-course")
        .replace("{stage}", "probe")
        .replace("{file}", "app.css")
        .replace("{*file}", "runs/r/renditions/x.mp4")
        .replace("{upload_id}", "no-such-upload")
        .replace("{link_id}", "0000000000000000")
        .replace("{token}", &"ab".repeat(32))
        .replace("{*path}", "runs/r/renditions/x.mp4")
}

async fn call(
    app: &SharedApp,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(path)
        .header(header::HOST, "localhost");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    let body = if method == "POST" {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        Body::from("csrf=wrong")
    } else {
        Body::empty()
    };
    let response = moocpipe_web::router(app.clone())
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    (
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
        location,
    )
}

/// Logs in through the API: the cookie header and the CSRF token.
async fn login(app: &SharedApp, name: &str) -> (String, String) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({"name": name, "password": PASSWORD}).to_string(),
        ))
        .expect("request");
    let response = moocpipe_web::router(app.clone())
        .oneshot(request)
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK, "login as {name}");
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let csrf = body["csrf_token"].as_str().expect("csrf").to_owned();
    assert_eq!(body["name"], name);
    (pair, csrf)
}

#[tokio::test]
async fn every_route_answers_401_without_a_session_and_403_to_a_lower_role() {
    let f = fixture().await;
    let sessions = [
        (Role::Studio, login(&f.app, "stu").await),
        (Role::Caidd, login(&f.app, "cai").await),
        (Role::Admin, login(&f.app, "ada").await),
    ];
    let mut checked = 0;
    for route in ROUTES {
        if route.access == Access::Public {
            continue;
        }
        let path = concrete(route.path);
        let (status, body, location) = call(&f.app, route.method, &path, None, None).await;
        match route.kind {
            Kind::Api => {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{} {path}: {body}",
                    route.method
                );
                let error: serde_json::Value = serde_json::from_str(&body).expect("json error");
                assert_eq!(error["kind"], "unauthenticated", "{} {path}", route.method);
            }
            Kind::Page => {
                assert_eq!(status, StatusCode::SEE_OTHER, "{} {path}", route.method);
                assert!(
                    location
                        .as_deref()
                        .is_some_and(|l| l.starts_with("/login?next=")),
                    "{} {path} → {location:?}",
                    route.method
                );
            }
        }
        for (role, (cookie, csrf)) in &sessions {
            let (status, body, _) =
                call(&f.app, route.method, &path, Some(cookie), Some(csrf)).await;
            if !route.access.allows(*role) {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} {path} as {role}: {body}",
                    route.method
                );
                if route.kind == Kind::Api {
                    let error: serde_json::Value = serde_json::from_str(&body).expect("json");
                    assert_eq!(error["kind"], "forbidden");
                }
            } else {
                assert!(
                    status != StatusCode::UNAUTHORIZED
                        && !(status == StatusCode::FORBIDDEN && body.contains("\"forbidden\"")),
                    "{} {path} as {role} is let through: {status} {body}",
                    route.method
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked} routes checked");
}

#[tokio::test]
async fn a_state_changing_call_without_the_csrf_token_is_refused() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.app, "ada").await;
    let path = "/api/v1/dead-letters/probe/replay";
    let (status, body, _) = call(&f.app, "POST", path, Some(&cookie), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("\"csrf\""), "{body}");
    let (status, body, _) = call(&f.app, "POST", path, Some(&cookie), Some("forged")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // With the token it passes the guard (the embedded mode has no broker).
    let (status, body, _) = call(&f.app, "POST", path, Some(&cookie), Some(&csrf)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A form with a wrong token is refused too.
    let (status, _, _) = call(
        &f.app,
        "POST",
        "/dead-letters/probe/purge",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn failed_logins_are_rate_limited_and_a_wrong_password_is_401() {
    let f = fixture().await;
    let attempt = |password: &'static str| {
        let app = f.app.clone();
        async move {
            let request = Request::builder()
                .method(Method::POST)
                .uri("/api/v1/session")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({"name": "cai", "password": password}).to_string(),
                ))
                .expect("request");
            moocpipe_web::router(app)
                .oneshot(request)
                .await
                .expect("response")
                .status()
        }
    };
    for _ in 0..moocpipe_web::LOGIN_FAILURES {
        assert_eq!(attempt("wrong password!").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        attempt(PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits after too many failures"
    );
}

#[tokio::test]
async fn a_logged_out_session_no_longer_opens_anything() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.app, "cai").await;
    let (status, _, _) = call(&f.app, "GET", "/api/v1/me", Some(&cookie), None).await;
    assert_eq!(status, StatusCode::OK);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/logout")
        .header(header::HOST, "localhost")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={csrf}")))
        .expect("request");
    let response = moocpipe_web::router(f.app.clone())
        .oneshot(request)
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, _, _) = call(&f.app, "GET", "/api/v1/me", Some(&cookie), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_count_the_catalog_s_takes_by_state() {
    let f = fixture().await;
    let Store::Local(store) = &f.app.store else {
        panic!("a local store");
    };
    let take = serde_json::json!({
        "take_id": "t1", "source": "/raw/t1.mov", "key": "phys/01-a/01-b/t1.mov",
        "course": "phys", "kind": "lecture", "module": 1, "lesson": 1, "take": "t1",
        "title": "T1", "size_bytes": 1
    });
    store
        .put_json(
            &moocpipe_storage::layout::record("t1", moocpipe_storage::layout::Record::Ingest),
            &take,
        )
        .expect("ingest record");
    store
        .put_json(&moocpipe_storage::layout::course_index("phys", "t1"), &take)
        .expect("course index");
    moocpipe_catalog::sync::sync_all(&f.app.catalog, store)
        .await
        .expect("sync");
    let (status, body, _) = call(&f.app, "GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("moocpipe_takes{state=\"uploaded\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("moocpipe_takes{state=\"published\"} 0"),
        "{body}"
    );
}

#[tokio::test]
async fn uploads_are_the_studio_s_and_the_embedded_mode_says_how_to_add_takes() {
    let f = fixture().await;
    let (studio, studio_csrf) = login(&f.app, "stu").await;
    let (reviewer, reviewer_csrf) = login(&f.app, "cai").await;
    let (admin, _) = login(&f.app, "ada").await;
    for cookie in [&studio, &admin] {
        let (status, page, _) = call(&f.app, "GET", "/upload", Some(cookie), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("need the distributed mode"), "{page}");
        assert!(page.contains("moocpipe process --data"), "{page}");
        assert!(page.contains("href=\"/upload\""), "the nav links the page");
    }
    let (status, body, _) = call(&f.app, "GET", "/upload", Some(&reviewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, overview, _) = call(&f.app, "GET", "/overview", Some(&reviewer), None).await;
    assert!(
        !overview.contains("href=\"/upload\""),
        "no link a reviewer cannot follow"
    );
    let (status, body, _) = call(
        &f.app,
        "POST",
        "/api/v1/uploads",
        Some(&reviewer),
        Some(&reviewer_csrf),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("the studio or admin role"), "{body}");
    let (status, body, _) = call(
        &f.app,
        "POST",
        "/api/v1/uploads",
        Some(&studio),
        Some(&studio_csrf),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(error["kind"], "not_found");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("distributed mode")),
        "{body}"
    );
}

#[tokio::test]
async fn a_stable_link_needs_no_session_and_an_unknown_one_is_404() {
    let f = fixture().await;
    let token = "ab".repeat(32);
    for path in [
        format!("/l/{token}"),
        format!("/l/{token}/runs/r/renditions/x.mp4"),
        "/l/not-a-token".to_owned(),
    ] {
        let (status, body, location) = call(&f.app, "GET", &path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(location, None, "{path}: no login asked");
        assert!(body.contains("no such link"), "{path}: {body}");
    }
}
