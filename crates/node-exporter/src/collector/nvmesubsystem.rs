//! The `nvmesubsystem` collector (off by default, as upstream): NVMe(-oF) subsystems under
//! `/sys/class/nvme-subsystem/nvme-subsys*`, their namespaces and the state of each controller
//! path, `node_nvmesubsystem_*`. As upstream's `nvmesubsystem_linux.go` over procfs'
//! `NVMeSubsystemClass`: every attribute must be readable; a missing (or forbidden) one means no
//! data, any other failure fails the collector; kernel states outside the known set are
//! reported as `unknown`, and `deleting (no IO)` as `deleting`.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::read::{sys_read_string, SysReadError};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(NvmeSubsystem {
        dir: paths.sys("class/nvme-subsystem"),
    }))
}

struct NvmeSubsystem {
    dir: PathBuf,
}

/// The `state` label values, sorted: each controller gets one sample per value.
const STATES: [&str; 7] = [
    "connecting",
    "dead",
    "deleting",
    "live",
    "new",
    "resetting",
    "unknown",
];

/// The label value of a kernel controller state.
fn normalize_state(raw: &str) -> &'static str {
    match raw {
        "deleting (no IO)" => "deleting",
        s => STATES[..6]
            .iter()
            .find(|k| **k == s)
            .copied()
            .unwrap_or("unknown"),
    }
}

#[derive(Debug, PartialEq)]
pub struct Subsystem {
    pub name: String,
    pub nqn: String,
    pub model: String,
    pub serial: String,
    pub iopolicy: String,
    /// `(name, state, transport)`
    pub controllers: Vec<(String, String, String)>,
    pub namespaces: Vec<String>,
}

/// Why a subsystem could not be read: a missing or forbidden file is "no data".
fn fail(path: &Path, e: impl Into<std::io::Error>) -> CollectError {
    let e: std::io::Error = e.into();
    if crate::sys::read::is_missing(&e) || e.kind() == std::io::ErrorKind::PermissionDenied {
        CollectError::NoData(format!(
            "Could not read NVMe subsystem info: {}: {e}",
            path.display()
        ))
    } else {
        anyhow::anyhow!("failed to scan NVMe subsystems: {}: {e}", path.display()).into()
    }
}

fn attr(path: &Path) -> Result<String, CollectError> {
    sys_read_string(path).map_err(|e: SysReadError| fail(path, e.into_io()))
}

/// Whether `name` is `<prefix>` followed by one or more digits, then `rest` matching the same
/// way when given (`nvme\d+` and `nvme\d+n\d+`).
fn numbered(name: &str, prefix: &str) -> Option<String> {
    let rest = name.strip_prefix(prefix)?;
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    (digits > 0).then(|| rest[digits..].to_string())
}

fn is_controller(name: &str) -> bool {
    numbered(name, "nvme").is_some_and(|r| r.is_empty())
}

fn is_namespace(name: &str) -> bool {
    numbered(name, "nvme").is_some_and(|r| numbered(&r, "n").is_some_and(|r| r.is_empty()))
}

pub fn read_subsystems(dir: &Path) -> Result<Vec<Subsystem>, CollectError> {
    let names = crate::sys::read::dir_names(dir).map_err(|e| fail(dir, e))?;
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| n.starts_with("nvme-subsys")) {
        let sdir = dir.join(&name);
        let mut s = Subsystem {
            nqn: attr(&sdir.join("subsysnqn"))?,
            model: attr(&sdir.join("model"))?,
            serial: attr(&sdir.join("serial"))?,
            iopolicy: attr(&sdir.join("iopolicy"))?,
            name,
            controllers: Vec::new(),
            namespaces: Vec::new(),
        };
        for entry in crate::sys::read::dir_names(&sdir).map_err(|e| fail(&sdir, e))? {
            if is_controller(&entry) {
                let cdir = sdir.join(&entry);
                let state = attr(&cdir.join("state"))?;
                let transport = attr(&cdir.join("transport"))?;
                // Read (and required) upstream, though not exported.
                attr(&cdir.join("address"))?;
                s.controllers.push((entry, state, transport));
            } else if is_namespace(&entry) {
                s.namespaces.push(entry);
            }
        }
        out.push(s);
    }
    Ok(out)
}

