//! The `cpu` collector: time per CPU and mode from `/proc/stat`, plus from sysfs the thermal
//! throttle counters, isolated CPUs and online state, and with `--collector.cpu.info` the
//! `/proc/cpuinfo` metadata.
//!
//! `/proc/stat` counts in USER_HZ ticks. Like node_exporter (whose procfs library hard-codes
//! it) this divides by 100, the USER_HZ of x86, arm, arm64, ppc, s390 and riscv (alpha differs).
//!
//! The kernel's per-CPU counters are not monotonic: iowait can step back, and a CPU unplugged
//! and plugged back restarts from zero. As node_exporter, the collector remembers the last value
//! of each counter and never reports a smaller one; when a CPU's idle time drops by 3 s or
//! more it assumes a hotplug and starts that CPU afresh. CPUs that leave `/proc/stat` are
//! forgotten.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use regex_lite::Regex;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::compile_optional_regex;
use crate::sys::cpu::{cpu_number, parse_cpu_list};

/// USER_HZ: `/proc/stat` ticks per second.
const USER_HZ: f64 = 100.0;
/// An idle counter that drops by this many seconds means the CPU was hotplugged.
const JUMP_BACK_SECONDS: f64 = 3.0;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Enables metric node_cpu_guest_seconds_total (default: enabled; --no-collector.cpu.guest
    /// disables it).
    #[arg(long = "collector.cpu.guest", overrides_with = "no_guest")]
    pub guest_flag: bool,
    #[arg(
        long = "no-collector.cpu.guest",
        hide = true,
        overrides_with = "guest_flag"
    )]
    pub no_guest: bool,

    /// Enables metric cpu_info
    #[arg(long = "collector.cpu.info")]
    pub info: bool,

    /// Filter the `flags` field in cpuInfo with a value that must be a regular expression
    #[arg(
        long = "collector.cpu.info.flags-include",
        value_name = "FLAGS-INCLUDE"
    )]
    pub flags_include: Option<String>,

    /// Filter the `bugs` field in cpuInfo with a value that must be a regular expression
    #[arg(long = "collector.cpu.info.bugs-include", value_name = "BUGS-INCLUDE")]
    pub bugs_include: Option<String>,

    /// Whether the `cpufreq` collector is disabled. Not a flag: the command line sets it from
    /// `--[no-]collector.cpufreq`, because node_exporter 1.12 exports the /proc/cpuinfo
    /// frequency (`node_cpu_frequency_hertz{package,core,cpu}`) under `--collector.cpu.info` only
    /// while cpufreq is enabled.
    #[arg(skip)]
    pub cpufreq_disabled: bool,
}

impl Args {
    pub fn guest(&self) -> bool {
        !self.no_guest
    }
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let flags_include = compile_optional_regex(
        "collector.cpu.info.flags-include",
        args.flags_include.as_deref(),
    )?;
    let bugs_include = compile_optional_regex(
        "collector.cpu.info.bugs-include",
        args.bugs_include.as_deref(),
    )?;
    // As node_exporter: either filter turns the info metrics on.
    let info = args.info || flags_include.is_some() || bugs_include.is_some();
    if info && !args.info {
        tracing::info!(
            "--collector.cpu.info has been set to `true` because you set the following flags, like \
             --collector.cpu.info.flags-include and --collector.cpu.info.bugs-include"
        );
    }
    let cpu_dir = paths.sys("devices/system/cpu");
    // node_exporter reads the isolated CPUs once, at start.
    let isolated_path = cpu_dir.join("isolated");
    let isolated = match crate::sys::read::string(&isolated_path) {
        Ok(text) => match parse_cpu_list(&text) {
            Ok(cpus) => Some(cpus),
            Err(e) => {
                tracing::warn!(path = %isolated_path.display(), err = %e, "unable to get isolated cpus");
                None
            }
        },
        Err(e) => {
            tracing::debug!(err = %e, "couldn't open isolated file");
            None
        }
    };
    Ok(Box::new(Cpu {
        stat: paths.proc("stat"),
        cpuinfo: paths.proc("cpuinfo"),
        cpu_dir,
        guest: args.guest(),
        info,
        info_frequency: !args.cpufreq_disabled,
        flags_include,
        bugs_include,
        isolated,
        last: Mutex::new(BTreeMap::new()),
    }))
}

