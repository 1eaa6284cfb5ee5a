//! The `filesystem` collector: size, free and available bytes, inodes and read-only state of every
//! mounted filesystem, as node_exporter 1.12 exposes them.
//!
//! Mounts come from `/proc/1/mountinfo` (falling back to `/proc/self/mountinfo` when `hidepid`
//! hides PID 1), as upstream's `GetProcMounts(1)` does: mountinfo, unlike `/proc/mounts`, has the
//! device numbers `node_filesystem_mount_info` needs and the superblock options that tell a
//! read-only filesystem.
//!
//! `statfs(2)` on a dead NFS server or a wedged FUSE daemon blocks, possibly forever (node_exporter
//! issue #244). Upstream marks such a mount as stuck after `--collector.filesystem.mount-timeout`
//! but still waits for the call, so that scrape hangs. Here every `statfs` runs on one of
//! `--collector.filesystem.stat-workers` helper threads and the collector stops waiting at the
//! mount timeout: a mount that has not answered by then gets `node_filesystem_device_error 1`
//! with `device_error="mountpoint timeout"`, is remembered as stuck and skipped (reported the same
//! way, without a new thread) on later scrapes until its blocked call finally returns.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::{Filter, FlagPair, IncludeAlone};

/// node_exporter's `defMountPointsExcluded` on Linux.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter's `defFSTypesExcluded` on Linux (erofs since 1.10).
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";

/// The `device_error` label of a mount whose statfs did not answer in time.
const TIMEOUT_ERROR: &str = "mountpoint timeout";

/// Flags of the `filesystem` collector.
#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// Regexp of mount points to exclude for filesystem collector. (mutually exclusive to mount-points-include) [default: ^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)]
    // Options rather than clap defaults: an include given alone replaces the default exclude,
    // so we must know whether the exclude was set.
    #[arg(
        long = "collector.filesystem.mount-points-exclude",
        id = "collector.filesystem.mount-points-exclude",
        value_name = "REGEX"
    )]
    pub mount_points_exclude: Option<String>,

    /// Regexp of mount points to include for filesystem collector. (mutually exclusive to mount-points-exclude)
    #[arg(
        long = "collector.filesystem.mount-points-include",
        id = "collector.filesystem.mount-points-include",
        value_name = "REGEX"
    )]
    pub mount_points_include: Option<String>,

    /// Regexp of mount points to ignore for filesystem collector.
    #[arg(
        long = "collector.filesystem.ignored-mount-points",
        id = "collector.filesystem.ignored-mount-points",
        value_name = "REGEX",
        hide = true
    )]
    pub ignored_mount_points: Option<String>,

    /// Regexp of filesystem types to exclude for filesystem collector. (mutually exclusive to fs-types-include) [default: ^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$]
    #[arg(
        long = "collector.filesystem.fs-types-exclude",
        id = "collector.filesystem.fs-types-exclude",
        value_name = "REGEX"
    )]
    pub fs_types_exclude: Option<String>,

    /// Regexp of filesystem types to exclude for filesystem collector. (mutually exclusive to fs-types-exclude)
    // Upstream's help says "exclude" here too; kept word for word.
    #[arg(
        long = "collector.filesystem.fs-types-include",
        id = "collector.filesystem.fs-types-include",
        value_name = "REGEX"
    )]
    pub fs_types_include: Option<String>,

    /// Regexp of filesystem types to ignore for filesystem collector.
    #[arg(
        long = "collector.filesystem.ignored-fs-types",
        id = "collector.filesystem.ignored-fs-types",
        value_name = "REGEX",
        hide = true
    )]
    pub ignored_fs_types: Option<String>,

    /// how long to wait for a mount to respond before marking it as stale
    #[arg(
        long = "collector.filesystem.mount-timeout",
        id = "collector.filesystem.mount-timeout",
        default_value = "5s",
        value_parser = exporter_core::cli::parse_duration,
        value_name = "DURATION",
        hide = true
    )]
    pub mount_timeout: Duration,

    /// how many stat calls to process simultaneously
    #[arg(
        long = "collector.filesystem.stat-workers",
        id = "collector.filesystem.stat-workers",
        default_value_t = 4,
        value_name = "N",
        hide = true
    )]
    pub stat_workers: i64,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            mount_points_exclude: None,
            mount_points_include: None,
            ignored_mount_points: None,
            fs_types_exclude: None,
            fs_types_include: None,
            ignored_fs_types: None,
            mount_timeout: Duration::from_secs(5),
            stat_workers: 4,
        }
    }
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Filesystem::new(paths, args, Arc::new(statfs))?))
}

