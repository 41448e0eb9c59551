//! `PgLeases` against the real PostgreSQL (`MOOCPIPE_TEST_DATABASE_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`; start one with
//! `scripts/postgres.sh ensure`). Every test gets a fresh database, dropped
//! at its end.

use std::sync::Arc;
use std::time::Duration;

use moocpipe_broker::lease::{Acquire, Finish, LeaseKey, LeaseStore};
use moocpipe_broker::{Headers, Stage};
use moocpipe_control::testing::TestDatabase;
use moocpipe_control::{connect, job, job_runs, PgLeases, MIGRATOR};

const MINUTE: Duration = Duration::from_secs(60);

fn key(take_id: &str) -> LeaseKey {
    LeaseKey {
        stage: Stage::Transcode,
        take_id: take_id.to_owned(),
    }
}

async fn store() -> (TestDatabase, PgLeases) {
    let db = TestDatabase::create().await;
    let pool = connect(&db.url).await.expect("connect and migrate");
    (db, PgLeases::new(pool))
}

async fn acquire(leases: &PgLeases, take_id: &str, holder: &str, ttl: Duration) -> Acquire {
    leases
        .acquire(
            &key(take_id),
            &Headers::new(take_id).with_attempt(2),
            br#"{"take_id":"t"}"#,
            holder,
            ttl,
        )
        .await
        .expect("acquire")
}

fn fence(acquired: &Acquire) -> u64 {
    match acquired {
        Acquire::Acquired(lease) => lease.fence,
        Acquire::Busy { .. } => panic!("expected the lease, got {acquired:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_concurrent_acquisitions_exactly_one_wins() {
    let (_db, leases) = store().await;
    let leases = Arc::new(leases);
    for round in 0..5 {
        let take_id = format!("take-{round}");
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..16 {
            let (leases, take_id) = (Arc::clone(&leases), take_id.clone());
            tasks.spawn(
                async move { acquire(&leases, &take_id, &format!("w:{worker}"), MINUTE).await },
            );
        }
        let mut won = Vec::new();
        let mut busy = 0;
        while let Some(result) = tasks.join_next().await {
            match result.expect("task") {
                Acquire::Acquired(lease) => won.push(lease.fence),
                Acquire::Busy { fence, .. } => {
                    busy += 1;
                    assert!(fence > 0);
                }
            }
        }
        assert_eq!(won.len(), 1, "round {round}: winners {won:?}");
        assert_eq!(busy, 15);
        let row = job(leases.pool(), "transcode", &take_id)
            .await
            .expect("job")
            .expect("row");
        assert_eq!(row.state, "running");
        assert_eq!(row.fence, i64::try_from(won[0]).expect("fits"));
        assert_eq!(row.attempt, 2);
        assert!(row.holder.is_some_and(|h| h.starts_with("w:")));
        let runs = job_runs(leases.pool(), "transcode", &take_id)
            .await
            .expect("runs");
        assert_eq!(runs.len(), 1, "one run for one acquisition");
    }
}

#[tokio::test]
async fn fencing_tokens_strictly_increase_and_a_stale_token_changes_nothing() {
    let (_db, leases) = store().await;
    let k = key("take-a");
    // Expired at once (ttl 0): the next acquisition takes it over.
    let first = fence(&acquire(&leases, "take-a", "w:1", Duration::ZERO).await);
    let second = fence(&acquire(&leases, "take-a", "w:2", MINUTE).await);
    assert!(second > first, "{second} > {first}");
    // The S3 store's race: the old holder releasing (or renewing) after the
    // takeover must not touch the new holder's lease.
    assert!(!leases
        .release(&k, first, &Finish::Succeeded)
        .await
        .expect("release"));
    assert!(!leases.renew(&k, first, MINUTE, 0.9).await.expect("renew"));
    assert!(leases
        .hand_back(&k, first, MINUTE)
        .await
        .expect("hand back")
        .is_none());
    let row = job(leases.pool(), "transcode", "take-a")
        .await
        .expect("job")
        .expect("row");
    assert_eq!(row.state, "running");
    assert_eq!(row.fence, i64::try_from(second).expect("fits"));
    assert_eq!(row.holder.as_deref(), Some("w:2"));
    assert!(matches!(
        acquire(&leases, "take-a", "w:3", MINUTE).await,
        Acquire::Busy { fence, .. } if fence == second
    ));
    // The new holder still renews and releases.
    assert!(leases.renew(&k, second, MINUTE, 0.5).await.expect("renew"));
    assert!(leases
        .release(&k, second, &Finish::Succeeded)
        .await
        .expect("release"));
    // Tokens keep growing across jobs and hand-backs.
    let mut last = second;
    for take in ["take-b", "take-c", "take-a"] {
        let next = fence(&acquire(&leases, take, "w:4", MINUTE).await);
        assert!(next > last);
        let handed = leases
            .hand_back(&key(take), next, MINUTE)
            .await
            .expect("hand back")
            .expect("held");
        assert!(handed > next);
        last = handed;
    }
    let runs = job_runs(leases.pool(), "transcode", "take-a")
        .await
        .expect("runs");
    let outcomes: Vec<_> = runs.iter().map(|r| r.outcome.as_deref()).collect();
    assert_eq!(
        outcomes,
        vec![Some("taken_over"), Some("succeeded"), Some("handed_back")]
    );
}

#[tokio::test]
async fn renewing_after_a_takeover_fails_and_progress_is_kept() {
    let (_db, leases) = store().await;
    let k = key("take-p");
    let mine = fence(&acquire(&leases, "take-p", "w:1", MINUTE).await);
    assert!(leases.renew(&k, mine, MINUTE, 0.25).await.expect("renew"));
    let row = job(leases.pool(), "transcode", "take-p")
        .await
        .expect("job")
        .expect("row");
    assert!((row.progress - 0.25).abs() < 1e-6, "{}", row.progress);
    let expires = row.lease_expires_ms.expect("held");
    assert!(
        expires > row.updated_ms + 50_000,
        "{expires} vs {}",
        row.updated_ms
    );

    // Another party takes the job (a hand-back, as shutdown or a sweep
    // would): the old run's renewal fails from then on.
    let thief = leases
        .hand_back(&k, mine, MINUTE)
        .await
        .expect("hand back")
        .expect("held");
    assert!(thief > mine);
    assert!(!leases.renew(&k, mine, MINUTE, 0.5).await.expect("renew"));
    let row = job(leases.pool(), "transcode", "take-p")
        .await
        .expect("job")
        .expect("row");
    assert_eq!(row.state, "queued");
    assert!((row.progress - 0.25).abs() < 1e-6);
    // A handed-back lease is taken by the next delivery at once; the
    // hand-back's own release then changes nothing.
    let next = fence(&acquire(&leases, "take-p", "w:2", MINUTE).await);
    assert!(!leases
        .release(&k, thief, &Finish::Requeued)
        .await
        .expect("release"));
    assert!(leases
        .release(&k, next, &Finish::Dead("corrupt take".into()))
        .await
        .expect("release"));
    let row = job(leases.pool(), "transcode", "take-p")
        .await
        .expect("job")
        .expect("row");
    assert_eq!(row.state, "dead");
    assert_eq!(row.last_error.as_deref(), Some("corrupt take"));
    assert!(row.finished_ms.is_some());
    assert!(row.lease_expires_ms.is_none());
    assert!(row.holder.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sweepers_never_claim_the_same_expired_lease() {
    let (_db, leases) = store().await;
    let leases = Arc::new(leases);
    let mut old = Vec::new();
    for i in 0..40 {
        old.push(fence(
            &acquire(&leases, &format!("take-{i}"), "dead:1", Duration::ZERO).await,
        ));
    }
    // One live lease and one of another stage: not for these sweepers.
    acquire(&leases, "take-live", "w:1", MINUTE).await;
    leases
        .acquire(
            &LeaseKey {
                stage: Stage::Probe,
                take_id: "take-0".into(),
            },
            &Headers::new("take-0"),
            b"{}",
            "dead:1",
            Duration::ZERO,
        )
        .await
        .expect("probe lease");

    let mut sweepers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let leases = Arc::clone(&leases);
        sweepers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = leases
                    .claim_expired(Stage::Transcode, MINUTE, 3)
                    .await
                    .expect("claim");
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed);
            }
        });
    }
    let mut claimed = Vec::new();
    while let Some(result) = sweepers.join_next().await {
        claimed.extend(result.expect("sweeper"));
    }
    let mut takes: Vec<_> = claimed.iter().map(|l| l.key.take_id.clone()).collect();
    takes.sort();
    takes.dedup();
    assert_eq!(claimed.len(), 40, "every expired lease claimed once");
    assert_eq!(takes.len(), 40);
    let max_old = old.iter().copied().max().unwrap_or(0);
    for lease in &claimed {
        assert!(lease.fence > max_old);
        assert!(!lease.handed_back, "expired while running");
        assert_eq!(lease.headers.attempt, 2);
        assert_eq!(lease.body, br#"{"take_id":"t"}"#.to_vec());
    }
    let run = job_runs(leases.pool(), "transcode", "take-7")
        .await
        .expect("runs");
    assert_eq!(run.len(), 1);
    assert_eq!(run[0].outcome.as_deref(), Some("lost"));
    // A claimed lease lives for the claim's ttl: no second claim meanwhile.
    let again = leases
        .claim_expired(Stage::Transcode, Duration::ZERO, 100)
        .await
        .expect("claim");
    assert!(again.is_empty(), "claimed leases live for the ttl");
}

