//! What the pages show and the API answers: one set of view models, built
//! from the catalog, the job table (distributed mode) and the records.

use moocpipe_broker::{Stage, Topology};
use moocpipe_catalog::links::{LinkScope, LinkSettings};
use moocpipe_catalog::state::{self, TakeState};
use moocpipe_catalog::{CourseSummary, RuleCount, StateCount, TakeSummary};
use moocpipe_control::{JobRow, JobRunRow};
use moocpipe_proto::{
    CaptionRun, MaterialVerdict, ProbeRecord, PublishedRecord, QcRecord, SegmentReport, TakeRef,
    TranscodeRecord,
};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::error::{ApiError, ErrorKind};
use crate::SharedApp;

/// A week, for "failing rules this week".
const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;
/// Jobs the overview lists at most.
const ACTIVE_JOBS: i64 = 200;

/// The overview.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Overview {
    /// Every state with its count, in the pipeline's order.
    pub states: Vec<StateCount>,
    /// Spec rules failed by takes probed in the last 7 days.
    pub failing_rules_week: Vec<RuleCount>,
    /// Jobs running, retrying or queued now (distributed mode).
    pub jobs: Vec<JobView>,
    /// Dead-lettered jobs (distributed mode; `null` in the embedded one).
    pub dead_letters: Option<i64>,
    /// `embedded` or `distributed`.
    pub mode: String,
    pub generated_ms: i64,
}

/// One job (a stage of a take) and its runs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JobView {
    pub stage: String,
    pub take_id: String,
    /// `queued`, `running`, `succeeded`, `retrying` or `dead`.
    pub state: String,
    pub attempt: i32,
    /// `host:pid` of the worker that holds it.
    pub worker: Option<String>,
    /// 0–1.
    pub progress: f64,
    pub started_ms: Option<i64>,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
    /// Seconds left at the rate so far (running jobs with some progress).
    pub eta_seconds: Option<f64>,
    pub last_error: Option<String>,
    /// Every acquisition, oldest first (only on a take's jobs).
    pub runs: Vec<RunView>,
}

/// One run of a job.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunView {
    pub attempt: i32,
    pub worker: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub seconds: Option<f64>,
    /// `succeeded`, `retrying`, `dead`, `handed_back`, `lost`,
    /// `taken_over`; absent while it runs.
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// A course and everything under it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CourseView {
    pub summary: CourseSummary,
    /// The materials' due date: two weeks before launch (clause 12.6).
    pub due_date: Option<String>,
    /// Days from today to the due date (negative: overdue).
    pub days_left: Option<i64>,
    pub modules: Vec<ModuleView>,
    /// Promo and closing takes (no module).
    pub other_takes: Vec<TakeSummary>,
    /// The last segment report.
    pub report: Option<SegmentReport>,
    /// The course folder's materials (files that are not takes), by path.
    pub materials: Vec<MaterialView>,
}