/// What `statfs(2)` tells about one filesystem, in the units node_exporter uses.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FsStats {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    /// `f_bsize`, which upstream multiplies the block counts by.
    pub bsize: u64,
}

/// The statfs function, injectable so tests can simulate a hung mount.
pub type StatFn = dyn Fn(&Path) -> io::Result<FsStats> + Send + Sync;

/// `statfs(2)` on a path.
// The field types differ between architectures (u32 on some 32-bit ones), hence the casts.
#[allow(clippy::unnecessary_cast)]
pub fn statfs(path: &Path) -> io::Result<FsStats> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut buf = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `c` is a valid NUL-terminated path and `buf` is a properly sized, writable
    // statfs struct that the kernel fills in on success.
    let rc = unsafe { libc::statfs(c.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statfs returned 0, so the struct is initialised (it was zeroed besides).
    let s = unsafe { buf.assume_init() };
    Ok(FsStats {
        blocks: s.f_blocks as u64,
        bfree: s.f_bfree as u64,
        bavail: s.f_bavail as u64,
        files: s.f_files as u64,
        ffree: s.f_ffree as u64,
        bsize: s.f_bsize as u64,
    })
}

/// One line of mountinfo, reduced to what the collector uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mount_point: String,
    pub fs_type: String,
    pub major: String,
    pub minor: String,
    pub read_only: bool,
}

/// Parses `/proc/<pid>/mountinfo` (proc(5)):
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
/// The fields after the optional ones are found from the end, as procfs does; malformed lines
/// are skipped rather than failing the whole collector.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let n = f.len();
        if n < 10 || f[n - 4] != "-" {
            continue;
        }
        let Some((major, minor)) = f[2].split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else {
            continue;
        };
        // Like node_exporter, only space and tab are unescaped in the mount point (fstab(5)).
        let mount_point = f[4].replace("\\040", " ").replace("\\011", "\t");
        let has = |opts: &str, want: &str| opts.split(',').any(|o| o == want);
        // Read-only if the mount or the superblock says so; since Linux 6.15 an ext4 that hit
        // errors=remount-ro shows `emergency_ro` in the superblock options instead of `ro`
        // (node_exporter 1.12, #3717).
        let read_only = has(f[5], "ro") || has(f[n - 1], "ro") || has(f[n - 1], "emergency_ro");
        out.push(Mount {
            device: f[n - 2].to_string(),
            mount_point,
            fs_type: f[n - 3].to_string(),
            major: major.to_string(),
            minor: minor.to_string(),
            read_only,
        });
    }
    out
}

/// The text Go gives for an errno (`syscall.Errno.Error()`): the C library's message with a
/// lower-case first letter, e.g. "permission denied", which upstream puts in `device_error`.
pub fn go_error_string(e: &io::Error) -> String {
    let mut s = match e.raw_os_error() {
        Some(code) => {
            let full = io::Error::from_raw_os_error(code).to_string();
            match full.rfind(" (os error ") {
                Some(i) => full[..i].to_string(),
                None => full,
            }
        }
        None => e.to_string(),
    };
    if let Some(first) = s.get(..1) {
        let lower = first.to_ascii_lowercase();
        s.replace_range(..1, &lower);
    }
    s
}

struct Filesystem {
    paths: Paths,
    mount_filter: Filter,
    fs_type_filter: Filter,
    timeout: Duration,
    workers: usize,
    stat: Arc<StatFn>,
    /// Mount points whose statfs is still blocked in the kernel, shared with those threads.
    stuck: Arc<Mutex<HashSet<String>>>,
}

/// The outcome of one mount.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Stats(FsStats),
    Error(String),
}

/// One scrape's statfs jobs, shared with its worker threads under one lock.
struct Jobs {
    queue: VecDeque<usize>,
    finished: Vec<bool>,
    /// The collector stopped waiting for these; their threads drop the result.
    abandoned: Vec<bool>,
}

