//! The `mdadm` collector: Linux software RAID state from `/proc/mdstat` (`node_md_state`,
//! `node_md_disks`, `node_md_blocks`, ...) plus, since node_exporter 1.10, `node_md_raid_disks`
//! and `node_md_degraded` from `/sys/block/md*/md`.
//!
//! `/proc/mdstat` is meant for people, and its shape varies with personality and activity
//! (resync, recovery, check, reshape, delayed or pending syncs, bitmaps, inactive and
//! external-metadata arrays). The parser follows procfs' rules but skips an array it cannot read
//! instead of failing the whole collector.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `mdadm` collector (none upstream).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Mdadm {
        mdstat: paths.proc("mdstat"),
        sys_block: paths.sys("block"),
    }))
}

struct Mdadm {
    mdstat: PathBuf,
    sys_block: PathBuf,
}

/// One array from `/proc/mdstat`.
#[derive(Debug, Clone, PartialEq)]
pub struct MdStat {
    pub name: String,
    /// `active`, `inactive`, `recovering`, `resyncing` or `checking` (procfs' words).
    pub state: String,
    pub disks_active: u64,
    pub disks_total: u64,
    pub disks_failed: u64,
    pub disks_down: u64,
    pub disks_spare: u64,
    pub blocks_total: u64,
    pub blocks_synced: u64,
}

/// `[2/1]` followed by `[U_]` in a status line: (total, active, down).
fn raid_counts(status: &str) -> Option<(u64, u64, u64)> {
    let tokens: Vec<&str> = status.split_whitespace().collect();
    tokens.windows(2).rev().find_map(|w| {
        let counts = w[0].strip_prefix('[')?.strip_suffix(']')?;
        let (total, active) = counts.split_once('/')?;
        let map = w[1].strip_prefix('[')?.strip_suffix(']')?;
        if map.is_empty() || !map.bytes().all(|b| b == b'U' || b == b'_') {
            return None;
        }
        Some((
            total.parse().ok()?,
            active.parse().ok()?,
            map.bytes().filter(|&b| b == b'_').count() as u64,
        ))
    })
}

/// The blocks done so far in a sync line: `... recovery =  8.5% (16775552/195310144) ...`.
fn synced_blocks(line: &str) -> Option<u64> {
    line.split_whitespace().find_map(|t| {
        let inner = t.strip_prefix('(')?.strip_suffix(')')?;
        let (done, _) = inner.split_once('/')?;
        done.parse().ok()
    })
}

/// Parses `/proc/mdstat`. Arrays whose lines cannot be read are skipped (logged at debug).
pub fn parse_mdstat(text: &str) -> Vec<MdStat> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, &line) in lines.iter().enumerate() {
        if line.trim().is_empty()
            || line.starts_with(char::is_whitespace)
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 || fields[1] != ":" {
            tracing::debug!(line, "not an md device line");
            continue;
        }
        let name = fields[0];
        let status = lines.get(i + 1).copied().unwrap_or("");
        let Some(size) = status
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<u64>().ok())
        else {
            tracing::debug!(device = name, status, "unexpected md status line");
            continue;
        };
        let failed = line.matches("(F)").count() as u64;
        let spare = line.matches("(S)").count() as u64;

        let (active, total, down) = if line.contains("raid0") || line.contains("linear") {
            // Only member disks carry a `[n]` index on the device line.
            let n = line.matches('[').count() as u64;
            (n, n, 0)
        } else if line.contains("inactive") {
            (0, 0, 0)
        } else {
            match raid_counts(status) {
                Some((total, active, down)) => (active, total, down),
                None => {
                    tracing::debug!(
                        device = name,
                        status,
                        "no [n/m] [UU] counts in md status line"
                    );
                    continue;
                }
            }
        };

        let mut sync_idx = i + 2;
        if lines.get(i + 2).is_some_and(|l| l.contains("bitmap")) {
            sync_idx += 1;
        }
        let sync = lines.get(sync_idx).copied().unwrap_or("");
        // A sync line belongs to this array only if it is indented (the next array's device
        // line is not).
        let sync = if sync.starts_with(char::is_whitespace) {
            sync
        } else {
            ""
        };
        let mut state = fields[2].to_string();
        let mut synced = size;
        let recovering = sync.contains("recovery");
        let resyncing = sync.contains("resync");
        let checking = sync.contains("check");
        if recovering || resyncing || checking {
            state = if recovering {
                "recovering"
            } else if checking {
                "checking"
            } else {
                "resyncing"
            }
            .to_string();
            synced = if sync.contains("PENDING") || sync.contains("DELAYED") {
                0
            } else {
                synced_blocks(sync).unwrap_or(0)
            };
        }
        out.push(MdStat {
            name: name.to_string(),
            state,
            disks_active: active,
            disks_total: total,
            disks_failed: failed,
            disks_down: down,
            disks_spare: spare,
            blocks_total: size,
            blocks_synced: synced,
        });
    }
    out
}