impl Collector for NvmeSubsystem {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        for s in read_subsystems(&self.dir)? {
            out.gauge(
                "node_nvmesubsystem_info",
                "Non-numeric information about an NVMe subsystem.",
                &[
                    ("subsystem", &s.name),
                    ("nqn", &s.nqn),
                    ("model", &s.model),
                    ("serial", &s.serial),
                    ("iopolicy", &s.iopolicy),
                ],
                1.0,
            );
            for ns in &s.namespaces {
                out.gauge(
                    "node_nvmesubsystem_namespace_info",
                    "Maps an NVMe namespace block device to its subsystem.",
                    &[("subsystem", &s.name), ("device", ns)],
                    1.0,
                );
            }
            let mut live = 0;
            for (ctrl, raw, transport) in &s.controllers {
                let state = normalize_state(raw);
                if state == "live" {
                    live += 1;
                }
                for label in &STATES {
                    out.gauge(
                        "node_nvmesubsystem_path_state",
                        "Current NVMe controller path state (1 for the current state, 0 for all others).",
                        &[
                            ("subsystem", &s.name),
                            ("controller", ctrl),
                            ("transport", transport),
                            ("state", label),
                        ],
                        if *label == state { 1.0 } else { 0.0 },
                    );
                }
            }
            out.gauge(
                "node_nvmesubsystem_paths",
                "Number of controller paths for an NVMe subsystem.",
                &[("subsystem", &s.name)],
                s.controllers.len() as f64,
            );
            out.gauge(
                "node_nvmesubsystem_paths_live",
                "Number of controller paths in live state for an NVMe subsystem.",
                &[("subsystem", &s.name)],
                f64::from(live),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_files};

    // Hand-made (no NVMe here): an NVMe/TCP subsystem with two paths, one reconnecting, shaped
    // like Linux 6.x's /sys/class/nvme-subsystem.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let s = "class/nvme-subsystem/nvme-subsys0";
        write_files(
            dir.path(),
            &[
                (
                    &format!("{s}/subsysnqn"),
                    "nqn.2014-08.org.example:target1\n",
                ),
                (&format!("{s}/model"), "Linux\n"),
                (&format!("{s}/serial"), "abc123\n"),
                (&format!("{s}/iopolicy"), "numa\n"),
                (&format!("{s}/nvme0/state"), "live\n"),
                (&format!("{s}/nvme0/transport"), "tcp\n"),
                (
                    &format!("{s}/nvme0/address"),
                    "traddr=192.0.2.5,trsvcid=4420\n",
                ),
                (&format!("{s}/nvme1/state"), "deleting (no IO)\n"),
                (&format!("{s}/nvme1/transport"), "tcp\n"),
                (
                    &format!("{s}/nvme1/address"),
                    "traddr=192.0.2.6,trsvcid=4420\n",
                ),
                (&format!("{s}/nvme0n1/size"), "0\n"),
                (&format!("{s}/nvme0c0n1/size"), "0\n"),
                ("class/nvme-subsystem/other/model", "x\n"),
            ],
        );
        dir
    }

    #[test]
    fn renders() {
        let dir = tree();
        let t = render(&*build(&sys_at(dir.path()), &Args {}).unwrap()).unwrap();
        assert!(t.contains("node_nvmesubsystem_info{iopolicy=\"numa\",model=\"Linux\",nqn=\"nqn.2014-08.org.example:target1\",serial=\"abc123\",subsystem=\"nvme-subsys0\"} 1\n"), "{t}");
        assert!(t.contains("# TYPE node_nvmesubsystem_namespace_info gauge\nnode_nvmesubsystem_namespace_info{device=\"nvme0n1\",subsystem=\"nvme-subsys0\"} 1\n# HELP"));
        assert!(t.contains("node_nvmesubsystem_path_state{controller=\"nvme1\",state=\"deleting\",subsystem=\"nvme-subsys0\",transport=\"tcp\"} 1\n"));
        assert!(t.contains("node_nvmesubsystem_path_state{controller=\"nvme0\",state=\"unknown\",subsystem=\"nvme-subsys0\",transport=\"tcp\"} 0\n"));
        assert_eq!(t.matches("node_nvmesubsystem_path_state{").count(), 14);
        assert!(t.contains("node_nvmesubsystem_paths{subsystem=\"nvme-subsys0\"} 2\n"));
        assert!(t.contains("node_nvmesubsystem_paths_live{subsystem=\"nvme-subsys0\"} 1\n"));
    }

    #[test]
    fn missing_is_no_data() {
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            render(&*build(&sys_at(empty.path()), &Args {}).unwrap()),
            Err(CollectError::NoData(_))
        ));
        let dir = tree();
        std::fs::remove_file(
            dir.path()
                .join("class/nvme-subsystem/nvme-subsys0/nvme1/address"),
        )
        .unwrap();
        assert!(matches!(
            render(&*build(&sys_at(dir.path()), &Args {}).unwrap()),
            Err(CollectError::NoData(_))
        ));
    }

    #[test]
    fn names_and_states() {
        assert!(is_controller("nvme12") && !is_controller("nvme") && !is_controller("nvme1n1"));
        assert!(is_namespace("nvme1n12") && !is_namespace("nvme0c0n1") && !is_namespace("nvme1n"));
        assert_eq!(normalize_state("live"), "live");
        assert_eq!(normalize_state("deleting (no IO)"), "deleting");
        assert_eq!(normalize_state("frobnicating"), "unknown");
        assert_eq!(normalize_state("unknown"), "unknown");
    }
}
