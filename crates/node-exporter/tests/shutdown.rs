//! SIGTERM ends the real binary within its 5 s grace period and one more second, with exit code
//! 0, even with a collector stuck in the kernel (issue 19): a FIFO where `/proc/loadavg` should
//! be, and a `statfs` on a hung mount. A second SIGTERM during the drain exits at once. Each test prints
//! its measured signal-to-exit time (`cargo test -p node-exporter --test shutdown -- --nocapture`).

#![allow(clippy::unwrap_used)]

mod common;

use std::ffi::CString;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get};

const BIN: &str = env!("CARGO_BIN_EXE_node-exporter");
/// `SHUTDOWN_GRACE` in exporter-core's server.
const GRACE: Duration = Duration::from_secs(5);
/// What the daemons promise after the grace period.
const AFTER_GRACE: Duration = Duration::from_secs(1);

/// A running exporter, killed and reaped on drop whatever the test did.
struct Exporter {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    /// Starts `cmd` (the binary with its flags) on a free port and waits until it answers.
    fn start(mut cmd: Command) -> Exporter {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr");
        let port = free_port();
        let child = cmd
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut e = Exporter {
            child,
            port,
            log,
            _dir: dir,
        };
        let start = Instant::now();
        while http_get(e.port, "/healthz", Duration::from_secs(2)).is_err() {
            if let Ok(Some(status)) = e.child.try_wait() {
                panic!("exited at start with {status}:\n{}", e.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "not answering:\n{}",
                e.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        e
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child, still unreaped, so the pid is still ours.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, sig);
        }
    }

    /// Waits up to `within` for the exit; its code and the time since `since`.
    fn wait_exit(&mut self, since: Instant, within: Duration) -> Option<(Option<i32>, Duration)> {
        while since.elapsed() < within {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some((status.code(), since.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// A scrape as Prometheus sends it, with its scrape timeout: the collectors get 90 % of it.
    fn scrape(&self, timeout_seconds: f64) -> String {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Prometheus-Scrape-Timeout-Seconds: {timeout_seconds}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    /// Starts a scrape that runs to the collector timeout (9 s, longer than the grace period),
    /// and returns once the exporter has it. The thread ends when the exporter does.
    fn scrape_in_flight(&self) {
        let port = self.port;
        std::thread::spawn(move || {
            let _ = http_get(port, "/metrics", Duration::from_secs(30));
        });
        std::thread::sleep(Duration::from_millis(300));
    }

    /// SIGTERM, then the exit within the grace period and one second: its time, with the log
    /// checked for the line that names what was abandoned.
    fn sigterm_and_expect_exit(&mut self, what: &str, abandoned: &[&str]) -> Duration {
        let t0 = Instant::now();
        self.signal(libc::SIGTERM);
        // Not accepting any more, while the drain goes on.
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_err(),
            "still accepting during the drain:\n{}",
            self.log()
        );
        let limit = GRACE + AFTER_GRACE;
        let exit = self.wait_exit(t0, limit + Duration::from_secs(5));
        let log = self.log();
        let Some((code, took)) = exit else {
            panic!(
                "{what}: still running {:?} after SIGTERM:\n{log}",
                t0.elapsed()
            );
        };
        eprintln!(
            "node-exporter, {what}: SIGTERM to exit {took:.3?} (limit {limit:?}), code {code:?}"
        );
        assert_eq!(code, Some(0), "{what}:\n{log}");
        assert!(took <= limit, "{what}: took {took:?}:\n{log}");
        let line = log
            .lines()
            .find(|l| l.contains("abandoned="))
            .unwrap_or_else(|| panic!("{what}: no line naming what was abandoned:\n{log}"));
        for a in abandoned {
            assert!(line.contains(a), "{what}: {a:?} not in {line:?}");
        }
        took
    }
}

/// A directory for the textfile collector with a good file, which is also the `--path.procfs`
/// of a `loadavg` that is a FIFO: opening it blocks until someone writes, which nobody does.
/// (The textfile collector itself no longer opens FIFOs, issue 13; `loadavg` reads its file as
/// every `/proc` reader does, and a FIFO there stands for any read stuck in the kernel.)
fn textfile_dir_with_fifo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.prom"), "test_ok 1\n").unwrap();
    let fifo = CString::new(
        dir.path()
            .join("loadavg")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    dir
}

fn with_fifo(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--collector.disable-defaults",
        "--collector.textfile",
        "--collector.loadavg",
    ])
    .arg(format!("--collector.textfile.directory={}", dir.display()))
    .arg(format!("--path.procfs={}", dir.display()));
    cmd
}

#[test]
fn sigterm_with_a_collector_blocked_opening_a_fifo() {
    let dir = textfile_dir_with_fifo();
    let mut e = Exporter::start(with_fifo(dir.path()));
    // A few scrapes, each leaving a collector thread blocked opening the FIFO.
    for _ in 0..3 {
        let text = e.scrape(1.0);
        assert!(
            text.contains("node_scrape_collector_success{collector=\"loadavg\"} 0"),
            "{text}"
        );
        assert!(text.contains("test_ok 1"), "{text}");
    }
    e.scrape_in_flight();
    e.sigterm_and_expect_exit(
        "FIFO as /proc/loadavg",
        &["collector loadavg=", "connections=1"],
    );
}

#[test]
fn second_sigterm_during_the_drain_exits_at_once() {
    let dir = textfile_dir_with_fifo();
    let mut e = Exporter::start(with_fifo(dir.path()));
    e.scrape(1.0);
    e.scrape_in_flight();
    e.signal(libc::SIGTERM);
    // Well inside the 5 s drain, held by the scrape in flight.
    std::thread::sleep(Duration::from_secs(1));
    assert!(e.child.try_wait().unwrap().is_none(), "{}", e.log());
    let t0 = Instant::now();
    e.signal(libc::SIGTERM);
    let exit = e.wait_exit(t0, Duration::from_secs(5));
    let log = e.log();
    let Some((code, took)) = exit else {
        panic!("still running after the second SIGTERM:\n{log}");
    };
    eprintln!("node-exporter, second SIGTERM during the drain: to exit {took:.3?}, code {code:?}");
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_millis(500), "took {took:?}:\n{log}");
    assert!(
        log.contains("second signal during the drain") && log.contains("collector loadavg="),
        "{log}"
    );
}

/// A FUSE mount whose daemon never answers, seen only by the exporter: the test holds the
/// `/dev/fuse` end and never reads it, so every `statfs` on the mount blocks in the kernel, as on
/// a dead NFS server (node_exporter issue #244). The mount is made in a mount namespace of the
/// exporter's own, between fork and exec, so nothing else on the host can trip over it; it goes
/// away with the exporter. Needs root, `/dev/fuse` and the right to mount (CAP_SYS_ADMIN);
/// `None` (the test says it is skipped) without them.
struct HungMount {
    /// The FUSE connection's device end; dropping it would fail the blocked calls.
    _fuse: std::fs::File,
    procfs: tempfile::TempDir,
    mount_point: PathBuf,
}

impl HungMount {
    fn new() -> Option<HungMount> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let open_fuse = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/fuse")
        };
        let fuse = open_fuse().ok()?;
        // A /proc holding only what the filesystem collector reads: PID 1's mount table, one
        // line for the hung mount (fields as Linux 6.x writes them for a FUSE mount).
        let procfs = tempfile::tempdir().unwrap();
        let mount_point = procfs.path().join("mnt");
        std::fs::create_dir_all(procfs.path().join("1")).unwrap();
        std::fs::create_dir(&mount_point).unwrap();
        std::fs::write(
            procfs.path().join("1/mountinfo"),
            format!(
                "1442 29 0:77 / {} rw,nosuid,nodev,relatime - fuse.hung hung rw,user_id=0,group_id=0\n",
                mount_point.display()
            ),
        )
        .unwrap();
        let hung = HungMount {
            _fuse: fuse,
            procfs,
            mount_point,
        };
        // A container may be root without the right to mount: try it once, on `--version`, with
        // a connection of its own (one ends with the namespace of its mount).
        let probe_fuse = open_fuse().ok()?;
        let mut probe = Command::new(BIN);
        probe
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        fuse_mount_in_own_namespace(&mut probe, &probe_fuse, &hung.mount_point);
        probe.status().ok()?.success().then_some(hung)
    }

