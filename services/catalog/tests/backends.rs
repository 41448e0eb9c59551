//! The same catalog scenario on both backends: SQLite in a data folder and
//! a real PostgreSQL (the control plane's server), one set of queries.

use moocpipe_catalog::sync::{sync_all, sync_take};
use moocpipe_catalog::{Catalog, Page, Role, TakeFilter};
use moocpipe_control::testing::TestDatabase;
use moocpipe_proto::MaterialRecord;
use moocpipe_storage::layout::{self, Record};
use moocpipe_storage::LocalStore;
use std::time::Duration;

fn take_ref(id: &str, course: &str, module: u32, lesson: u32) -> serde_json::Value {
    serde_json::json!({
        "take_id": id, "source": format!("/raw/{id}.mov"),
        "key": format!("{course}/{module:02}-m/{lesson:02}-l/{id}.mov"),
        "course": course, "kind": "lecture", "module": module, "lesson": lesson,
        "take": id, "title": format!("Take {id}"), "size_bytes": 1234
    })
}

/// A probe record that fails `video.bitrate` (as the probe writes it).
fn failing_probe() -> serde_json::Value {
    serde_json::json!({
        "schema_version": 1, "file": "x.mov", "verdict": "fail",
        "rules": [{"id": "video.bitrate", "clause": "9.1.3", "required": "≥ 50 Mbit/s",
                   "measured": "4 Mbit/s", "verdict": "fail", "hint": "record at a higher rate"}],
        "streams": {"video": 1, "audio": 1, "other": 0},
        "audio": [], "warnings": []
    })
}

/// A material's record: published (with its copy's key) or not.
fn material(path: &str, object: Option<&str>) -> MaterialRecord {
    serde_json::from_value(serde_json::json!({
        "schema_version": 1, "course": "phys", "path": path,
        "source": format!("/raw/phys/{path}"), "source_version": "12-34", "size_bytes": 12,
        "declared": "pdf",
        "detected": if object.is_some() { "pdf" } else { "text" },
        "verdict": if object.is_some() { "ok" } else { "error" },
        "object": object.map(|key| serde_json::json!({"key": key, "size_bytes": 12, "etag": "e"})),
        "error": if object.is_some() { serde_json::Value::Null } else {
            serde_json::json!({"kind": "mismatch", "message": "syllabus.pdf claims to be a PDF document (by its name) but its content is plain text"})
        },
    }))
    .expect("a material record")
}