struct Cpu {
    stat: PathBuf,
    cpuinfo: PathBuf,
    cpu_dir: PathBuf,
    guest: bool,
    info: bool,
    info_frequency: bool,
    flags_include: Option<Regex>,
    bugs_include: Option<Regex>,
    isolated: Option<Vec<u32>>,
    /// The values last reported per CPU id, so counters never go backwards.
    last: Mutex<BTreeMap<u32, CpuTimes>>,
}

/// One CPU's times in seconds, in `/proc/stat` column order.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CpuTimes {
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
    pub guest: f64,
    pub guest_nice: f64,
}

impl CpuTimes {
    fn fields_mut(&mut self) -> [&mut f64; 10] {
        [
            &mut self.user,
            &mut self.nice,
            &mut self.system,
            &mut self.idle,
            &mut self.iowait,
            &mut self.irq,
            &mut self.softirq,
            &mut self.steal,
            &mut self.guest,
            &mut self.guest_nice,
        ]
    }
}

impl Collector for Cpu {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        if self.info {
            self.update_info(out)?;
        }
        self.update_stat(out)?;
        if let Some(isolated) = &self.isolated {
            for cpu in isolated {
                out.gauge(
                    "node_cpu_isolated",
                    "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
                    &[("cpu", &cpu.to_string())],
                    1.0,
                );
            }
        }
        let cpus = match crate::sys::read::dir_names(&self.cpu_dir) {
            Ok(names) => names
                .into_iter()
                .filter(|n| cpu_number(n).is_some())
                .collect(),
            Err(e) if crate::sys::read::is_missing(&e) => Vec::new(),
            Err(e) => return Err(CollectError::from_io(&self.cpu_dir, e)),
        };
        self.update_thermal_throttle(out, &cpus);
        self.update_online(out, &cpus);
        Ok(())
    }
}

