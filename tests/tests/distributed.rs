//! The distributed mode end to end, on the real components of
//! [`moocpipe_tests::pipeline::Pipeline`]: the moocpipe binary as separate
//! worker processes, RabbitMQ, Garage, PostgreSQL and captured notices.

#[path = "../../services/broker/tests/support/consumer_timeout.rs"]
mod consumer_timeout;

use lapin::types::FieldTable;
use moocpipe_broker::{AmqpConfig, Stage, DEFAULT_AMQP_URL};
use moocpipe_proto::{ProbeRecord, PublishedRecord, TakeVerdict, TranscodeRecord};
use moocpipe_storage::{ObjectStore, S3Config, S3Store, StorageError};
use moocpipe_tests::media;
use moocpipe_tests::pipeline::{
    download, free_port, http_get, metric, notices_to, publish_raw, sidecar, spoken_take,
    stable_link, Pipeline, AUTHOR, KEY,
};
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_seen_three_ways_becomes_one_published_take_with_working_links_and_one_notice() {
    let mut p = Pipeline::start().await;
    let (metrics, caption_metrics) = p.spawn_all();
    let dashboard = p.spawn_dashboard("caidd");
    let take = spoken_take();
    let sidecar_key = KEY.replace(".mov", ".json");
    p.uploader
        .put_bytes(&sidecar_key, sidecar(), "application/json")
        .await
        .expect("upload the sidecar");
    let (uploaded, sent) = p.upload(KEY, &take).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, KEY, &uploaded.etag);
    // The catalog follows the take: its states as the dashboard's API tells
    // them, from the upload to the notice.
    let follower = {
        let path = format!("/api/v1/takes/{take_id}");
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(300);
            let mut seen: Vec<(String, i64)> = Vec::new();
            while std::time::Instant::now() < deadline {
                if let Some(take) = dashboard.get(&path) {
                    let state = take["summary"]["state"].as_str().unwrap_or("").to_owned();
                    let notice = take["summary"]["notice_sent"].as_i64().unwrap_or(0);
                    if seen.last() != Some(&(state.clone(), notice)) {
                        seen.push((state.clone(), notice));
                    }
                    if state == "published" && notice == 1 {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (seen, dashboard)
        })
    };

    // Way 2: `moocpipe submit`. Way 3: an S3 event (the scan is way 1).
    let uri = format!("s3://{}/{KEY}", p.raw_bucket);
    let out = p.run(&["submit", &uri]);
    assert!(
        out.status.success(),
        "submit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&take_id));
    let events_queue = format!("{}.s3-events", p.prefix);
    p.spawn(
        "ingest-events",
        &[
            "ingest",
            "--scan-interval-secs",
            "0",
            "--events-queue",
            &events_queue,
        ],
    );
    let event = serde_json::json!({"Records": [{
        "eventName": "ObjectCreated:CompleteMultipartUpload",
        "s3": {"bucket": {"name": p.raw_bucket}, "object": {"key": KEY, "eTag": uploaded.etag, "size": uploaded.size}}
    }]});
    publish_raw(
        &events_queue,
        serde_json::to_vec(&event).expect("json"),
        true,
    )
    .await;

    let published = p.published_in_full(&take_id).await;
    let (states, dashboard) = follower.join().expect("the catalog follower");
    let order = [
        "uploaded",
        "probing",
        "transcoding",
        "captioning",
        "published",
    ];
    let rank = |s: &str| order.iter().position(|o| *o == s);
    assert_eq!(
        states.last().map(|(s, n)| (s.as_str(), *n)),
        Some(("published", 1)),
        "the catalog ends at published with the notice sent: {states:?}\n{}",
        p.logs()
    );
    assert!(
        states
            .windows(2)
            .all(|w| rank(&w[0].0) <= rank(&w[1].0) && rank(&w[0].0).is_some()),
        "states only move forward: {states:?}"
    );
    assert!(
        states.len() >= 2,
        "seen before it was published: {states:?}"
    );
    let overview = dashboard.get("/api/v1/overview").expect("overview");
    let published_count = overview["states"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["state"] == "published"))
        .and_then(|c| c["takes"].as_i64());
    assert_eq!(published_count, Some(1), "{overview}");
    let jobs = dashboard
        .get(&format!("/api/v1/takes/{take_id}/jobs"))
        .expect("job history");
    let stages: Vec<&str> = jobs
        .as_array()
        .map(|a| a.iter().filter_map(|j| j["stage"].as_str()).collect())
        .unwrap_or_default();
    for stage in ["probe", "transcode", "caption", "report"] {
        assert!(
            stages.contains(&stage),
            "{stage} in the job history: {jobs}"
        );
    }
    let transcode: TranscodeRecord = p
        .record(&take_id, "transcode", Duration::from_secs(1))
        .await;
    let names: Vec<&str> = published.links.iter().map(|l| l.name.as_str()).collect();
    for rendition in &transcode.renditions {
        assert!(names.contains(&rendition.name.as_str()), "{names:?}");
    }
    assert!(
        names.contains(&"captions.vtt") && names.contains(&"captions.srt"),
        "{names:?}"
    );

    // Every file downloads through the take's stable link with a plain
    // HTTP client (following the server's redirect) and matches the object.
    let page = stable_link(&p, &take_id);
    let dir = tempfile::tempdir().expect("tempdir");
    for link in &published.links {
        let file = dir.path().join(&link.name);
        download(&format!("{page}/{}", link.path), &file);
        let got = std::fs::read(&file).expect("downloaded");
        if link.path.ends_with(".m3u8") {
            // A playlist is served with its URIs through the link.
            let text = String::from_utf8_lossy(&got);
            let path = page.trim_start_matches(&p.public_url);
            assert!(text.contains(&format!("{path}/")), "{text}");
            continue;
        }
        assert_eq!(got.len() as u64, link.size_bytes, "{}", link.name);
        let stored = p.media.get_bytes(&link.key).await.expect("stored object");
        assert!(
            got == stored,
            "{}: downloaded bytes differ from the stored object",
            link.name
        );
    }
    let vtt = std::fs::read_to_string(dir.path().join("captions.vtt")).expect("vtt");
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    assert!(vtt.to_lowercase().contains("newton"), "{vtt}");

    // Exactly one notice, to the sidecar's author, with the links; the
    // webhook got the same content once, keyed by the take id.
    p.smtp.wait_for(1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mails = p.smtp.messages();
    assert_eq!(notices_to(&mails, AUTHOR), 1, "{mails:#?}");
    let body = &mails[0].data;
    assert!(body.contains(&format!("take-{take_id}@moocpipe")), "{body}");
    let subject = mails[0].header("subject").unwrap_or_default();
    assert!(subject.contains("is ready: Newton's laws"), "{subject}");
    let hooks = p.webhook.requests();
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    assert_eq!(hooks[0].header("idempotency-key"), Some(take_id.as_str()));
    let payload = hooks[0].json().expect("JSON");
    assert_eq!(payload["page"].as_str(), Some(page.as_str()));
    let hooked: Vec<(&str, &str)> = payload["links"]
        .as_array()
        .map(|links| {
            links
                .iter()
                .filter_map(|l| Some((l["name"].as_str()?, l["url"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<(&str, String)> = published
        .links
        .iter()
        .map(|l| (l.name.as_str(), format!("{page}/{}", l.path)))
        .collect();
    assert_eq!(
        hooked,
        expected
            .iter()
            .map(|(n, u)| (*n, u.as_str()))
            .collect::<Vec<_>>()
    );
    // (quoted-printable: soft line breaks joined)
    let text = body.replace("=\r\n", "");
    assert!(text.contains(&page), "the e-mail carries the link: {body}");

    // One take, one set of outputs: the three ways made one take id.
    let takes: std::collections::BTreeSet<String> = p
        .media
        .list("takes/")
        .await
        .expect("list")
        .iter()
        .filter_map(|k| k.split('/').nth(1).map(str::to_owned))
        .collect();
    assert_eq!(takes.into_iter().collect::<Vec<_>>(), vec![take_id.clone()]);
    let report = p
        .media
        .get_bytes("courses/physics-101/reports/segments.json")
        .await
        .expect("the course report");
    let report: moocpipe_proto::SegmentReport =
        serde_json::from_slice(&report).expect("report JSON");
    let counted: Vec<&str> = report
        .modules
        .iter()
        .flat_map(|m| m.lessons.iter())
        .flat_map(|l| l.takes.iter())
        .map(|t| t.take_id.as_str())
        .collect();
    assert_eq!(counted, vec![take_id.as_str()], "{report:?}");

    // The workers could not have written the raw bucket, and did not.
    let (ro_id, ro_secret) = &p.raw_read_only;
    let read_only = S3Store::new(&S3Config {
        bucket: p.raw_bucket.clone(),
        access_key_id: ro_id.clone(),
        secret_access_key: ro_secret.clone(),
        ..p.garage.config()
    })
    .expect("read-only store");
    let denied = read_only
        .put_bytes("physics-101/x.json", b"{}".to_vec(), "application/json")
        .await;
    assert!(
        matches!(denied, Err(StorageError::AccessDenied { .. })),
        "{denied:?}"
    );
    p.assert_raw_unchanged(KEY, &uploaded, &sent).await;
    for name in ["probe", "transcode", "caption", "report"] {
        assert!(p.worker_alive(name), "the {name} worker died\n{}", p.logs());
    }
    p.assert_scratch_empty();

    // The probe worker's metrics saw its jobs: one probe (the duplicates
    // were dropped at ingest), bytes read from the raw bucket.
    let health: serde_json::Value =
        serde_json::from_str(&http_get(&format!("http://{metrics}/healthz"))).expect("JSON");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["failing"], serde_json::json!([]), "{health}");
    let text = http_get(&format!("http://{metrics}/metrics"));
    let value = |name: &str| {
        metric(&text, name).unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
    };
    assert_eq!(
        value("moocpipe_jobs_started_total{stage=\"probe\"}"),
        1.0,
        "{text}"
    );
    // The probe reads the MOV's index and first frames, at most the take
    // once (issue 15), never a copy.
    let probe_read = value("moocpipe_bytes_read_total{stage=\"probe\"}");
    assert!(
        probe_read > 0.0 && probe_read <= uploaded.size as f64,
        "read {probe_read} of {}\n{text}",
        uploaded.size
    );
    assert!(
        text.contains("moocpipe_job_duration_seconds_bucket"),
        "{text}"
    );
    // The caption stage read the take by ranges, about once (no copy, no
    // second pass), besides the author's caption files it looked for.
    let captions = http_get(&format!("http://{caption_metrics}/metrics"));
    let read = metric(&captions, "moocpipe_bytes_read_total{stage=\"caption\"}").unwrap_or(0.0);
    assert!(
        read >= uploaded.size as f64 && read < uploaded.size as f64 * 1.2,
        "the caption stage read {read} of {} bytes",
        uploaded.size
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_a_killed_transcode_worker_and_a_store_outage_lose_no_job_and_show_no_partial_output(
) {
    let mut p = Pipeline::start().await;
    p.spawn(
        "ingest",
        &["ingest", "--scan-interval-secs", "1", "--lease-secs", "4"],
    );
    for stage in ["probe", "report"] {
        p.spawn(
            stage,
            &["worker", stage, "--no-captions", "--lease-secs", "4"],
        );
    }
    p.spawn(
        "transcode",
        &[
            "worker",
            "transcode",
            "--no-qc",
            "--lease-secs",
            "4",
            "--shutdown-grace-secs",
            "1",
        ],
    );
    let take = media::compliant_prores_10s();
    let key = KEY.replace("take-01", "take-03");
    p.uploader
        .put_bytes(&key.replace(".mov", ".json"), sidecar(), "application/json")
        .await
        .expect("sidecar");
    let (uploaded, sent) = p.upload(&key, &take).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, &key, &uploaded.etag);
    let transcode_key = format!("takes/{take_id}/records/transcode.json");

    let _: ProbeRecord = p.record(&take_id, "probe", Duration::from_secs(120)).await;

    // SIGTERM while it works: the worker gives the job back within its
    // grace and exits cleanly; nothing looks finished.
    let first = p.lease_holder("transcode", &take_id, None).await;
    let mut worker = p.take_worker("transcode");
    let term = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .expect("run kill");
    assert!(term.success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = worker.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "SIGTERM did not stop the worker\n{}",
            p.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}\n{}", p.logs());
    assert!(p.media.head(&transcode_key).await.expect("head").is_none());

    // The handed-back job is taken at once by the next worker; SIGKILL it
    // mid-job: no hand-back, no record.
    p.spawn(
        "transcode-2",
        &["worker", "transcode", "--no-qc", "--lease-secs", "4"],
    );
    p.lease_holder("transcode", &take_id, Some(&first)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut victim = p.take_worker("transcode-2");
    victim.kill().expect("SIGKILL the transcode worker");
    let _ = victim.wait();
    assert!(
        p.media.head(&transcode_key).await.expect("head").is_none(),
        "a killed transcode must not look finished"
    );

    // A third worker takes the job over once the dead one's lease expires;
    // the store goes away for 10 s while it works.
    p.spawn(
        "transcode-3",
        &["worker", "transcode", "--no-qc", "--lease-secs", "4"],
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    p.garage.stop();
    tokio::time::sleep(Duration::from_secs(10)).await;
    p.garage.restart();

    let transcode: TranscodeRecord = p.wait_for(&transcode_key, Duration::from_secs(600)).await;
    assert_eq!(transcode.verdict, TakeVerdict::Pass, "{transcode:?}");
    for rendition in &transcode.renditions {
        let meta = p
            .media
            .head(&format!(
                "takes/{take_id}/runs/{}/{}",
                transcode.run.as_deref().expect("the record names its run"),
                rendition.file
            ))
            .await
            .expect("head")
            .expect("every rendition of the record is there");
        assert_eq!(meta.size, rendition.size_bytes, "{}", rendition.file);
    }
    let published: PublishedRecord = p
        .record(&take_id, "published", Duration::from_secs(120))
        .await;
    assert_eq!(published.transcode, Some(TakeVerdict::Pass));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(notices_to(&p.smtp.messages(), AUTHOR), 1);
    assert!(p.dead_letters("transcode").is_empty(), "{}", p.logs());
    p.assert_raw_unchanged(&key, &uploaded, &sent).await;
    // transcode-2's copy, left by the SIGKILL, was swept when transcode-3 started.
    p.assert_scratch_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_and_a_corrupt_take_are_dead_lettered_at_once_and_the_author_is_told() {
    let mut p = Pipeline::start().await;
    p.spawn("ingest", &["ingest", "--scan-interval-secs", "1"]);
    p.spawn("probe", &["worker", "probe"]);
    p.spawn("report", &["worker", "report"]);
    // `dlq list` declares the topology, so the queue exists to publish into.
    assert!(p.dead_letters("probe").is_empty());
    let probe_queue = p.topology().stage_queue(Stage::Probe);
    publish_raw(&probe_queue, b"{not json".to_vec(), false).await;

    // A take that is not a video at all, with a take's name.
    let dir = tempfile::tempdir().expect("tempdir");
    let corrupt = dir.path().join("take-02.mov");
    std::fs::write(
        &corrupt,
        b"this is not a QuickTime file, only its name says so",
    )
    .expect("write");
    let key = KEY.replace("take-01", "take-02");
    p.uploader
        .put_bytes(&key.replace(".mov", ".json"), sidecar(), "application/json")
        .await
        .expect("sidecar");
    let (uploaded, sent) = p.upload(&key, &corrupt).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, &key, &uploaded.etag);

    let probe: ProbeRecord = p.record(&take_id, "probe", Duration::from_secs(120)).await;
    assert_eq!(probe.verdict, TakeVerdict::Error, "{probe:?}");
    let published: PublishedRecord = p
        .record(&take_id, "published", Duration::from_secs(120))
        .await;
    assert!(published.links.is_empty());
    assert!(
        published
            .failures
            .iter()
            .any(|f| f.contains("could not be checked")),
        "{published:?}"
    );
    let mails = p.smtp.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(notices_to(&mails, AUTHOR), 1, "{mails:#?}");
    assert!(
        mails[0].data.contains("needs attention"),
        "{}",
        mails[0].data
    );

    // Two dead letters on the probe queue: the malformed message (one
    // delivery) and the corrupt take (permanent, one attempt).
    let letters = p.dead_letters("probe");
    assert_eq!(letters.len(), 2, "{letters:?}\n{}", p.logs());
    assert!(
        letters.iter().any(|l| l.contains("malformed")),
        "{letters:?}"
    );
    let corrupt_letter = letters
        .iter()
        .find(|l| l.starts_with(&take_id))
        .expect("the corrupt take's letter");
    assert!(
        corrupt_letter.contains("permanent") && corrupt_letter.contains("attempts 1"),
        "{corrupt_letter}"
    );
    assert!(
        p.worker_alive("probe"),
        "the probe worker died\n{}",
        p.logs()
    );

    // The operator's view: replay sends both back (they fail again, the
    // same way: one delivery each, no notice twice), purge empties it.
    let out = p.run(&["dlq", "replay", "probe"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 sent back"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.dead_letters("probe").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the replayed letters did not come back\n{}",
            p.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let out = p.run(&["dlq", "purge", "probe"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 deleted"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(p.dead_letters("probe").is_empty());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        notices_to(&p.smtp.messages(), AUTHOR),
        1,
        "a replay must not notify twice"
    );
    p.assert_raw_unchanged(&key, &uploaded, &sent).await;
    p.assert_scratch_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcode_longer_than_consumer_timeout_runs_once_and_completes() {
    let mut p = Pipeline::start().await;
    let low = consumer_timeout::LowConsumerTimeout::set();

    // Control: a plain consumer holding a delivery past 5 s loses its
    // channel, so the broker really enforces the lowered timeout.
    let connection = AmqpConfig::new(DEFAULT_AMQP_URL)
        .connect()
        .await
        .expect("connect");
    let control = connection.create_channel().await.expect("channel");
    let scratch = format!("{}.control", p.prefix);
    publish_raw(&scratch, b"{}".to_vec(), true).await;
    let mut consumer = control
        .basic_consume(
            &scratch,
            "control",
            Default::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let _held = futures_util::StreamExt::next(&mut consumer)
        .await
        .expect("a delivery")
        .expect("delivery");

    p.spawn("ingest", &["ingest", "--scan-interval-secs", "1"]);
    for stage in ["probe", "report"] {
        p.spawn(stage, &["worker", stage, "--no-captions"]);
    }
    let metrics = format!("127.0.0.1:{}", free_port());
    p.spawn(
        "transcode",
        &[
            "worker",
            "transcode",
            "--no-qc",
            "--lease-secs",
            "3",
            "--metrics-addr",
            &metrics,
        ],
    );
    let take = media::compliant_prores_10s();
    let key = KEY.replace("take-01", "take-04");
    let (uploaded, sent) = p.upload(&key, &take).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, &key, &uploaded.etag);
    let transcode: TranscodeRecord = p
        .record(&take_id, "transcode", Duration::from_secs(600))
        .await;
    // The broker closes the control channel at its next tick past the
    // timeout; the client hears of it a moment later.
    let mut control_closed = !control.status().connected();
    for _ in 0..100 {
        if control_closed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        control_closed = !control.status().connected();
    }
    // The record is written before the worker counts the job done: wait
    // for the count.
    let mut text = http_get(&format!("http://{metrics}/metrics"));
    for _ in 0..100 {
        if metric(&text, "moocpipe_job_duration_seconds_count").unwrap_or(0.0) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = http_get(&format!("http://{metrics}/metrics"));
    }
    drop(low);
    if let Ok(channel) = connection.create_channel().await {
        let _ = channel.queue_delete(&scratch, Default::default()).await;
    }
    let _ = connection.close(200, "done").await;

    assert!(
        control_closed,
        "a held delivery outlived consumer_timeout: the test proves nothing"
    );
    assert_eq!(transcode.verdict, TakeVerdict::Pass, "{transcode:?}");
    let seconds = metric(&text, "moocpipe_job_duration_seconds_sum").unwrap_or(0.0);
    assert!(
        seconds > 7.0,
        "the transcode took {seconds} s, not longer than the 5 s timeout: the test proves nothing"
    );
    assert_eq!(
        metric(&text, "moocpipe_jobs_started_total{stage=\"transcode\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "moocpipe_broker_reconnects_total").unwrap_or(0.0),
        0.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "moocpipe_jobs_duplicate_total").unwrap_or(0.0),
        0.0,
        "{text}"
    );
    assert!(p.dead_letters("transcode").is_empty());
    p.assert_raw_unchanged(&key, &uploaded, &sent).await;
}

/// Issue 11: a compliant take whose sound is a line-up tone, no speech. Its
/// captions have no cues and its SRT is 0 bytes; the caption record says
/// so, and the report links what the record names: published, the author
/// told once, nothing dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compliant_take_without_speech_is_published_and_the_author_told() {
    let mut p = Pipeline::start().await;
    p.spawn_all();
    // Its links are answered by the server.
    p.spawn_dashboard("caidd");
    let take = media::prores_take_with_sound("e2e-tone-take", &media::tone_wav());
    let key = KEY.replace("take-01", "take-05");
    p.uploader
        .put_bytes(&key.replace(".mov", ".json"), sidecar(), "application/json")
        .await
        .expect("upload the sidecar");
    let (uploaded, sent) = p.upload(&key, &take).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, &key, &uploaded.etag);

    // Issue 15: the studio hears the spec verdict within 5 s of the end of
    // its upload (the scan finds it within a second; the probe reads the
    // index and the first frames, not the take).
    let uploaded_at = Instant::now();
    let probe: ProbeRecord = p.record(&take_id, "probe", Duration::from_secs(60)).await;
    let verdict_after = uploaded_at.elapsed();
    eprintln!("upload to spec verdict: {verdict_after:?}");
    assert_eq!(probe.verdict, TakeVerdict::Pass, "{probe:?}");
    assert!(
        verdict_after < Duration::from_secs(5),
        "the verdict took {verdict_after:?} after the upload\n{}",
        p.logs()
    );

    let published = p.published_in_full(&take_id).await;
    let caption: moocpipe_proto::CaptionRun =
        p.record(&take_id, "caption", Duration::from_secs(1)).await;
    assert_eq!(caption.caption.cues, 0, "a tone is not speech");
    let srt = published
        .links
        .iter()
        .find(|l| l.name == "captions.srt")
        .unwrap_or_else(|| panic!("the SRT is linked: {published:?}"));
    assert_eq!(srt.size_bytes, 0, "{srt:?}");
    let recorded = caption
        .objects
        .iter()
        .find(|o| o.key == srt.key)
        .expect("the link is an object the caption record names");
    assert_eq!(recorded.size_bytes, 0);
    assert!(
        srt.key
            .starts_with(&format!("takes/{take_id}/runs/{}/captions/", caption.run)),
        "{}",
        srt.key
    );
    // Every link is an object a record names, and downloads as recorded
    // through the take's stable link.
    let transcode: TranscodeRecord = p
        .record(&take_id, "transcode", Duration::from_secs(1))
        .await;
    p.webhook.wait_for(1, Duration::from_secs(30)).await;
    let page = stable_link(&p, &take_id);
    let dir = tempfile::tempdir().expect("tempdir");
    for link in &published.links {
        let named = transcode
            .objects
            .iter()
            .chain(caption.objects.iter())
            .find(|o| o.key == link.key)
            .unwrap_or_else(|| panic!("{} is named by no record", link.key));
        assert_eq!(named.size_bytes, link.size_bytes, "{}", link.key);
        let file = dir.path().join(&link.name);
        download(&format!("{page}/{}", link.path), &file);
        if link.path.ends_with(".m3u8") {
            // Served with its URIs rewritten through the link.
            continue;
        }
        assert_eq!(
            std::fs::metadata(&file).expect("downloaded").len(),
            link.size_bytes,
            "{}",
            link.name
        );
    }

    let mails = p.smtp.wait_for(1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails_now = p.smtp.messages();
    assert_eq!(notices_to(&mails_now, AUTHOR), 1, "{mails:#?}");
    let subject = mails_now[0].header("subject").unwrap_or_default();
    assert!(subject.contains("is ready: Newton's laws"), "{subject}");
    assert_eq!(p.webhook.requests().len(), 1);
    for stage in ["probe", "transcode", "caption", "report"] {
        assert!(
            p.dead_letters(stage).is_empty(),
            "{stage}: {:?}\n{}",
            p.dead_letters(stage),
            p.logs()
        );
    }
    // Only the runs the records name are left.
    let runs: std::collections::BTreeSet<String> = p
        .media
        .list(&format!("takes/{take_id}/runs/"))
        .await
        .expect("list")
        .iter()
        .filter_map(|k| k.split('/').nth(3).map(str::to_owned))
        .collect();
    let named: std::collections::BTreeSet<String> = [transcode.run.clone(), Some(caption.run)]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(runs, named);
    p.assert_raw_unchanged(&key, &uploaded, &sent).await;
    p.assert_scratch_empty();
}