/// `/sys/block/<md>/md`: (device, raid_disks, degraded).
fn read_mdraid(dir: &std::path::Path, device: &str) -> std::io::Result<(u64, u64)> {
    let level = crate::sys::read::trimmed(&dir.join("level"))?;
    let disks = crate::sys::read::u64_value(&dir.join("raid_disks"))?;
    // The kernel has a `degraded` attribute only for redundant personalities.
    let degraded = match level.as_str() {
        "raid1" | "raid4" | "raid5" | "raid6" | "raid10" => {
            crate::sys::read::u64_value(&dir.join("degraded"))?
        }
        _ => 0,
    };
    tracing::trace!(device, level, "read mdraid");
    Ok((disks, degraded))
}

impl Collector for Mdadm {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.mdstat)
            .map_err(|e| CollectError::from_io(&self.mdstat, e))?;
        for md in parse_mdstat(&text) {
            let dev = md.name.as_str();
            out.gauge(
                "node_md_disks_required",
                "Total number of disks of device.",
                &[("device", dev)],
                md.disks_total as f64,
            );
            for (state, v) in [
                ("active", md.disks_active),
                ("failed", md.disks_failed),
                ("spare", md.disks_spare),
            ] {
                out.gauge(
                    "node_md_disks",
                    "Number of active/failed/spare disks of device.",
                    &[("device", dev), ("state", state)],
                    v as f64,
                );
            }
            // Label values differ from procfs' state words for the sync states.
            for (label, word) in [
                ("active", "active"),
                ("inactive", "inactive"),
                ("recovering", "recovering"),
                ("resync", "resyncing"),
                ("check", "checking"),
            ] {
                out.gauge(
                    "node_md_state",
                    "Indicates the state of md-device.",
                    &[("device", dev), ("state", label)],
                    if md.state == word { 1.0 } else { 0.0 },
                );
            }
            out.gauge(
                "node_md_blocks",
                "Total number of blocks on device.",
                &[("device", dev)],
                md.blocks_total as f64,
            );
            out.gauge(
                "node_md_blocks_synced",
                "Number of blocks synced on device.",
                &[("device", dev)],
                md.blocks_synced as f64,
            );
        }

        // The sysfs half is optional: without /sys/block the mdstat families still stand.
        let names = match crate::sys::read::dir_names(&self.sys_block) {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(path = %self.sys_block.display(), err = %e, "Not collecting mdraids");
                return Ok(());
            }
        };
        for name in names.iter().filter(|n| n.starts_with("md")) {
            let dir = self.sys_block.join(name).join("md");
            if !dir.is_dir() {
                continue;
            }
            match read_mdraid(&dir, name) {
                Ok((disks, degraded)) => {
                    out.gauge(
                        "node_md_raid_disks",
                        "Number of raid disks on device.",
                        &[("device", name)],
                        disks as f64,
                    );
                    out.gauge(
                        "node_md_degraded",
                        "Number of degraded disks on device.",
                        &[("device", name)],
                        degraded as f64,
                    );
                }
                Err(e) => {
                    tracing::debug!(device = %name, err = %e, "cannot read md sysfs attributes")
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
    use std::fs;

    // Array shapes as the kernel's md driver prints them (md.c status functions), gathered from
    // real hosts: raid1/5/6 idle, with bitmap, recovering, resyncing, checking, delayed and
    // pending resyncs, raid0 and linear, an inactive external-metadata (IMSM) container and an
    // auto-read-only array.
    const MDSTAT: &str = "Personalities : [linear] [raid0] [raid1] [raid6] [raid5] [raid4] [raid10]
md3 : active raid6 sda1[8] sdh1[7] sdg1[6] sdf1[5] sde1[11] sdd1[3] sdc1[10] sdb1[9] sdd1[10](S) sdd2[11](S)
      5853468288 blocks super 1.2 level 6, 64k chunk, algorithm 2 [8/8] [UUUUUUUU]

md127 : active raid1 sdi2[0] sdj2[1]
      312319552 blocks [2/2] [UU]

md4 : inactive raid1 sda3[0](F) sdb3[1](S)
      4883648 blocks [2/2] [UU]

md6 : active raid1 sdb2[2](F) sdc[1](S) sda2[0]
      195310144 blocks [2/1] [U_]
      [=>...................]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec

md8 : active raid1 sdb1[1] sda1[0] sdc[2](S) sde[3](S)
      195310144 blocks [2/2] [UU]
      [=>...................]  resync =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec

md7 : active raid6 sdb1[0] sde1[3] sdd1[2] sdc1[1](F)
      7813735424 blocks super 1.2 level 6, 512k chunk, algorithm 2 [4/3] [U_UU]
      bitmap: 0/30 pages [0KB], 65536KB chunk

md5 : active raid5 sdb1[0] sdc1[1] sdd1[3]
      3906764800 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/3] [UUU]
      bitmap: 2/15 pages [8KB], 65536KB chunk
      [==>..................]  check = 12.4% (242316928/1953382400) finish=171.3min speed=166420K/sec

md9 : active raid1 sdc2[2] sdd2[3] sdb2[1] sda2[0] sde[4](F) sdf[5](F) sdg[6](S)
      523968 blocks super 1.2 [4/4] [UUUU]
        resync=DELAYED

md10 : active raid0 sda1[0] sdb1[1]
      314159265 blocks 64k chunks

md11 : active (auto-read-only) raid1 sdb2[0] sdc2[1] sdc3[2](F) hda[4](S) ssdc2[3](S)
      4190208 blocks super 1.2 [2/2] [UU]
        resync=PENDING

md120 : active linear sda1[1] sdb1[0]
      2095104 blocks super 1.2 0k rounding

md219 : inactive sdb[2](S) sdc[1](S) sda[0](S)
      7932 blocks super external:imsm

md99 : active raid1 sdx[0]
      garbage
md98 : active raid5 sdy[0]
      12345 blocks but no counts

unused devices: <none>
";

    fn find<'a>(v: &'a [MdStat], name: &str) -> &'a MdStat {
        v.iter().find(|m| m.name == name).unwrap()
    }

    #[test]
    fn parses_every_shape() {
        let v = parse_mdstat(MDSTAT);
        assert_eq!(v.len(), 12, "{v:#?}");
        let md3 = find(&v, "md3");
        assert_eq!(
            (
                md3.state.as_str(),
                md3.disks_active,
                md3.disks_total,
                md3.disks_spare
            ),
            ("active", 8, 8, 2)
        );
        assert_eq!(
            (md3.blocks_total, md3.blocks_synced),
            (5853468288, 5853468288)
        );
        let md4 = find(&v, "md4");
        assert_eq!(
            (
                md4.state.as_str(),
                md4.disks_active,
                md4.disks_total,
                md4.disks_failed,
                md4.disks_spare
            ),
            ("inactive", 0, 0, 1, 1)
        );
        let md6 = find(&v, "md6");
        assert_eq!(
            (
                md6.state.as_str(),
                md6.disks_active,
                md6.disks_total,
                md6.disks_down,
                md6.blocks_synced
            ),
            ("recovering", 1, 2, 1, 16775552)
        );
        assert_eq!(find(&v, "md8").state, "resyncing");
        let md7 = find(&v, "md7");
        assert_eq!(
            (md7.state.as_str(), md7.disks_active, md7.disks_failed),
            ("active", 3, 1)
        );
        let md5 = find(&v, "md5");
        assert_eq!(
            (md5.state.as_str(), md5.blocks_synced),
            ("checking", 242316928)
        );
        let md9 = find(&v, "md9");
        assert_eq!(
            (md9.state.as_str(), md9.blocks_synced, md9.disks_failed),
            ("resyncing", 0, 2)
        );
        let md10 = find(&v, "md10");
        assert_eq!((md10.disks_active, md10.disks_total), (2, 2));
        let md11 = find(&v, "md11");
        assert_eq!((md11.state.as_str(), md11.blocks_synced), ("resyncing", 0));
        assert_eq!(find(&v, "md120").disks_total, 2);
        let md219 = find(&v, "md219");
        assert_eq!(
            (md219.state.as_str(), md219.disks_spare, md219.blocks_total),
            ("inactive", 3, 7932)
        );
        assert!(v.iter().all(|m| m.name != "md99" && m.name != "md98"));
    }

    #[test]
    fn empty_mdstat_has_no_arrays() {
        assert!(parse_mdstat("Personalities : \nunused devices: <none>\n").is_empty());
    }

    #[test]
    fn exposes_mdstat_and_sysfs_families() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_file(
            &root.join("proc/mdstat"),
            "Personalities : [raid1]\nmd0 : active raid1 sdb1[1] sda1[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n      [==>..................]  recovery = 12.0% (125952/1046528) finish=0.1min speed=125952K/sec\n\nunused devices: <none>\n",
        );
        // /sys/block/md0/md as on Linux 6.x for a degraded raid1; md1 a raid0 (no degraded file).
        for (dev, level, disks, degraded) in [
            ("md0", "raid1", "2", Some("1")),
            ("md1", "raid0", "2", None),
        ] {
            let md = root.join("sys/block").join(dev).join("md");
            write_files(
                &md,
                &[
                    ("level", &format!("{level}\n")),
                    ("raid_disks", &format!("{disks}\n")),
                ],
            );
            if let Some(d) = degraded {
                write_file(&md.join("degraded"), &format!("{d}\n"));
            }
        }
        fs::create_dir_all(root.join("sys/block/sda")).unwrap();
        let text = render(&*build(&paths_in(root), &Args::default()).unwrap()).unwrap();
        let expected = "# HELP node_md_blocks Total number of blocks on device.
