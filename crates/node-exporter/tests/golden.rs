#![allow(clippy::unwrap_used)]
//! End-to-end golden test, as node_exporter's own `end-to-end-test.sh`: run the binary against
//! each recorded /proc and /sys tree under `tests/fixtures/<name>/` (see its README and
//! `scripts/record-fixtures.sh`), scrape once, and compare the whole exposition, minus what
//! legitimately varies, with `tests/fixtures/<name>.golden.txt`. The full output must also pass
//! `promtool check metrics`.
//!
//! A diff in a golden file is a change of behaviour: review it. To accept it:
//!
//!     UPDATE_GOLDEN=1 cargo test -p node-exporter --test golden

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Daemon;

/// Default collectors left out: they read live kernel state through syscalls, not files
/// (`time`: clock_gettime, `timex`: adjtimex, `uname`: uname(2)), or, for `selinux`, the state
/// of the test's own process (its mounts); upstream's end-to-end test disables these too.
const LIVE_COLLECTORS: &[&str] = &["time", "timex", "uname", "selinux"];

/// Flags passed only when the binary accepts them (a collector still a stub has no flags yet):
/// the textfile fixture (a relative path: the `file` label stays the same on every checkout),
/// and /proc/net files instead of netlink, which would read this host's live interfaces.
const OPTIONAL_FLAGS: &[&str] = &[
    "--collector.textfile.directory=tests/fixtures/textfile",
    "--no-collector.netdev.netlink",
    "--no-collector.arp.netlink",
    // Collectors node_exporter ships disabled, with the flags scripts/record-fixtures.sh traced
    // them with (its OFF_COLLECTORS and SYSCTL_FLAGS). mountstats reads the exporter's own
    // /proc/self, and drbd, drm, nvmesubsystem have no data on the recording host: they report
    // success 0 here, their unit tests use hand-made inputs.
    "--collector.buddyinfo",
    "--collector.cgroups",
    "--collector.drbd",
    "--collector.drm",
    "--collector.ksmd",
    "--collector.lnstat",
    "--collector.meminfo_numa",
    "--collector.mountstats",
    "--collector.nvmesubsystem",
    "--collector.pcidevice",
    "--collector.processes",
    "--collector.slabinfo",
    "--collector.sysctl",
    "--collector.sysctl.include=kernel.threads-max",
    "--collector.sysctl.include=fs.file-nr",
    "--collector.sysctl.include=net.ipv4.ip_local_port_range:low,high",
    "--collector.sysctl.include-info=kernel.core_pattern",
    "--collector.sysctl.include-info=net.ipv4.tcp_rmem",
    "--collector.zoneinfo",
];

/// Families dropped from the comparison: they measure the exporter process or the scrape, not
/// the fixture.
const DROPPED: &[&str] = &[
    "go_*",
    "process_*",
    "promhttp_*",
    "node_scrape_collector_duration_seconds",
];

/// Families whose values are masked: `statfs(2)` of the fixture's mount points measures the
/// checkout's own filesystem, and a textfile's mtime is the checkout's.
const MASKED_VALUES: &[&str] = &[
    "node_filesystem_avail_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_files",
    "node_filesystem_files_free",
    "node_filesystem_purgeable_bytes",
    "node_textfile_mtime_seconds",
];

/// Families whose label values are masked: the build's own version, revision and platform.
const MASKED_LABELS: &[&str] = &["node_exporter_build_info"];

