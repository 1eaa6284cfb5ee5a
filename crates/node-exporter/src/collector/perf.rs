//! The `perf` collector (off by default): per-CPU hardware, software and cache counters and
//! chosen tracepoints, `node_perf_*{cpu}`, from `perf_event_open(2)`, as node_exporter's
//! `perf_linux.go` does through hodgesds/perf-utils.
//!
//! Counters are opened once at start-up, one per event and CPU, counting every process on that
//! CPU (pid -1); a scrape reads each one. An event the kernel or the hypervisor does not offer
//! (ENOENT for hardware and cache events in most VMs, EACCES under a strict
//! `perf_event_paranoid`) is left out and logged once at start-up: upstream leaves it out
//! silently (perf-utils' `HasProfilers` is always true, so a failed open never stops it).
//! We only open events that have a metric; upstream also opens bus cycles, CPU and task clock,
//! alignment and emulation faults, which it never reports.
//!
//! Hand-written on libc: the attribute struct and one read per counter; no kept crate wraps
//! system-wide counting without a large dependency tree.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// List of CPUs from which perf metrics should be collected
    #[arg(long = "collector.perf.cpus", default_value = "")]
    pub perf_cpus: String,

    /// perf tracepoint that should be collected
    #[arg(long = "collector.perf.tracepoint")]
    pub perf_tracepoint: Vec<String>,

    /// disable perf hardware profilers
    #[arg(long = "collector.perf.disable-hardware-profilers")]
    pub perf_disable_hardware_profilers: bool,

    /// perf hardware profilers that should be collected
    #[arg(long = "collector.perf.hardware-profilers")]
    pub perf_hardware_profilers: Vec<String>,

    /// disable perf software profilers
    #[arg(long = "collector.perf.disable-software-profilers")]
    pub perf_disable_software_profilers: bool,

    /// perf software profilers that should be collected
    #[arg(long = "collector.perf.software-profilers")]
    pub perf_software_profilers: Vec<String>,

    /// disable perf cache profilers
    #[arg(long = "collector.perf.disable-cache-profilers")]
    pub perf_disable_cache_profilers: bool,

    /// perf cache profilers that should be collected
    #[arg(long = "collector.perf.cache-profilers")]
    pub perf_cache_profilers: Vec<String>,
}

