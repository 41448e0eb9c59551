//! Writes a large made-up course catalog into a local store, as the stages
//! would have recorded it, for the dashboard's benchmark
//! (`scripts/bench-serve.sh`): `seed_catalog DIR COURSES TAKES_PER_COURSE`.
//! Every take has an ingest record; most a probe record (one in five
//! failing `video.bitrate`), and those that pass a QC record; each course a
//! `course.json` and a segment report. Deterministic: the same arguments
//! write the same files.

use moocpipe_storage::layout::{self, Record};
use moocpipe_storage::LocalStore;
use serde_json::json;
use std::process::ExitCode;

fn rule(id: &str, clause: &str, verdict: &str) -> serde_json::Value {
    json!({"id": id, "clause": clause, "required": "as the spec says",
           "measured": "measured", "verdict": verdict})
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(courses), Some(takes)) = (
        args.get(1),
        args.get(2).and_then(|a| a.parse::<u32>().ok()),
        args.get(3).and_then(|a| a.parse::<u32>().ok()),
    ) else {
        eprintln!("usage: seed_catalog DIR COURSES TAKES_PER_COURSE");
        return ExitCode::from(2);
    };
    let store = match LocalStore::open(dir) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("seed_catalog: {e}");
            return ExitCode::from(1);
        }
    };
    let result = (|| -> Result<(), moocpipe_storage::StorageError> {
        for c in 0..courses {
            let course = format!("course-{c:03}");
            store.put_json(
                &layout::course_info(&course),
                &json!({"title": format!("Course {c}: a subject of its own"),
                        "launch_date": format!("2027-{:02}-15", 1 + c % 12)}),
            )?;
            for t in 0..takes {
                let module = 1 + t / 6;
                let lesson = 1 + t % 6;
                let id = format!("{c:03}{t:03}{:058x}", u64::from(c) * 1000 + u64::from(t));
                let take = json!({
                    "take_id": id, "source": format!("s3://raw/{course}/{module:02}-m/{lesson:02}-l/take.mov"),
                    "key": format!("{course}/{module:02}-week-{module}/{lesson:02}-lesson-{lesson}/take.mov"),
                    "course": course, "kind": "lecture", "module": module,
                    "module_name": format!("week-{module}"), "lesson": lesson,
                    "lesson_name": format!("lesson-{lesson}"), "take": "take",
                    "title": format!("Lecture {module}.{lesson}"), "size_bytes": 2_000_000_000u64
                });
                store.put_json(&layout::record(&id, Record::Ingest), &take)?;
                store.put_json(&layout::course_index(&course, &id), &take)?;
                if t % 10 == 9 {
                    continue; // not probed yet
                }
                let fails = t % 5 == 0;
                let verdict = if fails { "fail" } else { "pass" };
                store.put_json(
                    &layout::record(&id, Record::Probe),
                    &json!({
                        "schema_version": 1, "file": "take.mov", "verdict": verdict,
                        "rules": [
                            rule("video.bitrate", "9.1.3", verdict),
                            rule("video.resolution", "9.1.6", "pass"),
                            rule("audio.sample_rate", "9.2.1", "pass"),
                        ],
                        "size_bytes": 2_000_000_000u64, "container": "QuickTime",
                        "duration_seconds": 600.0,
                        "streams": {"video": 1, "audio": 1, "other": 0},
                        "audio": [], "warnings": []
                    }),
                )?;
                if !fails {
                    store.put_json(
                        &layout::record(&id, Record::Qc),
                        &json!({
                            "schema_version": 1, "file": "take.mov", "findings": [],
                            "sound_score": {"criterion": 1, "score": 3, "evidence": []},
                            "image_score": {"criterion": 2, "score": 3, "evidence": []}
                        }),
                    )?;
                }
            }
            store.put_json(
                &layout::segment_report(&course, "json"),
                &json!({
                    "schema_version": 1, "course": course, "modules": [],
                    "total_video_seconds": f64::from(takes) * 600.0,
                    "rules": [rule("course.modules", "8.1", "pass"), rule("course.hours", "8.6", if c % 3 == 0 { "fail" } else { "pass" })],
                    "counting": "the longest take of a lesson counts"
                }),
            )?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            println!("seeded {courses} courses × {takes} takes in {dir}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed_catalog: {e}");
            ExitCode::from(1)
        }
    }
}