/// A course material as the course page shows it (clause 9.4).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MaterialView {
    /// Its path below the course folder: `01-mechanics/slides.pdf`.
    pub path: String,
    /// Its file name.
    pub name: String,
    pub size_bytes: u64,
    /// `ok` (published, with a link) or `error` (see `error`).
    pub verdict: String,
    /// The type its name claims, for people ("PDF document").
    pub declared: Option<String>,
    /// The type its content was found to be: an accepted type's name, else
    /// the media type it was recognised as.
    pub detected: Option<String>,
    /// The media type it is served with.
    pub content_type: Option<String>,
    /// Why it is not published, naming the file and the cause.
    pub error: Option<String>,
    /// Its stable link (`<public URL>/l/<token>`): published materials,
    /// when this server holds the link key. The same link on every visit
    /// until an admin revokes it; a new version of the file keeps it.
    pub link: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModuleView {
    pub module: i64,
    pub name: Option<String>,
    pub lessons: Vec<LessonView>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LessonView {
    pub lesson: i64,
    pub name: Option<String>,
    pub takes: Vec<TakeSummary>,
}

/// A take with its records and where to watch and download it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TakeView {
    pub summary: TakeSummary,
    pub take: TakeRef,
    pub probe: Option<ProbeRecord>,
    pub qc: Option<QcRecord>,
    pub transcode: Option<TranscodeRecord>,
    pub caption: Option<CaptionRun>,
    pub published: Option<PublishedRecord>,
    /// Dead-lettered stages: stage → what the report heard.
    pub failures: Option<serde_json::Value>,
    /// The platform rendition and its captions, for the player.
    pub player: Option<Player>,
    pub downloads: Vec<Download>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Player {
    /// Same-origin URL of the platform rendition.
    pub video: String,
    /// Same-origin URL of the WebVTT captions, when there are some.
    pub captions: Option<String>,
    /// The captions' language.
    pub language: Option<String>,
    pub poster: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Download {
    /// `1080p`, `720p`, `poster`, `captions.vtt`…
    pub name: String,
    /// The file name it saves as.
    pub file_name: String,
    pub url: String,
    pub size_bytes: u64,
}

/// One dead letter.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeadLetterView {
    pub stage: String,
    pub take_id: Option<String>,
    pub reason: String,
    pub kind: Option<String>,
    pub attempts: u32,
}

fn job_view(row: JobRow, runs: Vec<JobRunRow>, now_ms: i64) -> JobView {
    let progress = f64::from(row.progress).clamp(0.0, 1.0);
    let eta_seconds = match (row.state.as_str(), row.started_ms) {
        ("running", Some(started)) if progress > 0.01 && progress < 1.0 => {
            let elapsed = (now_ms - started).max(0) as f64 / 1000.0;
            Some(elapsed * (1.0 - progress) / progress)
        }
        _ => None,
    };
    JobView {
        stage: row.stage,
        take_id: row.take_id,
        state: row.state,
        attempt: row.attempt,
        worker: row.holder,
        progress,
        started_ms: row.started_ms,
        updated_ms: row.updated_ms,
        finished_ms: row.finished_ms,
        eta_seconds,
        last_error: row.last_error,
        runs: runs
            .into_iter()
            .map(|r| RunView {
                attempt: r.attempt,
                worker: r.worker,
                started_ms: r.started_ms,
                ended_ms: r.ended_ms,
                seconds: r
                    .ended_ms
                    .map(|end| (end - r.started_ms).max(0) as f64 / 1000.0),
                outcome: r.outcome,
                error: r.error,
            })
            .collect(),
    }
}

/// The overview.
pub async fn overview(app: &SharedApp) -> Result<Overview, ApiError> {
    let now = moocpipe_catalog::now_ms();
    let counted: BTreeMap<String, i64> = app
        .catalog
        .state_counts()
        .await?
        .into_iter()
        .map(|c| (c.state, c.takes))
        .collect();
    let dead_letters = match &app.jobs {
        Some(pool) => Some(moocpipe_control::dead_jobs(pool).await?),
        None => None,
    };
    let states = state::ALL
        .into_iter()
        .map(|s| StateCount {
            state: s.as_str().to_owned(),
            takes: counted.get(s.as_str()).copied().unwrap_or(0),
        })
        .collect();
    Ok(Overview {
        states,
        failing_rules_week: app.catalog.failing_rules_since(now - WEEK_MS).await?,
        jobs: jobs(app).await?,
        dead_letters,
        mode: app.config.mode.to_owned(),
        generated_ms: now,
    })
}

/// A take's jobs with their runs (empty in the embedded mode).
pub async fn take_jobs(app: &SharedApp, take_id: &str) -> Result<Vec<JobView>, ApiError> {
    let Some(pool) = &app.jobs else {
        return Ok(Vec::new());
    };
    let now = moocpipe_catalog::now_ms();
    let mut views = Vec::new();
    for row in moocpipe_control::take_jobs(pool, take_id).await? {
        let runs = moocpipe_control::job_runs(pool, &row.stage, take_id).await?;
        views.push(job_view(row, runs, now));
    }
    Ok(views)
}

/// Jobs running now.
pub async fn jobs(app: &SharedApp) -> Result<Vec<JobView>, ApiError> {
    let Some(pool) = &app.jobs else {
        return Ok(Vec::new());
    };
    let now = moocpipe_catalog::now_ms();
    Ok(moocpipe_control::active_jobs(pool, ACTIVE_JOBS)
        .await?
        .into_iter()
        .map(|row| job_view(row, Vec::new(), now))
        .collect())
}

/// A course, `NotFound` when the catalog does not know it.
pub async fn course(app: &SharedApp, course: &str) -> Result<CourseView, ApiError> {
    let summary = app
        .catalog
        .course_summary(course)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("course {course}")))?;
    let row = app.catalog.course(course).await?;
    let report = row
        .as_ref()
        .and_then(|r| r.report.as_deref())
        .and_then(|text| serde_json::from_str::<SegmentReport>(text).ok());
    let (due_date, days_left) = due(summary.launch_date.as_deref());
    let mut modules: Vec<ModuleView> = Vec::new();
    let mut other_takes = Vec::new();
    for take in app.catalog.course_takes(course).await? {
        let (Some(module), Some(lesson)) = (take.module, take.lesson) else {
            other_takes.push(take);
            continue;
        };
        if modules.last().is_none_or(|m| m.module != module) {
            modules.push(ModuleView {
                module,
                name: take.module_name.clone(),
                lessons: Vec::new(),
            });
        }
        let Some(m) = modules.last_mut() else {
            continue;
        };
        if m.lessons.last().is_none_or(|l| l.lesson != lesson) {
            m.lessons.push(LessonView {
                lesson,
                name: take.lesson_name.clone(),
                takes: Vec::new(),
            });
        }
        if let Some(l) = m.lessons.last_mut() {
            l.takes.push(take);
        }
    }
    let materials = course_materials(app, course).await?;
    Ok(CourseView {
        summary,
        due_date,
        days_left,
        modules,
        other_takes,
        report,
        materials,
    })
}

