//! The `sysctl` collector (off by default, as upstream): the sysctls named by
//! `--collector.sysctl.include` as numbers and by `--collector.sysctl.include-info` as
//! `node_sysctl_info` labels, from `/proc/sys/<name with dots as slashes>`. As upstream's
//! `sysctl_linux.go`:
//!
//! - `name`: one value gives `node_sysctl_<name>`, several give one sample per `index`;
//! - `name:key1,key2`: several values become `node_sysctl_<name>_<key>`, one per key (the count
//!   must match);
//! - a sysctl that cannot be read or parsed fails the whole collector.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};
use crate::sys::go::sanitize_metric_name;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Select sysctl metrics to include
    #[arg(long = "collector.sysctl.include", action = clap::ArgAction::Append, value_name = "SYSCTL")]
    pub sysctl_include: Vec<String>,

    /// Select sysctl metrics to include as info metrics
    #[arg(long = "collector.sysctl.include-info", action = clap::ArgAction::Append, value_name = "SYSCTL")]
    pub sysctl_include_info: Vec<String>,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let sysctls = args
        .sysctl_include
        .iter()
        .map(|s| Sysctl::new(s, true))
        .chain(
            args.sysctl_include_info
                .iter()
                .map(|s| Sysctl::new(s, false)),
        )
        .collect();
    Ok(Box::new(SysctlCollector {
        proc: paths.procfs.clone(),
        sysctls,
    }))
}

struct SysctlCollector {
    proc: PathBuf,
    sysctls: Vec<Sysctl>,
}

/// One `--collector.sysctl.include[-info]` value.
#[derive(Debug, Clone, PartialEq)]
struct Sysctl {
    numeric: bool,
    name: String,
    keys: Vec<String>,
}

impl Sysctl {
    fn new(flag: &str, numeric: bool) -> Self {
        let (name, keys) = match flag.split_once(':') {
            Some((name, keys)) => (name, keys.split(',').map(str::to_string).collect()),
            None => (flag, Vec::new()),
        };
        Self {
            numeric,
            name: name.to_string(),
            keys,
        }
    }

    fn path(&self, proc: &Path) -> PathBuf {
        proc.join("sys").join(self.name.replace('.', "/"))
    }
}

const INFO: &str = "node_sysctl_info";
const INFO_HELP: &str = "sysctl info";

impl Collector for SysctlCollector {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        for s in &self.sysctls {
            let path = s.path(&self.proc);
            let raw = crate::sys::read::sys_read_string(&path).map_err(|e| {
                anyhow::anyhow!(
                    "error obtaining sysctl info: {}",
                    crate::sys::read::read_failed(&path, e)
                )
            })?;
            let values: Vec<&str> = raw.split_whitespace().collect();
            emit(s, &values, out)?;
        }
        Ok(())
    }
}

