//! Bringing the catalog up to date from the store: a take's row from its
//! records, a course's row from its segment report and `course.json`, and
//! its materials from their records.
//! Idempotent — a sync reads what is stored now and writes the whole row —
//! so it is safe to run on every event, twice, or for the whole store.

use moocpipe_proto::{MaterialRecord, ProbeRecord};
use moocpipe_proto::{
    PublishedRecord, QcRecord, SegmentReport, Stage, TakeRef, TakeVerdict, TranscodeRecord, Verdict,
};
use moocpipe_storage::layout::{self, Record};
use moocpipe_storage::{ObjectStore, StorageError};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;

use crate::courses::{CourseInfo, CourseRow};
use crate::state::{self, Facts, TakeState};
use crate::takes::{TakeRow, TakeSummary};
use crate::{now_ms, Catalog, CatalogError};

/// What a whole-store sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    pub takes: usize,
    pub courses: usize,
    /// Takes or courses whose records could not be read, with why.
    pub failed: Vec<String>,
}

/// An object's text; `None` when there is none.
async fn text<S: ObjectStore>(store: &S, key: &str) -> Result<Option<String>, CatalogError> {
    match store.get_bytes(key).await {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(StorageError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn parse<T: DeserializeOwned, S: ObjectStore>(
    store: &S,
    key: &str,
    what: &'static str,
    text: &str,
) -> Result<T, CatalogError> {
    serde_json::from_str(text).map_err(|e| CatalogError::Record {
        location: store.location(key),
        what,
        why: e.to_string(),
    })
}

/// A record's text and its parsed value; `None` when it is not stored.
async fn record<T: DeserializeOwned, S: ObjectStore>(
    store: &S,
    take_id: &str,
    record: Record,
) -> Result<Option<(String, T)>, CatalogError> {
    let key = layout::record(take_id, record);
    match text(store, &key).await? {
        Some(raw) => {
            let value = parse(store, &key, record.as_str(), &raw)?;
            Ok(Some((raw, value)))
        }
        None => Ok(None),
    }
}

/// Brings one take's row up to date. `probe_running` says whether its probe
/// job runs now (the distributed mode reads it from the job table). `None`
/// when the take is not ingested (no ingest record).
pub async fn sync_take<S: ObjectStore>(
    catalog: &Catalog,
    store: &S,
    take_id: &str,
    probe_running: bool,
) -> Result<Option<TakeState>, CatalogError> {
    Ok(sync_take_in_course(catalog, store, take_id, probe_running)
        .await?
        .map(|(state, _)| state))
}

/// [`sync_take`], also saying which course the take is in (to sync the
/// course next without reading the row back).
pub async fn sync_take_in_course<S: ObjectStore>(
    catalog: &Catalog,
    store: &S,
    take_id: &str,
    probe_running: bool,
) -> Result<Option<(TakeState, String)>, CatalogError> {
    let Some((ingest, take)) = record::<TakeRef, _>(store, take_id, Record::Ingest).await? else {
        return Ok(None);
    };
    let probe = record::<ProbeRecord, _>(store, take_id, Record::Probe).await?;
    let qc = record::<QcRecord, _>(store, take_id, Record::Qc).await?;
    let transcode = record::<TranscodeRecord, _>(store, take_id, Record::Transcode).await?;
    let caption = text(store, &layout::record(take_id, Record::Caption)).await?;
    let published = record::<PublishedRecord, _>(store, take_id, Record::Published).await?;
    let mut failures = serde_json::Map::new();
    for stage in [Stage::Probe, Stage::Transcode, Stage::Caption] {
        let key = layout::failure(take_id, stage);
        if let Some(raw) = text(store, &key).await? {
            let value: serde_json::Value = parse(store, &key, "failure", &raw)?;
            failures.insert(stage.as_str().to_owned(), value);
        }
    }

    let spec = probe.as_ref().map(|(_, p)| p.verdict);
    let facts = Facts {
        spec,
        spec_passes: spec == Some(TakeVerdict::Pass) || transcode.is_some(),
        transcode: transcode.as_ref().map(|(_, t)| t),
        caption_recorded: caption.is_some(),
        published: published.is_some(),
        dead_lettered: !failures.is_empty(),
        probe_running,
    };
    let state = state::derive(&facts);
    let failed_rules: Vec<String> = probe
        .as_ref()
        .map(|(_, p)| {
            p.rules
                .iter()
                .filter(|r| r.verdict == Verdict::Fail)
                .map(|r| r.id.to_string())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        })
        .unwrap_or_default();
    let now = now_ms();
    let row = TakeRow {
        summary: TakeSummary {
            take_id: take.take_id.clone(),
            course: take.course.clone(),
            kind: serde_json::to_value(take.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "lecture".into()),
            module: take.module.map(i64::from),
            module_name: take.module_name.clone(),
            lesson: take.lesson.map(i64::from),
            lesson_name: take.lesson_name.clone(),
            take: take.take.clone(),
            title: take.title.clone(),
            size_bytes: i64::try_from(take.size_bytes).unwrap_or(i64::MAX),
            state: state.as_str().to_owned(),
            spec: spec.map(|v| v.as_str().to_owned()),
            failed_rules: failed_rules.join(" "),
            sound_score: qc.as_ref().map(|(_, q)| i64::from(q.sound_score.score)),
            image_score: qc.as_ref().map(|(_, q)| i64::from(q.image_score.score)),
            notice_sent: i64::from(published.as_ref().is_some_and(|(_, p)| p.notice.is_some())),
            probed_ms: probe.as_ref().map(|_| now),
            updated_ms: now,
        },
        take_key: take.key.clone(),
        first_seen_ms: now,
        ingest,
        probe: probe.map(|(raw, _)| raw),
        qc: qc.map(|(raw, _)| raw),
        transcode: transcode.map(|(raw, _)| raw),
        caption,
        published: published.map(|(raw, _)| raw),
        failures: if failures.is_empty() {
            None
        } else {
            Some(serde_json::Value::Object(failures).to_string())
        },
    };
    catalog.upsert_take(&row, &failed_rules).await?;
    Ok(Some((state, take.course)))
}

/// Brings one course's row up to date from its segment report and
/// `course.json` (both optional), and its materials from their records (a
/// record that does not parse is left out, and said).
pub async fn sync_course<S: ObjectStore>(
    catalog: &Catalog,
    store: &S,
    course: &str,
) -> Result<(), CatalogError> {
    let mut materials = Vec::new();
    for key in store.list(&layout::material_records(course)).await? {
        let Some(raw) = text(store, &key).await? else {
            continue;
        };
        match parse::<MaterialRecord, _>(store, &key, "material", &raw) {
            Ok(record) => materials.push(record),
            Err(error) => tracing::warn!(%error, "a material record left out of the catalog"),
        }
    }
    catalog.replace_materials(course, &materials).await?;
    let report_key = layout::segment_report(course, "json");
    let report_text = text(store, &report_key).await?;
    let report: Option<SegmentReport> = match &report_text {
        Some(raw) => Some(parse(store, &report_key, "segment report", raw)?),
        None => None,
    };
    let info_key = layout::course_info(course);
    let info: CourseInfo = match text(store, &info_key).await? {
        Some(raw) => parse(store, &info_key, "course.json", &raw)?,
        None => CourseInfo::default(),
    };
    let (rules_total, rules_failed) = report.as_ref().map(rule_counts).unwrap_or((0, 0));
    catalog
        .upsert_course(&CourseRow {
            course: course.to_owned(),
            title: info.title,
            launch_date: info.launch_date,
            report: report_text,
            rules_total,
            rules_failed,
            video_seconds: report.as_ref().map(|r| r.total_video_seconds),
            updated_ms: now_ms(),
        })
        .await
}

/// Every course rule verdict of a report — the course's, each module's and
/// each lesson's — and how many fail.
fn rule_counts(report: &SegmentReport) -> (i64, i64) {
    let all = report
        .rules
        .iter()
        .chain(report.modules.iter().flat_map(|m| m.rules.iter()))
        .chain(
            report
                .modules
                .iter()
                .flat_map(|m| m.lessons.iter().flat_map(|l| l.rules.iter())),
        );
    let (mut total, mut failed) = (0, 0);
    for rule in all {
        total += 1;
        if rule.verdict == Verdict::Fail {
            failed += 1;
        }
    }
    (total, failed)
}

/// Syncs every take and course the store's course indexes name. A take or
/// course that cannot be read is reported and the rest go on.
pub async fn sync_all<S: ObjectStore>(
    catalog: &Catalog,
    store: &S,
) -> Result<SyncSummary, CatalogError> {
    let mut summary = SyncSummary::default();
    let mut courses = BTreeSet::new();
    let mut takes = BTreeSet::new();
    let mut next = None;
    loop {
        let page = store.list_page("courses/", next.take()).await?;
        for object in &page.objects {
            let mut parts = object.key.split('/');
            if let (Some("courses"), Some(course)) = (parts.next(), parts.next()) {
                courses.insert(course.to_owned());
                if let (Some("takes"), Some(file), None) =
                    (parts.next(), parts.next(), parts.next())
                {
                    if let Some(take_id) = file.strip_suffix(".json") {
                        takes.insert(take_id.to_owned());
                    }
                }
            }
        }
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    for take_id in &takes {
        match sync_take(catalog, store, take_id, false).await {
            Ok(Some(_)) => summary.takes += 1,
            Ok(None) => {}
            Err(e) => summary.failed.push(format!("take {take_id}: {e}")),
        }
    }
    for course in &courses {
        match sync_course(catalog, store, course).await {
            Ok(()) => summary.courses += 1,
            Err(e) => summary.failed.push(format!("course {course}: {e}")),
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use moocpipe_storage::LocalStore;

    fn take(id: &str, course: &str) -> TakeRef {
        serde_json::from_value(serde_json::json!({
            "take_id": id, "source": "/x.mov", "key": format!("{course}/01-a/01-b/t.mov"),
            "course": course, "kind": "lecture", "module": 1, "lesson": 1, "take": "t",
            "title": "<script>alert(1)</script>", "size_bytes": 1000
        }))
        .expect("take ref")
    }

    #[tokio::test]
    async fn a_take_is_seen_as_its_records_say_and_a_second_sync_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path().join("store")).expect("store");
        let catalog = Catalog::open_local(dir.path()).await.expect("catalog");
        assert_eq!(
            sync_take(&catalog, &store, "t1", false)
                .await
                .expect("sync"),
            None,
            "not ingested, not catalogued"
        );
        let t = take("t1", "phys");
        store
            .put_json(&layout::record("t1", Record::Ingest), &t)
            .expect("ingest");
        store
            .put_json(&layout::course_index("phys", "t1"), &t)
            .expect("index");
        assert_eq!(
            sync_take(&catalog, &store, "t1", false)
                .await
                .expect("sync"),
            Some(TakeState::Uploaded)
        );
        let first = catalog.take("t1").await.expect("row").expect("some");
        assert_eq!(first.summary.title, "<script>alert(1)</script>");
        let summary = sync_all(&catalog, &store).await.expect("sync all");
        assert_eq!((summary.takes, summary.courses), (1, 1), "{summary:?}");
        let again = catalog.take("t1").await.expect("row").expect("some");
        assert_eq!(again.first_seen_ms, first.first_seen_ms);
        assert_eq!(again.summary.state, "uploaded");
        let counts = catalog.state_counts().await.expect("counts");
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].takes, 1);
    }

    #[tokio::test]
    async fn a_record_that_does_not_parse_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path().join("store")).expect("store");
        let catalog = Catalog::open_local(dir.path()).await.expect("catalog");
        store
            .put_json(&layout::record("t2", Record::Ingest), &take("t2", "phys"))
            .expect("ingest");
        store
            .put_bytes(&layout::record("t2", Record::Probe), b"{not json")
            .expect("probe");
        let error = sync_take(&catalog, &store, "t2", false)
            .await
            .expect_err("bad record");
        let text = error.to_string();
        assert!(
            text.contains("probe.json") && text.contains("probe"),
            "{text}"
        );
    }
}