#[tokio::test]
async fn a_handed_back_lease_that_expires_is_claimed_as_handed_back() {
    let (_db, leases) = store().await;
    let k = key("take-h");
    let mine = fence(&acquire(&leases, "take-h", "w:1", MINUTE).await);
    leases
        .hand_back(&k, mine, Duration::ZERO)
        .await
        .expect("hand back")
        .expect("held");
    let claimed = leases
        .claim_expired(Stage::Transcode, MINUTE, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert!(claimed[0].handed_back);
    assert!(leases
        .release(&k, claimed[0].fence, &Finish::Requeued)
        .await
        .expect("release"));
    let row = job(leases.pool(), "transcode", "take-h")
        .await
        .expect("job")
        .expect("row");
    assert_eq!(row.state, "queued");
    assert!(row.lease_expires_ms.is_none(), "nothing left to sweep");
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let db = TestDatabase::create().await;
    let pool = connect(&db.url).await.expect("first start");
    MIGRATOR.run(&pool).await.expect("again on the same pool");
    drop(pool);
    let pool = connect(&db.url).await.expect("a second worker's start");
    let leases = PgLeases::new(pool);
    fence(&acquire(&leases, "take-m", "w:1", MINUTE).await);
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error_without_the_password() {
    let error = connect("postgres://moocpipe:hunter2@127.0.0.1:1/moocpipe")
        .await
        .expect_err("nothing listens on port 1");
    let text = error.to_string();
    assert!(text.contains("cannot reach the control database"), "{text}");
    assert!(text.contains("moocpipe:***@127.0.0.1:1"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let debug = format!("{error:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
}
