//! The collectors, one file each, named like node_exporter's.
//!
//! A collector is built once at start-up from its flags ([`Paths`] and its own `Args`, a clap
//! struct flattened into the command line) and then asked to [`Collector::update`] on every
//! scrape. Adding one: write `<name>.rs` with `pub struct Args` and `pub fn build`, then add a
//! `mod` line and a line to the `collectors!` table below.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

/// Where the host's filesystems are: `--path.procfs`, `--path.sysfs`, `--path.rootfs`,
/// `--path.udev.data`. Nothing reads `/proc` or `/sys` except through these.
#[derive(Debug, Clone)]
pub struct Paths {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub udev_data: PathBuf,
}

impl Paths {
    /// A path below the proc root: `paths.proc("net/dev")`.
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }

    /// A path below the sys root: `paths.sys("class/net")`.
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }

    /// A host path (e.g. a mount point) seen through the root filesystem mount.
    pub fn root(&self, host_path: &str) -> PathBuf {
        self.rootfs.join(host_path.trim_start_matches('/'))
    }

    /// A path below the udev data directory.
    pub fn udev(&self, rel: &str) -> PathBuf {
        self.udev_data.join(rel)
    }

    /// Turns a path seen through the root mount back into the host's path, as node_exporter's
    /// `rootfsStripPrefix` does for mount point labels.
    pub fn strip_rootfs<'a>(&self, path: &'a str) -> &'a str {
        let root = self.rootfs.to_str().unwrap_or("/");
        if root == "/" {
            return path;
        }
        match path.strip_prefix(root.trim_end_matches('/')) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => path,
        }
    }
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            procfs: PathBuf::from("/proc"),
            sysfs: PathBuf::from("/sys"),
            rootfs: PathBuf::from("/"),
            udev_data: PathBuf::from("/run/udev/data"),
        }
    }
}

