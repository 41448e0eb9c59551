//! Real network: the capture servers from `moocpipe_notify::capture` on the
//! loopback, the real lettre and hyper clients.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use moocpipe_notify::capture::{CaptureServer, WebhookServer};
use moocpipe_notify::{
    Notice, Notifier, NotifyConfig, NotifyError, Sent, SmtpConfig, WebhookConfig,
};
use serde_json::json;
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(5);

fn notice(to: Option<&str>) -> Notice {
    Notice {
        take_id: "9f2c41d0e7a1b3c5".into(),
        to: to.map(str::to_owned),
        cc: Vec::new(),
        subject: "Your take \"Intro\" is processed".into(),
        text: "Hello,\n\nall checks passed.\n.a line starting with a dot\n".into(),
        payload: json!({ "take_id": "9f2c41d0e7a1b3c5", "outcome": "pass", "rules": 9 }),
    }
}

fn smtp(url: String) -> Option<SmtpConfig> {
    Some(SmtpConfig {
        url,
        from: "moocpipe <moocpipe@example.org>".into(),
    })
}

fn webhook(url: String) -> Option<WebhookConfig> {
    Some(WebhookConfig {
        url,
        timeout: Duration::from_secs(2),
    })
}

/// A notifier over the given channels.
fn notifier(smtp: Option<SmtpConfig>, webhook: Option<WebhookConfig>) -> Notifier {
    Notifier::new(NotifyConfig {
        smtp,
        webhook,
        studio: Vec::new(),
    })
    .expect("notifier")
}

/// A port on the loopback that nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

#[tokio::test]
async fn email_arrives_with_recipient_subject_message_id_and_body() {
    let server = CaptureServer::start().await.expect("capture server");
    let notifier = notifier(smtp(server.url()), None);

    let sent = notifier
        .send(&notice(Some("Ada Author <ada@example.org>")))
        .await
        .expect("sent");
    assert_eq!(
        sent,
        Sent {
            email: true,
            webhook: false
        }
    );

    let mails = server.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "moocpipe@example.org");
    assert_eq!(mail.to, vec!["ada@example.org".to_owned()]);
    let to = mail.header("To").expect("To header");
    assert!(to.contains("ada@example.org"), "{to}");
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Your take \"Intro\" is processed")
    );
    assert_eq!(
        mail.header("Message-ID").as_deref(),
        Some("<take-9f2c41d0e7a1b3c5@moocpipe>")
    );
    let content_type = mail.header("Content-Type").expect("Content-Type");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = mail.body();
    assert!(body.contains("all checks passed."), "{body:?}");
    // lettre dot-stuffs the line, the server unstuffs it.
    assert!(
        body.contains("\r\n.a line starting with a dot\r\n"),
        "{body:?}"
    );
}

#[tokio::test]
async fn the_studio_gets_a_copy_with_or_without_an_author_address() {
    let server = CaptureServer::start().await.expect("capture server");
    let notifier = notifier(smtp(server.url()), None);
    let mut copied = notice(Some("ada@example.org"));
    copied.cc = vec!["studio@example.org".into(), "lead@example.org".into()];
    notifier.send(&copied).await.expect("sent");
    let mut studio_only = notice(None);
    studio_only.cc = vec!["studio@example.org".into()];
    let sent = notifier.send(&studio_only).await.expect("sent");
    assert!(sent.email, "the studio alone is a recipient");

    let mails = server.wait_for(2, WAIT).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    let mut first = mails[0].to.clone();
    first.sort();
    assert_eq!(
        first,
        ["ada@example.org", "lead@example.org", "studio@example.org"]
    );
    let cc = mails[0].header("Cc").expect("Cc header");
    assert!(cc.contains("studio@example.org"), "{cc}");
    assert_eq!(mails[1].to, vec!["studio@example.org".to_owned()]);
}

#[test]
fn studio_addresses_are_read_and_checked() {
    let config = NotifyConfig::from_lookup(lookup(&[(
        "MOOCPIPE_STUDIO_EMAILS",
        "studio@example.org, Lead <lead@example.org>,",
    )]))
    .expect("config");
    assert_eq!(
        config.studio,
        ["studio@example.org", "Lead <lead@example.org>"]
    );
    let err = NotifyConfig::from_lookup(lookup(&[("MOOCPIPE_STUDIO_EMAILS", "not an address")]))
        .expect_err("refused");
    assert!(err.to_string().contains("MOOCPIPE_STUDIO_EMAILS"), "{err}");
}

#[tokio::test]
async fn a_resend_carries_the_same_message_id() {
    let server = CaptureServer::start().await.expect("capture server");
    let notifier = notifier(smtp(server.url()), None);
    let notice = notice(Some("ada@example.org"));
    notifier.send(&notice).await.expect("first");
    notifier.send(&notice).await.expect("second");
    let mails = server.wait_for(2, WAIT).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].header("Message-ID"), mails[1].header("Message-ID"));
}

