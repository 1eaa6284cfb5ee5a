//! The `rapl` collector: Intel/AMD RAPL energy counters from `/sys/class/powercap`, as
//! `node_rapl_<zone>_joules_total{index,path}` (or, with `--collector.rapl.enable-zone-label`,
//! one `node_rapl_joules_total{index,path,rapl_zone}`).
//!
//! Zones are the powercap entries with a `name` file: `package-0` becomes zone `package` with
//! index 0; names without a numeric suffix (`core`, `dram`) are numbered by how often the name
//! was seen before. `energy_uj` is root-only since Linux 5.10 (CVE-2020-8694): permission denied
//! is "no data", as upstream.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::go::parse_go_u64;
use crate::sys::go::sanitize_metric_name;

/// Flags of the `rapl` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    // Upstream's help text really says this (a copy-paste from the systemd collector).
    #[arg(
        long = "collector.rapl.enable-zone-label",
        help = "Enables service unit metric unit_start_time_seconds"
    )]
    pub enable_zone_label: bool,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Rapl {
        class_dir: paths.sys("class/powercap"),
        zone_label: args.enable_zone_label,
    }))
}

struct Rapl {
    class_dir: PathBuf,
    zone_label: bool,
}

/// One RAPL zone.
#[derive(Debug, PartialEq)]
pub struct Zone {
    pub name: String,
    pub index: i64,
    pub path: PathBuf,
}

impl Collector for Rapl {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let entries = crate::sys::read::dir_names(&self.class_dir).map_err(|e| {
            if crate::sys::read::is_missing(&e) || e.kind() == std::io::ErrorKind::PermissionDenied
            {
                CollectError::NoData(format!("no powercap files: {e}"))
            } else {
                CollectError::Other(anyhow::anyhow!(
                    "failed to retrieve rapl stats: unable to read class/powercap: {e}"
                ))
            }
        })?;
        let zones = zones(&self.class_dir, &entries);
        for z in &zones {
            let file = z.path.join("energy_uj");
            let text = match fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(CollectError::NoData(format!(
                        "can't access energy_uj file of zone {}: {e}",
                        z.name
                    )))
                }
                Err(e) => return Err(CollectError::from_io(&file, e)),
            };
            let uj = parse_go_u64(&text).ok_or_else(|| {
                anyhow::anyhow!("{}: invalid value {:?}", file.display(), text.trim())
            })?;
            let joules = uj as f64 / 1_000_000.0;
            let index = z.index.to_string();
            let path = z.path.to_string_lossy();
            if self.zone_label {
                out.family(
                    "node_rapl_joules_total",
                    "Current RAPL value in joules",
                    MetricType::Counter,
                )
                .sample(
                    &[("index", &index), ("path", &path), ("rapl_zone", &z.name)],
                    joules,
                );
            } else {
                out.family(
                    &format!("node_rapl_{}_joules_total", sanitize_metric_name(&z.name)),
                    &format!("Current RAPL {} value in joules", z.name),
                    MetricType::Counter,
                )
                .sample(&[("index", &index), ("path", &path)], joules);
            }
        }
        Ok(())
    }
}

/// The zones among the powercap entries (sorted names, as `os.ReadDir`): those with a readable
/// `name` file. The control-type directories (`intel-rapl`) have none.
pub fn zones(class_dir: &Path, entries: &[String]) -> Vec<Zone> {
    let mut used: HashMap<String, i64> = HashMap::new();
    let mut zones = Vec::new();
    for entry in entries {
        let path = class_dir.join(entry);
        let Ok(raw) = fs::read_to_string(path.join("name")) else {
            continue;
        };
        let (index, name) = index_and_name(&used, raw.trim());
        used.insert(name.clone(), index + 1);
        zones.push(Zone { name, index, path });
    }
    zones
}

