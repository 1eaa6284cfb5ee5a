//! The exporter's own `process_*` metrics, as client_golang's process collector exposes them.
//!
//! These describe this process, so they read the real `/proc/self`, never the `--path.procfs` a
//! daemon was given for the host it watches (that may be `/host/proc`, where `self` is not us).

use std::fs;
use std::sync::OnceLock;

use crate::text::Exposition;

const SELF_DIR: &str = "/proc/self";

/// Adds `process_*` families. Files that cannot be read leave their families out.
pub fn collect(out: &mut Exposition) {
    let ticks = clock_ticks();
    if let Ok(stat) = fs::read_to_string(format!("{SELF_DIR}/stat")) {
        if let Some(s) = parse_stat(&stat) {
            out.counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                &[],
                (s.utime + s.stime) as f64 / ticks,
            );
            out.gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                &[],
                s.vsize as f64,
            );
            out.gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                &[],
                (s.rss_pages * page_size()) as f64,
            );
            if let Some(boot) = boot_time() {
                out.gauge(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    &[],
                    boot + s.starttime as f64 / ticks,
                );
            }
        }
    }
    if let Ok(limits) = fs::read_to_string(format!("{SELF_DIR}/limits")) {
        if let Some(max) = parse_max_open_files(&limits) {
            out.gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                &[],
                max,
            );
        }
        if let Some(max) = parse_limit(&limits, "Max address space") {
            out.gauge(
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
                &[],
                max,
            );
        }
    }
    if let Ok(dir) = fs::read_dir(format!("{SELF_DIR}/fd")) {
        out.gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            &[],
            dir.count() as f64,
        );
    }
    if let Ok(netdev) = fs::read_to_string(format!("{SELF_DIR}/net/dev")) {
        let (rx, tx) = sum_net_dev(&netdev);
        out.counter(
            "process_network_receive_bytes_total",
            "Number of bytes received by the process over the network.",
            &[],
            rx,
        );
        out.counter(
            "process_network_transmit_bytes_total",
            "Number of bytes sent by the process over the network.",
            &[],
            tx,
        );
    }
}

#[derive(Debug, PartialEq)]
struct SelfStat {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
    rss_pages: u64,
}

/// Parses `/proc/<pid>/stat`. The command name is in parentheses and may hold spaces and `)`, so
/// fields are counted from the last `)`.
fn parse_stat(s: &str) -> Option<SelfStat> {
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm field: state is field 3 of proc(5), so index i here is field i + 3.
    let num = |field: usize| f.get(field - 3)?.parse::<u64>().ok();
    Some(SelfStat {
        utime: num(14)?,
        stime: num(15)?,
        starttime: num(22)?,
        vsize: num(23)?,
        rss_pages: num(24)?,
    })
}

fn parse_limit(limits: &str, name: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with(name))?;
    let soft = line[name.len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        // client_golang reports unlimited as the largest uint64, which is what Go prints.
        return Some(u64::MAX as f64);
    }
    soft.parse::<f64>().ok()
}

fn parse_max_open_files(limits: &str) -> Option<f64> {
    parse_limit(limits, "Max open files")
}

fn sum_net_dev(s: &str) -> (f64, f64) {
    let mut rx = 0.0;
    let mut tx = 0.0;
    for line in s.lines().skip(2) {
        let Some((_, counters)) = line.split_once(':') else {
            continue;
        };
        let v: Vec<f64> = counters
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() >= 9 {
            rx += v[0];
            tx += v[8];
        }
    }
    (rx, tx)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// The boot time from `/proc/stat`'s `btime`, read once: it does not change while we run.
fn boot_time() -> Option<f64> {
    static BOOT: OnceLock<Option<f64>> = OnceLock::new();
    *BOOT.get_or_init(|| {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_comm() {
        // Shape as on Linux 6.x; the comm holds a space and a parenthesis.
        let line = "4242 (my (odd) exe) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 75 0 0 20 0 4 0 \
                    123456 987654321 1500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!(
            s,
            SelfStat {
                utime: 250,
                stime: 75,
                starttime: 123456,
                vsize: 987654321,
                rss_pages: 1500
            }
        );
    }

    #[test]
    fn parses_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n\
                      Max address space         unlimited            unlimited            bytes     \n";
        assert_eq!(parse_max_open_files(limits), Some(1024.0));
        assert_eq!(
            parse_limit(limits, "Max address space"),
            Some(u64::MAX as f64)
        );
    }

    #[test]
    fn live_process_metrics_exist() {
        let mut e = Exposition::new();
        collect(&mut e);
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
            "process_virtual_memory_bytes",
        ] {
            assert!(e.contains(name), "{name} missing");
        }
    }
}
