#![allow(clippy::unwrap_used)]
//! Parity with the real node_exporter on this live host: run /usr/bin/prometheus-node-exporter
//! (Debian's 1.5.0; CI installs it) and ours side by side with the same collectors, and check
//! that every family upstream exposes for a collector we implement exists in ours with the same
//! TYPE and label names, and that the values which cannot drift between two scrapes are equal.
//!
//! Skips (passes, saying why) only when the reference binary is absent. Environment:
//! - `NODE_EXPORTER_REFERENCE`: the reference binary (default /usr/bin/prometheus-node-exporter).
//! - `PARITY_IGNORE_COLLECTORS=cpu,netdev`: skip the checks of these collectors *when ours
//!   reports `node_scrape_collector_success 0` for them* (work in progress), listed loudly;
//!   `PARITY_IGNORE_COLLECTORS=failing` does so for every such collector. Without it a missing
//!   family fails the test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{Daemon, Families};

const REFERENCE: &str = "/usr/bin/prometheus-node-exporter";

/// Families that are not any collector's: the exporter's own. Compared like a collector's
/// ("exporter" below), except the Go runtime's `go_*`, which a Rust binary has no equivalent of
/// (node_exporter's dashboards do not use them; its process_* ones are compared).
fn exporter_family(name: &str) -> bool {
    name.starts_with("process_")
        || name.starts_with("promhttp_")
        || name.starts_with("node_scrape_collector_")
        || name == "node_exporter_build_info"
}

/// Families 1.5 has that 1.12, our target, no longer exposes (prometheus/node_exporter
/// CHANGELOG.md). They must not fail the test, and ours must not have them.
const REMOVED_SINCE_1_5: &[(&str, &str)] = &[(
    "node_bcache_cache_readaheads_total",
    "1.6.0: [CHANGE] Remove bcache cache_readaheads_totals metrics (#2583)",
)];

/// 1.9.0 "[CHANGE] meminfo: Convert linux implementation to use procfs lib (#3049)": since then
/// node_exporter exports only the /proc/meminfo fields procfs' `Meminfo` struct knows, not every
/// line (1.10.1 added Zswap and Zswapped). 1.5's other `node_memory_*` families (Balloon,
/// FileHugePages, Hugetlb, KReclaimable, SecPageTables, ... as the kernel has them) are gone.
const MEMINFO_SINCE_1_9: &[&str] = &[
    "Active",
    "Active_anon",
    "Active_file",
    "AnonHugePages",
    "AnonPages",
    "Bounce",
    "Buffers",
    "Cached",
    "CmaFree",
    "CmaTotal",
    "CommitLimit",
    "Committed_AS",
    "DirectMap1G",
    "DirectMap2M",
    "DirectMap4k",
    "Dirty",
    "HardwareCorrupted",
    "Hugepagesize",
    "Inactive",
    "Inactive_anon",
    "Inactive_file",
    "KernelStack",
    "Mapped",
    "MemAvailable",
    "MemFree",
    "MemTotal",
    "Mlocked",
    "NFS_Unstable",
    "PageTables",
    "Percpu",
    "SReclaimable",
    "SUnreclaim",
    "Shmem",
    "ShmemHugePages",
    "ShmemPmdMapped",
    "Slab",
    "SwapCached",
    "SwapFree",
    "SwapTotal",
    "Unevictable",
    "VmallocChunk",
    "VmallocTotal",
    "VmallocUsed",
    "Writeback",
    "WritebackTmp",
    "Zswap",
    "Zswapped",
];

/// Why 1.12 no longer has a family 1.5 exposes, if it does not.
fn removed_since_1_5(name: &str) -> Option<&'static str> {
    if let Some((_, why)) = REMOVED_SINCE_1_5.iter().find(|(n, _)| *n == name) {
        return Some(why);
    }
    let field = name.strip_prefix("node_memory_")?;
    let field = field.strip_suffix("_bytes").unwrap_or(field);
    let kept = MEMINFO_SINCE_1_9.contains(&field) || field.starts_with("HugePages_");
    (!kept).then_some("1.9.0: meminfo exports only procfs' known fields (#3049)")
}

/// Label names 1.12 has on a family that 1.5 exposes without them (`*` ends a prefix).
const LABELS_ADDED_SINCE_1_5: &[(&str, &[&str], &str)] = &[
    (
        "node_filesystem_*",
        &["device_error"],
        "1.8.0: [ENHANCEMENT] filesystem: surface device errors (#2923)",
    ),
    (
        "node_network_info",
        &["adminstate"],
        "1.6.0: [ENHANCEMENT] Add administrative state of Linux network interfaces (#2515)",
    ),
    (
        "node_disk_info",
        &["rotational"],
        "1.9.0: [ENHANCEMENT] diskstats: Add block device rotational (#3022)",
    ),
    (
        "node_exporter_build_info",
        &["tags"],
        "the build-info collector of newer prometheus/common (1.12's) adds the build tags",
    ),
];