/// A course's materials, each published one with its stable link, issued
/// here the first time (idempotent: the same link on every visit).
async fn course_materials(app: &SharedApp, course: &str) -> Result<Vec<MaterialView>, ApiError> {
    let mut views = Vec::new();
    for record in app.catalog.course_materials(course).await? {
        let link = match (&app.config.links, &record.object) {
            (Some(settings), Some(object)) if record.verdict == MaterialVerdict::Ok => {
                let scope = LinkScope::Object {
                    key: object.key.clone(),
                };
                let issued = app
                    .catalog
                    .issue_link(&settings.key, &scope, course, settings.ttl)
                    .await?;
                Some(settings.url(&issued.token))
            }
            _ => None,
        };
        views.push(MaterialView {
            name: record.name().to_owned(),
            size_bytes: record.size_bytes,
            verdict: record.verdict.as_str().to_owned(),
            declared: record.declared.map(|t| t.label().to_owned()),
            detected: record
                .detected
                .map(|t| t.label().to_owned())
                .or(record.detected_media_type.clone()),
            content_type: record.content_type.clone(),
            error: record.error.as_ref().map(|e| e.message.clone()),
            link,
            path: record.path,
        });
    }
    Ok(views)
}

/// Materials are due two weeks before launch (clause 12.6): the due date
/// and the days left until it, for a `YYYY-MM-DD` launch date.
pub fn due(launch: Option<&str>) -> (Option<String>, Option<i64>) {
    let Some(launch) = launch.and_then(parse_date) else {
        return (None, None);
    };
    let due = launch - time::Duration::days(14);
    let today = time::OffsetDateTime::now_utc().date();
    (
        Some(format!(
            "{:04}-{:02}-{:02}",
            due.year(),
            u8::from(due.month()),
            due.day()
        )),
        Some((due - today).whole_days()),
    )
}

fn parse_date(text: &str) -> Option<time::Date> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

fn parse_opt<T: DeserializeOwned>(text: Option<&str>, what: &str, take_id: &str) -> Option<T> {
    let text = text?;
    match serde_json::from_str(text) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(%take_id, %error, "the catalog's {what} record does not parse");
            None
        }
    }
}

/// A take, `NotFound` when the catalog does not know it. Its files are
/// `/media/<take>/…` (a logged-in user's).
pub async fn take(app: &SharedApp, take_id: &str) -> Result<TakeView, ApiError> {
    take_with_media(app, take_id, &format!("/media/{take_id}")).await
}

/// [`take`] with its files below `media_base` (`/media/<take>` for a
/// session, `/l/<token>` for a stable link).
pub async fn take_with_media(
    app: &SharedApp,
    take_id: &str,
    media_base: &str,
) -> Result<TakeView, ApiError> {
    let row = app
        .catalog
        .take(take_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("take {take_id}")))?;
    let take: TakeRef = serde_json::from_str(&row.ingest).map_err(|e| {
        ApiError::new(
            ErrorKind::Internal,
            format!("take {take_id}: its ingest record does not parse: {e}"),
        )
    })?;
    let probe = parse_opt::<ProbeRecord>(row.probe.as_deref(), "probe", take_id);
    let qc = parse_opt::<QcRecord>(row.qc.as_deref(), "qc", take_id);
    let transcode = parse_opt::<TranscodeRecord>(row.transcode.as_deref(), "transcode", take_id);
    let caption = parse_opt::<CaptionRun>(row.caption.as_deref(), "caption", take_id);
    let published = parse_opt::<PublishedRecord>(row.published.as_deref(), "published", take_id);
    let failures = parse_opt::<serde_json::Value>(row.failures.as_deref(), "failures", take_id);
    let (player, downloads) = media_of(media_base, take_id, transcode.as_ref(), caption.as_ref());
    Ok(TakeView {
        summary: row.summary,
        take,
        probe,
        qc,
        transcode,
        caption,
        published,
        failures,
        player,
        downloads,
    })
}

