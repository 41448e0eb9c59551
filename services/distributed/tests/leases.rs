//! The lease store the workers share, against a real Garage node: the
//! semantics the broker's worker loop relies on (see `moocpipe-broker`'s
//! `LeaseStore`), kept in the media bucket.

#[path = "../../storage/tests/garage/mod.rs"]
#[allow(dead_code)] // the storage tests use all of it, these tests part
mod garage;

use moocpipe_broker::lease::{Acquire, Lease, LeaseKey, LeaseStore};
use moocpipe_broker::{Headers, Stage};
use moocpipe_distributed::StoreLeases;
use std::time::{Duration, SystemTime};

fn lease(take_id: &str, token: &str, expires_at: SystemTime) -> Lease {
    Lease {
        key: LeaseKey {
            stage: Stage::Transcode,
            take_id: take_id.to_owned(),
        },
        token: token.to_owned(),
        expires_at,
        handed_back: false,
        headers: Headers::new(take_id).with_attempt(2),
        body: br#"{"take": "t"}"#.to_vec(),
    }
}

#[tokio::test]
async fn leases_in_the_bucket_exclude_renew_hand_back_expire_and_release() {
    let node = garage::Garage::start();
    let leases = StoreLeases::new(node.store());
    let now = SystemTime::now();
    let minute = now + Duration::from_secs(60);

    let mine = lease("take-a", "token-1", minute);
    assert_eq!(
        leases.acquire(mine.clone(), now).await,
        Ok(Acquire::Acquired)
    );
    // A second holder is refused while the lease lives.
    let busy = leases
        .acquire(lease("take-a", "token-2", minute), now)
        .await;
    assert!(
        matches!(busy, Ok(Acquire::Busy { ref token, .. }) if token == "token-1"),
        "{busy:?}"
    );
    // Only the holder renews; the lease keeps its job.
    assert_eq!(leases.renew(&mine.key, "token-2", minute).await, Ok(false));
    assert_eq!(
        leases
            .renew(&mine.key, "token-1", now + Duration::from_secs(1))
            .await,
        Ok(true)
    );
    assert_eq!(leases.expired(Stage::Transcode, now).await, Ok(Vec::new()));
    let later = now + Duration::from_secs(2);
    let expired = leases
        .expired(Stage::Transcode, later)
        .await
        .expect("expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].token, "token-1");
    assert_eq!(expired[0].headers, mine.headers);
    assert_eq!(expired[0].body, br#"{"take":"t"}"#.to_vec());
    assert_eq!(leases.expired(Stage::Probe, later).await, Ok(Vec::new()));

    // A sweeper takes it over; the old holder can no longer renew or release.
    assert_eq!(
        leases
            .hand_back(&mine.key, "token-1", "sweeper", minute)
            .await,
        Ok(true)
    );
    assert_eq!(leases.renew(&mine.key, "token-1", minute).await, Ok(false));
    assert_eq!(leases.release(&mine.key, "token-1").await, Ok(false));
    // A handed-back lease may be taken by the next delivery at once.
    let next = lease("take-a", "token-3", minute);
    assert_eq!(
        leases.acquire(next.clone(), now).await,
        Ok(Acquire::Acquired)
    );
    assert_eq!(leases.release(&next.key, "token-3").await, Ok(true));
    assert_eq!(
        leases
            .acquire(lease("take-a", "token-4", minute), now)
            .await,
        Ok(Acquire::Acquired)
    );
}

#[tokio::test]
async fn a_store_that_is_down_is_an_error_not_a_lost_or_granted_lease() {
    let mut node = garage::Garage::start();
    let leases = StoreLeases::new(node.store());
    node.stop();
    let now = SystemTime::now();
    let result = leases
        .acquire(lease("take-b", "t", now + Duration::from_secs(60)), now)
        .await;
    assert!(result.is_err(), "{result:?}");
}