impl Filesystem {
    fn new(paths: &Paths, args: &Args, stat: Arc<StatFn>) -> Result<Self, UsageError> {
        let flags = |name, deprecated, default_exclude| FlagPair {
            prefix: "collector.filesystem",
            name,
            deprecated,
            default_exclude,
            include_alone: IncludeAlone::DropsAny,
        };
        let mount_filter = flags(
            "mount-points",
            "ignored-mount-points",
            DEFAULT_MOUNT_POINTS_EXCLUDE,
        )
        .resolve(
            args.mount_points_include.as_deref(),
            args.mount_points_exclude.as_deref(),
            args.ignored_mount_points.as_deref(),
        )?;
        let fs_type_filter = flags("fs-types", "ignored-fs-types", DEFAULT_FS_TYPES_EXCLUDE)
            .resolve(
                args.fs_types_include.as_deref(),
                args.fs_types_exclude.as_deref(),
                args.ignored_fs_types.as_deref(),
            )?;
        Ok(Self {
            paths: paths.clone(),
            mount_filter,
            fs_type_filter,
            timeout: args.mount_timeout,
            // Upstream: max(stat-workers, 1).
            workers: args.stat_workers.max(1) as usize,
            stat,
            stuck: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    fn mounts(&self) -> Result<Vec<Mount>, CollectError> {
        let path = self.paths.proc("1/mountinfo");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e)
                if crate::sys::read::is_missing(&e)
                    || e.kind() == io::ErrorKind::PermissionDenied =>
            {
                tracing::debug!(err = %e, "Reading root mounts failed, falling back to self mounts");
                let path = self.paths.proc("self/mountinfo");
                std::fs::read(&path).map_err(|e| CollectError::from_io(&path, e))?
            }
            Err(e) => return Err(CollectError::from_io(&path, e)),
        };
        // Mount points need not be UTF-8; a lossy name still labels the mount (1.12, #3687).
        Ok(parse_mountinfo(&String::from_utf8_lossy(&bytes)))
    }

    /// Runs statfs for each path on helper threads and waits at most the mount timeout.
    fn stat_all(&self, targets: &[(String, PathBuf)]) -> Vec<Outcome> {
        let n = targets.len();
        let mut results: Vec<Option<Outcome>> = vec![None; n];
        if n == 0 {
            return Vec::new();
        }
        let deadline = Instant::now() + self.timeout;
        let jobs = Arc::new(Mutex::new(Jobs {
            queue: (0..n).collect(),
            finished: vec![false; n],
            abandoned: vec![false; n],
        }));
        let targets: Arc<Vec<(String, PathBuf)>> = Arc::new(targets.to_vec());
        let (tx, rx) = mpsc::channel::<(usize, io::Result<FsStats>)>();
        for _ in 0..self.workers.min(n) {
            let jobs = jobs.clone();
            let targets = targets.clone();
            let tx = tx.clone();
            let stat = self.stat.clone();
            let stuck = self.stuck.clone();
            let spawned = crate::threads::spawn("statfs", move || {
                stat_worker(&jobs, &targets, &tx, stat.as_ref(), &stuck)
            });
            if let Err(e) = spawned {
                tracing::error!(err = %e, "cannot start a statfs thread");
            }
        }
        drop(tx);

        let mut pending = n;
        while pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((i, r)) => {
                    results[i] = Some(match r {
                        Ok(s) => Outcome::Stats(s),
                        Err(e) => Outcome::Error(go_error_string(&e)),
                    });
                    pending -= 1;
                }
                // Deadline, or no thread could be started: give up on what is left.
                Err(_) => break,
            }
        }
        if pending > 0 {
            let mut j = jobs.lock().unwrap_or_else(|p| p.into_inner());
            let mut stuck = self.stuck.lock().unwrap_or_else(|p| p.into_inner());
            let queued: HashSet<usize> = j.queue.drain(..).collect();
            for i in 0..n {
                if j.finished[i] {
                    continue;
                }
                j.abandoned[i] = true;
                // A call in flight is blocked in the kernel: skip this mount until it returns.
                // One never started is only reported, not remembered.
                if !queued.contains(&i) {
                    tracing::debug!(mountpoint = %targets[i].0, "Mount point timed out, it is being labeled as stuck and will not be monitored");
                    stuck.insert(targets[i].0.clone());
                }
                results[i] = Some(Outcome::Error(TIMEOUT_ERROR.to_string()));
            }
        }
        // Results sent just before the deadline are still in the channel.
        while let Ok((i, r)) = rx.try_recv() {
            if results[i].is_none() || results[i] == Some(Outcome::Error(TIMEOUT_ERROR.into())) {
                results[i] = Some(match r {
                    Ok(s) => Outcome::Stats(s),
                    Err(e) => Outcome::Error(go_error_string(&e)),
                });
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Outcome::Error(TIMEOUT_ERROR.to_string())))
            .collect()
    }
}