/// The same-origin URL of a stored object of a take: its key below
/// `takes/<take>/`, below `base`.
pub fn media_url(base: &str, take_id: &str, key: &str) -> Option<String> {
    moocpipe_storage::layout::take_path(take_id, key).map(|rest| format!("{base}/{rest}"))
}

fn media_of(
    base: &str,
    take_id: &str,
    transcode: Option<&TranscodeRecord>,
    caption: Option<&CaptionRun>,
) -> (Option<Player>, Vec<Download>) {
    let mut downloads = Vec::new();
    let mut video = None;
    let mut poster = None;
    if let Some(t) = transcode.filter(|t| t.run.is_some()) {
        let run = t.run.as_deref().unwrap_or_default();
        let key_of = |file: &str| format!("takes/{take_id}/runs/{run}/{file}");
        for r in &t.renditions {
            let key = key_of(&r.file);
            if let Some(url) = media_url(base, take_id, &key) {
                if r.platform {
                    video = Some(url.clone());
                }
                downloads.push(Download {
                    name: r.name.clone(),
                    file_name: r.download_name.clone(),
                    url,
                    size_bytes: r.size_bytes,
                });
            }
        }
        let size_of = |key: &str| {
            t.objects
                .iter()
                .find(|o| o.key == key)
                .map(|o| o.size_bytes)
        };
        if let Some(hls) = &t.hls {
            let key = key_of(&hls.master);
            if let Some(url) = media_url(base, take_id, &key) {
                downloads.push(Download {
                    name: "hls".into(),
                    file_name: "master.m3u8".into(),
                    url,
                    size_bytes: size_of(&key).unwrap_or(0),
                });
            }
        }
        if let Some(file) = &t.poster {
            let key = key_of(file);
            let size = size_of(&key);
            if let Some(url) = media_url(base, take_id, &key) {
                poster = Some(url.clone());
                downloads.push(Download {
                    name: "poster".into(),
                    file_name: file.rsplit('/').next().unwrap_or(file).to_owned(),
                    url,
                    size_bytes: size.unwrap_or(0),
                });
            }
        }
    }
    let mut captions = None;
    let mut language = None;
    if let Some(c) = caption {
        for object in &c.objects {
            let file_name = object
                .key
                .rsplit('/')
                .next()
                .unwrap_or(&object.key)
                .to_owned();
            let Some(url) = media_url(base, take_id, &object.key) else {
                continue;
            };
            let ext = file_name.rsplit('.').next().unwrap_or_default().to_owned();
            if ext == "vtt" {
                captions = Some(url.clone());
                language = Some(c.caption.language.clone());
            }
            downloads.push(Download {
                name: format!("captions.{ext}"),
                file_name,
                url,
                size_bytes: object.size_bytes,
            });
        }
    }
    let player = video.map(|video| Player {
        video,
        captions,
        language,
        poster,
    });
    (player, downloads)
}

/// A stable link as the dashboard shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LinkView {
    pub link: moocpipe_catalog::Link,
    /// `live`, `expired` or `revoked`.
    pub state: String,
    /// The link itself: only for admins, only while it is live, and only
    /// when this server holds the link key.
    pub url: Option<String>,
}

fn link_view(app: &SharedApp, link: moocpipe_catalog::Link, with_url: bool) -> LinkView {
    let state = link.state(moocpipe_catalog::now_ms());
    let url = match (&app.config.links, link.scope()) {
        (Some(settings), Some(scope)) if with_url && state == "live" => {
            Some(settings.url(&settings.key.token(&scope, link.generation)))
        }
        _ => None,
    };
    LinkView {
        link,
        state: state.to_owned(),
        url,
    }
}

/// A take's links, newest first; `with_url`: the live one's URL too.
pub async fn take_links(
    app: &SharedApp,
    take_id: &str,
    with_url: bool,
) -> Result<Vec<LinkView>, ApiError> {
    let scope = LinkScope::Take {
        take_id: take_id.to_owned(),
    };
    Ok(app
        .catalog
        .links_of(&scope)
        .await?
        .into_iter()
        .map(|link| link_view(app, link, with_url))
        .collect())
}

fn link_settings(app: &SharedApp) -> Result<&LinkSettings, ApiError> {
    app.config.links.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorKind::Unavailable,
            format!(
                "this server has no link key: set {} (the report workers' value)",
                moocpipe_catalog::links::ENV_LINK_KEY
            ),
        )
    })
}

