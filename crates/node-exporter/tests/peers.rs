//! The collectors that talk to a daemon, against the real daemon on 127.0.0.1 or a private
//! socket: chronyd for `ntp`, supervisord for `supervisord`, a private dbus-daemon with a small
//! stand-in service for `systemd` and `logind`. `scripts/install-test-peers.sh` installs them
//! from Debian; a test whose daemon is missing says so and passes.
//!
//! Each runs our binary with `--collector.disable-defaults` and the one collector, scrapes it,
//! and checks the families against what the daemon was set up to hold.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Daemon;

/// A peer daemon, killed and reaped on drop, even when the test panics.
struct Peer {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Peer {
    fn start(name: &'static str, cmd: &mut Command, dir: &Path) -> Peer {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("peer log");
        let err = out.try_clone().expect("peer log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Peer { name, child, log }
    }

    fn log(&self) -> String {
        format!(
            "--- {} log ---\n{}",
            self.name,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }
}

impl Drop for Peer {
    /// SIGTERM first, so that supervisord stops its children, then SIGKILL after 5 s.
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of `program` if it is installed (PATH plus the sbin directories).
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file());
    found
}

fn skip(why: &str) {
    eprintln!("SKIPPED: {why} (scripts/install-test-peers.sh installs it)");
}

/// Waits (bounded) until `ready()` holds.
fn wait_until(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{what} not ready after {timeout:?}"))
}

fn exporter(flags: &[String]) -> Daemon {
    let mut args = vec!["--collector.disable-defaults".to_string()];
    args.extend_from_slice(flags);
    Daemon::start(
        "node-exporter",
        Path::new(env!("CARGO_BIN_EXE_node-exporter")),
        &args,
        None,
    )
    .expect("start node-exporter")
}

/// The value of the only sample of `name`.
fn value(f: &common::Families, name: &str) -> f64 {
    let fam = f.get(name).unwrap_or_else(|| panic!("{name} missing"));
    assert_eq!(fam.samples.len(), 1, "{name}: {:?}", fam.samples);
    fam.samples[0].value_f64()
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    s.local_addr().expect("local_addr").port()
}

/// chronyd serving its local clock (`local stratum 8`) on a free loopback port, without
/// touching this machine's clock (`-x`).
#[test]
fn ntp_against_chronyd() {
    let Some(chronyd) = find("chronyd") else {
        return skip("chronyd not installed");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let conf = dir.path().join("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbindaddress 127.0.0.1\ncmdport 0\nlocal stratum 8\nallow 127.0.0.1\n\
             pidfile {}\n",
            dir.path().join("chronyd.pid").display()
        ),
    )
    .expect("write chrony.conf");
    let mut cmd = Command::new(chronyd);
    cmd.arg("-x").arg("-d").arg("-f").arg(&conf);
    // As root chronyd drops to _chrony, which cannot read a private temporary directory.
    if is_root() {
        cmd.args(["-u", "root"]);
    }
    let peer = Peer::start("chronyd", &mut cmd, dir.path());
    let ready = wait_until("chronyd", Duration::from_secs(10), || {
        std::fs::read_to_string(&peer.log).is_ok_and(|l| l.contains("starting"))
            && std::fs::metadata(dir.path().join("chronyd.pid")).is_ok()
    });
    if let Err(e) = ready {
        panic!("{e}\n{}", peer.log());
    }

    let ne = exporter(&[
        "--collector.ntp".into(),
        format!("--collector.ntp.server-port={port}"),
    ]);
    let f = common::parse(&ne.scrape("/metrics")).expect("parse");
    let ok = common::collector_success(&f);
    assert_eq!(ok.get("ntp"), Some(&true), "{}\n{}", ne.log(), peer.log());
    assert_eq!(value(&f, "node_ntp_stratum"), 8.0);
    assert_eq!(value(&f, "node_ntp_leap"), 0.0);
    let rtt = value(&f, "node_ntp_rtt_seconds");
    assert!((0.0..1.0).contains(&rtt), "rtt {rtt}");
    // chronyd's clock is this machine's: the offset is within scheduling noise.
    let offset = value(&f, "node_ntp_offset_seconds");
    assert!(offset.abs() < 0.5, "offset {offset}");
    for name in [
        "node_ntp_reference_timestamp_seconds",
        "node_ntp_root_delay_seconds",
        "node_ntp_root_dispersion_seconds",
        "node_ntp_sanity",
    ] {
        assert!(f.contains_key(name), "{name} missing");
    }
    drop(peer);

    // With the server gone the collector fails, and the scrape still answers.
    let f = common::parse(&ne.scrape("/metrics")).expect("parse");
    assert_eq!(common::collector_success(&f).get("ntp"), Some(&false));
}

/// supervisord with a program that keeps running and one that exits at once, answering XML-RPC
/// on a free loopback port and on a Unix socket.
#[test]
fn supervisord_against_supervisord() {
    let Some(supervisord) = find("supervisord") else {
        return skip("supervisord not installed");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    let port = common::free_port();
    let conf = dir.path().join("supervisord.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisord]\nnodaemon=true\nuser={user}\nlogfile={d}/supervisord.log\n\
             pidfile={d}/supervisord.pid\nchildlogdir={d}\n\
             [inet_http_server]\nport=127.0.0.1:{port}\n\
             [unix_http_server]\nfile={d}/supervisor.sock\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [program:sleeper]\ncommand=sleep 120\nstartsecs=0\n\
             [program:failer]\ncommand=sh -c 'exit 3'\nautorestart=false\nstartsecs=0\n\
             startretries=0\n",
            user = if is_root() { "root" } else { "nobody" },
        ),
    )
    .expect("write supervisord.conf");
    let peer = Peer::start(
        "supervisord",
        Command::new(supervisord).arg("-c").arg(&conf),
        dir.path(),
    );

    let ne = exporter(&[
        "--collector.supervisord".into(),
        format!("--collector.supervisord.url=http://127.0.0.1:{port}/RPC2"),
    ]);
    // Bounded wait until supervisord answers with both programs settled.
    let mut last = String::new();
    let settled = wait_until("supervisord programs", Duration::from_secs(20), || {
        last = ne.scrape("/metrics");
        last.contains("node_supervisord_up{group=\"sleeper\",name=\"sleeper\"} 1")
            && last.contains("node_supervisord_exit_status{group=\"failer\",name=\"failer\"} 3")
    });
    if let Err(e) = settled {
        panic!("{e}\n{last}\n{}\n{}", ne.log(), peer.log());
    }
    let f = common::parse(&last).expect("parse");
    assert_eq!(
        common::collector_success(&f).get("supervisord"),
        Some(&true)
    );
    assert_eq!(f["node_supervisord_start_time_seconds"].kind, "counter");
    assert_eq!(
        f["node_supervisord_start_time_seconds"].samples.len(),
        1,
        "only the running one"
    );
    let state = |name: &str| {
        f["node_supervisord_state"]
            .samples
            .iter()
            .find(|s| s.labels["name"] == name)
            .map(|s| s.value_f64())
    };
    assert_eq!(state("sleeper"), Some(20.0)); // RUNNING
    assert_eq!(state("failer"), Some(100.0)); // EXITED
    assert_eq!(value_of(&f, "node_supervisord_up", "failer"), 0.0);

    // The same over supervisord's Unix socket.
    let ne_unix = exporter(&[
        "--collector.supervisord".into(),
        format!("--collector.supervisord.url=unix://{d}/supervisor.sock"),
    ]);
    let f = common::parse(&ne_unix.scrape("/metrics")).expect("parse");
    assert_eq!(
        common::collector_success(&f).get("supervisord"),
        Some(&true),
        "{}",
        ne_unix.log()
    );
    assert_eq!(value_of(&f, "node_supervisord_up", "sleeper"), 1.0);

    drop(peer);
    let f = common::parse(&ne.scrape("/metrics")).expect("parse");
    assert_eq!(
        common::collector_success(&f).get("supervisord"),
        Some(&false)
    );
}

/// The value of `family{name="<name>"}`.
fn value_of(f: &common::Families, family: &str, name: &str) -> f64 {
    f[family]
        .samples
        .iter()
        .find(|s| s.labels.get("name").map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("{family}{{name={name:?}}} missing"))
        .value_f64()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
