//! The `mountstats` collector (off by default, as upstream): per NFS mount, the client's byte,
//! event, per-operation and transport counters of `/proc/self/mountstats`, as
//! `node_mountstats_nfs_*{export,protocol,mountaddr[,operation|transport|mountpoint]}`. As
//! upstream's `mountstats_linux.go` over procfs' `MountStats` and `MountInfo`:
//!
//! - the exporter's own mount namespace is read (`<procfs>/self/...`), as upstream does (which
//!   refuses to start when `<procfs>/self` is missing; here the collector then has no data);
//! - `mountaddr` is the `addr=` super option of the mount at the same position in
//!   `/proc/self/mountinfo` (the kernel lists mounts in the same order in both files);
//! - a device, protocol and address seen before is skipped (one NFS export mounted twice), but
//!   each mount point still gets its `mountpoint_info`;
//! - the operation times and the idle time are taken modulo 2^53 first, as upstream does so the
//!   float keeps every digit;
//! - any line procfs refuses fails the whole collector.

use std::collections::HashSet;
use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Mountstats {
        mountstats: paths.proc("self/mountstats"),
        mountinfo: paths.proc("self/mountinfo"),
    }))
}

struct Mountstats {
    mountstats: PathBuf,
    mountinfo: PathBuf,
}

/// 2^53: upstream's `float64Mantissa`.
const MANTISSA: u64 = 1 << 53;

/// `(metric suffix, HELP)` of the eight `bytes:` fields, in the kernel's order.
const BYTES: [(&str, &str); 8] = [
    (
        "read_bytes_total",
        "Number of bytes read using the read() syscall.",
    ),
    (
        "write_bytes_total",
        "Number of bytes written using the write() syscall.",
    ),
    (
        "direct_read_bytes_total",
        "Number of bytes read using the read() syscall in O_DIRECT mode.",
    ),
    (
        "direct_write_bytes_total",
        "Number of bytes written using the write() syscall in O_DIRECT mode.",
    ),
    (
        "total_read_bytes_total",
        "Number of bytes read from the NFS server, in total.",
    ),
    (
        "total_write_bytes_total",
        "Number of bytes written to the NFS server, in total.",
    ),
    (
        "read_pages_total",
        "Number of pages read directly via mmap()'d files.",
    ),
    (
        "write_pages_total",
        "Number of pages written directly via mmap()'d files.",
    ),
];

/// `(index in the events: line, metric suffix, HELP)`. Index 18 (congestion wait) is not
/// exported upstream. Two HELP texts repeat another's, as upstream's do.
const EVENTS: [(usize, &str, &str); 26] = [
    (
        0,
        "event_inode_revalidate_total",
        "Number of times cached inode attributes are re-validated from the server.",
    ),
    (
        1,
        "event_dnode_revalidate_total",
        "Number of times cached dentry nodes are re-validated from the server.",
    ),
    (
        2,
        "event_data_invalidate_total",
        "Number of times an inode cache is cleared.",
    ),
    (
        3,
        "event_attribute_invalidate_total",
        "Number of times cached inode attributes are invalidated.",
    ),
    (
        4,
        "event_vfs_open_total",
        "Number of times cached inode attributes are invalidated.",
    ),
    (
        5,
        "event_vfs_lookup_total",
        "Number of times a directory lookup has occurred.",
    ),
    (
        6,
        "event_vfs_access_total",
        "Number of times permissions have been checked.",
    ),
    (
        7,
        "event_vfs_update_page_total",
        "Number of updates (and potential writes) to pages.",
    ),
    (
        8,
        "event_vfs_read_page_total",
        "Number of pages read directly via mmap()'d files.",
    ),
    (
        9,
        "event_vfs_read_pages_total",
        "Number of times a group of pages have been read.",
    ),
    (
        10,
        "event_vfs_write_page_total",
        "Number of pages written directly via mmap()'d files.",
    ),
    (
        11,
        "event_vfs_write_pages_total",
        "Number of times a group of pages have been written.",
    ),
    (
        12,
        "event_vfs_getdents_total",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        13,
        "event_vfs_setattr_total",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        14,
        "event_vfs_flush_total",
        "Number of pending writes that have been forcefully flushed to the server.",
    ),
    (
        15,
        "event_vfs_fsync_total",
        "Number of times fsync() has been called on directories and files.",
    ),
    (
        16,
        "event_vfs_lock_total",
        "Number of times locking has been attempted on a file.",
    ),
    (
        17,
        "event_vfs_file_release_total",
        "Number of times files have been closed and released.",
    ),
    (
        19,
        "event_truncation_total",
        "Number of times files have been truncated.",
    ),
    (
        20,
        "event_write_extension_total",
        "Number of times a file has been grown due to writes beyond its existing end.",
    ),
    (
        21,
        "event_silly_rename_total",
        "Number of times a file was removed while still open by another process.",
    ),
    (
        22,
        "event_short_read_total",
        "Number of times the NFS server gave less data than expected while reading.",
    ),
    (
        23,
        "event_short_write_total",
        "Number of times the NFS server wrote less data than expected while writing.",
    ),
    (
        24,
        "event_jukebox_delay_total",
        "Number of times the NFS server indicated EJUKEBOX; retrieving data from offline storage.",
    ),
    (
        25,
        "event_pnfs_read_total",
        "Number of NFS v4.1+ pNFS reads.",
    ),
    (
        26,
        "event_pnfs_write_total",
        "Number of NFS v4.1+ pNFS writes.",
    ),
];