/// Issues a take's link (its live one when it has one).
pub async fn issue_take_link(app: &SharedApp, take_id: &str) -> Result<LinkView, ApiError> {
    let settings = link_settings(app)?;
    let row = app
        .catalog
        .take(take_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("take {take_id}")))?;
    let scope = LinkScope::Take {
        take_id: take_id.to_owned(),
    };
    let issued = app
        .catalog
        .issue_link(&settings.key, &scope, &row.summary.course, settings.ttl)
        .await?;
    tracing::info!(take_id, link = %issued.link.link_id, "link issued");
    Ok(link_view(app, issued.link, true))
}

/// Revokes a link.
pub async fn revoke_link(app: &SharedApp, link_id: &str) -> Result<LinkView, ApiError> {
    app.catalog.revoke_link(link_id).await?;
    let link = app
        .catalog
        .link(link_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("link {link_id}")))?;
    tracing::info!(link = %link_id, "link revoked");
    Ok(link_view(app, link, false))
}

/// Revokes a link and issues its scope's next one.
pub async fn reissue_link(app: &SharedApp, link_id: &str) -> Result<LinkView, ApiError> {
    let settings = link_settings(app)?;
    let issued = app
        .catalog
        .reissue_link(&settings.key, link_id, settings.ttl)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("link {link_id}")))?;
    tracing::info!(old = %link_id, link = %issued.link.link_id, "link re-issued");
    Ok(link_view(app, issued.link, true))
}

/// Every stage's dead letters (distributed mode).
pub async fn dead_letters(app: &SharedApp) -> Result<Vec<DeadLetterView>, ApiError> {
    let broker = app.broker.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "the embedded mode has no dead-letter queues: failed takes show on the overview",
        )
    })?;
    let connection = broker.amqp.connect().await.map_err(broker_error)?;
    let mut letters = Vec::new();
    for stage in [
        Stage::Probe,
        Stage::Transcode,
        Stage::Caption,
        Stage::Report,
    ] {
        for letter in moocpipe_broker::dlq::list(&connection, &broker.topology, stage)
            .await
            .map_err(broker_error)?
        {
            letters.push(DeadLetterView {
                stage: stage.as_str().to_owned(),
                take_id: letter.take_id,
                reason: letter.reason,
                kind: letter.kind.map(|k| format!("{k:?}").to_lowercase()),
                attempts: letter.attempts,
            });
        }
    }
    let _ = connection.close(200, "listed").await;
    Ok(letters)
}

/// What a replay or purge did: how many letters it moved or dropped.
pub async fn dead_letter_action(
    app: &SharedApp,
    stage: &str,
    replay: bool,
) -> Result<u32, ApiError> {
    let stage: Stage = stage
        .parse()
        .ok()
        .filter(|s| *s != Stage::Ingest)
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::BadRequest,
                format!("no stage {stage:?}: probe, transcode, caption or report"),
            )
        })?;
    let broker = app.broker.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "the embedded mode has no dead-letter queues",
        )
    })?;
    let connection = broker.amqp.connect().await.map_err(broker_error)?;
    let topology: &Topology = &broker.topology;
    let moved = if replay {
        moocpipe_broker::dlq::replay(&connection, topology, stage).await
    } else {
        moocpipe_broker::dlq::purge(&connection, topology, stage).await
    }
    .map_err(broker_error)?;
    let _ = connection.close(200, "done").await;
    tracing::info!(stage = %stage.as_str(), moved, replay, "dead letters");
    Ok(moved)
}

fn broker_error(error: moocpipe_broker::BrokerError) -> ApiError {
    tracing::error!(%error, "broker");
    ApiError::new(ErrorKind::Unavailable, format!("RabbitMQ: {error}"))
}

/// For pages: the state's label, e.g. "failed spec".
pub fn state_label(state: &str) -> &'static str {
    TakeState::parse(state)
        .map(TakeState::label)
        .unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn materials_are_due_two_weeks_before_launch() {
        let (due_date, days) = due(Some("2030-03-15"));
        assert_eq!(due_date.as_deref(), Some("2030-03-01"));
        assert!(days.is_some_and(|d| d > 0));
        assert_eq!(due(Some("not a date")), (None, None));
        assert_eq!(due(None), (None, None));
    }

    #[test]
    fn media_urls_stay_inside_their_take() {
        assert_eq!(
            media_url("/media/t1", "t1", "takes/t1/runs/r/renditions/a.mp4").as_deref(),
            Some("/media/t1/runs/r/renditions/a.mp4")
        );
        assert_eq!(media_url("/media/t1", "t1", "takes/t2/runs/r/a.mp4"), None);
        assert_eq!(media_url("/l/x", "t1", "takes/t10/runs/r/a.mp4"), None);
    }
}
