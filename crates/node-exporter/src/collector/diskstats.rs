//! The `diskstats` collector: per block device I/O counters from `/proc/diskstats`, plus
//! `node_disk_info` (udev and `/sys/block/<dev>/queue/rotational`), and the udev-derived
//! `node_disk_filesystem_info`, `node_disk_device_mapper_info` and `node_disk_ata_*` families,
//! as node_exporter 1.12 exposes them.
//!
//! Units as upstream: sectors are the kernel's fixed 512-byte units (Documentation/block/stat.rst),
//! times are milliseconds turned into seconds. A kernel that prints fewer fields (before 4.18 no
//! discard fields, before 5.5 no flush fields) gets fewer families, exactly as node_exporter
//! cuts the list at the number of fields present.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::{Filter, FlagPair, IncludeAlone};

/// node_exporter's `diskstatsDefaultIgnoredDevices`: partitions and RAM/loop/floppy devices.
pub const DEFAULT_DEVICE_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// Flags of the `diskstats` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Regexp of diskstats devices to exclude (mutually exclusive to device-include). [default: ^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$]
    // An Option rather than a clap default: like node_exporter we must know whether the user set
    // it, because an include pattern given alone replaces the default exclude.
    #[arg(
        long = "collector.diskstats.device-exclude",
        id = "collector.diskstats.device-exclude",
        value_name = "REGEX"
    )]
    pub device_exclude: Option<String>,

    /// Regexp of diskstats devices to include (mutually exclusive to device-exclude).
    #[arg(
        long = "collector.diskstats.device-include",
        id = "collector.diskstats.device-include",
        value_name = "REGEX"
    )]
    pub device_include: Option<String>,

    /// DEPRECATED: Use collector.diskstats.device-exclude
    #[arg(
        long = "collector.diskstats.ignored-devices",
        id = "collector.diskstats.ignored-devices",
        value_name = "REGEX",
        hide = true
    )]
    pub ignored_devices: Option<String>,
}

/// Resolves the three flags into one filter the way node_exporter 1.12 does: the deprecated flag
/// stands in for an unset exclude; an include given without an explicit exclude drops the
/// default exclude; two non-empty patterns are an error.
pub fn device_filter(args: &Args) -> Result<Filter, UsageError> {
    FlagPair {
        prefix: "collector.diskstats",
        name: "device",
        deprecated: "ignored-devices",
        default_exclude: DEFAULT_DEVICE_EXCLUDE,
        include_alone: IncludeAlone::DropsDefault,
    }
    .resolve(
        args.device_include.as_deref(),
        args.device_exclude.as_deref(),
        args.ignored_devices.as_deref(),
    )
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let filter = device_filter(args)?;
    // Like node_exporter, udev properties are only looked up when the udev database exists.
    let udev = paths.udev_data.is_dir();
    if !udev {
        tracing::debug!(path = %paths.udev_data.display(), "udev data directory missing, disabling udev device properties");
    }
    Ok(Box::new(Diskstats {
        paths: paths.clone(),
        diskstats: paths.proc("diskstats"),
        filter,
        udev,
    }))
}

struct Diskstats {
    paths: Paths,
    diskstats: PathBuf,
    filter: Filter,
    udev: bool,
}

/// One line of `/proc/diskstats`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskStat {
    pub major: u32,
    pub minor: u32,
    pub name: String,
    /// The counters after the name, in kernel order; `count` of them are present.
    pub values: [u64; 17],
    pub count: usize,
}

/// Parses `/proc/diskstats`. Lines with fewer than 11 counters (the 4-field partition lines of
/// pre-2.6.25 kernels) or with garbage are skipped, as procfs does.
pub fn parse_diskstats(text: &str) -> Vec<DiskStat> {
    let mut out = Vec::new();
    'lines: for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(major), Some(minor), Some(name)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
            continue;
        };
        let mut values = [0u64; 17];
        let mut count = 0;
        for field in it.take(17) {
            match field.parse::<u64>() {
                Ok(v) => {
                    values[count] = v;
                    count += 1;
                }
                Err(_) => continue 'lines,
            }
        }
        if count < 11 {
            continue;
        }
        out.push(DiskStat {
            major,
            minor,
            name: name.to_string(),
            values,
            count,
        });
    }
    out
}

/// The udev properties diskstats uses, from `/run/udev/data/b<major>:<minor>` (`E:KEY=value`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UdevInfo {
    props: Vec<(String, String)>,
}

impl UdevInfo {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn or_empty(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }
}

/// Keeps the device properties (`E:` lines) of a udev database file.
pub fn parse_udev(text: &str) -> UdevInfo {
    let props = text
        .lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    UdevInfo { props }
}

