//! The fast subset of the fault suite (`scripts/faults.sh` runs all of it):
//! the real binaries on RabbitMQ, Garage and PostgreSQL, a batch of four
//! takes, one fault each, and every row must show 0 lost, 0 duplicate
//! notices and 0 outputs inconsistent with their record. Run in one test,
//! one fault after another: some faults restart services every test shares.

use moocpipe_broker::Stage;
use moocpipe_tests::faults::{self, Fault, Row};

/// The fault really hit its job mid-run: a run of it did not succeed, and
/// a later one did.
fn assert_hit_mid_job(row: &Row) {
    let runs = &row.hit_runs;
    assert!(
        runs.len() >= 2 && runs[0] != "succeeded" && runs.last().is_some_and(|r| r == "succeeded"),
        "{}: the fault did not interrupt its job (runs {runs:?})\n{}",
        row.fault.describe(),
        faults::notes(std::slice::from_ref(row))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fast_fault_subset_loses_no_take_sends_no_notice_twice_and_mixes_no_outputs() {
    let mut rows = Vec::new();
    for fault in [
        Fault::Kill(Stage::Transcode),
        Fault::DuplicateDelivery,
        Fault::HandBackRace,
        Fault::RawReplaced,
        Fault::PostgresRestart,
        Fault::BrokerRestartMidJob,
    ] {
        let row = faults::run(fault).await;
        eprint!("{}", faults::table(std::slice::from_ref(&row)));
        rows.push(row);
    }
    let report = format!("{}\n{}", faults::table(&rows), faults::notes(&rows));
    eprintln!("{report}");
    for row in &rows {
        assert!(row.is_clean(), "{}\n{report}", row.fault.describe());
        assert_eq!(
            row.takes,
            if row.fault == Fault::RawReplaced {
                5
            } else {
                4
            }
        );
    }
    // A killed worker's job and a handed-back one ran again to the end.
    assert_hit_mid_job(&rows[0]);
    assert_hit_mid_job(&rows[2]);
}