/// `package-1` is zone `package` index 1; `dram` is index "times seen so far".
fn index_and_name(used: &HashMap<String, i64>, name: &str) -> (i64, String) {
    let parts: Vec<&str> = name.split('-').collect();
    if let [base, idx] = parts.as_slice() {
        if let Ok(i) = idx.parse::<i64>() {
            return (i, base.to_string());
        }
    }
    (used.get(name).copied().unwrap_or(0), name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_files};

    fn collect(root: &Path, zone_label: bool) -> Result<String, CollectError> {
        let args = Args {
            enable_zone_label: zone_label,
        };
        render(&*build(&paths_in(root), &args).unwrap())
    }

    /// A two-socket Intel server (Linux 6.x): package-0/1 with core and dram subzones, the
    /// `intel-rapl` control type directory (no `name`), and an MMIO package zone.
    fn server(root: &Path) -> PathBuf {
        let class = root.join("sys/class/powercap");
        write_files(&class.join("intel-rapl"), &[("enabled", "1\n")]);
        write_files(
            &class.join("intel-rapl:0"),
            &[("name", "package-0\n"), ("energy_uj", "240422366267\n")],
        );
        write_files(
            &class.join("intel-rapl:0:0"),
            &[("name", "core\n"), ("energy_uj", "118821284256\n")],
        );
        write_files(
            &class.join("intel-rapl:0:1"),
            &[("name", "dram\n"), ("energy_uj", "28426112\n")],
        );
        write_files(
            &class.join("intel-rapl:1"),
            &[("name", "package-1\n"), ("energy_uj", "1500000\n")],
        );
        write_files(
            &class.join("intel-rapl:1:0"),
            &[("name", "dram\n"), ("energy_uj", "2000000\n")],
        );
        write_files(
            &class.join("intel-rapl-mmio:0"),
            &[("name", "package-0\n"), ("energy_uj", "500\n")],
        );
        class
    }

    #[test]
    fn per_zone_names() {
        let dir = tempfile::tempdir().unwrap();
        let class = server(dir.path());
        let p = class.display();
        assert_eq!(
            collect(dir.path(), false).unwrap(),
            format!(
                "# HELP node_rapl_core_joules_total Current RAPL core value in joules
# TYPE node_rapl_core_joules_total counter
node_rapl_core_joules_total{{index=\"0\",path=\"{p}/intel-rapl:0:0\"}} 118821.284256
# HELP node_rapl_dram_joules_total Current RAPL dram value in joules
# TYPE node_rapl_dram_joules_total counter
node_rapl_dram_joules_total{{index=\"0\",path=\"{p}/intel-rapl:0:1\"}} 28.426112
node_rapl_dram_joules_total{{index=\"1\",path=\"{p}/intel-rapl:1:0\"}} 2
# HELP node_rapl_package_joules_total Current RAPL package value in joules
# TYPE node_rapl_package_joules_total counter
node_rapl_package_joules_total{{index=\"0\",path=\"{p}/intel-rapl-mmio:0\"}} 0.0005
node_rapl_package_joules_total{{index=\"0\",path=\"{p}/intel-rapl:0\"}} 240422.366267
node_rapl_package_joules_total{{index=\"1\",path=\"{p}/intel-rapl:1\"}} 1.5
"
            )
        );
    }

    #[test]
    fn zone_label_flag() {
        let dir = tempfile::tempdir().unwrap();
        let class = server(dir.path());
        let text = collect(dir.path(), true).unwrap();
        let p = class.display();
        assert!(text.starts_with(
            "# HELP node_rapl_joules_total Current RAPL value in joules\n# TYPE node_rapl_joules_total counter\n"
        ));
        assert!(text.contains(&format!(
            "node_rapl_joules_total{{index=\"1\",path=\"{p}/intel-rapl:1:0\",rapl_zone=\"dram\"}} 2\n"
        )));
        assert_eq!(text.lines().count(), 2 + 6);
    }

    #[test]
    fn missing_class_is_no_data_and_garbage_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            collect(dir.path(), false),
            Err(CollectError::NoData(_))
        ));
        write_files(
            &dir.path().join("sys/class/powercap/intel-rapl:0"),
            &[("name", "package-0\n"), ("energy_uj", "lots\n")],
        );
        assert!(matches!(
            collect(dir.path(), false),
            Err(CollectError::Other(_))
        ));
    }

    #[test]
    fn names_and_indices() {
        let mut used = HashMap::new();
        assert_eq!(index_and_name(&used, "package-0"), (0, "package".into()));
        assert_eq!(index_and_name(&used, "dram"), (0, "dram".into()));
        used.insert("dram".to_string(), 1);
        assert_eq!(index_and_name(&used, "dram"), (1, "dram".into()));
        assert_eq!(index_and_name(&used, "a-b-1"), (0, "a-b-1".into()));
        assert_eq!(index_and_name(&used, "psys-x"), (0, "psys-x".into()));
        assert_eq!(sanitize_metric_name("package"), "package");
        assert_eq!(sanitize_metric_name("psys-x"), "psys_x");
        assert_eq!(sanitize_metric_name("a__-__b"), "a_b");
        assert_eq!(sanitize_metric_name("a-_-b"), "a__b");
        assert_eq!(sanitize_metric_name("a_b"), "a_b");
        assert_eq!(sanitize_metric_name("x."), "x_");
    }
}
