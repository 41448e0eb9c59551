//! The store side of the stages over the real local store: runs fenced by
//! name, objects described with size and checksum, other runs removed, and
//! links checked against what the record says.

use moocpipe_pipeline::policy::Wanted;
use moocpipe_pipeline::sequencer::{self, describe_run, links, remove_other_runs, store_run};
use moocpipe_pipeline::{PipelineError, RunContext};
use moocpipe_proto::{Sidecar, TakeKind, TakeRef};
use moocpipe_storage::layout::Output;
use moocpipe_storage::{LocalStore, ObjectStore};
use std::path::Path;

fn take() -> TakeRef {
    TakeRef {
        take_id: "t1".into(),
        source: "/raw/take-01.mov".into(),
        key: "physics-101/01-m/02-l/take-01.mov".into(),
        course: "physics-101".into(),
        kind: TakeKind::Lecture,
        module: Some(1),
        module_name: None,
        lesson: Some(2),
        lesson_name: None,
        take: "take-01".into(),
        title: "Newton".into(),
        sidecar: Sidecar::default(),
        size_bytes: 1,
    }
}

fn work_folder(dir: &Path, files: &[(&str, &[u8])]) {
    for (rel, bytes) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
}

fn wanted(object: moocpipe_proto::StoredObject) -> Wanted {
    Wanted {
        name: "captions.srt".into(),
        download_name: "x.srt".into(),
        object,
    }
}

#[tokio::test]
async fn runs_are_fenced_described_and_the_unnamed_ones_removed() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(root.path().join("store")).expect("store");
    let work = root.path().join("work");
    let t = take();

    // An earlier attempt that lost its lease left a half-written run.
    let orphan = RunContext {
        take: &t,
        run: "old",
    };
    work_folder(&work.join("a"), &[("x.en.vtt", b"WEBVTT\n")]);
    store_run(&store, orphan, Output::Captions, &work.join("a"))
        .await
        .expect("orphan run");
    // A transcode run of the same take must survive a caption write.
    let renditions = RunContext {
        take: &t,
        run: "tr",
    };
    work_folder(&work.join("b"), &[("hls/master.m3u8", b"#EXTM3U\n")]);
    store_run(&store, renditions, Output::Renditions, &work.join("b"))
        .await
        .expect("transcode run");

    let run = RunContext {
        take: &t,
        run: "new",
    };
    work_folder(
        &work.join("c"),
        &[
            ("x.en.vtt", b"WEBVTT\n"),
            ("x.en.srt", b""),
            ("x.en.txt", b""),
        ],
    );
    let objects = store_run(&store, run, Output::Captions, &work.join("c"))
        .await
        .expect("caption run");
    let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "takes/t1/runs/new/captions/x.en.srt",
            "takes/t1/runs/new/captions/x.en.txt",
            "takes/t1/runs/new/captions/x.en.vtt"
        ]
    );
    assert_eq!(objects[0].size_bytes, 0, "an empty SRT is an object too");
    assert_eq!(objects[2].size_bytes, 7);
    assert!(objects.iter().all(|o| !o.etag.is_empty()));
    assert_eq!(
        describe_run(&store, run, Output::Captions)
            .await
            .expect("described"),
        objects,
        "a HEAD of what is there says what the upload said"
    );

    let removed = remove_other_runs(&store, run, Output::Captions)
        .await
        .expect("remove");
    assert_eq!(removed, 1);
    let left = ObjectStore::list(&store, "takes/t1/runs/")
        .await
        .expect("list");
    assert_eq!(
        left,
        [
            "takes/t1/runs/new/captions/x.en.srt",
            "takes/t1/runs/new/captions/x.en.txt",
            "takes/t1/runs/new/captions/x.en.vtt",
            "takes/t1/runs/tr/renditions/hls/master.m3u8"
        ]
    );

    // The report links what the record names, the empty SRT included…
    let linked = links(&store, "t1", &[wanted(objects[0].clone())])
        .await
        .expect("an empty SRT recorded as empty is fine");
    assert_eq!(linked[0].size_bytes, 0);
    assert_eq!(linked[0].path, "runs/new/captions/x.en.srt");
    // …and refuses an object that is not what the record says, or is gone.
    let mut wrong = objects[2].clone();
    wrong.size_bytes = 8;
    let err = links(&store, "t1", &[wanted(wrong)])
        .await
        .expect_err("size differs");
    assert!(matches!(err, PipelineError::Differs { .. }), "{err}");
    ObjectStore::delete(&store, &objects[2].key)
        .await
        .expect("delete");
    let err = links(&store, "t1", &[wanted(objects[2].clone())])
        .await
        .expect_err("gone");
    assert!(matches!(err, PipelineError::Missing { .. }), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn the_take_state_reads_records_and_failure_records() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(root.path()).expect("store");
    let failure = moocpipe_pipeline::FailureRecord {
        take_id: "t1".into(),
        stage: moocpipe_proto::Stage::Caption,
        kind: "permanent".into(),
        error: "no audio track".into(),
        attempts: 1,
    };
    ObjectStore::put_json(
        &store,
        &moocpipe_storage::layout::failure("t1", moocpipe_proto::Stage::Caption),
        &failure,
    )
    .await
    .expect("failure record");
    let state = sequencer::take_state(&store, "t1", true, false)
        .await
        .expect("state");
    assert_eq!(state.caption_failed.as_deref(), Some("no audio track"));
    assert!(state.probe.is_none() && state.transcode.is_none());
}