async fn scenario(catalog: &Catalog, store: &LocalStore) {
    for (id, course, module, lesson) in [
        ("a1", "phys", 1, 1),
        ("a2", "phys", 1, 2),
        ("b1", "chem", 2, 1),
    ] {
        store
            .put_json(
                &layout::record(id, Record::Ingest),
                &take_ref(id, course, module, lesson),
            )
            .expect("ingest");
        store
            .put_json(
                &layout::course_index(course, id),
                &take_ref(id, course, module, lesson),
            )
            .expect("index");
    }
    store
        .put_json(&layout::record("a2", Record::Probe), &failing_probe())
        .expect("probe");
    store
        .put_json(
            &layout::course_info("phys"),
            &serde_json::json!({"title": "Physics", "launch_date": "2031-09-01"}),
        )
        .expect("course.json");
    let slides = material(
        "slides/week1.pdf",
        Some("courses/phys/materials/slides/week1.pdf"),
    );
    let fake = material("syllabus.pdf", None);
    for record in [&slides, &fake] {
        store
            .put_json(
                &layout::material_record(
                    "phys",
                    &moocpipe_ingest::material_id("phys", &record.path),
                ),
                record,
            )
            .expect("material record");
    }
    let summary = sync_all(catalog, store).await.expect("sync all");
    assert_eq!((summary.takes, summary.courses), (3, 2), "{summary:?}");
    assert_eq!(
        catalog.course_materials("phys").await.expect("materials"),
        [slides.clone(), fake.clone()]
    );
    assert_eq!(
        catalog
            .material_by_object("courses/phys/materials/slides/week1.pdf")
            .await
            .expect("by object"),
        Some(slides.clone())
    );
    assert_eq!(
        catalog
            .material_by_object("courses/phys/materials/syllabus.pdf")
            .await
            .expect("by object"),
        None,
        "a material in error has no copy to open"
    );
    std::fs::remove_file(store.path(&layout::material_record(
        "phys",
        &moocpipe_ingest::material_id("phys", "syllabus.pdf"),
    )))
    .expect("remove a record");
    moocpipe_catalog::sync::sync_course(catalog, store, "phys")
        .await
        .expect("sync course");
    assert_eq!(
        catalog.course_materials("phys").await.expect("materials"),
        [slides]
    );
    assert!(catalog
        .course_materials("chem")
        .await
        .expect("none")
        .is_empty());
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);

    let a2 = catalog.take("a2").await.expect("take").expect("a2");
    assert_eq!(a2.summary.state, "failed_spec");
    assert_eq!(a2.summary.failed_rules, "video.bitrate");
    assert_eq!(a2.summary.module, Some(1));
    assert_eq!(
        catalog
            .take("a1")
            .await
            .expect("take")
            .map(|t| t.summary.state)
            .as_deref(),
        Some("uploaded")
    );
    assert_eq!(
        sync_take(catalog, store, "a1", true).await.expect("sync"),
        Some(moocpipe_catalog::TakeState::Probing)
    );

    let counts = catalog.state_counts().await.expect("counts");
    let count = |state: &str| counts.iter().find(|c| c.state == state).map(|c| c.takes);
    assert_eq!(count("failed_spec"), Some(1));
    assert_eq!(count("uploaded"), Some(1));
    assert_eq!(count("probing"), Some(1));
    let rules = catalog.failing_rules_since(0).await.expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].rule.as_str(), rules[0].takes),
        ("video.bitrate", 1)
    );

    let courses = catalog.courses(Page::default()).await.expect("courses");
    assert_eq!(courses.total, 2);
    let phys = courses
        .items
        .iter()
        .find(|c| c.course == "phys")
        .expect("phys");
    assert_eq!(phys.title.as_deref(), Some("Physics"));
    assert_eq!(phys.launch_date.as_deref(), Some("2031-09-01"));
    assert_eq!((phys.takes, phys.failed_spec, phys.published), (2, 1, 0));
    let in_order: Vec<String> = catalog
        .course_takes("phys")
        .await
        .expect("course takes")
        .into_iter()
        .map(|t| t.take_id)
        .collect();
    assert_eq!(in_order, ["a1", "a2"]);

    let filtered = catalog
        .takes(
            &TakeFilter {
                course: Some("phys".into()),
                state: Some("failed_spec".into()),
            },
            Page::new(Some(1), Some(10)),
        )
        .await
        .expect("filtered");
    assert_eq!(filtered.total, 1);
    assert_eq!(filtered.items[0].take_id, "a2");
    let second_page = catalog
        .takes(&TakeFilter::default(), Page::new(Some(2), Some(2)))
        .await
        .expect("page 2");
    assert_eq!((second_page.total, second_page.items.len()), (3, 1));

    // Users and sessions.
    let user = catalog
        .add_user("reviewer", Role::Caidd, "a long enough password")
        .await
        .expect("add");
    assert!(catalog
        .add_user("reviewer", Role::Admin, "another long one")
        .await
        .is_err());
    assert!(catalog
        .check_login("reviewer", "wrong password!!")
        .await
        .expect("check")
        .is_none());
    let checked = catalog
        .check_login("reviewer", "a long enough password")
        .await
        .expect("check")
        .expect("user");
    assert_eq!(checked.role, Role::Caidd);
    let session = catalog
        .open_session(&user, Duration::from_secs(60))
        .await
        .expect("session");
    let found = catalog
        .session(&session.token)
        .await
        .expect("lookup")
        .expect("live");
    assert_eq!(found.name, "reviewer");
    assert!(catalog.session("forged").await.expect("lookup").is_none());
    assert!(catalog
        .set_password("reviewer", "a new long password")
        .await
        .expect("passwd"));
    assert!(
        catalog
            .session(&session.token)
            .await
            .expect("lookup")
            .is_none(),
        "a new password ends the sessions"
    );
    assert!(catalog.remove_user("reviewer").await.expect("remove"));
    assert!(catalog.users().await.expect("users").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_opening_a_new_sqlite_catalog_at_once_both_get_it() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = tokio::join!(
            Catalog::open_local(dir.path()),
            Catalog::open_local(dir.path())
        );
        let (a, b) = (a.expect("first"), b.expect("second"));
        let (x, y) = tokio::join!(
            a.add_user("one", Role::Admin, "a long enough password"),
            b.add_user("two", Role::Studio, "a long enough password")
        );
        x.expect("add one");
        y.expect("add two");
        assert_eq!(a.users().await.expect("users").len(), 2);
    }
}

#[tokio::test]
async fn sqlite_holds_the_catalog_of_the_embedded_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path().join("store")).expect("store");
    let catalog = Catalog::open_local(dir.path()).await.expect("catalog");
    scenario(&catalog, &store).await;
    // A second open of the same file keeps what is there.
    let again = Catalog::open_local(dir.path()).await.expect("reopen");
    assert_eq!(again.take_ids().await.expect("ids").len(), 3);
}

#[tokio::test]
async fn postgresql_holds_the_same_catalog_with_the_same_queries() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path().join("store")).expect("store");
    // The control plane's tables and the catalog's share the database.
    let _control = moocpipe_control::connect(&database.url)
        .await
        .expect("control");
    let catalog = Catalog::open(&database.url).await.expect("catalog");
    scenario(&catalog, &store).await;
    let (a, b) = tokio::join!(Catalog::open(&database.url), Catalog::open(&database.url));
    assert!(a.is_ok() && b.is_ok(), "two servers starting at once");
}