impl Collector for Mountstats {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.mountstats)
            .map_err(|e| CollectError::from_io(&self.mountstats, e))?;
        let mounts = parse_mountstats(&text)
            .map_err(|e| anyhow::anyhow!("failed to parse mountstats: {e}"))?;
        let info = crate::sys::read::string(&self.mountinfo)
            .map_err(|e| anyhow::anyhow!("failed to parse mountinfo: {e}"))?;
        let addrs = parse_mountinfo_addrs(&info)
            .map_err(|e| anyhow::anyhow!("failed to parse mountinfo: {e}"))?;
        let mut devices = HashSet::new();
        let mut mountpoints = HashSet::new();
        for (idx, m) in mounts.iter().enumerate() {
            let Some(stats) = &m.nfs else { continue };
            let addr = addrs.get(idx).cloned().flatten().unwrap_or_default();
            for t in &stats.transports {
                if mountpoints.insert((
                    m.device.clone(),
                    t.protocol.clone(),
                    addr.clone(),
                    m.mount.clone(),
                )) {
                    out.gauge(
                        "node_mountstats_nfs_mountpoint_info",
                        "Info metric for an NFS mountpoint.",
                        &[
                            ("export", &m.device),
                            ("protocol", &t.protocol),
                            ("mountaddr", &addr),
                            ("mountpoint", &m.mount),
                        ],
                        1.0,
                    );
                }
                if !devices.insert((m.device.clone(), t.protocol.clone(), addr.clone())) {
                    tracing::debug!(device = %m.device, protocol = %t.protocol, "Skipping duplicate device entry");
                    break;
                }
                write_stats(out, stats, &m.device, &t.protocol, &addr);
            }
        }
        Ok(())
    }
}

fn write_stats(out: &mut Exposition, s: &NfsStats, export: &str, protocol: &str, addr: &str) {
    let labels = [
        ("export", export),
        ("protocol", protocol),
        ("mountaddr", addr),
    ];
    let name = |suffix: &str| format!("node_mountstats_nfs_{suffix}");
    out.counter(
        &name("age_seconds_total"),
        "The age of the NFS mount in seconds.",
        &labels,
        s.age_seconds,
    );
    for (i, (suffix, help)) in BYTES.iter().enumerate() {
        out.counter(&name(suffix), help, &labels, s.bytes[i] as f64);
    }
    for (i, t) in s.transports.iter().enumerate() {
        let index = i.to_string();
        let l = [
            ("export", export),
            ("protocol", protocol),
            ("mountaddr", addr),
            ("transport", index.as_str()),
        ];
        let counters: [(&str, &str, u64); 8] = [
            ("transport_bind_total", "Number of times the client has had to establish a connection from scratch to the NFS server.", t.bind),
            ("transport_connect_total", "Number of times the client has made a TCP connection to the NFS server.", t.connect),
            ("transport_sends_total", "Number of RPC requests for this mount sent to the NFS server.", t.sends),
            ("transport_receives_total", "Number of RPC responses for this mount received from the NFS server.", t.receives),
            ("transport_bad_transaction_ids_total", "Number of times the NFS server sent a response with a transaction ID unknown to this client.", t.bad_xids),
            ("transport_backlog_queue_total", "Total number of items added to the RPC backlog queue.", t.backlog),
            ("transport_sending_queue_total", "Total number of items added to the RPC transmission sending queue.", t.sending_queue),
            ("transport_pending_queue_total", "Total number of items added to the RPC transmission pending queue.", t.pending_queue),
        ];
        for (suffix, help, v) in counters {
            out.counter(&name(suffix), help, &l, v as f64);
        }
        out.gauge(
            &name("transport_idle_time_seconds"),
            "Duration since the NFS mount last saw any RPC traffic, in seconds.",
            &l,
            (t.idle_time_seconds % MANTISSA) as f64,
        );
        out.gauge(
            &name("transport_maximum_rpc_slots"),
            "Maximum number of simultaneously active RPC requests ever used.",
            &l,
            t.max_slots as f64,
        );
    }
    for op in &s.operations {
        let l = [
            ("export", export),
            ("protocol", protocol),
            ("mountaddr", addr),
            ("operation", op.name.as_str()),
        ];
        let v = &op.values;
        let counters: [(&str, &str, f64); 8] = [
            ("operations_requests_total", "Number of requests performed for a given operation.", v[0] as f64),
            ("operations_transmissions_total", "Number of times an actual RPC request has been transmitted for a given operation.", v[1] as f64),
            ("operations_major_timeouts_total", "Number of times a request has had a major timeout for a given operation.", v[2] as f64),
            ("operations_sent_bytes_total", "Number of bytes sent for a given operation, including RPC headers and payload.", v[3] as f64),
            ("operations_received_bytes_total", "Number of bytes received for a given operation, including RPC headers and payload.", v[4] as f64),
            (
                "operations_queue_time_seconds_total",
                "Duration all requests spent queued for transmission for a given operation before they were sent, in seconds.",
                (v[5] % MANTISSA) as f64 / 1000.0,
            ),
            (
                "operations_response_time_seconds_total",
                "Duration all requests took to get a reply back after a request for a given operation was transmitted, in seconds.",
                (v[6] % MANTISSA) as f64 / 1000.0,
            ),
            (
                "operations_request_time_seconds_total",
                "Duration all requests took from when a request was enqueued to when it was completely handled for a given operation, in seconds.",
                (v[7] % MANTISSA) as f64 / 1000.0,
            ),
        ];
        for (suffix, help, value) in counters {
            out.counter(&name(suffix), help, &l, value);
        }
    }
    for (i, suffix, help) in EVENTS {
        out.counter(&name(suffix), help, &labels, s.events[i] as f64);
    }
}