#[tokio::test]
async fn webhook_receives_the_json_and_the_idempotency_key() {
    let email = CaptureServer::start().await.expect("capture server");
    let hook = WebhookServer::start().await.expect("webhook server");
    let notifier = notifier(smtp(email.url()), webhook(hook.url()));
    let notice = notice(Some("ada@example.org"));

    let sent = notifier.send(&notice).await.expect("sent");
    assert_eq!(
        sent,
        Sent {
            email: true,
            webhook: true
        }
    );

    let requests = hook.wait_for(1, WAIT).await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/webhook");
    assert_eq!(request.header("Idempotency-Key"), Some("9f2c41d0e7a1b3c5"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.json().expect("JSON body"), notice.payload);
    assert_eq!(email.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn without_a_recipient_only_the_webhook_is_sent() {
    let email = CaptureServer::start().await.expect("capture server");
    let hook = WebhookServer::start().await.expect("webhook server");
    let notifier = notifier(smtp(email.url()), webhook(hook.url()));

    for to in [None, Some("  ")] {
        let sent = notifier.send(&notice(to)).await.expect("sent");
        assert_eq!(
            sent,
            Sent {
                email: false,
                webhook: true
            }
        );
    }
    assert_eq!(hook.wait_for(2, WAIT).await.len(), 2);
    // Give a stray e-mail the time to arrive before saying there is none.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(email.messages().is_empty(), "{:?}", email.messages());
}

#[tokio::test]
async fn nothing_configured_sends_nothing() {
    let notifier = Notifier::new(NotifyConfig::default()).expect("notifier");
    assert!(!notifier.has_email() && !notifier.has_webhook());
    let sent = notifier
        .send(&notice(Some("ada@example.org")))
        .await
        .expect("sent");
    assert_eq!(sent, Sent::default());
}

#[tokio::test]
async fn smtp_port_closed_is_transient_and_names_the_address() {
    let port = closed_port().await;
    let notifier = notifier(smtp(format!("smtp://user:hunter2@127.0.0.1:{port}")), None);

    let err = notifier
        .send(&notice(Some("ada@example.org")))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, NotifyError::Smtp { .. }), "{err:?}");
    assert!(err.is_transient(), "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("SMTP"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn smtp_4xx_is_transient_and_5xx_permanent() {
    for (code, transient) in [(451, true), (550, false)] {
        let server = CaptureServer::start_rejecting_recipients(code)
            .await
            .expect("capture server");
        let notifier = notifier(smtp(server.url()), None);
        let err = notifier
            .send(&notice(Some("ada@example.org")))
            .await
            .expect_err("refused");
        assert_eq!(err.is_transient(), transient, "{code}: {err}");
        let message = err.to_string();
        assert!(message.contains(&code.to_string()), "{message}");
        assert!(message.contains(&server.addr().to_string()), "{message}");
        assert!(server.messages().is_empty());
    }
}

#[tokio::test]
async fn an_invalid_recipient_is_permanent() {
    let server = CaptureServer::start().await.expect("capture server");
    let notifier = notifier(smtp(server.url()), None);
    let err = notifier
        .send(&notice(Some("not an address")))
        .await
        .expect_err("invalid");
    assert!(matches!(err, NotifyError::InvalidNotice { .. }), "{err:?}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_take_id_that_could_inject_headers_is_refused() {
    let hook = WebhookServer::start().await.expect("webhook server");
    let notifier = notifier(None, webhook(hook.url()));
    let mut notice = notice(None);
    notice.take_id = "abc\r\nBcc: eve@example.org".into();
    let err = notifier.send(&notice).await.expect_err("refused");
    assert!(matches!(err, NotifyError::InvalidNotice { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert!(hook.requests().is_empty());
}

#[tokio::test]
async fn webhook_500_is_transient_and_400_permanent() {
    let hook = WebhookServer::start_with_status(500)
        .await
        .expect("webhook server");
    let notifier = notifier(None, webhook(hook.url()));

    let err = notifier.send(&notice(None)).await.expect_err("500");
    assert!(
        matches!(err, NotifyError::WebhookStatus { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains(&hook.addr().to_string()), "{err}");

    hook.set_status(400).expect("status");
    let err = notifier.send(&notice(None)).await.expect_err("400");
    assert!(
        matches!(err, NotifyError::WebhookStatus { status: 400, .. }),
        "{err:?}"
    );
    assert!(!err.is_transient(), "{err}");

    hook.set_status(200).expect("status");
    let sent = notifier.send(&notice(None)).await.expect("200");
    assert!(sent.webhook);
    // Every attempt carried the same key.
    let requests = hook.wait_for(3, WAIT).await;
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|request| request.header("idempotency-key") == Some("9f2c41d0e7a1b3c5")));
}

#[tokio::test]
async fn webhook_connection_refused_is_transient() {
    let port = closed_port().await;
    let notifier = notifier(
        None,
        webhook(format!("http://127.0.0.1:{port}/hooks/SECRET")),
    );
    let err = notifier.send(&notice(None)).await.expect_err("refused");
    assert!(matches!(err, NotifyError::Webhook { .. }), "{err:?}");
    assert!(err.is_transient(), "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("SECRET"), "{message}");
}

#[tokio::test]
async fn webhook_that_never_answers_times_out_transiently() {
    // Accepts connections and reads nothing back.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let notifier = notifier(
        None,
        Some(WebhookConfig {
            url: format!("http://{addr}/webhook"),
            timeout: Duration::from_millis(300),
        }),
    );

    let started = Instant::now();
    let err = notifier.send(&notice(None)).await.expect_err("time-out");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(err, NotifyError::WebhookTimeout { .. }), "{err:?}");
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    silent.abort();
}

#[tokio::test]
async fn a_webhook_failure_is_reported_even_when_the_email_went() {
    let email = CaptureServer::start().await.expect("capture server");
    let hook = WebhookServer::start_with_status(503)
        .await
        .expect("webhook server");
    let notifier = notifier(smtp(email.url()), webhook(hook.url()));
    let err = notifier
        .send(&notice(Some("ada@example.org")))
        .await
        .expect_err("503");
    assert!(err.is_transient());
    assert_eq!(email.wait_for(1, WAIT).await.len(), 1);
}

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

#[test]
fn config_from_lookup_reads_the_three_variables() {
    let config = NotifyConfig::from_lookup(lookup(&[
        ("MOOCPIPE_SMTP_URL", "smtp://relay.internal:2525"),
        ("MOOCPIPE_WEBHOOK_URL", "https://hooks.example.org/moocpipe"),
    ]))
    .expect("config");
    let smtp = config.smtp.expect("smtp");
    assert_eq!(smtp.url, "smtp://relay.internal:2525");
    assert_eq!(smtp.from, "moocpipe@localhost");
    let webhook = config.webhook.expect("webhook");
    assert_eq!(webhook.url, "https://hooks.example.org/moocpipe");
    assert_eq!(webhook.timeout, WebhookConfig::DEFAULT_TIMEOUT);

    let config = NotifyConfig::from_lookup(lookup(&[
        ("MOOCPIPE_SMTP_URL", "smtps://relay.example.org"),
        ("MOOCPIPE_SMTP_FROM", "Courses <courses@example.org>"),
        ("MOOCPIPE_WEBHOOK_URL", " "),
    ]))
    .expect("config");
    assert_eq!(
        config.smtp.expect("smtp").from,
        "Courses <courses@example.org>"
    );
    assert_eq!(config.webhook, None);

    assert_eq!(
        NotifyConfig::from_lookup(lookup(&[])).expect("config"),
        NotifyConfig::default()
    );
}

#[test]
fn config_errors_name_the_variable_and_hide_passwords() {
    let cases = [
        (
            vec![("MOOCPIPE_SMTP_URL", "not a url")],
            "MOOCPIPE_SMTP_URL",
        ),
        (
            vec![("MOOCPIPE_SMTP_URL", "http://user:hunter2@relay:25")],
            "MOOCPIPE_SMTP_URL",
        ),
        (
            vec![("MOOCPIPE_SMTP_URL", "smtp://user:hunter2@relay?tls=maybe")],
            "MOOCPIPE_SMTP_URL",
        ),
        (
            vec![
                ("MOOCPIPE_SMTP_URL", "smtp://relay"),
                ("MOOCPIPE_SMTP_FROM", "no address here"),
            ],
            "MOOCPIPE_SMTP_FROM",
        ),
        (
            vec![("MOOCPIPE_WEBHOOK_URL", "ftp://hooks.example.org/x")],
            "MOOCPIPE_WEBHOOK_URL",
        ),
        (
            vec![(
                "MOOCPIPE_WEBHOOK_URL",
                "https://user:hunter2@hooks.example.org/",
            )],
            "MOOCPIPE_WEBHOOK_URL",
        ),
        (
            vec![("MOOCPIPE_WEBHOOK_URL", "/relative")],
            "MOOCPIPE_WEBHOOK_URL",
        ),
    ];
    for (vars, variable) in cases {
        let err = NotifyConfig::from_lookup(lookup(&vars)).expect_err("invalid");
        assert!(
            matches!(err, NotifyError::Config { variable: v, .. } if v == variable),
            "{vars:?}: {err:?}"
        );
        assert!(!err.is_transient());
        let message = err.to_string();
        assert!(message.starts_with(variable), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn notifier_checks_a_hand_built_config_too() {
    let err = Notifier::new(NotifyConfig {
        smtp: None,
        webhook: Some(WebhookConfig {
            url: "http://127.0.0.1:9/".into(),
            timeout: Duration::ZERO,
        }),
        studio: Vec::new(),
    })
    .expect_err("zero time-out refused");
    assert!(err.to_string().starts_with("MOOCPIPE_WEBHOOK_URL"), "{err}");
}