/// (metric suffix, help, type, scale) for each counter of a diskstats line, in kernel order.
const STATS: [(&str, &str, MetricType, f64); 17] = [
    (
        "reads_completed_total",
        "The total number of reads completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "reads_merged_total",
        "The total number of reads merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "read_bytes_total",
        "The total number of bytes read successfully.",
        MetricType::Counter,
        SECTOR,
    ),
    (
        "read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricType::Counter,
        MS,
    ),
    (
        "writes_completed_total",
        "The total number of writes completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "writes_merged_total",
        "The number of writes merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "written_bytes_total",
        "The total number of bytes written successfully.",
        MetricType::Counter,
        SECTOR,
    ),
    (
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricType::Counter,
        MS,
    ),
    (
        "io_now",
        "The number of I/Os currently in progress.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricType::Counter,
        MS,
    ),
    (
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricType::Counter,
        MS,
    ),
    (
        "discards_completed_total",
        "The total number of discards completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "discards_merged_total",
        "The total number of discards merged.",
        MetricType::Counter,
        1.0,
    ),
    // Upstream exports discarded sectors as sectors, not bytes.
    (
        "discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricType::Counter,
        MS,
    ),
    // No trailing period: node_exporter's HELP text has none.
    (
        "flush_requests_total",
        "The total number of flush requests completed successfully",
        MetricType::Counter,
        1.0,
    ),
    (
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricType::Counter,
        MS,
    ),
];

/// The kernel's fixed sector size for these counters.
const SECTOR: f64 = 512.0;
/// Milliseconds to seconds, as node_exporter's `secondsPerTick`.
const MS: f64 = 0.001;

const ATA: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
];

impl Diskstats {
    fn udev_info(&self, major: u32, minor: u32) -> UdevInfo {
        if !self.udev {
            return UdevInfo::default();
        }
        let path = self.paths.udev(&format!("b{major}:{minor}"));
        match crate::sys::read::string(&path) {
            Ok(text) => parse_udev(&text),
            Err(e) => {
                tracing::debug!(path = %path.display(), err = %e, "Failed to parse udev info");
                UdevInfo::default()
            }
        }
    }

    /// `/sys/block/<dev>/queue/rotational`; partitions have no queue directory and get 0, as
    /// upstream's zero-valued queue stats do.
    fn rotational(&self, dev: &str) -> u64 {
        crate::sys::read::u64_value(&self.paths.sys(&format!("block/{dev}/queue/rotational")))
            .unwrap_or(0)
    }
}