impl Cpu {
    fn update_stat(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.stat)
            .map_err(|e| CollectError::from_io(&self.stat, e))?;
        let fresh = parse_proc_stat_cpus(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.stat.display()))?;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        merge_monotonic(&mut last, &fresh);

        let modes = [
            "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
        ];
        let fam = out.family(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            MetricType::Counter,
        );
        let ids: Vec<String> = last.keys().map(u32::to_string).collect();
        for ((_, t), id) in last.iter().zip(&ids) {
            let values = [
                t.user, t.nice, t.system, t.idle, t.iowait, t.irq, t.softirq, t.steal,
            ];
            for (mode, v) in modes.iter().zip(values) {
                fam.sample(&[("cpu", id), ("mode", mode)], v);
            }
        }
        if self.guest {
            // Guest time is also counted in user and nice; exported apart.
            let fam = out.family(
                "node_cpu_guest_seconds_total",
                "Seconds the CPUs spent in guests (VMs) for each mode.",
                MetricType::Counter,
            );
            for ((_, t), id) in last.iter().zip(&ids) {
                fam.sample(&[("cpu", id), ("mode", "user")], t.guest);
                fam.sample(&[("cpu", id), ("mode", "nice")], t.guest_nice);
            }
        }
        Ok(())
    }

    fn update_info(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.cpuinfo)
            .map_err(|e| CollectError::from_io(&self.cpuinfo, e))?;
        let cpus =
            parse_cpuinfo(&text).map_err(|e| anyhow::anyhow!("{}: {e}", self.cpuinfo.display()))?;
        for c in &cpus {
            let processor = c.processor.to_string();
            out.gauge(
                "node_cpu_info",
                "CPU information from /proc/cpuinfo.",
                &[
                    ("package", &c.physical_id),
                    ("core", &c.core_id),
                    ("cpu", &processor),
                    ("vendor", &c.vendor_id),
                    ("family", &c.cpu_family),
                    ("model", &c.model),
                    ("model_name", &c.model_name),
                    ("microcode", &c.microcode),
                    ("stepping", &c.stepping),
                    ("cachesize", &c.cache_size),
                ],
                1.0,
            );
            if self.info_frequency {
                out.gauge(
                    "node_cpu_frequency_hertz",
                    "CPU frequency in hertz from /proc/cpuinfo.",
                    &[
                        ("package", &c.physical_id),
                        ("core", &c.core_id),
                        ("cpu", &processor),
                    ],
                    c.mhz * 1e6,
                );
            }
        }
        // Flags and bugs of the first CPU only, and only those the filters let through.
        if let Some(first) = cpus.first() {
            for (re, values, name, help, label) in [
                (
                    &self.flags_include,
                    &first.flags,
                    "node_cpu_flag_info",
                    "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
                    "flag",
                ),
                (
                    &self.bugs_include,
                    &first.bugs,
                    "node_cpu_bug_info",
                    "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
                    "bug",
                ),
            ] {
                let Some(re) = re else { continue };
                for v in values.iter().filter(|v| re.is_match(v)) {
                    out.gauge(name, help, &[(label, v)], 1.0);
                }
            }
        }
        Ok(())
    }

    /// `node_cpu_core_throttles_total` and `node_cpu_package_throttles_total` from
    /// `cpuN/thermal_throttle/` (Intel, when the thermal interrupt is enabled). Each core and
    /// package is read once, from its first CPU; CPUs without a numeric topology are skipped.
    fn update_thermal_throttle(&self, out: &mut Exposition, cpus: &[String]) {
        let mut packages: BTreeMap<u64, u64> = BTreeMap::new();
        let mut cores: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        for name in cpus {
            let dir = self.cpu_dir.join(name);
            let throttle = dir.join("thermal_throttle");
            // Most hosts (VMs, AMD) have no thermal_throttle; skipping them up front saves the
            // topology reads, and changes nothing: without it both counts fail to read.
            if !throttle.is_dir() {
                continue;
            }
            let (Ok(package), Ok(core)) = (
                crate::sys::read::u64_value(&dir.join("topology/physical_package_id")),
                crate::sys::read::u64_value(&dir.join("topology/core_id")),
            ) else {
                tracing::debug!(cpu = %name, "CPU is missing physical_package_id or core_id");
                continue;
            };
            if let std::collections::btree_map::Entry::Vacant(e) = cores.entry((package, core)) {
                if let Ok(v) = crate::sys::read::u64_value(&throttle.join("core_throttle_count")) {
                    e.insert(v);
                }
            }
            if let std::collections::btree_map::Entry::Vacant(e) = packages.entry(package) {
                if let Ok(v) = crate::sys::read::u64_value(&throttle.join("package_throttle_count"))
                {
                    e.insert(v);
                }
            }
        }
        for (package, v) in packages {
            out.counter(
                "node_cpu_package_throttles_total",
                "Number of times this CPU package has been throttled.",
                &[("package", &package.to_string())],
                v as f64,
            );
        }
        for ((package, core), v) in cores {
            out.counter(
                "node_cpu_core_throttles_total",
                "Number of times this CPU core has been throttled.",
                &[
                    ("package", &package.to_string()),
                    ("core", &core.to_string()),
                ],
                v as f64,
            );
        }
    }

    /// `node_cpu_online` from `cpuN/online`, for every CPU, but only when `cpu0/online` exists:
    /// without CPU hotplug (or when cpu0 cannot be unplugged, as on most x86) there is none.
    fn update_online(&self, out: &mut Exposition, cpus: &[String]) {
        let Some(first) = cpus.first() else { return };
        match crate::sys::read::trimmed(&self.cpu_dir.join(first).join("online")) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            _ => {}
        }
        for name in cpus {
            let online = crate::sys::read::trimmed(&self.cpu_dir.join(name).join("online"))
                .is_ok_and(|s| s == "1");
            out.gauge(
                "node_cpu_online",
                "CPUs that are online and being scheduled.",
                &[("cpu", cpu_number(name).unwrap_or(name))],
                if online { 1.0 } else { 0.0 },
            );
        }
    }
}

