//! The `cpufreq` collector: per-CPU frequencies and the scaling governor from
//! `/sys/devices/system/cpu/cpuN/cpufreq/`, for CPUs not listed in `.../cpu/offline`.
//!
//! sysfs gives kHz; metrics are in Hz. Files a driver does not provide, or that only root may
//! read (`cpuinfo_cur_freq` is mode 0400), leave their metric out. A host without cpufreq (most
//! VMs) reports nothing, successfully, as node_exporter does.
//!
//! On x86 kernels 4.13 to 5.17, reading `scaling_cur_freq` sleeps 10 ms per CPU to sample
//! APERF/MPERF (node_exporter reads every CPU in its own goroutine for that reason). Hosts with
//! more than a few CPUs are therefore read on a few threads, four CPUs each, up to 16 threads.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use crate::sys::cpu::{cpu_number, parse_cpu_list};

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(CpuFreq {
        cpus: paths.sys("devices/system/cpu"),
    }))
}

struct CpuFreq {
    cpus: PathBuf,
}

/// One CPU's cpufreq values, in kHz as sysfs gives them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CpuFreqStats {
    pub cpu: String,
    pub cur: Option<u64>,
    pub avg: Option<u64>,
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub scaling_cur: Option<u64>,
    pub scaling_min: Option<u64>,
    pub scaling_max: Option<u64>,
    pub available_governors: String,
    pub governor: String,
}

type Desc = (&'static str, &'static str, fn(&CpuFreqStats) -> Option<u64>);

const FREQUENCIES: [Desc; 7] = [
    (
        "node_cpu_frequency_hertz",
        "Current CPU thread frequency in hertz.",
        |s| s.cur,
    ),
    (
        "node_cpu_frequency_avg_hertz",
        "Average CPU thread frequency in hertz.",
        |s| s.avg,
    ),
    (
        "node_cpu_frequency_min_hertz",
        "Minimum CPU thread frequency in hertz.",
        |s| s.min,
    ),
    (
        "node_cpu_frequency_max_hertz",
        "Maximum CPU thread frequency in hertz.",
        |s| s.max,
    ),
    (
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
        |s| s.scaling_cur,
    ),
    (
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
        |s| s.scaling_min,
    ),
    (
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
        |s| s.scaling_max,
    ),
];

impl Collector for CpuFreq {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let stats = read_all(&self.cpus)?;
        write(out, &stats);
        Ok(())
    }
}

fn write(out: &mut Exposition, stats: &[CpuFreqStats]) {
    for (name, help, get) in FREQUENCIES {
        for s in stats {
            if let Some(khz) = get(s) {
                out.gauge(name, help, &[("cpu", &s.cpu)], khz as f64 * 1000.0);
            }
        }
    }
    for s in stats.iter().filter(|s| !s.governor.is_empty()) {
        let fam = out.family(
            "node_cpu_scaling_governor",
            "Current enabled CPU frequency governor.",
            MetricType::Gauge,
        );
        for g in s.available_governors.split(' ') {
            let on = if g == s.governor { 1.0 } else { 0.0 };
            fam.sample(&[("cpu", &s.cpu), ("governor", g)], on);
        }
    }
}

fn read_all(cpu_dir: &Path) -> Result<Vec<CpuFreqStats>, CollectError> {
    let names =
        crate::sys::read::dir_names(cpu_dir).map_err(|e| CollectError::from_io(cpu_dir, e))?;
    let offline_path = cpu_dir.join("offline");
    let offline = crate::sys::read::string(&offline_path)
        .map_err(|e| CollectError::from_io(&offline_path, e))?;
    let offline =
        parse_cpu_list(&offline).map_err(|e| anyhow::anyhow!("{}: {e}", offline_path.display()))?;
    let mut todo = Vec::new();
    let mut any_cpu = false;
    for name in &names {
        let Some(number) = cpu_number(name) else {
            continue;
        };
        any_cpu = true;
        if number.parse::<u32>().is_ok_and(|n| offline.contains(&n)) {
            continue;
        }
        let dir = cpu_dir.join(name).join("cpufreq");
        if dir.is_dir() {
            todo.push((dir, number));
        }
    }
    if !any_cpu {
        return Err(CollectError::NoData(format!(
            "no CPUs in {}",
            cpu_dir.display()
        )));
    }
    let read_chunk = |chunk: &[(PathBuf, &str)]| -> Result<Vec<CpuFreqStats>, CollectError> {
        chunk
            .iter()
            .map(|(dir, number)| read_cpu(dir, number))
            .collect()
    };
    const PER_THREAD: usize = 4;
    if todo.len() <= PER_THREAD {
        return read_chunk(&todo);
    }
    let chunk_len = todo.len().div_ceil(16).max(PER_THREAD);
    std::thread::scope(|scope| {
        let handles: Vec<_> = todo
            .chunks(chunk_len)
            .map(|c| scope.spawn(move || read_chunk(c)))
            .collect();
        let mut stats = Vec::with_capacity(todo.len());
        for h in handles {
            let part = h
                .join()
                .map_err(|_| anyhow::anyhow!("cpufreq reader thread panicked"))??;
            stats.extend(part);
        }
        Ok(stats)
    })
}