/// `promtool check metrics` findings that are node_exporter's own naming, kept for drop-in
/// compatibility (node_exporter's output draws the same warnings). Anything else fails.
const PROMTOOL_ALLOWED: &[(&str, &str, &str)] = &[
    // Names built from the kernel's field names in /proc/meminfo (MemTotal, HugePages_Free).
    (
        "node_memory_*",
        "snake_case",
        "meminfo keeps /proc/meminfo's field names",
    ),
    // Names built from /proc/net/{netstat,snmp,snmp6} (Tcp_InSegs, Icmp6_InMsgs).
    (
        "node_netstat_*",
        "snake_case",
        "netstat keeps the kernel's counter names",
    ),
    // The entropy pool is counted in bits by the kernel, and node_exporter says so.
    (
        "node_entropy_available_bits",
        "base unit",
        "upstream's name",
    ),
    (
        "node_entropy_pool_size_bits",
        "base unit",
        "upstream's name",
    ),
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The recorded trees: directories of tests/fixtures with a `proc` inside.
fn fixtures() -> Vec<String> {
    let dir = crate_dir().join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("proc").is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// git keeps no empty directories; the recorder lists them in `empty-dirs.txt`.
fn recreate_empty_dirs(fixture: &Path) {
    let list = fixture.join("empty-dirs.txt");
    let Ok(text) = std::fs::read_to_string(&list) else {
        return;
    };
    for rel in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let d = fixture.join(rel);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    }
}

fn args_for(bin: &Path, name: &str) -> Vec<String> {
    let root = format!("tests/fixtures/{name}");
    let mut args = vec![
        format!("--path.procfs={root}/proc"),
        format!("--path.sysfs={root}/sys"),
        format!("--path.rootfs={root}"),
        format!("--path.udev.data={root}/udev/data"),
        "--log.level=debug".to_string(),
    ];
    args.extend(
        LIVE_COLLECTORS
            .iter()
            .map(|c| format!("--no-collector.{c}")),
    );
    // A hand-made tree may hold a runit service directory (tests/fixtures/handmade-nohw); the
    // recorded ones do not, and the default /etc/service would be this host's.
    if crate_dir().join(&root).join("runit").is_dir() {
        let flags = [
            "--collector.runit".to_string(),
            format!("--collector.runit.servicedir={root}/runit"),
        ];
        if common::accepts_flags(bin, &[flags[0].as_str(), flags[1].as_str()]) {
            args.extend(flags);
        }
    }
    for flag in OPTIONAL_FLAGS {
        if common::accepts_flags(bin, &[flag]) {
            args.push(flag.to_string());
        } else {
            eprintln!(
                "golden: {} does not accept {flag} (yet); running without it",
                bin.display()
            );
        }
    }
    args
}

/// The exposition with DROPPED families removed and MASKED_* values replaced, line for line.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    // The family of the latest HELP/TYPE line; samples follow their family's header.
    let mut current = String::new();
    for line in text.lines() {
        let family = if let Some(rest) = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
        {
            current = rest.split(' ').next().unwrap_or_default().to_string();
            current.clone()
        } else {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            if name == current
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name.strip_suffix(s) == Some(current.as_str()))
            {
                current.clone()
            } else {
                name.to_string()
            }
        };
        if DROPPED.iter().any(|p| common::glob_match(p, &family)) {
            continue;
        }
        let is_sample = !line.starts_with('#');
        let mut line = line.to_string();
        if is_sample && MASKED_LABELS.contains(&family.as_str()) {
            line = mask_label_values(&line);
        }
        if is_sample && MASKED_VALUES.contains(&family.as_str()) {
            if let Some(i) = line.rfind(' ') {
                line.truncate(i);
                line.push_str(" <masked>");
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn mask_label_values(line: &str) -> String {
    let (Some(open), Some(close)) = (line.find('{'), line.rfind('}')) else {
        return line.to_string();
    };
    let sample = common::parse(line)
        .ok()
        .and_then(|f| f.into_values().next())
        .and_then(|f| f.samples.into_iter().next());
    let Some(sample) = sample else {
        return line.to_string();
    };
    let labels: Vec<String> = sample
        .labels
        .keys()
        .map(|k| format!("{k}=\"<masked>\""))
        .collect();
    format!(
        "{}{{{}}}{}",
        &line[..open],
        labels.join(","),
        &line[close + 1..]
    )
}

/// Runs `promtool check metrics` on the full exposition; returns the findings not allowed.
fn promtool_findings(text: &str) -> Option<Vec<String>> {
    let promtool = std::env::var_os("PROMTOOL").unwrap_or_else(|| "promtool".into());
    let mut child = match Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("golden: !!! promtool not runnable ({e}): SKIPPING the promtool check !!!");
            return None;
        }
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bad: Vec<String> = report
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            let name = l.split_whitespace().next().unwrap_or_default();
            !PROMTOOL_ALLOWED
                .iter()
                .any(|(pat, msg, _)| common::glob_match(pat, name) && l.contains(msg))
        })
        .map(str::to_string)
        .collect();
    if bad.is_empty() && !out.status.success() && report.trim().is_empty() {
        return Some(vec![format!("promtool failed silently: {}", out.status)]);
    }
    Some(bad)
}