/// Why a collector produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The host has nothing for this collector (no such file, no such hardware). Logged at debug,
    /// as node_exporter does with `ErrNoData`; the scrape reports `success 0` for it.
    #[error("no data: {0}")]
    NoData(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CollectError {
    /// `NoData` for a missing file, `Io` otherwise.
    pub fn from_io(path: &Path, e: std::io::Error) -> Self {
        if crate::sys::read::is_missing(&e) {
            CollectError::NoData(format!("{} not found", path.display()))
        } else {
            CollectError::Other(anyhow::Error::new(e).context(path.display().to_string()))
        }
    }
}

pub type CollectResult = Result<(), CollectError>;

/// One collector. `update` runs on a worker thread, may block on file reads, and writes its
/// samples into `out` (families of the same name from several collectors are merged).
pub trait Collector: Send + Sync {
    fn update(&self, out: &mut Exposition) -> CollectResult;

    /// Calls this collector stopped waiting for that are still blocked in the kernel (a `statfs`
    /// on a hung mount), so a shutdown can say what it abandons. Most collectors have none.
    fn stuck(&self) -> usize {
        0
    }
}

/// The help text of node_exporter's `--collector.<name>` flags.
fn enable_help(name: &str, default: bool) -> String {
    format!(
        "Enable the {name} collector (default: {}).",
        if default { "enabled" } else { "disabled" }
    )
}

macro_rules! collectors {
    ($( $name:literal => $module:ident, default $default:expr; )*) => {
        /// Every collector's own flags, flattened into the command line.
        #[derive(clap::Args, Debug, Clone)]
        pub struct CollectorArgs {
            $( #[command(flatten)] pub $module: $module::Args, )*
        }

        /// Every collector: its name and whether node_exporter enables it by default on Linux.
        pub const ALL: &[(&str, bool)] = &[ $( ($name, $default), )* ];

        /// Builds the collector called `name`.
        pub fn build(name: &str, paths: &Paths, args: &CollectorArgs) -> Result<Box<dyn Collector>, UsageError> {
            match name {
                $( $name => $module::build(paths, &args.$module), )*
                other => Err(UsageError::new(format!("unknown collector {other:?}"))),
            }
        }
    };
}

/// The `--collector.<name>` / `--no-collector.<name>` flags, added at run time from [`ALL`].
pub fn enable_flags(cmd: clap::Command) -> clap::Command {
    let mut cmd = cmd;
    for (name, default) in ALL {
        let pos = format!("collector.{name}");
        let neg = format!("no-collector.{name}");
        cmd = cmd
            .arg(
                clap::Arg::new(pos.clone())
                    .long(pos.clone())
                    .action(clap::ArgAction::SetTrue)
                    .help(enable_help(name, *default)),
            )
            .arg(
                clap::Arg::new(neg.clone())
                    .long(neg)
                    .action(clap::ArgAction::SetTrue)
                    .hide(true),
            );
    }
    cmd
}

pub mod arp;
pub mod bcache;
pub mod bcachefs;
pub mod bonding;
pub mod btrfs;
pub mod buddyinfo;
pub mod cgroups;
pub mod conntrack;
pub mod cpu;
pub mod cpu_vulnerabilities;
pub mod cpufreq;
pub mod diskstats;
pub mod dmi;
pub mod dmmultipath;
pub mod drbd;
pub mod drm;
pub mod edac;
pub mod entropy;
pub mod ethtool;
pub mod fibrechannel;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod infiniband;
pub mod interrupts;
pub mod ipvs;
pub mod kernel_hung;
pub mod ksmd;
pub mod lnstat;
pub mod loadavg;
pub mod logind;
pub mod mdadm;
pub mod meminfo;
pub mod meminfo_numa;
pub mod mountstats;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod network_route;
pub mod nfs;
pub mod nfsd;
pub mod ntp;
pub mod nvme;
pub mod nvmesubsystem;
pub mod os;
pub mod pcidevice;
pub mod perf;
pub mod powersupplyclass;
pub mod pressure;
pub mod processes;
pub mod qdisc;
pub mod rapl;
pub mod runit;
pub mod schedstat;
pub mod selinux;
pub mod slabinfo;
pub mod sockstat;
pub mod softirqs;
pub mod softnet;
pub mod stat;
pub mod supervisord;
pub mod swap;
pub mod sysctl;
pub mod systemd;
pub mod tapestats;
pub mod tcpstat;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;
pub mod watchdog;
pub mod wifi;
pub mod xfrm;
pub mod xfs;
pub mod zfs;
pub mod zoneinfo;

#[cfg(test)]
pub(crate) mod testutil;

collectors! {
    "arp" => arp, default true;
    "bcache" => bcache, default true;
    "bcachefs" => bcachefs, default true;
    "bonding" => bonding, default true;
    "btrfs" => btrfs, default true;
    "buddyinfo" => buddyinfo, default false;
    "cgroups" => cgroups, default false;
    "conntrack" => conntrack, default true;
    "cpu" => cpu, default true;
    "cpu_vulnerabilities" => cpu_vulnerabilities, default false;
    "cpufreq" => cpufreq, default true;
    "diskstats" => diskstats, default true;
    "dmi" => dmi, default true;
    "dmmultipath" => dmmultipath, default true;
    "drbd" => drbd, default false;
    "drm" => drm, default false;
    "edac" => edac, default true;
    "entropy" => entropy, default true;
    "ethtool" => ethtool, default false;
    "fibrechannel" => fibrechannel, default true;
    "filefd" => filefd, default true;
    "filesystem" => filesystem, default true;
    "hwmon" => hwmon, default true;
    "infiniband" => infiniband, default true;
    "interrupts" => interrupts, default false;
    "ipvs" => ipvs, default true;
    "kernel_hung" => kernel_hung, default true;
    "ksmd" => ksmd, default false;
    "lnstat" => lnstat, default false;
    "loadavg" => loadavg, default true;
    "logind" => logind, default false;
    "mdadm" => mdadm, default true;
    "meminfo" => meminfo, default true;
    "meminfo_numa" => meminfo_numa, default false;
    "mountstats" => mountstats, default false;
    "netclass" => netclass, default true;
    "netdev" => netdev, default true;
    "netstat" => netstat, default true;
    "network_route" => network_route, default false;
    "nfs" => nfs, default true;
    "nfsd" => nfsd, default true;
    "ntp" => ntp, default false;
    "nvme" => nvme, default true;
    "nvmesubsystem" => nvmesubsystem, default false;
    "os" => os, default true;
    "pcidevice" => pcidevice, default false;
    "perf" => perf, default false;
    "powersupplyclass" => powersupplyclass, default true;
    "pressure" => pressure, default true;
    "processes" => processes, default false;
    "qdisc" => qdisc, default false;
    "rapl" => rapl, default true;
    "runit" => runit, default false;
    "schedstat" => schedstat, default true;
    "selinux" => selinux, default true;
    "slabinfo" => slabinfo, default false;
    "sockstat" => sockstat, default true;
    "softirqs" => softirqs, default false;
    "softnet" => softnet, default true;
    "stat" => stat, default true;
    "supervisord" => supervisord, default false;
    "swap" => swap, default false;
    "sysctl" => sysctl, default false;
    "systemd" => systemd, default false;
    "tapestats" => tapestats, default true;
    "tcpstat" => tcpstat, default false;
    "textfile" => textfile, default true;
    "thermal_zone" => thermal_zone, default true;
    "time" => time, default true;
    "timex" => timex, default true;
    "udp_queues" => udp_queues, default true;
    "uname" => uname, default true;
    "vmstat" => vmstat, default true;
    "watchdog" => watchdog, default true;
    "wifi" => wifi, default false;
    "xfrm" => xfrm, default false;
    "xfs" => xfs, default true;
    "zfs" => zfs, default true;
    "zoneinfo" => zoneinfo, default false;
}