/// One `device ... mounted on ... with fstype ...` entry.
#[derive(Debug, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mount: String,
    pub fstype: String,
    /// The statistics that follow an `nfs`/`nfs4` entry with `statvers=`.
    pub nfs: Option<NfsStats>,
}

#[derive(Debug, PartialEq, Default)]
pub struct NfsStats {
    pub age_seconds: f64,
    pub bytes: [u64; 8],
    pub events: [u64; 27],
    pub transports: Vec<Transport>,
    pub operations: Vec<Operation>,
}

/// An `xprt:` line, its fields placed as procfs places them (UDP has no connect count or idle
/// times; RDMA's extra counters are not exported).
#[derive(Debug, PartialEq, Default, Clone)]
pub struct Transport {
    pub protocol: String,
    pub bind: u64,
    pub connect: u64,
    pub idle_time_seconds: u64,
    pub sends: u64,
    pub receives: u64,
    pub bad_xids: u64,
    pub backlog: u64,
    pub max_slots: u64,
    pub sending_queue: u64,
    pub pending_queue: u64,
}

/// A per-op line: `READ: requests transmissions timeouts sent received queue rtt execute
/// [errors]`.
#[derive(Debug, PartialEq)]
pub struct Operation {
    pub name: String,
    pub values: [u64; 8],
}

fn u64s(fields: &[&str]) -> Result<Vec<u64>, String> {
    fields
        .iter()
        .map(|f| f.parse::<u64>().map_err(|e| format!("{f:?}: {e}")))
        .collect()
}

/// The entries of `/proc/self/mountstats`, with NFS statistics where the kernel gives them.
pub fn parse_mountstats(text: &str) -> Result<Vec<Mount>, String> {
    let mut lines = text.lines();
    let mut mounts = Vec::new();
    while let Some(line) = lines.next() {
        let ss: Vec<&str> = line.split_whitespace().collect();
        if ss.first() != Some(&"device") {
            continue;
        }
        if ss.len() < 8
            || ss[2] != "mounted"
            || ss[3] != "on"
            || ss[5] != "with"
            || ss[6] != "fstype"
        {
            return Err(format!("invalid device {ss:?}"));
        }
        let mut m = Mount {
            device: ss[1].to_string(),
            mount: ss[4].to_string(),
            fstype: ss[7].to_string(),
            nfs: None,
        };
        if ss.len() > 8 {
            if m.fstype != "nfs" && m.fstype != "nfs4" {
                return Err(format!("cannot parse MountStats for {:?}", m.fstype));
            }
            let version = ss[8].strip_prefix("statvers=").unwrap_or(ss[8]);
            m.nfs = Some(parse_nfs(&mut lines, version)?);
        }
        mounts.push(m);
    }
    Ok(mounts)
}