fn stat_worker(
    jobs: &Mutex<Jobs>,
    targets: &[(String, PathBuf)],
    tx: &mpsc::Sender<(usize, io::Result<FsStats>)>,
    stat: &StatFn,
    stuck: &Mutex<HashSet<String>>,
) {
    loop {
        let next = jobs.lock().map(|mut j| j.queue.pop_front()).unwrap_or(None);
        let Some(i) = next else { return };
        let result = stat(&targets[i].1);
        let Ok(mut j) = jobs.lock() else { return };
        j.finished[i] = true;
        if j.abandoned[i] {
            // The collector gave up on this call; it has returned now, so the mount is
            // monitored again from the next scrape on (upstream's recovery).
            if let Ok(mut s) = stuck.lock() {
                if s.remove(&targets[i].0) {
                    tracing::debug!(mountpoint = %targets[i].0, "Mount point has recovered, monitoring will resume");
                }
            }
            // Another thread may be waiting on the queue's jobs; this one was replaced by the
            // deadline, so stop here.
            return;
        }
        // Sent under the lock so the collector's deadline handling sees either the result in
        // the channel or the job unfinished, never neither.
        if tx.send((i, result)).is_err() {
            return;
        }
    }
}

impl Collector for Filesystem {
    /// One blocked `statfs` thread per stuck mount point: it leaves the set when its call returns.
    fn stuck(&self) -> usize {
        self.stuck.lock().map_or(0, |s| s.len())
    }

