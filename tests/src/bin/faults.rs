//! `faults [FAULT…]`: runs the fault suite (every fault, or the named ones)
//! on real components and prints one row per fault as a Markdown table,
//! then what happened in each. Exits 1 when a row lost a take, sent a
//! notice twice or left an output inconsistent with its record.
//! `scripts/faults.sh` builds and runs it with the services it needs.

use futures_util::FutureExt;
use moocpipe_tests::faults::{self, Fault};
use std::panic::AssertUnwindSafe;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: faults [FAULT…]\n\nfaults:");
        for fault in Fault::ALL {
            println!("  {:<24} {}", fault.slug(), fault.describe());
        }
        return;
    }
    let mut chosen = Vec::new();
    for arg in &args {
        match Fault::from_slug(arg) {
            Some(fault) => chosen.push(fault),
            None => {
                eprintln!("faults: no fault named {arg:?} (see --help)");
                std::process::exit(2);
            }
        }
    }
    if chosen.is_empty() {
        chosen = Fault::ALL.to_vec();
    }
    let mut rows = Vec::new();
    let mut unmeasured = Vec::new();
    for fault in chosen {
        eprintln!("==> {} ({})", fault.describe(), fault.slug());
        // A fault that cannot be measured (its trigger never came, a
        // service would not restart) says why and the others still run.
        match AssertUnwindSafe(faults::run(fault)).catch_unwind().await {
            Ok(row) => {
                eprint!("{}", faults::table(std::slice::from_ref(&row)));
                eprint!("{}", faults::notes(std::slice::from_ref(&row)));
                rows.push(row);
            }
            Err(_) => unmeasured.push(fault),
        }
    }
    println!("{}", faults::table(&rows));
    println!("{}", faults::notes(&rows));
    for fault in &unmeasured {
        println!(
            "- **{}**: not measured (the run stopped; its reason is above)",
            fault.describe()
        );
    }
    if !unmeasured.is_empty() || !rows.iter().all(|r| r.is_clean()) {
        std::process::exit(1);
    }
}