/// Folds a fresh reading into the remembered values: per counter, the larger of old and new,
/// after resetting a CPU whose idle time dropped by [`JUMP_BACK_SECONDS`] or more. CPUs no
/// longer in the reading are dropped.
pub fn merge_monotonic(last: &mut BTreeMap<u32, CpuTimes>, fresh: &BTreeMap<u32, CpuTimes>) {
    for (id, new) in fresh {
        let mut kept = last.get(id).copied().unwrap_or_default();
        if kept.idle - new.idle >= JUMP_BACK_SECONDS {
            tracing::debug!(cpu = id, old = kept.idle, new = new.idle, "CPU Idle counter jumped backwards more than 3 seconds, possible hotplug event, resetting CPU stats");
            kept = CpuTimes::default();
        }
        let mut new = *new;
        for (k, n) in kept.fields_mut().into_iter().zip(new.fields_mut()) {
            if *n >= *k {
                *k = *n;
            }
        }
        last.insert(*id, kept);
    }
    if last.len() != fresh.len() {
        last.retain(|id, _| fresh.contains_key(id));
    }
}

/// The `cpuN` lines of `/proc/stat` as seconds. Kernels before 2.6.33 have fewer columns; the
/// missing ones are 0. A value that is not a number is an error, as in node_exporter.
pub fn parse_proc_stat_cpus(text: &str) -> Result<BTreeMap<u32, CpuTimes>, String> {
    let mut cpus = BTreeMap::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(id) = it.next().and_then(|t| t.strip_prefix("cpu")) else {
            // The cpu lines come first; nothing after them is needed.
            if !cpus.is_empty() {
                break;
            }
            continue;
        };
        if id.is_empty() {
            continue; // the "cpu" total
        }
        let id: u32 = id
            .parse()
            .map_err(|_| format!("couldn't parse {line:?} (cpu/cpuid)"))?;
        let mut t = CpuTimes::default();
        for (slot, tok) in t.fields_mut().into_iter().zip(it) {
            let ticks: f64 = tok
                .parse()
                .map_err(|_| format!("couldn't parse {line:?} (cpu)"))?;
            *slot = ticks / USER_HZ;
        }
        cpus.insert(id, t);
    }
    Ok(cpus)
}

/// The `/proc/cpuinfo` fields node_exporter exports, per processor.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CpuInfo {
    pub processor: u32,
    pub vendor_id: String,
    pub cpu_family: String,
    pub model: String,
    pub model_name: String,
    pub stepping: String,
    pub microcode: String,
    pub mhz: f64,
    pub cache_size: String,
    pub physical_id: String,
    pub core_id: String,
    pub flags: Vec<String>,
    pub bugs: Vec<String>,
}