impl Collector for Diskstats {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.diskstats)
            .map_err(|e| CollectError::from_io(&self.diskstats, e))?;
        for d in parse_diskstats(&text) {
            let dev = d.name.as_str();
            if self.filter.ignored(dev) {
                continue;
            }
            let info = self.udev_info(d.major, d.minor);
            // The serial printed on the disk label first, then the short and long udev serials
            // (the latter is all virtio disks have).
            let serial = [
                info.get("SCSI_IDENT_SERIAL"),
                info.get("ID_SERIAL_SHORT"),
                info.get("ID_SERIAL"),
            ]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
            .unwrap_or("");
            let major = d.major.to_string();
            let minor = d.minor.to_string();
            let rotational = self.rotational(dev).to_string();
            out.gauge(
                "node_disk_info",
                "Info of /sys/block/<block_device>.",
                &[
                    ("device", dev),
                    ("major", &major),
                    ("minor", &minor),
                    ("path", info.or_empty("ID_PATH")),
                    ("wwn", info.or_empty("ID_WWN")),
                    ("model", info.or_empty("ID_MODEL")),
                    ("serial", serial),
                    ("revision", info.or_empty("ID_REVISION")),
                    ("rotational", &rotational),
                ],
                1.0,
            );

            for (i, (suffix, help, kind, scale)) in STATS.iter().enumerate().take(d.count) {
                out.family(&format!("node_disk_{suffix}"), help, *kind)
                    .sample(&[("device", dev)], d.values[i] as f64 * scale);
            }

            if let Some(fs_type) = info.get("ID_FS_TYPE").filter(|s| !s.is_empty()) {
                out.gauge(
                    "node_disk_filesystem_info",
                    "Info about disk filesystem.",
                    &[
                        ("device", dev),
                        ("type", fs_type),
                        ("usage", info.or_empty("ID_FS_USAGE")),
                        ("uuid", info.or_empty("ID_FS_UUID")),
                        ("version", info.or_empty("ID_FS_VERSION")),
                    ],
                    1.0,
                );
            }

            if let Some(name) = info.get("DM_NAME").filter(|s| !s.is_empty()) {
                out.gauge(
                    "node_disk_device_mapper_info",
                    "Info about disk device mapper.",
                    &[
                        ("device", dev),
                        ("name", name),
                        ("uuid", info.or_empty("DM_UUID")),
                        ("vg_name", info.or_empty("DM_VG_NAME")),
                        ("lv_name", info.or_empty("DM_LV_NAME")),
                        ("lv_layer", info.or_empty("DM_LV_LAYER")),
                    ],
                    1.0,
                );
            }

            if info.get("ID_ATA").is_some_and(|s| !s.is_empty()) {
                for (key, name, help) in ATA {
                    let Some(raw) = info.get(key) else { continue };
                    match raw.parse::<f64>() {
                        Ok(v) => out.gauge(name, help, &[("device", dev)], v),
                        Err(e) => {
                            tracing::error!(attribute = key, value = raw, err = %e, "Failed to parse ATA value")
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_file, write_files};

    // Lines as on Linux 6.18 (this host: 17 counters), a 4.15 kernel (11 counters, no discard or
    // flush fields) and a 4.19 kernel (15 counters), plus an old-style 4-counter partition line.
    const DISKSTATS: &str = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 34734 6541 5111882 16273 8455 20754 4153424 11169 0 8248 28007 4767 51 420560 510 910 54
   8       0 sda 25354637 34367663 1003346126 18492372 28444756 11134226 505697032 1158557768 0 9653880 82621804
   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
   8       2 sda2 100 200 300 400
 253       0 dm-0 1 x 3 4 5 6 7 8 9 10 11
";

    #[test]
    fn parses_all_kernel_shapes() {
        let stats = parse_diskstats(DISKSTATS);
        let names: Vec<_> = stats.iter().map(|d| (d.name.as_str(), d.count)).collect();
        assert_eq!(
            names,
            vec![("loop0", 17), ("vda", 17), ("sda", 11), ("sda1", 15)]
        );
        assert_eq!(stats[1].major, 254);
        assert_eq!(stats[1].values[2], 5111882);
        assert_eq!(stats[1].values[16], 54);
    }

    #[test]
    fn parses_udev_properties() {
        // A udev database entry as systemd 252 writes it for a SATA disk.
        let info = parse_udev("S:disk/by-id/ata-X\nW:12\nI:123\nE:ID_ATA=1\nE:ID_MODEL=ST500LT012-1DG142\nE:ID_FS_LABEL=a=b\nG:systemd\n");
        assert_eq!(info.get("ID_ATA"), Some("1"));
        assert_eq!(info.get("ID_MODEL"), Some("ST500LT012-1DG142"));
        assert_eq!(info.get("ID_FS_LABEL"), Some("a=b"));
        assert_eq!(info.get("S"), None);
    }

    #[test]
    fn filter_flags_resolve_like_upstream() {
        let f = device_filter(&Args::default()).unwrap();
        assert!(f.ignored("sda1") && f.ignored("loop0") && f.ignored("zram0"));
        assert!(f.ignored("nvme0n1p2") && !f.ignored("nvme0n1"));
        assert!(!f.ignored("sda") && !f.ignored("vda") && !f.ignored("dm-0"));

        // An include alone replaces the default exclude (1.12; 1.5.0 refused to start).
        let args = Args {
            device_include: Some("^sd".into()),
            ..Args::default()
        };
        let f = device_filter(&args).unwrap();
        assert!(!f.ignored("sda1") && f.ignored("vda"));

        // Both given explicitly is a usage error; an explicitly empty exclude is not.
        let args = Args {
            device_include: Some("^sd".into()),
            device_exclude: Some("^loop".into()),
            ..Args::default()
        };
        assert!(device_filter(&args).is_err());
        let args = Args {
            device_include: Some("^sd".into()),
            device_exclude: Some(String::new()),
            ..Args::default()
        };
        assert!(device_filter(&args).is_ok());

        // The deprecated flag stands in for the exclude, but not next to it.
        let args = Args {
            ignored_devices: Some("^vd".into()),
            ..Args::default()
        };
        let f = device_filter(&args).unwrap();
        assert!(f.ignored("vda") && !f.ignored("loop0"));
        let args = Args {
            ignored_devices: Some("^vd".into()),
            device_exclude: Some("^sd".into()),
            ..Args::default()
        };
        assert!(device_filter(&args).is_err());

        let args = Args {
            device_exclude: Some("(".into()),
            ..Args::default()
        };
        let e = device_filter(&args).unwrap_err().to_string();
        assert!(e.contains("collector.diskstats.device-exclude"), "{e}");
    }

    #[test]
    fn exposes_counters_info_and_udev_families() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_file(
            &root.join("proc/diskstats"),
            "   8       0 sda 100 2 2048 40 50 3 1024 20 1 30 60 4 0 8 5 6 7\n   8       1 sda1 1 0 8 1 0 0 0 0 0 1 1\n 253       0 dm-0 10 0 80 5 0 0 0 0 0 3 5\n",
        );
        write_file(&root.join("sys/block/sda/queue/rotational"), "1\n");
        // Shaped like systemd-udevd's database for a SATA HDD and an LVM volume.
        write_files(
            &root.join("udev"),
            &[
                (
                    "b8:0",
                    "S:disk/by-path/pci-0000:00:17.0-ata-1\nE:ID_ATA=1\nE:ID_ATA_WRITE_CACHE=1\nE:ID_ATA_WRITE_CACHE_ENABLED=0\nE:ID_ATA_ROTATION_RATE_RPM=5400\nE:ID_MODEL=ST500LT012-1DG142\nE:ID_PATH=pci-0000:00:17.0-ata-1.0\nE:ID_REVISION=0002LVM1\nE:ID_SERIAL=ST500LT012-1DG142_S3P4DDX7\nE:ID_SERIAL_SHORT=S3P4DDX7\nE:ID_WWN=0x5000c5006da764c9\n",
                ),
                (
                    "b253:0",
                    "E:DM_NAME=pve-root\nE:DM_UUID=LVM-abc\nE:DM_VG_NAME=pve\nE:DM_LV_NAME=root\nE:ID_FS_TYPE=ext4\nE:ID_FS_USAGE=filesystem\nE:ID_FS_UUID=fa5d\nE:ID_FS_VERSION=1.0\n",
                ),
            ],
        );
        let c = build(&paths_in(root), &Args::default()).unwrap();
        let text = render(c.as_ref()).unwrap();
        for line in [
            "node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"ST500LT012-1DG142\",path=\"pci-0000:00:17.0-ata-1.0\",revision=\"0002LVM1\",rotational=\"1\",serial=\"S3P4DDX7\",wwn=\"0x5000c5006da764c9\"} 1",
            "node_disk_info{device=\"dm-0\",major=\"253\",minor=\"0\",model=\"\",path=\"\",revision=\"\",rotational=\"0\",serial=\"\",wwn=\"\"} 1",
            "node_disk_reads_completed_total{device=\"sda\"} 100",
            "node_disk_read_bytes_total{device=\"sda\"} 1.048576e+06",
            "node_disk_written_bytes_total{device=\"sda\"} 524288",
            "node_disk_read_time_seconds_total{device=\"sda\"} 0.04",
            "node_disk_io_now{device=\"sda\"} 1",
            "node_disk_io_time_weighted_seconds_total{device=\"sda\"} 0.06",
            "node_disk_discarded_sectors_total{device=\"sda\"} 8",
            "node_disk_flush_requests_total{device=\"sda\"} 6",
            "node_disk_flush_requests_time_seconds_total{device=\"sda\"} 0.007",
            "node_disk_io_time_seconds_total{device=\"dm-0\"} 0.003",
            "node_disk_ata_rotation_rate_rpm{device=\"sda\"} 5400",
            "node_disk_ata_write_cache{device=\"sda\"} 1",
            "node_disk_ata_write_cache_enabled{device=\"sda\"} 0",
            "node_disk_device_mapper_info{device=\"dm-0\",lv_layer=\"\",lv_name=\"root\",name=\"pve-root\",uuid=\"LVM-abc\",vg_name=\"pve\"} 1",
            "node_disk_filesystem_info{device=\"dm-0\",type=\"ext4\",usage=\"filesystem\",uuid=\"fa5d\",version=\"1.0\"} 1",
            "# HELP node_disk_flush_requests_total The total number of flush requests completed successfully\n# TYPE node_disk_flush_requests_total counter",
            "# TYPE node_disk_io_now gauge",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
        // The partition is excluded by default; dm-0 (11 counters) has no discard samples.
        assert!(!text.contains("sda1"));
        assert!(!text.contains("node_disk_discards_completed_total{device=\"dm-0\"}"));
        assert!(!text.contains("ata_write_cache{device=\"dm-0\"}"));
    }

    #[test]
    fn missing_file_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            procfs: dir.path().to_path_buf(),
            sysfs: dir.path().to_path_buf(),
            rootfs: dir.path().to_path_buf(),
            udev_data: dir.path().join("none"),
        };
        let c = build(&paths, &Args::default()).unwrap();
        let mut out = Exposition::new();
        assert!(matches!(c.update(&mut out), Err(CollectError::NoData(_))));
    }
}
