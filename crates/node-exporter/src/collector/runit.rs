//! The `runit` collector (off by default and deprecated upstream): the state of each service in
//! `--collector.runit.servicedir`, from runsv's binary `supervise/status` file,
//! `node_service_*{service,supervisor="runit"}`. As upstream's `runit.go` over
//! prometheus-community/go-runit:
//!
//! - every directory or symlink in the service directory is a service; one whose status cannot
//!   be read (runsv not running) is skipped;
//! - `status` is 20 bytes: a TAI64 timestamp (big-endian, bytes 0-7), the pid (little-endian,
//!   12-15), the wanted state (`u`/`d`, byte 17) and the state (byte 19);
//! - "normally up" is the absence of `supervise/down`, go-runit's reading (runit itself keeps
//!   the `down` file in the service directory). Copied on purpose, so the series agree.
//!
//! The directory is read as given, not below `--path.rootfs`, as upstream.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// Path to runit service directory.
    #[arg(long = "collector.runit.servicedir", default_value = "/etc/service")]
    pub runit_servicedir: PathBuf,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            runit_servicedir: PathBuf::from("/etc/service"),
        }
    }
}

pub fn build(_paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    tracing::warn!(
        "This collector is deprecated and will be removed in the next major version release."
    );
    Ok(Box::new(Runit {
        dir: args.runit_servicedir.clone(),
    }))
}

struct Runit {
    dir: PathBuf,
}

/// TAI64's label for 1970-01-01 00:00:10 TAI, minus 10 s: go-runit's `taiOffset` (2^62 + 10).
const TAI_OFFSET: i64 = 4_611_686_018_427_387_914;

impl Collector for Runit {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.dir.display()))?;
        let mut names = Vec::new();
        for e in entries {
            let e = e.map_err(|e| anyhow::anyhow!("{}: {e}", self.dir.display()))?;
            // The entry's own type, symlinks not followed (Go's DirEntry.Type).
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() || t.is_symlink() {
                names.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        for name in names {
            let supervise = self.dir.join(&name).join("supervise");
            let status = match read_status(&supervise.join("status")) {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(service = %name, err = %e, "Couldn't get status");
                    continue;
                }
            };
            let labels = [("service", name.as_str()), ("supervisor", "runit")];
            out.gauge(
                "node_service_state",
                "State of runit service.",
                &labels,
                status.state as f64,
            );
            out.gauge(
                "node_service_desired_state",
                "Desired state of runit service.",
                &labels,
                status.want as f64,
            );
            out.gauge(
                "node_service_state_last_change_timestamp_seconds",
                "Unix timestamp of the last runit service state change.",
                &labels,
                status.timestamp as f64,
            );
            let normally_up = std::fs::metadata(supervise.join("down")).is_err();
            out.gauge(
                "node_service_normal_state",
                "Normal state of runit service.",
                &labels,
                if normally_up { 1.0 } else { 0.0 },
            );
        }
        Ok(())
    }
}

/// What a status file says.
#[derive(Debug, PartialEq)]
pub struct Status {
    pub pid: u32,
    /// Unix seconds of the last state change.
    pub timestamp: i64,
    /// 0 down, 1 run, 2 finish.
    pub state: u8,
    /// 1 for `u`, else 0.
    pub want: u8,
}

fn read_status(path: &Path) -> std::io::Result<Status> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = [0u8; 20];
    // One read, as go-runit: a short file leaves zeros, an empty one is an error (EOF).
    let n = f.read(&mut buf)?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "EOF",
        ));
    }
    Ok(parse_status(&buf))
}

/// Decodes runsv's 20-byte status record.
pub fn parse_status(b: &[u8; 20]) -> Status {
    let tai = b[..8].iter().fold(0i64, |acc, &x| {
        acc.wrapping_shl(8).wrapping_add(i64::from(x))
    });
    Status {
        pid: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
        timestamp: tai.wrapping_sub(TAI_OFFSET),
        state: b[19],
        want: u8::from(b[17] == b'u'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, write_file};

    /// A status record as runsv writes it: TAI64 of `unix`, pid, want, state.
    fn record(unix: i64, pid: u32, want: u8, state: u8) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..8].copy_from_slice(&((unix + TAI_OFFSET) as u64).to_be_bytes());
        b[12..16].copy_from_slice(&pid.to_le_bytes());
        b[17] = want;
        b[19] = state;
        b
    }

    #[test]
    fn decodes_status() {
        let s = parse_status(&record(1_700_000_000, 4242, b'u', 1));
        assert_eq!(
            s,
            Status {
                pid: 4242,
                timestamp: 1_700_000_000,
                state: 1,
                want: 1
            }
        );
        let s = parse_status(&record(0, 0, b'd', 0));
        assert_eq!((s.want, s.state), (0, 0));
        // All ones: wraps as Go's int64 arithmetic does, no panic.
        let s = parse_status(&[0xff; 20]);
        assert_eq!(s.timestamp, -1 - TAI_OFFSET);
    }

    // Hand-made service directory (runit is not installed on the recording host).
    #[test]
    fn renders_services() {
        let dir = tempfile::tempdir().unwrap();
        let sv = dir.path();
        std::fs::create_dir_all(sv.join("sshd/supervise")).unwrap();
        std::fs::write(
            sv.join("sshd/supervise/status"),
            record(1_700_000_000, 99, b'u', 1),
        )
        .unwrap();
        std::fs::create_dir_all(sv.join("real-cron/supervise")).unwrap();
        std::fs::write(
            sv.join("real-cron/supervise/status"),
            record(1_600_000_000, 0, b'd', 0),
        )
        .unwrap();
        write_file(&sv.join("real-cron/supervise/down"), "");
        std::os::unix::fs::symlink(sv.join("real-cron"), sv.join("cron")).unwrap();
        // runsv not running: no status, skipped.
        std::fs::create_dir_all(sv.join("stopped")).unwrap();
        write_file(&sv.join("README"), "not a service");
        let c = build(
            &Paths::default(),
            &Args {
                runit_servicedir: sv.to_path_buf(),
            },
        )
        .unwrap();
        let t = render(&*c).unwrap();
        assert!(t.contains("# HELP node_service_state State of runit service.\n# TYPE node_service_state gauge\n\
node_service_state{service=\"cron\",supervisor=\"runit\"} 0\n\
node_service_state{service=\"real-cron\",supervisor=\"runit\"} 0\n\
node_service_state{service=\"sshd\",supervisor=\"runit\"} 1\n"), "{t}");
        assert!(t.contains("node_service_state_last_change_timestamp_seconds{service=\"sshd\",supervisor=\"runit\"} 1.7e+09\n"));
        assert!(t.contains("node_service_normal_state{service=\"cron\",supervisor=\"runit\"} 0\nnode_service_normal_state{service=\"real-cron\",supervisor=\"runit\"} 0\nnode_service_normal_state{service=\"sshd\",supervisor=\"runit\"} 1\n"));
        assert!(t.contains("node_service_desired_state{service=\"sshd\",supervisor=\"runit\"} 1\n"));
        assert!(!t.contains("stopped") && !t.contains("README"));
        let missing = build(
            &Paths::default(),
            &Args {
                runit_servicedir: sv.join("nope"),
            },
        )
        .unwrap();
        assert!(render(&*missing).is_err());
    }
}