/// Values that cannot drift between two scrapes a moment apart. Checked when upstream has the
/// family on this host; a missing family in ours is reported by the family check.
enum Check {
    /// The single sample's value.
    Value(&'static str),
    /// Per value of the label: the sample values (for label values both sides have).
    ValueBy(&'static str, &'static str),
    /// The set of values of the label.
    LabelValues(&'static str, &'static str),
    /// Per sample matched on the first label: the other labels' values both sides have.
    Labels(&'static str, &'static str),
}

const CHECKS: &[Check] = &[
    Check::Value("node_memory_MemTotal_bytes"),
    Check::Value("node_memory_SwapTotal_bytes"),
    Check::Value("node_memory_Hugepagesize_bytes"),
    Check::Value("node_boot_time_seconds"),
    Check::Value("node_entropy_pool_size_bits"),
    Check::Value("node_filefd_maximum"),
    Check::Value("node_nf_conntrack_entries_limit"),
    Check::Value("node_os_version"),
    Check::ValueBy("node_filesystem_size_bytes", "mountpoint"),
    Check::ValueBy("node_filesystem_files", "mountpoint"),
    Check::ValueBy("node_network_mtu_bytes", "device"),
    Check::ValueBy("node_time_zone_offset_seconds", "time_zone"),
    Check::LabelValues("node_cpu_seconds_total", "cpu"),
    Check::LabelValues("node_cpu_seconds_total", "mode"),
    Check::LabelValues("node_softnet_processed_total", "cpu"),
    Check::Labels("node_uname_info", "nodename"),
    Check::Labels("node_os_info", "id"),
    Check::Labels("node_network_info", "device"),
];

struct Report {
    failures: Vec<String>,
    notes: Vec<String>,
}

fn strip_go(f: &Families) -> Families {
    f.iter()
        .filter(|(n, _)| !n.starts_with("go_"))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

/// A collector's own families in a `collect[]=<name>` scrape.
fn collector_families(f: &Families) -> Families {
    strip_go(f)
        .into_iter()
        .filter(|(n, _)| !exporter_family(n))
        .collect()
}

fn added_labels(family: &str) -> BTreeSet<String> {
    LABELS_ADDED_SINCE_1_5
        .iter()
        .filter(|(pat, _, _)| common::glob_match(pat, family))
        .flat_map(|(_, labels, _)| labels.iter().map(|l| l.to_string()))
        .collect()
}

fn compare_families(
    scope: &str,
    up: &Families,
    ours: &Families,
    ours_all: &Families,
    r: &mut Report,
) {
    for (name, uf) in up {
        if let Some(why) = removed_since_1_5(name) {
            r.notes
                .push(format!("{scope}: {name}: only in 1.5 ({why})"));
            if ours.contains_key(name) {
                r.failures.push(format!(
                    "{scope}: {name}: 1.12 removed it, ours has it ({why})"
                ));
            }
            continue;
        }
        let Some(of) = ours.get(name) else {
            if ours_all.contains_key(name) {
                r.failures.push(format!(
                    "{scope}: {name}: ours exposes it, but not under collect[]={scope}"
                ));
            } else {
                r.failures.push(format!(
                    "{scope}: {name}: missing in ours (upstream: {})",
                    uf.kind
                ));
            }
            continue;
        };
        if of.kind != uf.kind {
            r.failures.push(format!(
                "{scope}: {name}: TYPE {} in ours, {} upstream",
                of.kind, uf.kind
            ));
        }
        let ul = uf.label_names();
        let ol = of.label_names();
        if ol != ul {
            let added = added_labels(name);
            let extra: BTreeSet<_> = ol.difference(&ul).cloned().collect();
            let missing: BTreeSet<_> = ul.difference(&ol).cloned().collect();
            let unexplained: BTreeSet<_> = extra.difference(&added).cloned().collect();
            if !missing.is_empty() || !unexplained.is_empty() {
                r.failures.push(format!(
                    "{scope}: {name}: labels {ol:?} in ours, {ul:?} upstream"
                ));
            } else {
                r.notes.push(format!(
                    "{scope}: {name}: ours adds labels {extra:?}, as 1.12 does"
                ));
            }
        }
        if uf.help != of.help {
            r.notes.push(format!(
                "{scope}: {name}: HELP differs (1.5 may be older wording):\n    upstream: {:?}\n    ours:     {:?}",
                uf.help.as_deref().unwrap_or(""),
                of.help.as_deref().unwrap_or("")
            ));
        }
    }
    let only_ours: Vec<&String> = ours.keys().filter(|n| !up.contains_key(*n)).collect();
    if !only_ours.is_empty() {
        r.notes.push(format!(
            "{scope}: only in ours (new since 1.5, or no data upstream): {only_ours:?}"
        ));
    }
}

fn by_label(f: &common::Family, label: &str) -> BTreeMap<String, f64> {
    f.samples
        .iter()
        .filter_map(|s| Some((s.labels.get(label)?.clone(), s.value_f64())))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn run_checks(up: &Families, ours: &Families, skip: &BTreeSet<String>, r: &mut Report) {
    let mut done = Vec::new();
    for check in CHECKS {
        let name = match check {
            Check::Value(n)
            | Check::ValueBy(n, _)
            | Check::LabelValues(n, _)
            | Check::Labels(n, _) => *n,
        };
        let (Some(uf), Some(of)) = (up.get(name), ours.get(name)) else {
            if !up.contains_key(name) {
                r.notes
                    .push(format!("value check {name}: upstream has no data here"));
            }
            continue; // missing in ours: reported by the family check
        };
        if skip.contains(name) {
            continue;
        }
        done.push(name);
        match check {
            Check::Value(_) => {
                let (u, o) = (uf.samples[0].value_f64(), of.samples[0].value_f64());
                if uf.samples.len() != 1 || of.samples.len() != 1 || !close(u, o) {
                    r.failures
                        .push(format!("{name}: {o} in ours, {u} upstream"));
                }
            }
            Check::ValueBy(_, label) => {
                let (u, o) = (by_label(uf, label), by_label(of, label));
                let mut compared = 0;
                for (k, uv) in &u {
                    if let Some(ov) = o.get(k) {
                        compared += 1;
                        if !close(*uv, *ov) {
                            r.failures.push(format!(
                                "{name}{{{label}={k:?}}}: {ov} in ours, {uv} upstream"
                            ));
                        }
                    }
                }
                let only_up: Vec<_> = u.keys().filter(|k| !o.contains_key(*k)).collect();
                if !only_up.is_empty() {
                    r.notes.push(format!(
                        "{name}: {label} values only upstream (filters differ between 1.5 and 1.12?): {only_up:?}"
                    ));
                }
                if compared == 0 && !u.is_empty() {
                    r.failures.push(format!(
                        "{name}: no {label} in common: ours {:?}, upstream {:?}",
                        o.keys(),
                        u.keys()
                    ));
                }
            }
            Check::LabelValues(_, label) => {
                let (u, o) = (uf.label_values(label), of.label_values(label));
                if u != o {
                    r.failures.push(format!(
                        "{name}: {label} values {o:?} in ours, {u:?} upstream"
                    ));
                }
            }
            Check::Labels(_, key) => {
                for us in &uf.samples {
                    let Some(k) = us.labels.get(*key) else {
                        continue;
                    };
                    let Some(os) = of.samples.iter().find(|s| s.labels.get(*key) == Some(k)) else {
                        r.failures
                            .push(format!("{name}{{{key}={k:?}}}: missing in ours"));
                        continue;
                    };
                    for (l, uv) in &us.labels {
                        if let Some(ov) = os.labels.get(l) {
                            if ov != uv {
                                r.failures.push(format!(
                                    "{name}{{{key}={k:?}}}: label {l}={ov:?} in ours, {uv:?} upstream"
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    r.notes.push(format!("values compared: {done:?}"));
}

fn reference() -> PathBuf {
    std::env::var_os("NODE_EXPORTER_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(REFERENCE))
}

#[test]
fn parity_with_node_exporter() {
    let upstream_bin = reference();
    if !upstream_bin.exists() {
        eprintln!(
            "parity: SKIPPED: {} is absent (install Debian's prometheus-node-exporter, or set \
             NODE_EXPORTER_REFERENCE)",
            upstream_bin.display()
        );
        return;
    }
    let ours_bin = Path::new(env!("CARGO_BIN_EXE_node-exporter"));

    // 1. Which collectors each enables by default: start both once with defaults.
    let defaults = |name: &str, bin: &Path| -> BTreeSet<String> {
        let d = Daemon::start(name, bin, &[], None).unwrap_or_else(|e| panic!("{e}"));
        let f = common::parse(&d.scrape("/metrics")).expect("parse");
        common::collector_success(&f).into_keys().collect()
    };
    let up_defaults = defaults("upstream", &upstream_bin);
    let ours_defaults = defaults("ours", ours_bin);
    let common_set: Vec<String> = up_defaults.intersection(&ours_defaults).cloned().collect();
    let up_only: Vec<&String> = up_defaults.difference(&ours_defaults).collect();
    let ours_only: Vec<&String> = ours_defaults.difference(&up_defaults).collect();
    eprintln!("parity: collectors compared: {}", common_set.join(","));
    eprintln!("parity: upstream's defaults we do not implement (not compared): {up_only:?}");
    eprintln!("parity: our defaults upstream 1.5 lacks (not compared): {ours_only:?}");

    // 2. Both with exactly the common collectors.
    let mut args = vec!["--collector.disable-defaults".to_string()];
    args.extend(common_set.iter().map(|c| format!("--collector.{c}")));
    let up =
        Daemon::start("upstream", &upstream_bin, &args, None).unwrap_or_else(|e| panic!("{e}"));
    let ours = Daemon::start("ours", ours_bin, &args, None).unwrap_or_else(|e| panic!("{e}"));
    let ours_text = ours.scrape("/metrics");
    let up_text = up.scrape("/metrics");
    let up_all = strip_go(&common::parse(&up_text).expect("upstream exposition"));
    let ours_all =
        common::parse(&ours_text).unwrap_or_else(|e| panic!("ours: unparsable exposition: {e}"));
    let up_ok = common::collector_success(&up_all);
    let ours_ok = common::collector_success(&ours_all);

    let ignore_env = std::env::var("PARITY_IGNORE_COLLECTORS").unwrap_or_default();
    let ignore_listed: BTreeSet<&str> = ignore_env
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut ignored = Vec::new();
    let mut skip_families = BTreeSet::new();
    let mut r = Report {
        failures: vec![],
        notes: vec![],
    };

    // 3. Per collector: its families, as collect[]=<name> shows them on each side.
    for c in &common_set {
        let q = format!("/metrics?collect[]={c}");
        let uf = collector_families(&common::parse(&up.scrape(&q)).expect("parse"));
        let of = collector_families(
            &common::parse(&ours.scrape(&q)).unwrap_or_else(|e| panic!("ours {q}: {e}")),
        );
        let ours_failing = !ours_ok.get(c).copied().unwrap_or(false);
        if ours_failing
            && up_ok.get(c).copied().unwrap_or(false)
            && (ignore_listed.contains(c.as_str()) || ignore_listed.contains("failing"))
        {
            ignored.push(format!("{c} ({} upstream families)", uf.len()));
            skip_families.extend(uf.keys().cloned());
            continue;
        }
        if uf.is_empty() && !of.is_empty() {
            r.notes.push(format!(
                "{c}: no data upstream on this host; ours has {} families",
                of.len()
            ));
        }
        compare_families(c, &uf, &of, &ours_all, &mut r);
    }
    // The exporter's own families.
    let pick = |f: &Families| -> Families {
        f.iter()
            .filter(|(n, _)| exporter_family(n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    };
    compare_families(
        "exporter",
        &pick(&up_all),
        &pick(&ours_all),
        &ours_all,
        &mut r,
    );
    let up_collectors: BTreeSet<_> = up_ok.keys().collect();
    let ours_collectors: BTreeSet<_> = ours_ok.keys().collect();
    if up_collectors != ours_collectors {
        r.failures.push(format!(
            "node_scrape_collector_success: collectors {ours_collectors:?} in ours, {up_collectors:?} upstream"
        ));
    }

    // 4. Values that cannot drift.
    run_checks(&up_all, &ours_all, &skip_families, &mut r);

    for n in &r.notes {
        eprintln!("parity: note: {n}");
    }
    if !ignored.is_empty() {
        eprintln!(
            "\nparity: !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        );
        eprintln!(
            "parity: !!! NOT CHECKED (PARITY_IGNORE_COLLECTORS={ignore_env}; ours reports success 0):"
        );
        for i in &ignored {
            eprintln!("parity: !!!   {i}");
        }
        eprintln!(
            "parity: !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
    }
    let failing: Vec<&String> = common_set
        .iter()
        .filter(|c| up_ok.get(*c) == Some(&true) && ours_ok.get(*c) != Some(&true))
        .collect();
    if !failing.is_empty() {
        eprintln!("parity: collectors with data upstream but success 0 in ours: {failing:?}");
    }
    assert!(
        r.failures.is_empty(),
        "{} parity failure(s) against {}:\n  {}\n\n(to set aside collectors that are still stubs: \
         PARITY_IGNORE_COLLECTORS=failing or =name,name)",
        r.failures.len(),
        upstream_bin.display(),
        r.failures.join("\n  ")
    );
}