# TYPE node_md_blocks gauge
node_md_blocks{device=\"md0\"} 1.046528e+06
# HELP node_md_blocks_synced Number of blocks synced on device.
# TYPE node_md_blocks_synced gauge
node_md_blocks_synced{device=\"md0\"} 125952
# HELP node_md_degraded Number of degraded disks on device.
# TYPE node_md_degraded gauge
node_md_degraded{device=\"md0\"} 1
node_md_degraded{device=\"md1\"} 0
# HELP node_md_disks Number of active/failed/spare disks of device.
# TYPE node_md_disks gauge
node_md_disks{device=\"md0\",state=\"active\"} 1
node_md_disks{device=\"md0\",state=\"failed\"} 0
node_md_disks{device=\"md0\",state=\"spare\"} 0
# HELP node_md_disks_required Total number of disks of device.
# TYPE node_md_disks_required gauge
node_md_disks_required{device=\"md0\"} 2
# HELP node_md_raid_disks Number of raid disks on device.
# TYPE node_md_raid_disks gauge
node_md_raid_disks{device=\"md0\"} 2
node_md_raid_disks{device=\"md1\"} 2
# HELP node_md_state Indicates the state of md-device.
# TYPE node_md_state gauge
node_md_state{device=\"md0\",state=\"active\"} 0
node_md_state{device=\"md0\",state=\"check\"} 0
node_md_state{device=\"md0\",state=\"inactive\"} 0
node_md_state{device=\"md0\",state=\"recovering\"} 1
node_md_state{device=\"md0\",state=\"resync\"} 0
";
        assert_eq!(text, expected);
    }

    #[test]
    fn missing_mdstat_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            procfs: dir.path().to_path_buf(),
            sysfs: dir.path().to_path_buf(),
            rootfs: dir.path().to_path_buf(),
            udev_data: dir.path().to_path_buf(),
        };
        let c = build(&paths, &Args::default()).unwrap();
        let mut out = Exposition::new();
        assert!(matches!(c.update(&mut out), Err(CollectError::NoData(_))));
    }
}