#[test]
fn golden_expositions() {
    let bin = Path::new(env!("CARGO_BIN_EXE_node-exporter"));
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0" && !v.is_empty());
    let names = fixtures();
    assert!(!names.is_empty(), "no fixture trees under tests/fixtures");
    let mut failures = Vec::new();
    for name in &names {
        let dir = crate_dir().join("tests/fixtures").join(name);
        recreate_empty_dirs(&dir);
        let args = args_for(bin, name);
        let d = Daemon::start("node-exporter", bin, &args, Some(&crate_dir()))
            .unwrap_or_else(|e| panic!("{e}"));
        let full = d.scrape("/metrics");

        match promtool_findings(&full) {
            Some(bad) if !bad.is_empty() => failures.push(format!(
                "{name}: promtool check metrics:\n  {}",
                bad.join("\n  ")
            )),
            _ => {}
        }
        common::parse(&full).unwrap_or_else(|e| panic!("{name}: unparsable exposition: {e}"));

        let got = normalize(&full);
        let golden = crate_dir().join(format!("tests/fixtures/{name}.golden.txt"));
        if update {
            std::fs::write(&golden, &got).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
            eprintln!("golden: wrote {}", golden.display());
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e}\nCreate it with: UPDATE_GOLDEN=1 cargo test -p node-exporter --test golden",
                golden.display()
            )
        });
        if want != got {
            let actual = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.actual.txt"));
            let _ = std::fs::write(&actual, &got);
            failures.push(format!(
                "{name}: the exposition differs from {} (- golden, + now; whole output in {}):\n{}\n\
                 --- node-exporter log ---\n{}",
                golden.display(),
                actual.display(),
                common::diff(&want, &got, 80),
                d.log().lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is intended: UPDATE_GOLDEN=1 cargo test -p node-exporter --test golden",
        failures.join("\n\n")
    );
}

#[test]
fn normalize_drops_and_masks() {
    let text = "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 7\n\
                # HELP node_exporter_build_info b\n# TYPE node_exporter_build_info gauge\n\
                node_exporter_build_info{branch=\"main\",version=\"0.1.0\"} 1\n\
                # HELP node_filesystem_size_bytes s\n# TYPE node_filesystem_size_bytes gauge\n\
                node_filesystem_size_bytes{mountpoint=\"/\"} 1.2e+10\n\
                # HELP node_load1 l\n# TYPE node_load1 gauge\nnode_load1 0.5\n";
    let want = "# HELP node_exporter_build_info b\n# TYPE node_exporter_build_info gauge\n\
                node_exporter_build_info{branch=\"<masked>\",version=\"<masked>\"} 1\n\
                # HELP node_filesystem_size_bytes s\n# TYPE node_filesystem_size_bytes gauge\n\
                node_filesystem_size_bytes{mountpoint=\"/\"} <masked>\n\
                # HELP node_load1 l\n# TYPE node_load1 gauge\nnode_load1 0.5\n";
    assert_eq!(normalize(text), want);
}
