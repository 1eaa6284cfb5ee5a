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
    // Bounded wait until supervisord answers with both programs settled: the sleeper RUNNING
    // (20), not still STARTING (10), which also counts as up.
    let mut last = String::new();
    let settled = wait_until("supervisord programs", Duration::from_secs(20), || {
        last = ne.scrape("/metrics");
        last.contains("node_supervisord_state{group=\"sleeper\",name=\"sleeper\"} 20")
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

/// A stand-in for systemd's and logind's D-Bus interfaces: the methods and properties the two
/// collectors read, with the signatures systemd 252 uses (Debian 12's; see
/// `org.freedesktop.systemd1(5)` and `org.freedesktop.login1(5)`).
mod fake_bus {
    use zbus::interface;
    use zbus::zvariant::OwnedObjectPath;

    pub type UnitRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        OwnedObjectPath,
        u32,
        String,
        OwnedObjectPath,
    );

    fn path(p: &str) -> OwnedObjectPath {
        OwnedObjectPath::try_from(p.to_string()).expect("object path")
    }

    /// `(name, load state, active state)` of the units the manager lists; their object paths
    /// are systemd's escaping of the name.
    pub const UNITS: &[(&str, &str, &str)] = &[
        ("ssh.service", "loaded", "active"),
        ("broken.service", "loaded", "failed"),
        ("logrotate.timer", "loaded", "active"),
        ("dbus.socket", "loaded", "active"),
        ("home.mount", "loaded", "active"),
        ("gone.service", "not-found", "inactive"),
    ];

    /// systemd's object path escaping: every byte but [A-Za-z0-9] as `_xx`.
    pub fn unit_path(name: &str) -> String {
        let mut p = String::from("/org/freedesktop/systemd1/unit/");
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() {
                p.push(b as char);
            } else {
                p.push_str(&format!("_{b:02x}"));
            }
        }
        p
    }

    pub struct Manager;

    #[interface(name = "org.freedesktop.systemd1.Manager")]
    impl Manager {
        #[zbus(name = "ListUnits")]
        fn list_units(&self) -> Vec<UnitRow> {
            UNITS
                .iter()
                .map(|(n, load, active)| {
                    (
                        n.to_string(),
                        String::new(),
                        load.to_string(),
                        active.to_string(),
                        "running".into(),
                        String::new(),
                        path(&unit_path(n)),
                        0,
                        String::new(),
                        path("/"),
                    )
                })
                .collect()
        }
        #[zbus(property, name = "Version")]
        fn version(&self) -> String {
            "252.39-1~deb12u1".into()
        }
        #[zbus(property, name = "Virtualization")]
        fn virtualization(&self) -> String {
            String::new()
        }
        #[zbus(property, name = "SystemState")]
        fn system_state(&self) -> String {
            "degraded".into()
        }
    }

    pub struct Unit {
        pub active_enter: u64,
    }

    #[interface(name = "org.freedesktop.systemd1.Unit")]
    impl Unit {
        #[zbus(property, name = "ActiveEnterTimestamp")]
        fn active_enter_timestamp(&self) -> u64 {
            self.active_enter
        }
    }

    pub struct Service {
        pub kind: &'static str,
        pub restarts: u32,
        pub tasks: u64,
    }

    #[interface(name = "org.freedesktop.systemd1.Service")]
    impl Service {
        #[zbus(property, name = "Type")]
        fn kind(&self) -> String {
            self.kind.into()
        }
        #[zbus(property, name = "NRestarts")]
        fn n_restarts(&self) -> u32 {
            self.restarts
        }
        #[zbus(property, name = "TasksCurrent")]
        fn tasks_current(&self) -> u64 {
            self.tasks
        }
        /// "infinity": not reported.
        #[zbus(property, name = "TasksMax")]
        fn tasks_max(&self) -> u64 {
            u64::MAX
        }
    }

    pub struct Timer;

    #[interface(name = "org.freedesktop.systemd1.Timer")]
    impl Timer {
        #[zbus(property, name = "LastTriggerUSec")]
        fn last_trigger_usec(&self) -> u64 {
            1_765_000_000_500_000
        }
    }

    pub struct Socket;

    #[interface(name = "org.freedesktop.systemd1.Socket")]
    impl Socket {
        #[zbus(property, name = "NAccepted")]
        fn n_accepted(&self) -> u32 {
            10
        }
        #[zbus(property, name = "NConnections")]
        fn n_connections(&self) -> u32 {
            1
        }
        #[zbus(property, name = "NRefused")]
        fn n_refused(&self) -> u32 {
            4
        }
    }

    pub struct Login;

    #[interface(name = "org.freedesktop.login1.Manager")]
    impl Login {
        #[zbus(name = "ListSeats")]
        fn list_seats(&self) -> Vec<(String, OwnedObjectPath)> {
            vec![("seat0".into(), path("/org/freedesktop/login1/seat/seat0"))]
        }
        #[zbus(name = "ListSessions")]
        fn list_sessions(&self) -> Vec<(String, u32, String, String, OwnedObjectPath)> {
            vec![
                (
                    "1".into(),
                    1000,
                    "alice".into(),
                    "seat0".into(),
                    path("/org/freedesktop/login1/session/_31"),
                ),
                (
                    "2".into(),
                    1000,
                    "alice".into(),
                    "seat0".into(),
                    path("/org/freedesktop/login1/session/_32"),
                ),
                (
                    "3".into(),
                    0,
                    "root".into(),
                    String::new(),
                    path("/org/freedesktop/login1/session/_33"),
                ),
            ]
        }
    }

    pub struct Session {
        pub remote: bool,
        pub kind: &'static str,
        pub class: &'static str,
    }

    #[interface(name = "org.freedesktop.login1.Session")]
    impl Session {
        #[zbus(property, name = "Remote")]
        fn remote(&self) -> bool {
            self.remote
        }
        #[zbus(property, name = "Type")]
        fn kind(&self) -> String {
            self.kind.into()
        }
        #[zbus(property, name = "Class")]
        fn class(&self) -> String {
            self.class.into()
        }
    }

    /// Connects to the bus at `address`, takes both well-known names and serves until `stop`
    /// fires.
    pub async fn serve(
        address: String,
        stop: tokio::sync::oneshot::Receiver<()>,
        ready: std::sync::mpsc::Sender<Result<(), String>>,
    ) {
        let built = async {
            let mut b = zbus::connection::Builder::address(address.as_str())?
                .name("org.freedesktop.systemd1")?
                .name("org.freedesktop.login1")?
                .serve_at("/org/freedesktop/systemd1", Manager)?
                .serve_at("/org/freedesktop/login1", Login)?;
            for (name, _, _) in UNITS {
                let p = unit_path(name);
                b = b.serve_at(
                    p.clone(),
                    Unit {
                        active_enter: 1_764_000_000_250_000,
                    },
                )?;
                if name.ends_with(".service") {
                    let kind = if *name == "ssh.service" {
                        "notify"
                    } else {
                        "oneshot"
                    };
                    b = b.serve_at(
                        p.clone(),
                        Service {
                            kind,
                            restarts: 2,
                            tasks: 3,
                        },
                    )?;
                } else if name.ends_with(".timer") {
                    b = b.serve_at(p.clone(), Timer)?;
                } else if name.ends_with(".socket") {
                    b = b.serve_at(p.clone(), Socket)?;
                }
            }
            for (id, remote, kind, class) in [
                ("_31", false, "x11", "user"),
                ("_32", true, "tty", "user"),
                ("_33", false, "tty", "manager"),
            ] {
                b = b.serve_at(
                    format!("/org/freedesktop/login1/session/{id}"),
                    Session {
                        remote,
                        kind,
                        class,
                    },
                )?;
            }
            b.build().await
        }
        .await;
        match built {
            Ok(conn) => {
                let _ = ready.send(Ok(()));
                let _ = stop.await;
                drop(conn);
            }
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
            }
        }
    }
}

