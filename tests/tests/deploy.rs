//! The deployment's monitoring, checked like code: Prometheus accepts the
//! scrape config and the alert rules, the rules' own unit tests pass, and
//! every moocpipe metric the alerts and the dashboard use is one the workers
//! register (a renamed metric would otherwise leave a silent panel).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(root())
        .output()
        .expect("promtool (Debian's prometheus package; scripts/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn prometheus_accepts_the_scrape_config_and_the_alert_rules_and_their_tests_pass() {
    promtool(&[
        "check",
        "config",
        "--syntax-only",
        "deploy/prometheus/prometheus.yml",
    ]);
    promtool(&["check", "rules", "deploy/prometheus/alerts.yml"]);
    promtool(&["test", "rules", "deploy/prometheus/alerts.test.yml"]);
}

/// Every `moocpipe_…` name in `text`.
fn names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("moocpipe_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn the_alerts_and_the_dashboard_use_only_metrics_the_workers_register() {
    let read = |rel: &str| std::fs::read_to_string(root().join(rel)).expect(rel);
    let registered: BTreeSet<String> = [
        "services/broker/src/metrics.rs",
        "services/distributed/src/metrics.rs",
        // /healthz's gauge of the oldest running job.
        "services/distributed/src/serve.rs",
        // moocpipe serve: HTTP, takes by state, stable links.
        "services/web/src/routes.rs",
    ]
    .iter()
    .flat_map(|f| names(&read(f)))
    .collect();
    // A histogram is exported as _bucket, _sum and _count.
    let known = |name: &str| {
        registered.contains(name)
            || ["_bucket", "_sum", "_count"].iter().any(|s| {
                name.strip_suffix(s)
                    .is_some_and(|base| registered.contains(base))
            })
    };
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/dashboards/moocpipe.json",
    ] {
        let used = names(&read(file));
        assert!(!used.is_empty(), "{file} uses no moocpipe metric");
        let unknown: Vec<&String> = used.iter().filter(|n| !known(n)).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics nobody registers: {unknown:?}; registered: {registered:?}"
        );
    }
}