/// Writes the samples of one sysctl whose fields are `values`.
fn emit(s: &Sysctl, values: &[&str], out: &mut Exposition) -> CollectResult {
    let name = format!("node_sysctl_{}", sanitize_metric_name(&s.name));
    let help = format!("sysctl {}", s.name);
    let ints = if s.numeric {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                crate::sys::go::parse_go_int(v).ok_or_else(|| {
                    anyhow::anyhow!(
                        "error obtaining sysctl info: field {i} in sysctl {} is not a valid int: {v:?}",
                        s.name
                    )
                })
            })
            .collect::<Result<Vec<i64>, _>>()?
    } else {
        Vec::new()
    };
    match values.len() {
        0 => return Err(anyhow::anyhow!("sysctl {} has no values", s.name).into()),
        1 => {
            if !s.keys.is_empty() {
                return Err(anyhow::anyhow!(
                    "sysctl {} has only one value, but expected {:?}",
                    s.name,
                    s.keys
                )
                .into());
            }
            if s.numeric {
                out.untyped(&name, &help, &[], ints[0] as f64);
            } else {
                out.gauge(
                    INFO,
                    INFO_HELP,
                    &[("name", &s.name), ("value", values[0]), ("index", "0")],
                    1.0,
                );
            }
        }
        n if s.keys.is_empty() => {
            for i in 0..n {
                let index = i.to_string();
                if s.numeric {
                    out.untyped(&name, &help, &[("index", &index)], ints[i] as f64);
                } else {
                    out.gauge(
                        INFO,
                        INFO_HELP,
                        &[("name", &s.name), ("value", values[i]), ("index", &index)],
                        1.0,
                    );
                }
            }
        }
        n if n != s.keys.len() => {
            // Upstream's message, typo included.
            return Err(anyhow::anyhow!(
                "sysctl {} has {n} keys but only {} defined in f lag",
                s.name,
                s.keys.len()
            )
            .into());
        }
        _ if !s.numeric => {
            return Err(anyhow::anyhow!("mapped sysctl string values not supported").into())
        }
        _ => {
            for (i, (key, v)) in s.keys.iter().zip(&ints).enumerate() {
                out.untyped(
                    &format!("{name}_{key}"),
                    &format!("sysctl {}, field {i}", s.name),
                    &[],
                    *v as f64,
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    fn scrape(include: &[&str], info: &[&str]) -> Result<String, super::super::CollectError> {
        let dir = tempfile::tempdir().unwrap();
        // Values as on Linux 6.18.
        write_files(
            dir.path(),
            &[
                ("sys/kernel/threads-max", "63704\n"),
                ("sys/fs/file-nr", "1216\t0\t9223372036854775807\n"),
                ("sys/net/ipv4/ip_local_port_range", "32768\t60999\n"),
                ("sys/kernel/core_pattern", "core\n"),
                ("sys/net/ipv4/tcp_rmem", "4096\t131072\t6291456\n"),
                ("sys/kernel/empty", "\n"),
                ("sys/kernel/hex", "0x10 -0x10 017\n"),
            ],
        );
        let args = Args {
            sysctl_include: include.iter().map(|s| s.to_string()).collect(),
            sysctl_include_info: info.iter().map(|s| s.to_string()).collect(),
        };
        render(&*build(&proc_at(dir.path()), &args).unwrap())
    }

    #[test]
    fn numeric_indexed_and_mapped() {
        let text = scrape(
            &[
                "kernel.threads-max",
                "fs.file-nr",
                "net.ipv4.ip_local_port_range:low,high",
                "kernel.hex",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            text,
            "# HELP node_sysctl_fs_file_nr sysctl fs.file-nr\n# TYPE node_sysctl_fs_file_nr untyped\n\
node_sysctl_fs_file_nr{index=\"0\"} 1216\nnode_sysctl_fs_file_nr{index=\"1\"} 0\n\
node_sysctl_fs_file_nr{index=\"2\"} 9.223372036854776e+18\n\
# HELP node_sysctl_kernel_hex sysctl kernel.hex\n# TYPE node_sysctl_kernel_hex untyped\n\
node_sysctl_kernel_hex{index=\"0\"} 16\nnode_sysctl_kernel_hex{index=\"1\"} -16\nnode_sysctl_kernel_hex{index=\"2\"} 15\n\
# HELP node_sysctl_kernel_threads_max sysctl kernel.threads-max\n# TYPE node_sysctl_kernel_threads_max untyped\n\
node_sysctl_kernel_threads_max 63704\n\
# HELP node_sysctl_net_ipv4_ip_local_port_range_high sysctl net.ipv4.ip_local_port_range, field 1\n\
# TYPE node_sysctl_net_ipv4_ip_local_port_range_high untyped\nnode_sysctl_net_ipv4_ip_local_port_range_high 60999\n\
# HELP node_sysctl_net_ipv4_ip_local_port_range_low sysctl net.ipv4.ip_local_port_range, field 0\n\
# TYPE node_sysctl_net_ipv4_ip_local_port_range_low untyped\nnode_sysctl_net_ipv4_ip_local_port_range_low 32768\n"
        );
    }

    #[test]
    fn info() {
        let text = scrape(&[], &["kernel.core_pattern", "net.ipv4.tcp_rmem"]).unwrap();
        assert_eq!(
            text,
            "# HELP node_sysctl_info sysctl info\n# TYPE node_sysctl_info gauge\n\
node_sysctl_info{index=\"0\",name=\"kernel.core_pattern\",value=\"core\"} 1\n\
node_sysctl_info{index=\"0\",name=\"net.ipv4.tcp_rmem\",value=\"4096\"} 1\n\
node_sysctl_info{index=\"1\",name=\"net.ipv4.tcp_rmem\",value=\"131072\"} 1\n\
node_sysctl_info{index=\"2\",name=\"net.ipv4.tcp_rmem\",value=\"6291456\"} 1\n"
        );
    }

    #[test]
    fn errors_like_upstream() {
        let err = |inc: &[&str], info: &[&str]| scrape(inc, info).unwrap_err().to_string();
        assert!(err(&["kernel.core_pattern"], &[]).contains("is not a valid int"));
        assert!(err(&["kernel.empty"], &[]).contains("has no values"));
        assert!(err(&["kernel.threads-max:a"], &[]).contains("has only one value"));
        assert!(err(&["fs.file-nr:a,b"], &[]).contains("has 3 keys but only 2"));
        assert!(err(&[], &["net.ipv4.tcp_rmem:a,b,c"]).contains("not supported"));
        assert!(err(&["kernel.nonexistent"], &[]).contains("error obtaining sysctl info"));
    }

    #[test]
    fn flags_repeat() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: Args,
        }
        let t = T::parse_from([
            "t",
            "--collector.sysctl.include=a.b",
            "--collector.sysctl.include=c:d,e",
            "--collector.sysctl.include-info=f",
        ]);
        assert_eq!(t.a.sysctl_include, ["a.b", "c:d,e"]);
        assert_eq!(t.a.sysctl_include_info, ["f"]);
        assert_eq!(
            Sysctl::new("c:d,e", true),
            Sysctl {
                numeric: true,
                name: "c".into(),
                keys: vec!["d".into(), "e".into()]
            }
        );
    }
}
