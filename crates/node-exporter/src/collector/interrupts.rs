//! The `interrupts` collector (default off, as upstream's `collector/interrupts_linux.go`): per
//! CPU, the count of each interrupt line in `/proc/interrupts`.

use std::collections::BTreeMap;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::BothFilter;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Regexp of interrupts name to include (mutually exclusive to --collector.interrupts.name-exclude).
    #[arg(long = "collector.interrupts.name-include", value_name = "REGEX")]
    pub interrupts_name_include: Option<String>,

    /// Regexp of interrupts name to exclude (mutually exclusive to --collector.interrupts.name-include).
    #[arg(long = "collector.interrupts.name-exclude", value_name = "REGEX")]
    pub interrupts_name_exclude: Option<String>,

    /// Include interrupts that have a zero value (default: true)
    #[arg(
        long = "collector.interrupts.include-zeros",
        overrides_with = "interrupts_no_include_zeros"
    )]
    pub interrupts_include_zeros: bool,

    #[arg(
        long = "no-collector.interrupts.include-zeros",
        hide = true,
        overrides_with = "interrupts_include_zeros"
    )]
    pub interrupts_no_include_zeros: bool,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Interrupts {
        path: paths.proc("interrupts"),
        // Upstream's deviceFilter: an exclude match or an include miss drops the line; the flags'
        // "mutually exclusive" is not enforced there either.
        filter: BothFilter::new(
            "collector.interrupts.name",
            args.interrupts_name_include.as_deref(),
            args.interrupts_name_exclude.as_deref(),
        )?,
        include_zeros: !args.interrupts_no_include_zeros,
    }))
}

struct Interrupts {
    path: std::path::PathBuf,
    filter: BothFilter,
    include_zeros: bool,
}

/// One line of `/proc/interrupts`: the per-CPU counts as text (parsed when exported, so a bad
/// one fails the scrape as upstream's does), the chip/type column and the device names.
#[derive(Debug, PartialEq)]
pub struct Interrupt {
    pub info: String,
    pub devices: String,
    pub values: Vec<String>,
}

impl Collector for Interrupts {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let irqs =
            parse_interrupts(&text).map_err(|e| anyhow::anyhow!("couldn't get interrupts: {e}"))?;
        let fam = out.family(
            "node_interrupts_total",
            "Interrupt details.",
            MetricType::Counter,
        );
        for (name, irq) in &irqs {
            let filter_name = format!("{name};{};{}", irq.info, irq.devices);
            if self.filter.ignored(&filter_name) {
                continue;
            }
            for (cpu, value) in irq.values.iter().enumerate() {
                let v: f64 = value
                    .parse()
                    .map_err(|e| anyhow::anyhow!("invalid value {value} in interrupts: {e}"))?;
                if !self.include_zeros && v == 0.0 {
                    continue;
                }
                fam.sample(
                    &[
                        ("cpu", &cpu.to_string()),
                        ("type", name),
                        ("info", &irq.info),
                        ("devices", &irq.devices),
                    ],
                    v,
                );
            }
        }
        Ok(())
    }
}

/// Parses `/proc/interrupts`. The header has one column per CPU. A line is `NAME:` then one
/// count per CPU, then, for numbered lines, the chip (`info`) and the device names, and for
/// named ones (`NMI`, `LOC`) a description (`info`). Lines with fewer fields than CPUs + 1 (`ERR`,
/// `MIS`) are skipped, and a name seen twice keeps its last line, as upstream's map does. The
/// split at the first `:` comes first because on aarch64 the name and the counts may touch.
pub fn parse_interrupts(text: &str) -> Result<BTreeMap<String, Interrupt>, String> {
    let mut lines = text.lines();
    let cpus = lines
        .next()
        .ok_or("interrupts empty")?
        .split_whitespace()
        .count();
    let mut out = BTreeMap::new();
    for line in lines {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let parts: Vec<&str> = rest.split_whitespace().collect();
        if parts.len() < cpus + 1 {
            continue;
        }
        let name = name.trim_start_matches(' ');
        let (info, devices) = if name.parse::<i64>().is_ok() {
            (parts[cpus].to_string(), parts[cpus + 1..].join(" "))
        } else {
            (parts[cpus..].join(" "), String::new())
        };
        out.insert(
            name.to_string(),
            Interrupt {
                info,
                devices,
                values: parts[..cpus].iter().map(|v| v.to_string()).collect(),
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // Recorded from /proc/interrupts on the fixture host (Debian 12, Linux 6.18.44, a 2-vCPU
    // KVM guest), 2026-12-07.
    const RECORDED: &str = include_str!("../../tests/fixtures/collectors/interrupts");

    fn args() -> Args {
        Args::default()
    }

    #[test]
    fn parses_recorded() {
        let irqs = parse_interrupts(RECORDED).unwrap();
        let loc = &irqs["LOC"];
        assert_eq!(loc.info, "Local timer interrupts");
        assert_eq!(loc.devices, "");
        assert_eq!(loc.values.len(), 2);
        let ttys0 = &irqs["26"];
        assert_eq!(ttys0.info, "IO-APIC");
        assert_eq!(ttys0.devices, "4-edge ttyS0");
        // ERR and MIS have a single count on a 2-CPU host: skipped, as upstream skips them.
        assert!(!irqs.contains_key("ERR") && !irqs.contains_key("MIS"));
    }

    #[test]
    fn filters_and_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let t = "      CPU0  CPU1\n  1:  0  5  IO-APIC  1-edge  i8042\nNMI:  2  0  Non-maskable interrupts\n";
        write_files(dir.path(), &[("interrupts", t)]);
        let all = render(build(&proc_at(dir.path()), &args()).unwrap().as_ref()).unwrap();
        assert!(all.contains(
            "node_interrupts_total{cpu=\"1\",devices=\"1-edge i8042\",info=\"IO-APIC\",type=\"1\"} 5\n"
        ));
        assert!(all.contains(
            "node_interrupts_total{cpu=\"1\",devices=\"\",info=\"Non-maskable interrupts\",type=\"NMI\"} 0\n"
        ));
        let a = Args {
            interrupts_no_include_zeros: true,
            interrupts_name_exclude: Some("i8042".into()),
            ..args()
        };
        let some = render(build(&proc_at(dir.path()), &a).unwrap().as_ref()).unwrap();
        assert!(!some.contains("i8042"));
        assert!(some.contains("type=\"NMI\"} 2\n"));
        assert!(!some.contains("} 0\n"));
    }

    #[test]
    fn bad_count_fails() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[("interrupts", "  CPU0\n 1: x IO-APIC 1-edge\n")],
        );
        assert!(render(build(&proc_at(dir.path()), &args()).unwrap().as_ref()).is_err());
    }
}