    fn update(&self, out: &mut Exposition) -> CollectResult {
        let mounts = self.mounts()?;
        // (labels, read-only, index into the statfs targets or None when skipped as stuck)
        let mut entries: Vec<(Mount, Option<usize>)> = Vec::with_capacity(mounts.len());
        let mut targets: Vec<(String, PathBuf)> = Vec::new();
        {
            let stuck = self.stuck.lock().unwrap_or_else(|p| p.into_inner());
            for mut m in mounts {
                m.mount_point = self.paths.strip_rootfs(&m.mount_point).to_string();
                if self.mount_filter.ignored(&m.mount_point) {
                    tracing::debug!(mountpoint = %m.mount_point, "Ignoring mount point");
                    continue;
                }
                if self.fs_type_filter.ignored(&m.fs_type) {
                    tracing::debug!(r#type = %m.fs_type, "Ignoring fs type");
                    continue;
                }
                if stuck.contains(&m.mount_point) {
                    tracing::debug!(mountpoint = %m.mount_point, "Mount point is in an unresponsive state");
                    entries.push((m, None));
                    continue;
                }
                targets.push((m.mount_point.clone(), self.paths.root(&m.mount_point)));
                entries.push((m, Some(targets.len() - 1)));
            }
        }
        let outcomes = self.stat_all(&targets);

        // A filesystem mounted twice at the same place (bind mounts, /dev/pts here and in a
        // namespace) would give duplicate series; upstream keeps the first.
        let mut seen: HashSet<(String, String, String, String, String, String)> = HashSet::new();
        for (m, idx) in entries {
            let outcome = match idx {
                Some(i) => outcomes[i].clone(),
                None => Outcome::Error(TIMEOUT_ERROR.to_string()),
            };
            let error = match &outcome {
                Outcome::Stats(_) => String::new(),
                Outcome::Error(e) => e.clone(),
            };
            let key = (
                m.device.clone(),
                m.mount_point.clone(),
                m.fs_type.clone(),
                error.clone(),
                m.major.clone(),
                m.minor.clone(),
            );
            if !seen.insert(key) {
                continue;
            }
            let labels = [
                ("device", m.device.as_str()),
                ("mountpoint", m.mount_point.as_str()),
                ("fstype", m.fs_type.as_str()),
                ("device_error", error.as_str()),
            ];
            let failed = !matches!(outcome, Outcome::Stats(_));
            out.gauge(
                "node_filesystem_device_error",
                "Whether an error occurred while getting statistics for the given device.",
                &labels,
                if failed { 1.0 } else { 0.0 },
            );
            out.gauge(
                "node_filesystem_readonly",
                "Filesystem read-only status.",
                &labels,
                if m.read_only { 1.0 } else { 0.0 },
            );
            let Outcome::Stats(s) = outcome else { continue };
            let bsize = s.bsize as f64;
            for (name, help, v) in [
                (
                    "node_filesystem_size_bytes",
                    "Filesystem size in bytes.",
                    s.blocks as f64 * bsize,
                ),
                (
                    "node_filesystem_free_bytes",
                    "Filesystem free space in bytes.",
                    s.bfree as f64 * bsize,
                ),
                (
                    "node_filesystem_avail_bytes",
                    "Filesystem space available to non-root users in bytes.",
                    s.bavail as f64 * bsize,
                ),
                (
                    "node_filesystem_files",
                    "Filesystem total file nodes.",
                    s.files as f64,
                ),
                (
                    "node_filesystem_files_free",
                    "Filesystem total free file nodes.",
                    s.ffree as f64,
                ),
            ] {
                out.gauge(name, help, &labels, v);
            }
            out.gauge(
                "node_filesystem_mount_info",
                "Filesystem mount information.",
                &[
                    ("device", m.device.as_str()),
                    ("major", m.major.as_str()),
                    ("minor", m.minor.as_str()),
                    ("mountpoint", m.mount_point.as_str()),
                ],
                1.0,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, proc_at, render, write_file};

    // Shaped like this host's /proc/1/mountinfo (Linux 6.18) plus an NFS mount, a bind mount
    // with an optional field, a read-only superblock, an ext4 in emergency_ro and a space.
    const MOUNTINFO: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
24 22 0:5 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334432k,mode=755
30 22 0:40 / /mnt/nfs rw,relatime shared:9 - nfs4 server:/export rw,vers=4.2
31 22 254:0 /srv /mnt/bind ro,relatime master:1 - ext4 /dev/vda rw,discard
32 22 0:45 / /mnt/ro rw,relatime - squashfs /dev/loop0 ro
33 22 8:1 / /mnt/my\\040disk rw - ext4 /dev/sda1 rw,emergency_ro
garbage line
34 22 x:1 / /bad rw - ext4 /dev/sdb rw
";

    #[test]
    fn parses_mountinfo() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 7);
        assert_eq!(
            m[0],
            Mount {
                device: "/dev/vda".into(),
                mount_point: "/".into(),
                fs_type: "ext4".into(),
                major: "254".into(),
                minor: "0".into(),
                read_only: false,
            }
        );
        assert_eq!(m[3].device, "server:/export");
        assert_eq!(m[3].fs_type, "nfs4");
        assert!(m[4].read_only, "ro mount option");
        assert!(m[5].read_only, "ro superblock option");
        assert_eq!(m[6].mount_point, "/mnt/my disk");
        assert!(m[6].read_only, "emergency_ro");
    }

    #[test]
    fn errno_strings_match_go() {
        assert_eq!(
            go_error_string(&io::Error::from_raw_os_error(libc::EACCES)),
            "permission denied"
        );
        assert_eq!(
            go_error_string(&io::Error::from_raw_os_error(libc::ENOTCONN)),
            "transport endpoint is not connected"
        );
        assert_eq!(
            go_error_string(&io::Error::from_raw_os_error(libc::ENOENT)),
            "no such file or directory"
        );
    }

    #[test]
    fn filter_flags_resolve_like_upstream() {
        let f = |args: &Args| Filesystem::new(&Paths::default(), args, Arc::new(statfs));
        let c = f(&Args::default()).unwrap();
        assert!(c.mount_filter.ignored("/proc") && c.mount_filter.ignored("/sys/fs/cgroup"));
        assert!(c.mount_filter.ignored("/run/credentials/x.service"));
        assert!(!c.mount_filter.ignored("/") && !c.mount_filter.ignored("/run"));
        assert!(c.fs_type_filter.ignored("erofs") && !c.fs_type_filter.ignored("ext4"));

        let c = f(&Args {
            mount_points_include: Some("^/proc".into()),
            ..Args::default()
        })
        .unwrap();
        assert!(!c.mount_filter.ignored("/proc") && c.mount_filter.ignored("/"));

        assert!(f(&Args {
            fs_types_include: Some("ext4".into()),
            fs_types_exclude: Some("xfs".into()),
            ..Args::default()
        })
        .is_err());
        let c = f(&Args {
            ignored_fs_types: Some("^ext4$".into()),
            ..Args::default()
        })
        .unwrap();
        assert!(c.fs_type_filter.ignored("ext4") && !c.fs_type_filter.ignored("proc"));
        assert!(f(&Args {
            ignored_mount_points: Some("^/x".into()),
            mount_points_exclude: Some("^/y".into()),
            ..Args::default()
        })
        .is_err());
        let e = f(&Args {
            mount_points_exclude: Some("[".into()),
            ..Args::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("collector.filesystem.mount-points-exclude"),
            "{e}"
        );
    }

    fn tree(mountinfo: &str) -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        write_file(&dir.path().join("proc/1/mountinfo"), mountinfo);
        let paths = Paths {
            rootfs: PathBuf::from("/"),
            ..paths_in(dir.path())
        };
        (dir, paths)
    }

    /// A fake statfs: /mnt/nfs blocks until `release` is dropped, /mnt/bind fails with EACCES,
    /// everything else reports the same small filesystem.
    fn fake_stat(release: Arc<Mutex<()>>, calls: Arc<Mutex<Vec<PathBuf>>>) -> Arc<StatFn> {
        Arc::new(move |p: &Path| {
            calls.lock().unwrap().push(p.to_path_buf());
            if p == Path::new("/mnt/nfs") {
                let _held = release.lock().unwrap();
            }
            if p == Path::new("/mnt/bind") {
                return Err(io::Error::from_raw_os_error(libc::EACCES));
            }
            Ok(FsStats {
                blocks: 1000,
                bfree: 500,
                bavail: 400,
                files: 64,
                ffree: 32,
                bsize: 4096,
            })
        })
    }

    #[test]
    fn hung_statfs_does_not_hang_the_scrape() {
        let (_dir, paths) = tree(MOUNTINFO);
        let release = Arc::new(Mutex::new(()));
        let guard = release.lock().unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let args = Args {
            mount_timeout: Duration::from_millis(300),
            stat_workers: 2,
            ..Args::default()
        };
        let c = Filesystem::new(&paths, &args, fake_stat(release.clone(), calls.clone())).unwrap();

        let t0 = Instant::now();
        let text = render(&c).unwrap();
        let took = t0.elapsed();
        assert!(took < Duration::from_millis(1000), "took {took:?}");
        assert!(took >= Duration::from_millis(300), "took {took:?}");
        for line in [
            "node_filesystem_device_error{device=\"server:/export\",device_error=\"mountpoint timeout\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 1",
            "node_filesystem_readonly{device=\"server:/export\",device_error=\"mountpoint timeout\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 0",
            "node_filesystem_device_error{device=\"/dev/vda\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 0",
            "node_filesystem_size_bytes{device=\"/dev/vda\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 4.096e+06",
            "node_filesystem_free_bytes{device=\"/dev/vda\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 2.048e+06",
            "node_filesystem_avail_bytes{device=\"/dev/vda\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 1.6384e+06",
            "node_filesystem_files{device=\"/dev/vda\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 64",
            "node_filesystem_files_free{device=\"/dev/vda\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 32",
            "node_filesystem_mount_info{device=\"/dev/vda\",major=\"254\",minor=\"0\",mountpoint=\"/\"} 1",
            "node_filesystem_device_error{device=\"/dev/vda\",device_error=\"permission denied\",fstype=\"ext4\",mountpoint=\"/mnt/bind\"} 1",
            "node_filesystem_readonly{device=\"/dev/vda\",device_error=\"permission denied\",fstype=\"ext4\",mountpoint=\"/mnt/bind\"} 1",
            "node_filesystem_size_bytes{device=\"/dev/sda1\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/mnt/my disk\"} 4.096e+06",
            "node_filesystem_readonly{device=\"/dev/sda1\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/mnt/my disk\"} 1",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
        // No size samples for the failed mounts; /proc, /dev and squashfs are filtered out.
        assert!(!text.contains("node_filesystem_size_bytes{device=\"server:/export\""));
        assert!(!text
            .contains("node_filesystem_size_bytes{device=\"/dev/vda\",device_error=\"permission"));
        assert!(!text.contains("mount_info{device=\"server:/export\""));
        assert!(!text.contains("/proc") && !text.contains("squashfs"));
        assert!(c.stuck.lock().unwrap().contains("/mnt/nfs"));
        // What a shutdown now would name as abandoned.
        assert_eq!(Collector::stuck(&c), 1);

        // While the call is still blocked the mount is skipped: no new statfs, same answer, fast.
        let n_calls = calls.lock().unwrap().len();
        let t0 = Instant::now();
        let text = render(&c).unwrap();
        assert!(t0.elapsed() < Duration::from_millis(200));
        assert!(text.contains("node_filesystem_device_error{device=\"server:/export\",device_error=\"mountpoint timeout\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 1"));
        let second: Vec<PathBuf> = calls.lock().unwrap()[n_calls..].to_vec();
        assert!(!second.contains(&PathBuf::from("/mnt/nfs")), "{second:?}");

        // Once the blocked call returns, the mount recovers and is measured again.
        drop(guard);
        let t0 = Instant::now();
        while c.stuck.lock().unwrap().contains("/mnt/nfs") {
            assert!(t0.elapsed() < Duration::from_secs(5), "never recovered");
            std::thread::sleep(Duration::from_millis(5));
        }
        let text = render(&c).unwrap();
        assert!(text.contains("node_filesystem_size_bytes{device=\"server:/export\",device_error=\"\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 4.096e+06"));
        assert_eq!(Collector::stuck(&c), 0);
    }

    #[test]
    fn all_workers_hung_still_returns_in_time() {
        // Every mount hangs and there is one worker: the queued mounts are reported as timed
        // out without being remembered as stuck.
        let (_dir, paths) = tree(
            "30 22 0:40 / /mnt/nfs rw - nfs4 a:/x rw\n31 22 0:41 / /mnt/nfs2 rw - nfs4 b:/y rw\n",
        );
        let release = Arc::new(Mutex::new(()));
        let guard = release.lock().unwrap();
        let r2 = release.clone();
        let stat: Arc<StatFn> = Arc::new(move |_p: &Path| {
            let _held = r2.lock().unwrap();
            Ok(FsStats::default())
        });
        let args = Args {
            mount_timeout: Duration::from_millis(200),
            stat_workers: 1,
            ..Args::default()
        };
        let c = Filesystem::new(&paths, &args, stat).unwrap();
        let t0 = Instant::now();
        let text = render(&c).unwrap();
        assert!(t0.elapsed() < Duration::from_millis(800));
        assert!(text.contains("mountpoint=\"/mnt/nfs\"} 1"));
        assert!(text.contains("mountpoint=\"/mnt/nfs2\"} 1"));
        let stuck = c.stuck.lock().unwrap().clone();
        assert_eq!(stuck.len(), 1, "{stuck:?}");
        drop(guard);
    }

    #[test]
    fn duplicate_mounts_are_exposed_once_and_rootfs_is_stripped() {
        let (_dir, mut paths) = tree(
            "22 1 254:0 / /host rw - ext4 /dev/vda rw\n25 22 0:30 / /host/dev/pts rw - devpts devpts rw\n40 22 254:0 / /host rw - ext4 /dev/vda rw\n",
        );
        paths.rootfs = PathBuf::from("/host");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let c = Filesystem::new(
            &paths,
            &Args::default(),
            fake_stat(Arc::new(Mutex::new(())), calls.clone()),
        )
        .unwrap();
        let text = render(&c).unwrap();
        assert_eq!(
            text.matches("node_filesystem_size_bytes{").count(),
            1,
            "{text}"
        );
        assert!(text.contains("mountpoint=\"/\"} 4.096e+06"));
        // statfs ran on the host path seen through the rootfs.
        assert!(calls.lock().unwrap().contains(&PathBuf::from("/host")));
    }

    #[test]
    fn falls_back_to_self_mountinfo() {
        let dir = tempfile::tempdir().unwrap();
        write_file(
            &dir.path().join("proc/self/mountinfo"),
            "22 1 254:0 / / rw - ext4 /dev/vda rw\n",
        );
        let paths = proc_at(&dir.path().join("proc"));
        let c = Filesystem::new(
            &paths,
            &Args::default(),
            fake_stat(Arc::new(Mutex::new(())), Arc::new(Mutex::new(Vec::new()))),
        )
        .unwrap();
        assert!(render(&c)
            .unwrap()
            .contains("node_filesystem_files{device=\"/dev/vda\""));
    }

    #[test]
    fn real_statfs_of_root_works() {
        let s = statfs(Path::new("/")).unwrap();
        assert!(s.blocks > 0 && s.bsize > 0);
        assert!(statfs(Path::new("/nonexistent-path-for-test")).is_err());
    }
}
