#![allow(clippy::unwrap_used)]
//! The collectors node_exporter ships disabled that read /proc and /sys (issue 12), ours beside
//! node_exporter 1.12.1 on the same fixture trees: the recorded `debian12-linux6.18` and the
//! hand-made `handmade-nohw` (hardware the recording host lacks). A fixture does not change
//! between two scrapes, so the whole exposition of these collectors must be equal, byte for
//! byte, except the scrape durations and the build facts.
//!
//! The reference: `NODE_EXPORTER_REFERENCE`, else `~/.cache/node_exporter-1.12.1/bin/node_exporter`
//! (built by `go install github.com/prometheus/node_exporter@v1.12.1`). Without it the test
//! passes, saying loudly that it skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Daemon;

/// The collectors compared, and the flags they run with (sysctl's as the golden test's).
const COLLECTORS: &[&str] = &[
    "buddyinfo",
    "cgroups",
    "drbd",
    "drm",
    "ksmd",
    "lnstat",
    "meminfo_numa",
    "mountstats",
    "nvmesubsystem",
    "pcidevice",
    "processes",
    "slabinfo",
    "sysctl",
    "zoneinfo",
];
const FLAGS: &[&str] = &[
    "--collector.sysctl.include=kernel.threads-max",
    "--collector.sysctl.include=fs.file-nr",
    "--collector.sysctl.include=net.ipv4.ip_local_port_range:low,high",
    "--collector.sysctl.include-info=kernel.core_pattern",
    "--collector.sysctl.include-info=net.ipv4.tcp_rmem",
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference() -> Option<PathBuf> {
    let path = match std::env::var_os("NODE_EXPORTER_REFERENCE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME")?)
            .join(".cache/node_exporter-1.12.1/bin/node_exporter"),
    };
    let out = Command::new(&path).arg("--version").output().ok()?;
    let version =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if version.contains("version 1.12.1") {
        Some(path)
    } else {
        eprintln!(
            "fixture_parity: {} is not node_exporter 1.12.1: {}",
            path.display(),
            version.lines().next().unwrap_or("")
        );
        None
    }
}

fn args(fixture: &str) -> Vec<String> {
    let root = format!("tests/fixtures/{fixture}");
    let mut args = vec![
        format!("--path.procfs={root}/proc"),
        format!("--path.sysfs={root}/sys"),
        format!("--path.rootfs={root}"),
        "--collector.disable-defaults".to_string(),
        "--web.disable-exporter-metrics".to_string(),
    ];
    // node_exporter resolves <procfs>/self when it builds mountstats and refuses to start
    // without it (ours reports no data instead): only a tree that has `self` runs it.
    let has_self = crate_dir().join(&root).join("proc/self").exists();
    args.extend(
        COLLECTORS
            .iter()
            .filter(|c| **c != "mountstats" || has_self)
            .map(|c| format!("--collector.{c}")),
    );
    args.extend(FLAGS.iter().map(|f| f.to_string()));
    if crate_dir().join(&root).join("runit").is_dir() {
        args.push("--collector.runit".to_string());
        args.push(format!("--collector.runit.servicedir={root}/runit"));
    }
    args
}

/// The exposition without the scrape durations, which measure the process, not the fixture,
/// and the build facts, which are each binary's own.
fn comparable(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.contains("node_scrape_collector_duration_seconds")
                && !l.contains("node_exporter_build_info")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn scrape(name: &str, bin: &Path, fixture: &str) -> String {
    let d = Daemon::start(name, bin, &args(fixture), Some(&crate_dir()))
        .unwrap_or_else(|e| panic!("{e}"));
    comparable(&d.scrape("/metrics"))
}

#[test]
fn off_by_default_collectors_match_1_12_1_on_the_fixtures() {
    let Some(reference) = reference() else {
        eprintln!(
            "fixture_parity: !!! node_exporter 1.12.1 not found (set NODE_EXPORTER_REFERENCE): SKIPPED !!!"
        );
        return;
    };
    let ours = Path::new(env!("CARGO_BIN_EXE_node-exporter"));
    let mut failures = Vec::new();
    for fixture in ["debian12-linux6.18", "handmade-nohw"] {
        let dir = crate_dir().join("tests/fixtures").join(fixture);
        if let Ok(list) = std::fs::read_to_string(dir.join("empty-dirs.txt")) {
            for rel in list.lines().filter(|l| !l.trim().is_empty()) {
                std::fs::create_dir_all(dir.join(rel.trim())).unwrap();
            }
        }
        let want = scrape("node_exporter", &reference, fixture);
        let got = scrape("node-exporter", ours, fixture);
        // Something must have been compared: every fixture has data for some of them.
        assert!(
            want.lines().filter(|l| !l.starts_with('#')).count() > 20,
            "{fixture}: node_exporter 1.12.1 exposed almost nothing:\n{want}"
        );
        if want != got {
            failures.push(format!(
                "{fixture} (- node_exporter 1.12.1, + ours):\n{}",
                common::diff(&want, &got, 60)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