/// Parses `/proc/cpuinfo`: a block of `key\t: value` lines per processor, each starting with
/// `processor`. x86 fills every field; arm64 has no vendor/model strings and lists its flags as
/// `Features`, which are taken as flags.
pub fn parse_cpuinfo(text: &str) -> Result<Vec<CpuInfo>, String> {
    let mut cpus: Vec<CpuInfo> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        // node_exporter splits on ": "; the value keeps anything after that one space.
        let value = value.strip_prefix(' ').unwrap_or(value);
        if key == "processor" {
            let n = value
                .trim()
                .parse::<u32>()
                .map_err(|e| format!("bad processor {value:?}: {e}"))?;
            cpus.push(CpuInfo {
                processor: n,
                ..Default::default()
            });
            continue;
        }
        let Some(cpu) = cpus.last_mut() else { continue };
        match key {
            "vendor" | "vendor_id" => cpu.vendor_id = value.to_string(),
            "cpu family" => cpu.cpu_family = value.to_string(),
            "model" => cpu.model = value.to_string(),
            "model name" => cpu.model_name = value.to_string(),
            "stepping" => cpu.stepping = value.to_string(),
            "microcode" => cpu.microcode = value.to_string(),
            "cpu MHz" => {
                cpu.mhz = value
                    .trim()
                    .parse()
                    .map_err(|e| format!("bad cpu MHz {value:?}: {e}"))?
            }
            "cache size" => cpu.cache_size = value.to_string(),
            "physical id" => cpu.physical_id = value.to_string(),
            "core id" => cpu.core_id = value.to_string(),
            "flags" | "Features" => {
                cpu.flags = value.split_whitespace().map(str::to_string).collect()
            }
            "bugs" => cpu.bugs = value.split_whitespace().map(str::to_string).collect(),
            _ => {}
        }
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_files};

    fn times(v: [f64; 10]) -> CpuTimes {
        CpuTimes {
            user: v[0],
            nice: v[1],
            system: v[2],
            idle: v[3],
            iowait: v[4],
            irq: v[5],
            softirq: v[6],
            steal: v[7],
            guest: v[8],
            guest_nice: v[9],
        }
    }

    #[test]
    fn parses_proc_stat() {
        // Linux 6.18, 2 vCPUs.
        let text =
            "cpu  13154 0 3582 114995 499 0 49 13 0 0\ncpu0 6302 0 1584 58171 77 0 11 5 2 1\n\
                    cpu1 6851 0 1998 56824 422 0 38 7 0 0\nintr 220682 0 0\nctxt 390234\n";
        let cpus = parse_proc_stat_cpus(text).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[&0],
            times([63.02, 0.0, 15.84, 581.71, 0.77, 0.0, 0.11, 0.05, 0.02, 0.01])
        );
        // Linux 2.6.24: no steal, guest or guest_nice columns.
        let cpus = parse_proc_stat_cpus("cpu3 1 2 3 4 5 6 7\n").unwrap();
        assert_eq!(
            cpus[&3],
            times([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.0, 0.0, 0.0])
        );
        assert!(parse_proc_stat_cpus("cpu0 1 x 3\n").is_err());
        assert!(parse_proc_stat_cpus("cpuX 1 2 3\n").is_err());
    }

    #[test]
    fn counters_never_go_backwards() {
        let mut last = BTreeMap::new();
        let reading = |pairs: &[(u32, [f64; 10])]| -> BTreeMap<u32, CpuTimes> {
            pairs.iter().map(|(id, v)| (*id, times(*v))).collect()
        };
        merge_monotonic(
            &mut last,
            &reading(&[(0, [10.0, 0.0, 5.0, 100.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0])]),
        );
        // iowait steps back a little, idle too (by less than 3 s): both keep their old value.
        merge_monotonic(
            &mut last,
            &reading(&[(0, [11.0, 0.0, 5.0, 99.5, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0])]),
        );
        assert_eq!(
            last[&0],
            times([11.0, 0.0, 5.0, 100.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        );
        // Idle drops by 3 s or more: a hotplug, the CPU starts afresh.
        merge_monotonic(
            &mut last,
            &reading(&[(0, [1.0, 0.0, 0.5, 97.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0])]),
        );
        assert_eq!(
            last[&0],
            times([1.0, 0.0, 0.5, 97.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0])
        );
        // A CPU that goes offline is forgotten; one that appears is added.
        merge_monotonic(&mut last, &reading(&[(1, [1.0; 10])]));
        assert_eq!(last.keys().copied().collect::<Vec<_>>(), [1]);
    }

    // Two logical CPUs of an Intel host, as on Linux 6.x (flags shortened).
    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n\
model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\nstepping\t: 4\nmicrocode\t: 0x2006e05\n\
cpu MHz\t\t: 2400.000\ncache size\t: 28160 KB\nphysical id\t: 0\nsiblings\t: 2\ncore id\t\t: 0\n\
cpu cores\t: 1\nflags\t\t: fpu vme de pse tsc msr pae mce avx512f\nbugs\t\t: cpu_meltdown spectre_v1 spectre_v2\n\
bogomips\t: 4800.00\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n\
model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\nstepping\t: 4\nmicrocode\t: 0x2006e05\n\
cpu MHz\t\t: 1200.5\ncache size\t: 28160 KB\nphysical id\t: 0\ncore id\t\t: 1\nflags\t\t: fpu\nbugs\t\t:\n\n";

    #[test]
    fn parses_cpuinfo() {
        let cpus = parse_cpuinfo(CPUINFO).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[0].model_name,
            "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"
        );
        assert_eq!(
            cpus[0].flags,
            ["fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "avx512f"]
        );
        assert_eq!(cpus[0].bugs, ["cpu_meltdown", "spectre_v1", "spectre_v2"]);
        assert_eq!(
            (cpus[1].processor, cpus[1].core_id.as_str(), cpus[1].mhz),
            (1, "1", 1200.5)
        );
        assert!(cpus[1].bugs.is_empty());
        // arm64 (Linux 6.x on a Neoverse N1).
        let arm = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes\nCPU implementer\t: 0x41\n\n\
                   processor\t: 1\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes\n";
        let cpus = parse_cpuinfo(arm).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[1].flags, ["fp", "asimd", "evtstrm", "aes"]);
        assert!(parse_cpuinfo("processor\t: x\n").is_err());
    }

    /// A fake /proc and /sys for two CPUs of one package, with thermal throttle counters.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            &dir.path().join("proc"),
            &[
                ("stat", "cpu  2 0 2 2 0 0 0 0 0 0\ncpu0 100 0 50 1000 10 0 5 0 3 1\ncpu1 200 0 60 900 0 0 0 0 0 0\nintr 1\n"),
                ("cpuinfo", CPUINFO),
            ],
        );
        let cpu = dir.path().join("sys/devices/system/cpu");
        for (n, core, core_count) in [("cpu0", "0", "5"), ("cpu1", "1", "7")] {
            let core = format!("{core}\n");
            let core_count = format!("{core_count}\n");
            write_files(
                &cpu.join(n),
                &[
                    ("topology/physical_package_id", "0\n"),
                    ("topology/core_id", &core),
                    ("thermal_throttle/core_throttle_count", &core_count),
                    ("thermal_throttle/package_throttle_count", "30\n"),
                    ("online", "1\n"),
                ],
            );
        }
        std::fs::write(cpu.join("isolated"), "1\n").unwrap();
        std::fs::create_dir_all(cpu.join("cpufreq")).unwrap();
        dir
    }

    fn scrape(dir: &tempfile::TempDir, args: &Args) -> String {
        render(&*build(&paths_in(dir.path()), args).unwrap()).unwrap()
    }

    #[test]
    fn scrapes_defaults() {
        let dir = tree();
        let text = scrape(&dir, &Args::default());
        assert!(text.contains(
            "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n\
             # TYPE node_cpu_seconds_total counter\n\
             node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 10\n\
             node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 0.1\n"
        ));
        assert!(text.contains("node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 2\n"));
        assert_eq!(text.matches("node_cpu_seconds_total{").count(), 16);
        assert!(text.contains(
            "# HELP node_cpu_guest_seconds_total Seconds the CPUs spent in guests (VMs) for each mode.\n\
             # TYPE node_cpu_guest_seconds_total counter\n\
             node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"} 0.01\n\
             node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"} 0.03\n"
        ));
        assert!(text.contains(
            "# HELP node_cpu_core_throttles_total Number of times this CPU core has been throttled.\n\
             # TYPE node_cpu_core_throttles_total counter\n\
             node_cpu_core_throttles_total{core=\"0\",package=\"0\"} 5\n\
             node_cpu_core_throttles_total{core=\"1\",package=\"0\"} 7\n"
        ));
        assert!(text.contains(
            "# HELP node_cpu_package_throttles_total Number of times this CPU package has been throttled.\n\
             # TYPE node_cpu_package_throttles_total counter\nnode_cpu_package_throttles_total{package=\"0\"} 30\n"
        ));
        assert!(text.contains(
            "# HELP node_cpu_isolated Whether each core is isolated, information from /sys/devices/system/cpu/isolated.\n\
             # TYPE node_cpu_isolated gauge\nnode_cpu_isolated{cpu=\"1\"} 1\n"
        ));
        assert!(text.contains(
            "# HELP node_cpu_online CPUs that are online and being scheduled.\n\
             # TYPE node_cpu_online gauge\nnode_cpu_online{cpu=\"0\"} 1\nnode_cpu_online{cpu=\"1\"} 1\n"
        ));
        assert!(!text.contains("node_cpu_info"));
        assert!(!text.contains("node_cpu_frequency_hertz"));
    }

    #[test]
    fn without_cpu0_online_there_is_no_online_metric() {
        // x86 without hotplug for the boot CPU: cpu0 has no `online` file.
        let dir = tree();
        std::fs::remove_file(dir.path().join("sys/devices/system/cpu/cpu0/online")).unwrap();
        std::fs::write(dir.path().join("sys/devices/system/cpu/cpu1/online"), "0\n").unwrap();
        assert!(!scrape(&dir, &Args::default()).contains("node_cpu_online"));
        std::fs::write(dir.path().join("sys/devices/system/cpu/cpu0/online"), "1\n").unwrap();
        assert!(scrape(&dir, &Args::default()).contains("node_cpu_online{cpu=\"1\"} 0\n"));
    }

    #[test]
    fn guest_flag_off() {
        let dir = tree();
        let text = scrape(
            &dir,
            &Args {
                no_guest: true,
                ..Args::default()
            },
        );
        assert!(!text.contains("node_cpu_guest_seconds_total"));
    }

    #[test]
    fn info_flags_and_bugs() {
        let dir = tree();
        let text = scrape(
            &dir,
            &Args {
                info: true,
                ..Args::default()
            },
        );
        assert!(text.contains(
            "# HELP node_cpu_info CPU information from /proc/cpuinfo.\n# TYPE node_cpu_info gauge\n\
             node_cpu_info{cachesize=\"28160 KB\",core=\"0\",cpu=\"0\",family=\"6\",microcode=\"0x2006e05\",model=\"85\",model_name=\"Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\",package=\"0\",stepping=\"4\",vendor=\"GenuineIntel\"} 1\n"
        ));
        assert!(text.contains(
            "# HELP node_cpu_frequency_hertz CPU frequency in hertz from /proc/cpuinfo.\n\
             # TYPE node_cpu_frequency_hertz gauge\n\
             node_cpu_frequency_hertz{core=\"0\",cpu=\"0\",package=\"0\"} 2.4e+09\n\
             node_cpu_frequency_hertz{core=\"1\",cpu=\"1\",package=\"0\"} 1.2005e+09\n"
        ));
        // No filter, no flag_info: node_exporter only exports filtered flags.
        assert!(!text.contains("node_cpu_flag_info"));
        let text = scrape(
            &dir,
            &Args {
                info: true,
                cpufreq_disabled: true,
                ..Args::default()
            },
        );
        assert!(!text.contains("node_cpu_frequency_hertz"));

        // A filter alone turns info on.
        let args = Args {
            flags_include: Some("^(avx.*|fpu)$".into()),
            bugs_include: Some("spectre".into()),
            ..Args::default()
        };
        let text = scrape(&dir, &args);
        assert!(text.contains("node_cpu_info{"));
        assert!(text.contains(
            "# HELP node_cpu_flag_info The `flags` field of CPU information from /proc/cpuinfo taken from the first core.\n\
             # TYPE node_cpu_flag_info gauge\nnode_cpu_flag_info{flag=\"avx512f\"} 1\nnode_cpu_flag_info{flag=\"fpu\"} 1\n#"
        ));
        assert!(text.contains(
            "# TYPE node_cpu_bug_info gauge\nnode_cpu_bug_info{bug=\"spectre_v1\"} 1\nnode_cpu_bug_info{bug=\"spectre_v2\"} 1\n"
        ));
    }

    #[test]
    fn bad_filter_is_a_usage_error() {
        let e = build(
            &Paths::default(),
            &Args {
                bugs_include: Some("[".into()),
                ..Args::default()
            },
        )
        .err()
        .unwrap();
        assert!(
            e.to_string()
                .starts_with("--collector.cpu.info.bugs-include: bad regular expression"),
            "{e}"
        );
    }

    #[test]
    fn flags_parse_like_kingpin() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: Args,
        }
        let t = |argv: &[&str]| T::parse_from(std::iter::once("t").chain(argv.iter().copied())).a;
        assert!(t(&[]).guest());
        assert!(!t(&[]).info);
        assert!(!t(&["--no-collector.cpu.guest"]).guest());
        assert!(t(&["--no-collector.cpu.guest", "--collector.cpu.guest"]).guest());
        assert!(!t(&["--collector.cpu.guest", "--no-collector.cpu.guest"]).guest());
        let a = t(&[
            "--collector.cpu.info",
            "--collector.cpu.info.flags-include=^avx",
        ]);
        assert!(a.info);
        assert_eq!(a.flags_include.as_deref(), Some("^avx"));
    }
}