fn read_cpu(dir: &Path, number: &str) -> Result<CpuFreqStats, CollectError> {
    let khz = |file: &str| -> Result<Option<u64>, CollectError> {
        let path = dir.join(file);
        match crate::sys::read::trimmed(&path) {
            Ok(s) => s
                .parse::<u64>()
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{}: {e}: {s:?}", path.display()).into()),
            Err(e)
                if crate::sys::read::is_missing(&e)
                    || e.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                Ok(None)
            }
            Err(e) => Err(anyhow::Error::new(e)
                .context(path.display().to_string())
                .into()),
        }
    };
    // node_exporter fails the collector when a governor file cannot be read.
    let text = |file: &str| -> Result<String, CollectError> {
        let path = dir.join(file);
        crate::sys::read::trimmed(&path).map_err(|e| {
            anyhow::Error::new(e)
                .context(path.display().to_string())
                .into()
        })
    };
    Ok(CpuFreqStats {
        cpu: number.to_string(),
        cur: khz("cpuinfo_cur_freq")?,
        avg: khz("cpuinfo_avg_freq")?,
        max: khz("cpuinfo_max_freq")?,
        min: khz("cpuinfo_min_freq")?,
        scaling_cur: khz("scaling_cur_freq")?,
        scaling_max: khz("scaling_max_freq")?,
        scaling_min: khz("scaling_min_freq")?,
        available_governors: text("scaling_available_governors")?,
        governor: text("scaling_governor")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_files};

    fn write_cpu(root: &Path, cpu: &str, files: &[(&str, &str)]) {
        write_files(&root.join(cpu).join("cpufreq"), files);
    }

    const GOVS: [(&str, &str); 2] = [
        ("scaling_available_governors", "performance powersave\n"),
        ("scaling_governor", "powersave\n"),
    ];

    #[test]
    fn scrapes_a_fake_sysfs() {
        // As with intel_pstate: no cpuinfo_cur_freq; cpu2 offline.
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("devices/system/cpu");
        let mut files = vec![
            ("cpuinfo_max_freq", "3700000\n"),
            ("cpuinfo_min_freq", "800000\n"),
            ("scaling_cur_freq", "1456572\n"),
            ("scaling_max_freq", "3700000\n"),
            ("scaling_min_freq", "800000\n"),
            ("scaling_driver", "intel_pstate\n"),
        ];
        files.extend(GOVS);
        write_cpu(&cpu, "cpu0", &files);
        files.push(("cpuinfo_avg_freq", "1000000\n"));
        write_cpu(&cpu, "cpu1", &files);
        write_cpu(&cpu, "cpu2", &files);
        std::fs::create_dir_all(cpu.join("cpuidle")).unwrap();
        std::fs::write(cpu.join("offline"), "2\n").unwrap();
        let paths = sys_at(dir.path());
        let text = render(&*build(&paths, &Args::default()).unwrap()).unwrap();
        assert!(!text.contains("cpu=\"2\""));
        assert!(!text.contains("node_cpu_frequency_hertz"));
        assert!(text.contains(
            "# HELP node_cpu_frequency_avg_hertz Average CPU thread frequency in hertz.\n\
             # TYPE node_cpu_frequency_avg_hertz gauge\nnode_cpu_frequency_avg_hertz{cpu=\"1\"} 1e+09\n#"
        ));
        assert!(text.contains(
            "# HELP node_cpu_frequency_max_hertz Maximum CPU thread frequency in hertz.\n\
             # TYPE node_cpu_frequency_max_hertz gauge\nnode_cpu_frequency_max_hertz{cpu=\"0\"} 3.7e+09\n"
        ));
        assert!(text.contains("node_cpu_scaling_frequency_hertz{cpu=\"0\"} 1.456572e+09\n"));
        assert!(text.contains("node_cpu_scaling_frequency_min_hertz{cpu=\"1\"} 8e+08\n"));
        assert!(text.contains(
            "# HELP node_cpu_scaling_governor Current enabled CPU frequency governor.\n\
             # TYPE node_cpu_scaling_governor gauge\n\
             node_cpu_scaling_governor{cpu=\"0\",governor=\"performance\"} 0\n\
             node_cpu_scaling_governor{cpu=\"0\",governor=\"powersave\"} 1\n"
        ));
    }

    #[test]
    fn host_without_cpufreq_is_empty_success() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("devices/system/cpu");
        std::fs::create_dir_all(cpu.join("cpu0")).unwrap();
        std::fs::write(cpu.join("offline"), "\n").unwrap();
        let paths = sys_at(dir.path());
        let mut out = Exposition::new();
        build(&paths, &Args::default())
            .unwrap()
            .update(&mut out)
            .unwrap();
        assert_eq!(out.families().count(), 0);
        // A governor file that cannot be read fails the collector, as in node_exporter.
        write_cpu(&cpu, "cpu0", &[("scaling_cur_freq", "1\n")]);
        assert!(build(&paths, &Args::default())
            .unwrap()
            .update(&mut Exposition::new())
            .is_err());
        // A bad number too.
        write_cpu(
            &cpu,
            "cpu0",
            &[("scaling_cur_freq", "<unknown>\n"), GOVS[0], GOVS[1]],
        );
        assert!(build(&paths, &Args::default())
            .unwrap()
            .update(&mut Exposition::new())
            .is_err());
    }

    #[test]
    fn many_cpus_are_read_on_threads_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("devices/system/cpu");
        for n in 0..37 {
            let freq = format!("{}\n", 1000 + n);
            write_cpu(
                &cpu,
                &format!("cpu{n}"),
                &[("scaling_cur_freq", &freq), GOVS[0], GOVS[1]],
            );
        }
        std::fs::write(cpu.join("offline"), "").unwrap();
        let stats = read_all(&cpu).unwrap();
        assert_eq!(stats.len(), 37);
        // Directory-name order, as node_exporter's glob.
        assert_eq!(stats[2].cpu, "10");
        assert!(stats
            .iter()
            .all(|s| s.scaling_cur == Some(1000 + s.cpu.parse::<u64>().unwrap())));
    }
}