// linux/perf_event.h
const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_TYPE_HW_CACHE: u32 = 3;
const PERF_FORMAT_TOTAL_TIME_ENABLED: u64 = 1;
const PERF_FORMAT_TOTAL_TIME_RUNNING: u64 = 2;
const PERF_FORMAT_GROUP: u64 = 8;
const PERF_SAMPLE_IDENTIFIER: u64 = 1 << 16;
const ATTR_DISABLED: u64 = 1;
const ATTR_INHERIT: u64 = 1 << 1;
const ATTR_EXCLUDE_HV: u64 = 1 << 6;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IO('$', 0)`.
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_IOC_FLAG_GROUP: libc::c_ulong = 1;

/// One counted event: the flag name that selects it, its type and config, and its metric.
struct Event {
    flag: &'static str,
    kind: u32,
    config: u64,
    metric: &'static str,
    help: &'static str,
}

const fn ev(
    flag: &'static str,
    kind: u32,
    config: u64,
    metric: &'static str,
    help: &'static str,
) -> Event {
    Event {
        flag,
        kind,
        config,
        metric,
        help,
    }
}

/// `PERF_COUNT_HW_CACHE_*`: cache id | op << 8 | result << 16; upstream calls an access a hit.
const fn cache(id: u64, write: bool, miss: bool) -> u64 {
    id | ((write as u64) << 8) | ((miss as u64) << 16)
}
const L1D: u64 = 0;
const L1I: u64 = 1;
const LL: u64 = 2;
const DTLB: u64 = 3;
const ITLB: u64 = 4;
const BPU: u64 = 5;

#[rustfmt::skip]
const HARDWARE: &[Event] = &[
    ev("CpuCycles", PERF_TYPE_HARDWARE, 0, "node_perf_cpucycles_total", "Number of CPU cycles (frequency scaled)"),
    ev("CpuInstr", PERF_TYPE_HARDWARE, 1, "node_perf_instructions_total", "Number of CPU instructions"),
    ev("CacheRef", PERF_TYPE_HARDWARE, 2, "node_perf_cache_refs_total", "Number of cache references (non frequency scaled)"),
    ev("CacheMisses", PERF_TYPE_HARDWARE, 3, "node_perf_cache_misses_total", "Number of cache misses"),
    ev("BranchInstr", PERF_TYPE_HARDWARE, 4, "node_perf_branch_instructions_total", "Number of CPU branch instructions"),
    ev("BranchMisses", PERF_TYPE_HARDWARE, 5, "node_perf_branch_misses_total", "Number of CPU branch misses"),
    ev("StalledCyclesFrontend", PERF_TYPE_HARDWARE, 7, "node_perf_stalled_cycles_frontend_total", "Number of stalled frontend CPU cycles"),
    ev("StalledCyclesBackend", PERF_TYPE_HARDWARE, 8, "node_perf_stalled_cycles_backend_total", "Number of stalled backend CPU cycles"),
    ev("RefCpuCycles", PERF_TYPE_HARDWARE, 9, "node_perf_ref_cpucycles_total", "Number of CPU cycles"),
];

#[rustfmt::skip]
const SOFTWARE: &[Event] = &[
    ev("PageFault", PERF_TYPE_SOFTWARE, 2, "node_perf_page_faults_total", "Number of page faults"),
    ev("ContextSwitch", PERF_TYPE_SOFTWARE, 3, "node_perf_context_switches_total", "Number of context switches"),
    ev("CpuMigration", PERF_TYPE_SOFTWARE, 4, "node_perf_cpu_migrations_total", "Number of CPU process migrations"),
    ev("MinorFault", PERF_TYPE_SOFTWARE, 5, "node_perf_minor_faults_total", "Number of minor page faults"),
    ev("MajorFault", PERF_TYPE_SOFTWARE, 6, "node_perf_major_faults_total", "Number of major page faults"),
];

#[rustfmt::skip]
const CACHE: &[Event] = &[
    ev("L1DataReadHit", PERF_TYPE_HW_CACHE, cache(L1D, false, false), "node_perf_cache_l1d_read_hits_total", "Number L1 data cache read hits"),
    ev("L1DataReadMiss", PERF_TYPE_HW_CACHE, cache(L1D, false, true), "node_perf_cache_l1d_read_misses_total", "Number L1 data cache read misses"),
    ev("L1DataWriteHit", PERF_TYPE_HW_CACHE, cache(L1D, true, false), "node_perf_cache_l1d_write_hits_total", "Number L1 data cache write hits"),
    ev("L1InstrReadMiss", PERF_TYPE_HW_CACHE, cache(L1I, false, true), "node_perf_cache_l1_instr_read_misses_total", "Number instruction L1 instruction read misses"),
    ev("InstrTLBReadHit", PERF_TYPE_HW_CACHE, cache(ITLB, false, false), "node_perf_cache_tlb_instr_read_hits_total", "Number instruction TLB read hits"),
    ev("InstrTLBReadMiss", PERF_TYPE_HW_CACHE, cache(ITLB, false, true), "node_perf_cache_tlb_instr_read_misses_total", "Number instruction TLB read misses"),
    ev("DataTLBReadHit", PERF_TYPE_HW_CACHE, cache(DTLB, false, false), "node_perf_cache_tlb_data_read_hits_total", "Number of data TLB read hits"),
    ev("DataTLBReadMiss", PERF_TYPE_HW_CACHE, cache(DTLB, false, true), "node_perf_cache_tlb_data_read_misses_total", "Number of data TLB read misses"),
    ev("DataTLBWriteHit", PERF_TYPE_HW_CACHE, cache(DTLB, true, false), "node_perf_cache_tlb_data_write_hits_total", "Number of data TLB write hits"),
    ev("DataTLBWriteMiss", PERF_TYPE_HW_CACHE, cache(DTLB, true, true), "node_perf_cache_tlb_data_write_misses_total", "Number of data TLB write misses"),
    ev("LLReadHit", PERF_TYPE_HW_CACHE, cache(LL, false, false), "node_perf_cache_ll_read_hits_total", "Number last level read hits"),
    ev("LLReadMiss", PERF_TYPE_HW_CACHE, cache(LL, false, true), "node_perf_cache_ll_read_misses_total", "Number last level read misses"),
    ev("LLWriteHit", PERF_TYPE_HW_CACHE, cache(LL, true, false), "node_perf_cache_ll_write_hits_total", "Number last level write hits"),
    ev("LLWriteMiss", PERF_TYPE_HW_CACHE, cache(LL, true, true), "node_perf_cache_ll_write_misses_total", "Number last level write misses"),
    ev("BPUReadHit", PERF_TYPE_HW_CACHE, cache(BPU, false, false), "node_perf_cache_bpu_read_hits_total", "Number BPU read hits"),
    ev("BPUReadMiss", PERF_TYPE_HW_CACHE, cache(BPU, false, true), "node_perf_cache_bpu_read_misses_total", "Number BPU read misses"),
];

/// upstream's `perfCPUFlagToCPUs`: `0,2-5,8-16:4` (a range with a stride).
pub fn parse_cpus(flag: &str) -> Result<Vec<usize>, String> {
    let num = |s: &str| {
        s.parse::<usize>()
            .map_err(|e| format!("invalid --collector.perf.cpus value {flag:?}: {e}"))
    };
    let mut cpus = Vec::new();
    for part in flag.split(',') {
        if !part.contains('-') {
            cpus.push(num(part)?);
            continue;
        }
        let (range, stride) = match part.split_once(':') {
            Some((r, s)) => (r, num(s)?),
            None => (part, 1),
        };
        let Some((start, end)) = range.split_once('-') else {
            return Err(format!("invalid flag value {flag:?}"));
        };
        if stride == 0 {
            return Err(format!("invalid flag value {flag:?}"));
        }
        cpus.extend((num(start)?..=num(end)?).step_by(stride));
    }
    Ok(cpus)
}

/// The events of `table` chosen by `names` (all when none are given); unknown names are logged
/// and skipped, as upstream.
fn select<'a>(table: &'a [Event], names: &[String], what: &str) -> Vec<&'a Event> {
    if names.is_empty() {
        return table.iter().collect();
    }
    let mut out = Vec::new();
    for n in names {
        match table.iter().find(|e| e.flag == n) {
            Some(e) => out.push(e),
            None => tracing::error!("Unknown {what} profiler: {n}"),
        }
    }
    out
}

/// The CPUs this process may run on, counted as Go's `runtime.NumCPU` and numbered from 0.
fn default_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; sched_getaffinity fills it.
    let n = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            libc::CPU_COUNT(&set) as usize
        } else {
            0
        }
    };
    let n = if n == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        n
    };
    (0..n).collect()
}

/// `struct perf_event_attr` in its first published size (64 bytes, `PERF_ATTR_SIZE_VER0`),
/// which every kernel accepts.
fn attr(kind: u32, config: u64, read_format: u64, flags: u64) -> [u8; 64] {
    let mut a = [0u8; 64];
    a[0..4].copy_from_slice(&kind.to_ne_bytes());
    a[4..8].copy_from_slice(&64u32.to_ne_bytes());
    a[8..16].copy_from_slice(&config.to_ne_bytes());
    a[24..32].copy_from_slice(&PERF_SAMPLE_IDENTIFIER.to_ne_bytes());
    a[32..40].copy_from_slice(&read_format.to_ne_bytes());
    a[40..48].copy_from_slice(&flags.to_ne_bytes());
    a
}

fn open(attr: &[u8; 64], cpu: usize, group: i32) -> io::Result<OwnedFd> {
    // SAFETY: attr is a valid perf_event_attr of the size it declares; pid -1 with a CPU counts
    // every process there.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            -1 as libc::pid_t,
            cpu as libc::c_int,
            group as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn enable(fd: &OwnedFd, flags: libc::c_ulong) -> io::Result<()> {
    // SAFETY: a perf event descriptor; the argument is a flag word.
    if unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn read_u64s(fd: &OwnedFd, n: usize) -> io::Result<Vec<u64>> {
    let mut buf = vec![0u8; n * 8];
    // SAFETY: buf is writable for its length.
    let got = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(buf[..got as usize]
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

/// An open counter: its event, CPU and descriptor.
struct Counter {
    event: &'static Event,
    cpu: String,
    fd: OwnedFd,
}

/// One CPU's tracepoint group: the leader's descriptor reads every member's value.
struct TracepointGroup {
    cpu: String,
    _members: Vec<OwnedFd>,
    leader: OwnedFd,
}

struct Tracepoint {
    metric: String,
    help: String,
}

struct Perf {
    counters: Vec<Counter>,
    tracepoints: Vec<Tracepoint>,
    groups: Vec<TracepointGroup>,
}

/// Where tracefs is mounted, from `<procfs>/mounts` (tracefs itself, else debugfs' `tracing`).
fn tracefs(paths: &Paths) -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string(paths.proc("mounts")).ok()?;
    let mut debugfs = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        match f[2] {
            "tracefs" => return Some(paths.root(f[1])),
            "debugfs" => debugfs = Some(paths.root(f[1]).join("tracing")),
            _ => {}
        }
    }
    debugfs
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let cpus = if args.perf_cpus.is_empty() {
        default_cpus()
    } else {
        parse_cpus(&args.perf_cpus).map_err(UsageError::new)?
    };

    // Tracepoints first, as upstream: a bad or unknown one stops the start.
    let mut tracepoints = Vec::new();
    let mut configs = Vec::new();
    for tp in &args.perf_tracepoint {
        let Some((sub, event)) = tp.split_once(':').filter(|(_, e)| !e.contains(':')) else {
            return Err(UsageError::new(format!("invalid tracepoint config {tp}")));
        };
        let dir = tracefs(paths).ok_or_else(|| {
            UsageError::new(format!(
                "failed to get tracepoint config for {tp}: tracefs is not mounted"
            ))
        })?;
        let id_file = dir.join("events").join(sub).join(event).join("id");
        let id = std::fs::read_to_string(&id_file)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                UsageError::new(format!(
                    "failed to get tracepoint config for {tp}: cannot read {}",
                    id_file.display()
                ))
            })?;
        configs.push(id);
        tracepoints.push(Tracepoint {
            metric: format!("node_perf_{sub}_{event}"),
            help: format!("Perf tracepoint {sub}:{event}"),
        });
    }
    let mut groups = Vec::new();
    if !configs.is_empty() {
        let format =
            PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_GROUP;
        for &cpu in &cpus {
            let fail = |e: io::Error| {
                UsageError::new(format!("failed to open perf tracepoints on cpu {cpu}: {e}"))
            };
            let leader = open(
                &attr(
                    PERF_TYPE_TRACEPOINT,
                    configs[0],
                    format,
                    ATTR_DISABLED | ATTR_EXCLUDE_HV,
                ),
                cpu,
                -1,
            )
            .map_err(fail)?;
            let mut members = Vec::new();
            for &c in &configs[1..] {
                members.push(
                    open(
                        &attr(PERF_TYPE_TRACEPOINT, c, format, ATTR_EXCLUDE_HV),
                        cpu,
                        leader.as_raw_fd(),
                    )
                    .map_err(fail)?,
                );
            }
            enable(&leader, PERF_IOC_FLAG_GROUP).map_err(fail)?;
            groups.push(TracepointGroup {
                cpu: cpu.to_string(),
                _members: members,
                leader,
            });
        }
    }

    let mut events: Vec<&'static Event> = Vec::new();
    if !args.perf_disable_hardware_profilers {
        events.extend(select(HARDWARE, &args.perf_hardware_profilers, "hardware"));
    }
    if !args.perf_disable_software_profilers {
        events.extend(select(SOFTWARE, &args.perf_software_profilers, "software"));
    }
    if !args.perf_disable_cache_profilers {
        events.extend(select(CACHE, &args.perf_cache_profilers, "cache"));
    }
    let mut counters = Vec::new();
    // Failed opens grouped by error, so a VM without a PMU gives one short line.
    let mut unavailable: Vec<(String, Vec<&str>)> = Vec::new();
    for &cpu in &cpus {
        for &event in &events {
            let a = attr(
                event.kind,
                event.config,
                PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING,
                ATTR_DISABLED | ATTR_INHERIT | ATTR_EXCLUDE_HV,
            );
            match open(&a, cpu, -1).and_then(|fd| enable(&fd, 0).map(|()| fd)) {
                Ok(fd) => counters.push(Counter {
                    event,
                    cpu: cpu.to_string(),
                    fd,
                }),
                Err(e) => {
                    let e = e.to_string();
                    match unavailable.iter_mut().find(|(k, _)| *k == e) {
                        Some((_, flags)) if flags.contains(&event.flag) => {}
                        Some((_, flags)) => flags.push(event.flag),
                        None => unavailable.push((e, vec![event.flag])),
                    }
                }
            }
        }
    }
    for (err, flags) in &unavailable {
        tracing::info!(
            err = %err,
            events = %flags.join(","),
            "perf events left out: the kernel does not offer them here"
        );
    }
    Ok(Box::new(Perf {
        counters,
        tracepoints,
        groups,
    }))
}

impl Collector for Perf {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        for c in &self.counters {
            // read_format: value, time enabled, time running.
            let v = read_u64s(&c.fd, 3)
                .map_err(|e| anyhow::anyhow!("reading perf counter {}: {e}", c.event.flag))?;
            let value = v.first().copied().unwrap_or(0);
            out.family(c.event.metric, c.event.help, MetricType::Counter)
                .sample(&[("cpu", c.cpu.as_str())], value as f64);
        }
        for g in &self.groups {
            // read_format with a group: nr, time enabled, time running, then the values.
            let v = read_u64s(&g.leader, 3 + self.tracepoints.len())
                .map_err(|e| anyhow::anyhow!("Failed to collect tracepoint profile: {e}"))?;
            for (tp, value) in self.tracepoints.iter().zip(v.iter().skip(3)) {
                out.family(&tp.metric, &tp.help, MetricType::Counter)
                    .sample(&[("cpu", g.cpu.as_str())], *value as f64);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::render as render_collector;

    #[test]
    fn cpus_flag() {
        assert_eq!(parse_cpus("0").unwrap(), vec![0]);
        assert_eq!(parse_cpus("0,2-4").unwrap(), vec![0, 2, 3, 4]);
        assert_eq!(parse_cpus("1-10:5").unwrap(), vec![1, 6]);
        assert_eq!(parse_cpus("0-8:4,9").unwrap(), vec![0, 4, 8, 9]);
        assert!(parse_cpus("a").is_err());
        assert!(parse_cpus("1-2-3").is_err());
        assert!(parse_cpus("").is_err());
    }

    #[test]
    fn bad_tracepoint_flag() {
        let args = Args {
            perf_tracepoint: vec!["sched".into()],
            ..Args::default()
        };
        assert!(build(&Paths::default(), &args).is_err());
    }

    #[test]
    fn profiler_names() {
        let chosen = select(
            SOFTWARE,
            &["ContextSwitch".into(), "Nope".into()],
            "software",
        );
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].metric, "node_perf_context_switches_total");
        assert_eq!(select(CACHE, &[], "cache").len(), 16);
        assert_eq!(CACHE[3].config, 1 | (1 << 16));
    }

    /// Against this host's kernel. On the VM this was written on hardware and cache events
    /// fail with ENOENT and software ones open; where perf_event_open is refused altogether
    /// (paranoid 3, seccomp) nothing opens and the scrape is empty but successful.
    #[test]
    fn this_host() {
        let args = Args {
            perf_cpus: "0".into(),
            ..Args::default()
        };
        let c = build(&Paths::default(), &args).unwrap();
        let t = render_collector(c.as_ref()).unwrap();
        if t.contains("node_perf_context_switches_total") {
            assert!(
                t.contains("# TYPE node_perf_context_switches_total counter\n"),
                "{t}"
            );
            assert!(t.contains("{cpu=\"0\"}"), "{t}");
            assert!(!t.contains("{cpu=\"1\"}"), "{t}");
        } else {
            eprintln!("no perf software counters here:\n{t}");
        }
    }
}