/// The fake service on a private bus, in a thread of its own; stopped on drop.
struct FakeBus {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeBus {
    fn start(address: &str) -> Result<FakeBus, String> {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let address = address.to_string();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(fake_bus::serve(address, stop_rx, ready_tx));
        });
        let bus = FakeBus {
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(())) => Ok(bus),
            // Still connecting: leave the thread behind rather than wait on it in drop.
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let mut bus = bus;
                bus.thread = None;
                Err("fake service did not start within 20 s".into())
            }
            Ok(Err(e)) => Err(format!("fake service: {e}")),
            Err(_) => Err("fake service thread ended".into()),
        }
    }
}

impl Drop for FakeBus {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Our binary with extra environment (`DBUS_SYSTEM_BUS_ADDRESS`), killed on drop.
struct Exporter {
    peer: Peer,
    port: u16,
}

impl Exporter {
    fn start(flags: &[&str], env: &[(&str, &str)], dir: &Path) -> Exporter {
        let port = common::free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_node-exporter"));
        cmd.arg("--collector.disable-defaults")
            .args(flags)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .envs(env.iter().copied());
        let peer = Peer::start("node-exporter", &mut cmd, dir);
        let up = wait_until("node-exporter", Duration::from_secs(30), || {
            common::http_get(port, "/metrics", Duration::from_secs(5)).is_ok()
        });
        if let Err(e) = up {
            panic!("{e}\n{}", peer.log());
        }
        Exporter { peer, port }
    }

