//! Traces (issue 14): one take is one trace across every process of the
//! distributed pipeline — ingest, probe, transcode, caption, report — with
//! each job's span the child of the publish that sent its message, a retry
//! a second span in the same trace; `moocpipe process` makes one trace per
//! take; without an endpoint no exporter runs. Spans are collected by an
//! OTLP/HTTP receiver inside the test ([`moocpipe_tests::otlp`]).

use moocpipe_storage::ObjectStore;
use moocpipe_tests::cli::moocpipe_bin;
use moocpipe_tests::media;
use moocpipe_tests::otlp::{OtlpReceiver, ReceivedSpan};
use moocpipe_tests::pipeline::{sidecar, spoken_take, Pipeline, KEY};
use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};

/// Waits until the receiver holds spans for which `done` holds.
async fn spans_until(
    receiver: &OtlpReceiver,
    within: Duration,
    done: impl Fn(&[ReceivedSpan]) -> bool,
) -> Vec<ReceivedSpan> {
    let deadline = Instant::now() + within;
    loop {
        let spans = receiver.spans();
        if done(&spans) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "spans did not arrive within {within:?}: {:#?}",
            spans
                .iter()
                .map(|s| (&s.service, &s.name, &s.attributes))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn is_job(span: &ReceivedSpan) -> bool {
    span.name == "job"
}

/// The threads of a process whose name starts with `prefix`.
fn threads_named(pid: u32, prefix: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|comm| comm.starts_with(prefix))
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_take_is_one_trace_across_five_processes_and_a_retried_job_is_a_second_span_in_it() {
    let receiver = OtlpReceiver::start().await;
    let mut p = Pipeline::start().await;
    p.otlp_endpoint = Some(receiver.endpoint());
    // The author's webhook is down at first: the notice fails for a
    // transient reason and the report job is retried once it is back.
    p.webhook.set_status(503).expect("status");
    p.spawn_all();
    p.uploader
        .put_bytes(&KEY.replace(".mov", ".json"), sidecar(), "application/json")
        .await
        .expect("upload the sidecar");
    let (uploaded, _) = p.upload(KEY, &spoken_take()).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, KEY, &uploaded.etag);

    p.webhook.wait_for(1, Duration::from_secs(600)).await;
    p.webhook.set_status(204).expect("status");
    p.published_in_full(&take_id).await;

    // The retried report job ends after the notice; its span follows.
    let spans = spans_until(&receiver, Duration::from_secs(60), |spans| {
        spans.iter().any(|s| {
            is_job(s)
                && s.attribute("stage") == Some("report")
                && s.attribute("attempt") == Some("1")
                && s.attribute("take_id") == Some(take_id.as_str())
        })
    })
    .await;
    // What the last job published is exported with it or before; give the
    // exporters one more period for anything still in flight.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spans = receiver
        .spans()
        .into_iter()
        .chain(spans)
        .collect::<Vec<_>>();
    let by_id: HashMap<&str, &ReceivedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let parent_of = |span: &ReceivedSpan| -> &ReceivedSpan {
        let id = span
            .parent
            .as_deref()
            .unwrap_or_else(|| panic!("{} {:?} has no parent", span.name, span.attributes));
        by_id.get(id).copied().unwrap_or_else(|| {
            panic!(
                "the parent {id} of {} {:?} was not exported",
                span.name, span.attributes
            )
        })
    };

    // One trace id for every job of the take.
    let take_jobs: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| is_job(s) && s.attribute("take_id") == Some(take_id.as_str()))
        .collect();
    let trace = take_jobs
        .iter()
        .find(|s| s.attribute("stage") == Some("probe"))
        .expect("a probe job span")
        .trace_id
        .clone();
    for job in &take_jobs {
        assert_eq!(job.trace_id, trace, "{job:?}");
    }
    let in_trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id == trace).collect();

    // Every stage, each in its own process.
    for stage in ["ingest", "probe", "transcode", "caption", "report"] {
        let job = in_trace
            .iter()
            .find(|s| is_job(s) && s.attribute("stage") == Some(stage))
            .unwrap_or_else(|| panic!("no {stage} job in the take's trace"));
        assert_eq!(job.service, format!("moocpipe-{stage}"), "{job:?}");
    }
    let services: BTreeSet<&str> = in_trace.iter().map(|s| s.service.as_str()).collect();
    assert!(services.len() >= 5, "{services:?}");

    // Every job span is the child of the publish that sent its message: a
    // job of its stage, or its retry through a delay queue.
    for job in in_trace.iter().filter(|s| is_job(s)) {
        let stage = job.attribute("stage").expect("stage");
        let publish = parent_of(job);
        assert_eq!(publish.name, "publish", "{job:?} <- {publish:?}");
        let key = publish
            .attribute("messaging.rabbitmq.destination.routing_key")
            .expect("routing key");
        assert!(
            key == stage || key.starts_with(&format!("{stage}.")),
            "a {stage} job published as {key}"
        );
        assert_eq!(publish.trace_id, trace);
    }

    // The retry: a second report span in the same trace, attempt 1, sent
    // by the failed attempt's span (through its retry's publish, and a
    // deferral's when the other report trigger held the take then).
    let retry = in_trace
        .iter()
        .find(|s| {
            is_job(s)
                && s.attribute("stage") == Some("report")
                && s.attribute("attempt") == Some("1")
        })
        .expect("the retried report job");
    let mut failed = parent_of(retry);
    while failed.name == "publish" {
        failed = parent_of(failed);
    }
    assert!(is_job(failed), "{failed:?}");
    assert_eq!(failed.attribute("stage"), Some("report"));
    assert_eq!(failed.attribute("attempt"), Some("0"));
    assert_ne!(failed.span_id, retry.span_id);

    // The long work has spans of its own, inside the trace.
    let named = |name: &str| -> Vec<&&ReceivedSpan> {
        in_trace.iter().filter(|s| s.name == name).collect()
    };
    let reads: BTreeSet<&str> = named("read range")
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    for service in ["moocpipe-probe", "moocpipe-transcode", "moocpipe-caption"] {
        assert!(
            reads.contains(service),
            "no ranged read from {service}: {reads:?}"
        );
    }
    assert!(named("read range")
        .iter()
        .all(|s| s.attribute("bytes").is_some_and(|b| b != "0")));
    assert!(!named("upload").is_empty(), "no upload span");
    let pipeline = named("gstreamer transcode");
    assert!(
        pipeline.iter().any(|s| {
            s.attribute("frames").is_some_and(|f| f != "0")
                && s.attribute("realtime_factor").is_some()
        }),
        "{pipeline:?}"
    );
    assert!(!named("whisper chunk").is_empty(), "no whisper chunk span");
    assert!(!named("notice").is_empty(), "no notice span");

    // The webhook POST carried the trace.
    let hooks = p.webhook.requests();
    for hook in &hooks {
        let traceparent = hook.header("traceparent").expect("a traceparent header");
        assert_eq!(
            traceparent.split('-').nth(1),
            Some(trace.as_str()),
            "{traceparent}"
        );
    }
    // Log lines name the trace.
    let log = std::fs::read_to_string(p.log_path("probe")).expect("probe log");
    assert!(
        log.lines().any(|line| line.contains("job started")
            && line.contains("trace_id")
            && line.contains(&trace)),
        "{log}"
    );

    // Without an endpoint no exporter runs: a worker started without one
    // has no batch exporter thread; the others have theirs.
    let (name, child) = p
        .workers
        .iter()
        .find(|(n, _)| n == "report")
        .expect("report");
    assert_eq!(threads_named(child.id(), "OpenTelemetry"), 1, "{name}");
    // The queue it consumes is empty by now.
    p.spawn_with(
        "quiet",
        &[],
        &["worker", "probe", "--lease-secs", "4"],
        |command| {
            command.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        },
    );
    let quiet = p
        .workers
        .last()
        .map(|(_, child)| child.id())
        .expect("spawned");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(p.worker_alive("quiet"), "{}", p.logs());
    assert_eq!(threads_named(quiet, "OpenTelemetry"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_makes_one_trace_per_take() {
    let receiver = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let takes: Vec<_> = ["a.mov", "b.mov"]
        .iter()
        .map(|name| {
            media::place_in(
                &media::compliant_prores_2s(),
                dir.path(),
                &format!("course/01-m/01-l/{name}"),
            )
        })
        .collect();
    let mut command = Command::new(moocpipe_bin());
    command
        .args([
            "process",
            "--no-captions",
            "--rungs",
            "1080p",
            "--no-hls",
            "--no-qc",
            "--data",
        ])
        .arg(dir.path().join("data"))
        .args(&takes)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env_remove("OTEL_SERVICE_NAME");
    // The receiver answers on this runtime meanwhile.
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run moocpipe process");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The exporter flushed when the process ended.
    let spans = receiver.spans();
    let roots: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.name == "take").collect();
    assert_eq!(roots.len(), 2, "{spans:#?}");
    assert!(roots
        .iter()
        .all(|s| s.parent.is_none() && s.service == "moocpipe-process"));
    assert_ne!(roots[0].trace_id, roots[1].trace_id);
    for root in roots {
        let names: BTreeSet<&str> = spans
            .iter()
            .filter(|s| s.trace_id == root.trace_id)
            .map(|s| s.name.as_str())
            .collect();
        for name in ["probe", "transcode", "gstreamer transcode"] {
            assert!(names.contains(name), "{name} missing from {names:?}");
        }
    }
}