/// The lines after an NFS device entry: fields until a blank line or `per-op`, then operation
/// lines until a blank line (procfs reads the operations in both cases).
fn parse_nfs<'a>(
    lines: &mut impl Iterator<Item = &'a str>,
    version: &str,
) -> Result<NfsStats, String> {
    let mut s = NfsStats::default();
    for line in lines.by_ref() {
        let ss: Vec<&str> = line.split_whitespace().collect();
        let Some(&key) = ss.first() else { break };
        let short = || format!("incomplete information for NFS stats: {ss:?}");
        match key {
            "age:" => {
                let v = ss.get(1).ok_or_else(short)?;
                s.age_seconds = crate::sys::go::go_parse_float(v)
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| format!("invalid age {v:?}"))?;
            }
            "bytes:" => {
                if ss.len() < 2 {
                    return Err(short());
                }
                let v = u64s(&ss[1..])?;
                s.bytes = v
                    .try_into()
                    .map_err(|_| format!("invalid NFS bytes stats: {:?}", &ss[1..]))?;
            }
            "events:" => {
                if ss.len() < 2 {
                    return Err(short());
                }
                let v = u64s(&ss[1..])?;
                s.events = v
                    .try_into()
                    .map_err(|_| format!("invalid NFS events stats: {:?}", &ss[1..]))?;
            }
            "xprt:" => {
                if ss.len() < 3 {
                    return Err(short());
                }
                s.transports.push(parse_transport(&ss[1..], version)?);
            }
            "opts:" if ss.len() < 2 => return Err(short()),
            "per-op" => break,
            _ => {}
        }
    }
    for line in lines.by_ref() {
        let ss: Vec<&str> = line.split_whitespace().collect();
        if ss.is_empty() {
            break;
        }
        if ss.len() < 9 {
            return Err(format!("invalid NFS per-operations stats: {ss:?}"));
        }
        let v = u64s(&ss[1..])?;
        let mut values = [0u64; 8];
        values.copy_from_slice(&v[..8]);
        s.operations.push(Operation {
            name: ss[0].trim_end_matches(':').to_string(),
            values,
        });
    }
    Ok(s)
}

/// `xprt: tcp port bind connect connect_idle idle sends recvs bad_xids active backlog [max_slots
/// sending pending]` (udp lacks connect, connect_idle and idle).
fn parse_transport(ss: &[&str], version: &str) -> Result<Transport, String> {
    let protocol = ss[0];
    let rest = &ss[1..];
    let ok = match (version, protocol) {
        ("1.0", "tcp") => rest.len() == 10,
        ("1.0", "udp") => rest.len() == 7,
        ("1.1", "tcp") => rest.len() == 13,
        ("1.1", "udp") => rest.len() == 10,
        // procfs stores at most 31 values (more would overrun its array: a panic there).
        ("1.1", "rdma") => (20..=31).contains(&rest.len()),
        ("1.0" | "1.1", _) => {
            return Err(format!(
                "invalid NFS protocol {protocol:?} in stats {version} statement: {rest:?}"
            ))
        }
        _ => {
            return Err(format!(
                "unrecognized NFS transport stats version: {version:?}, protocol: {protocol}"
            ))
        }
    };
    if !ok {
        return Err(format!(
            "invalid NFS transport stats {version} statement: {rest:?}, protocol: {protocol}"
        ));
    }
    let mut n = u64s(rest)?;
    n.resize(31, 0);
    match protocol {
        // No connect count, connect idle time or idle time.
        "udp" => {
            n.splice(2..2, [0, 0, 0]);
        }
        // RDMA has no slot or queue counters: its own counters start there.
        "rdma" => {
            n.splice(10..10, [0, 0, 0]);
        }
        _ => {}
    }
    Ok(Transport {
        protocol: protocol.to_string(),
        bind: n[1],
        connect: n[2],
        idle_time_seconds: n[4],
        sends: n[5],
        receives: n[6],
        bad_xids: n[7],
        backlog: n[9],
        max_slots: if protocol == "tcp" || protocol == "udp" {
            n[10]
        } else {
            0
        },
        sending_queue: if protocol == "rdma" { 0 } else { n[11] },
        pending_queue: if protocol == "rdma" { 0 } else { n[12] },
    })
}

/// The `addr=` super option of each line of `/proc/self/mountinfo`, in order. A line procfs
/// would refuse (too few fields, no `-` separator where expected, bad ids) fails the file.
pub fn parse_mountinfo_addrs(text: &str) -> Result<Vec<Option<String>>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let n = f.len();
        if n < 10 {
            return Err(format!("too few fields in mount string: {line}"));
        }
        if f[n - 4] != "-" {
            return Err(format!(
                "couldn't find separator in expected field: {}",
                f[n - 4]
            ));
        }
        if f[0].parse::<i64>().is_err() || f[1].parse::<i64>().is_err() {
            return Err(format!("bad mount or parent id in: {line}"));
        }
        // The last value of a repeated key wins, as in procfs' map.
        let addr = f[n - 1].split(',').rev().find_map(|opt| {
            let mut kv = opt.split('=');
            (kv.next() == Some("addr")).then(|| kv.next().unwrap_or("").to_string())
        });
        out.push(addr);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