    fn scrape(&self) -> common::Families {
        let r = common::http_get(self.port, "/metrics", Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("scrape: {e}\n{}", self.peer.log()));
        assert_eq!(r.status, 200, "{}", self.peer.log());
        common::parse(&r.text()).expect("parse")
    }
}

/// A sample's value by its labels.
fn sample(f: &common::Families, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    f.get(family)?
        .samples
        .iter()
        .find(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value_f64())
}

/// The systemd and logind collectors against a real dbus-daemon (a private bus on a socket in
/// a temporary directory) with the stand-in service above.
#[test]
fn systemd_and_logind_against_dbus_daemon() {
    let Some(dbus_daemon) = find("dbus-daemon") else {
        return skip("dbus-daemon not installed");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("bus");
    let conf = dir.path().join("bus.conf");
    std::fs::write(
        &conf,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        ),
    )
    .expect("write bus.conf");
    let bus = Peer::start(
        "dbus-daemon",
        Command::new(dbus_daemon)
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork"),
        dir.path(),
    );
    if let Err(e) = wait_until("dbus-daemon socket", Duration::from_secs(10), || {
        socket.exists()
    }) {
        panic!("{e}\n{}", bus.log());
    }
    let address = format!("unix:path={}", socket.display());
    let service = FakeBus::start(&address).unwrap_or_else(|e| panic!("{e}\n{}", bus.log()));

    let ne = Exporter::start(
        &[
            "--collector.systemd",
            "--collector.logind",
            "--collector.systemd.enable-task-metrics",
            "--collector.systemd.enable-restarts-metrics",
            "--collector.systemd.enable-start-time-metrics",
        ],
        &[("DBUS_SYSTEM_BUS_ADDRESS", &address)],
        dir.path(),
    );
    let f = ne.scrape();
    let ok = common::collector_success(&f);
    assert_eq!(ok.get("systemd"), Some(&true), "{}", ne.peer.log());
    assert_eq!(ok.get("logind"), Some(&true), "{}", ne.peer.log());

    let s = |fam: &str, labels: &[(&str, &str)]| sample(&f, fam, labels);
    assert_eq!(
        s("node_systemd_version", &[("version", "252.39-1~deb12u1")]),
        Some(252.39)
    );
    assert_eq!(
        s(
            "node_systemd_virtualization_info",
            &[("virtualization_type", "none")]
        ),
        Some(1.0)
    );
    assert_eq!(s("node_systemd_system_running", &[]), Some(0.0)); // "degraded"
                                                                  // The summary counts every unit listed, before filtering.
    assert_eq!(s("node_systemd_units", &[("state", "active")]), Some(4.0));
    assert_eq!(s("node_systemd_units", &[("state", "failed")]), Some(1.0));
    assert_eq!(s("node_systemd_units", &[("state", "inactive")]), Some(1.0));
    assert_eq!(
        s("node_systemd_units", &[("state", "deactivating")]),
        Some(0.0)
    );
    assert_eq!(
        s(
            "node_systemd_unit_state",
            &[
                ("name", "ssh.service"),
                ("state", "active"),
                ("type", "notify")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        s(
            "node_systemd_unit_state",
            &[
                ("name", "broken.service"),
                ("state", "failed"),
                ("type", "oneshot")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        s(
            "node_systemd_unit_state",
            &[("name", "dbus.socket"), ("state", "active"), ("type", "")]
        ),
        Some(1.0)
    );
    // 4 units pass the default filters (not home.mount, not the not-found one), 5 states each.
    assert_eq!(f["node_systemd_unit_state"].samples.len(), 4 * 5);
    assert_eq!(
        s(
            "node_systemd_service_restart_total",
            &[("name", "ssh.service")]
        ),
        Some(2.0)
    );
    assert_eq!(f["node_systemd_service_restart_total"].kind, "counter");
    assert_eq!(
        s(
            "node_systemd_unit_tasks_current",
            &[("name", "ssh.service")]
        ),
        Some(3.0)
    );
    assert!(
        !f.contains_key("node_systemd_unit_tasks_max"),
        "infinity is not reported"
    );
    assert_eq!(
        s(
            "node_systemd_unit_start_time_seconds",
            &[("name", "ssh.service")]
        ),
        Some(1_764_000_000.25)
    );
    assert_eq!(
        s(
            "node_systemd_unit_start_time_seconds",
            &[("name", "broken.service")]
        ),
        Some(0.0)
    );
    assert_eq!(
        s(
            "node_systemd_timer_last_trigger_seconds",
            &[("name", "logrotate.timer")]
        ),
        Some(1_765_000_000.5)
    );
    assert_eq!(
        s(
            "node_systemd_socket_accepted_connections_total",
            &[("name", "dbus.socket")]
        ),
        Some(10.0)
    );
    assert_eq!(
        s(
            "node_systemd_socket_current_connections",
            &[("name", "dbus.socket")]
        ),
        Some(1.0)
    );
    assert_eq!(
        s(
            "node_systemd_socket_refused_connections_total",
            &[("name", "dbus.socket")]
        ),
        Some(4.0)
    );
    assert_eq!(
        f["node_systemd_socket_refused_connections_total"].kind, "gauge",
        "as upstream"
    );

    // logind: every combination for seat0 and "", the sessions where they belong.
    assert_eq!(f["node_logind_sessions"].samples.len(), 2 * 7 * 5 * 2);
    let l = |seat: &str, remote: &str, kind: &str, class: &str| {
        s(
            "node_logind_sessions",
            &[
                ("seat", seat),
                ("remote", remote),
                ("type", kind),
                ("class", class),
            ],
        )
    };
    assert_eq!(l("seat0", "false", "x11", "user"), Some(1.0));
    assert_eq!(l("seat0", "true", "tty", "user"), Some(1.0));
    assert_eq!(l("", "false", "tty", "other"), Some(1.0)); // class "manager" is not known upstream
    assert_eq!(l("seat0", "false", "wayland", "user"), Some(0.0));

    // Include/exclude flags: only the timer, and the mount once it is no longer excluded.
    drop(ne);
    let ne = Exporter::start(
        &[
            "--collector.systemd",
            "--collector.systemd.unit-include=.+\\.(timer|mount)",
            "--collector.systemd.unit-exclude=",
        ],
        &[("DBUS_SYSTEM_BUS_ADDRESS", &address)],
        dir.path(),
    );
    let f = ne.scrape();
    let names: std::collections::BTreeSet<String> = f["node_systemd_unit_state"]
        .samples
        .iter()
        .map(|s| s.labels["name"].clone())
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["home.mount", "logrotate.timer"]
    );

    // The service gone: both collectors fail, the scrape still answers.
    drop(service);
    let f = ne.scrape();
    assert_eq!(common::collector_success(&f).get("systemd"), Some(&false));
}