    /// `cmd`, run in a mount namespace of its own with the hung mount in it.
    fn mounted_for(&self, cmd: &mut Command) {
        fuse_mount_in_own_namespace(cmd, &self._fuse, &self.mount_point);
    }
}

/// Makes `cmd` run in a new mount namespace where `target` is a FUSE mount served through `fuse`
/// (an open `/dev/fuse`), mounted between fork and exec.
fn fuse_mount_in_own_namespace(cmd: &mut Command, fuse: &std::fs::File, target: &Path) {
    let target = CString::new(target.as_os_str().as_encoded_bytes()).unwrap();
    let options = CString::new(format!(
        "fd={},rootmode=40000,user_id=0,group_id=0",
        fuse.as_raw_fd()
    ))
    .unwrap();
    // SAFETY: between fork and exec only async-signal-safe system calls run here, on strings
    // allocated before the fork. The device fd is still open in the child at this point.
    unsafe {
        cmd.pre_exec(move || {
            let check = |rc: libc::c_int| {
                if rc == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            check(libc::unshare(libc::CLONE_NEWNS))?;
            // Private, so the mount below never propagates to the host's namespace.
            check(libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                c"hung".as_ptr(),
                target.as_ptr(),
                c"fuse".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr().cast(),
            ))
        });
    }
}

#[test]
fn sigterm_with_a_collector_blocked_on_a_hung_mount() {
    let Some(hung) = HungMount::new() else {
        eprintln!(
            "SKIPPED sigterm_with_a_collector_blocked_on_a_hung_mount: cannot mount FUSE here \
             (needs root, /dev/fuse and CAP_SYS_ADMIN)"
        );
        return;
    };
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--collector.disable-defaults",
        "--collector.filesystem",
        // Longer than the grace period: the collector is still waiting for statfs when the
        // signal comes, its thread blocked in the kernel.
        "--collector.filesystem.mount-timeout=30s",
    ])
    .arg(format!("--path.procfs={}", hung.procfs.path().display()));
    hung.mounted_for(&mut cmd);
    let mut e = Exporter::start(cmd);
    for _ in 0..3 {
        let text = e.scrape(1.0);
        assert!(
            text.contains("node_scrape_collector_success{collector=\"filesystem\"} 0"),
            "{text}"
        );
    }
    e.scrape_in_flight();
    e.sigterm_and_expect_exit(
        "statfs on a hung FUSE mount",
        &["collector filesystem=", "connections=1"],
    );
}
