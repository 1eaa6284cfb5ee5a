//! A drop-in replacement for prometheus/node_exporter on Linux.
//!
//! Same metric names, types, labels and units, same flags, same self-metrics. Each collector is
//! one file under `collector/`, named like node_exporter's; every file it reads goes through the
//! configured `--path.*` roots (`collector::Paths`), and what collectors share is under `sys/`.
//! `scrape` runs the enabled collectors
//! concurrently under a deadline, so a hung mount or a slow file cannot hang a scrape, nor the
//! shutdown after it (`exporter_core::shutdown`).

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cli;
mod collector;
mod filter;
mod scrape;
mod sys;
mod threads;

/// Entry points for the fuzz targets in `fuzz/` (not an API): the `/proc` and `/sys` parsers,
/// globs and netlink replies, which the collectors otherwise keep to themselves.
#[doc(hidden)]
pub mod fuzzing {
    use crate::collector::*;
    use crate::sys;

    /// Every parser of `/proc` and `/sys` text; `which` picks one (wrapping).
    pub fn proc_sys(which: u8, text: &str) {
        let parsers: &[fn(&str)] = &[
            |t| {
                let _ = arp::parse_proc_net_arp(t);
            },
            |t| {
                let _ = bcache::parse_writeback_rate_debug(t);
            },
            |t| {
                let _ = bcache::parse_priority_stats(t);
            },
            |t| {
                let _ = btrfs::parse_commit_stats(t);
            },
            |t| {
                let _ = conntrack::parse_stat(t);
            },
            |t| {
                let _ = cpu::parse_proc_stat_cpus(t);
            },
            |t| {
                let _ = cpu::parse_cpuinfo(t);
            },
            |t| {
                let _ = diskstats::parse_diskstats(t);
            },
            |t| {
                let _ = diskstats::parse_udev(t);
            },
            |t| {
                let _ = entropy::parse_bits(t);
            },
            |t| {
                let _ = filefd::parse_file_nr(t);
            },
            |t| {
                let _ = filesystem::parse_mountinfo(t);
            },
            |t| {
                let _ = infiniband::parse_state(t);
            },
            |t| {
                let _ = infiniband::parse_rate(t);
            },
            |t| {
                let _ = ipvs::parse_labels(t);
            },
            |t| {
                let _ = ipvs::parse_stats(t);
            },
            |t| {
                let _ = ipvs::parse_backends(t);
            },
            |t| {
                let _ = kernel_hung::parse_count(t);
            },
            |t| {
                let _ = loadavg::parse_loadavg(t);
            },
            |t| {
                let _ = mdadm::parse_mdstat(t);
            },
            |t| {
                let _ = meminfo::parse_meminfo(t);
            },
            |t| {
                let _ = netclass::parse_int(t);
            },
            |t| {
                let _ = netdev::parse_proc_net_dev(t);
            },
            |t| {
                let _ = netstat::parse_pairs(t);
            },
            |t| {
                let _ = netstat::parse_snmp6(t);
            },
            |t| {
                let _ = nfs::parse_client(t);
            },
            |t| {
                let _ = nfsd::parse_server(t);
            },
            |t| {
                let _ = os::parse_os_release(t);
            },
            |t| {
                let _ = os::parse_date(t);
            },
            |t| {
                let _ = pressure::parse_psi(t);
            },
            |t| {
                let _ = schedstat::parse_schedstat(t).len();
            },
            |t| {
                let _ = selinux::parse_config_mode(t);
            },
            |t| {
                let _ = selinux::parse_cache_stats(t);
            },
            |t| {
                let _ = selinux::parse_hash_stats(t);
            },
            |t| {
                let _ = sockstat::parse_sockstat(t);
            },
            |t| {
                let _ = softnet::parse_softnet(t);
            },
            |t| {
                let _ = stat::parse_stat(t);
            },
            |t| {
                let _ = time::parse_available(t);
            },
            |t| {
                let _ = udp_queues::parse_udp_queues(t);
            },
            |t| {
                let _ = vmstat::parse_vmstat(t).count();
            },
            |t| {
                let _ = xfs::parse_xfs_stats(t);
            },
            |t| {
                let _ = zfs::parse_kstat(t);
            },
            |t| {
                let _ = zfs::parse_pool_io(t);
            },
            |t| {
                let _ = zfs::parse_objset(t);
            },
            |t| {
                let _ = sys::cpu::parse_cpu_list(t);
            },
            |t| {
                let _ = sys::go::parse_go_u64(t);
            },
            |t| {
                let _ = sys::read::parse_sysfs_i64(t);
            },
            |t| {
                let _ = sys::read::parse_sysfs_u64(t);
            },
        ];
        parsers[usize::from(which) % parsers.len()](text);
    }

    /// Binary netlink input: a reply datagram, a link message body for `netclass` and `netdev`.
    pub fn netlink(data: &[u8]) {
        let _ = sys::netlink::read_datagram(data, 0, 1, &mut |_, body| {
            let _ = netclass::parse_link(body);
            let _ = netdev::parse_link_message(body);
        });
        let _ = netclass::parse_link(data);
        let _ = netdev::parse_link_message(data);
        for (_, _) in sys::netlink::attrs(data) {}
    }

    /// A glob pattern (`--collector.textfile.directory`) against a name; and Go's path
    /// cleaning of both.
    pub fn glob(pattern: &str, name: &str) {
        let _ = sys::glob::glob_match(pattern, name);
        let _ = sys::glob::go_clean(pattern);
        let _ = sys::glob::go_join(pattern, name);
    }
}

use std::sync::Arc;

pub use cli::Cli;
use exporter_core::server::{self, Landing, Settings};
use exporter_core::{shutdown, Busy};

pub use exporter_core::RunError;

/// Builds the collectors, binds the listen addresses and serves until SIGTERM or SIGINT; then
/// drains for 5 s and exits, leaving behind any collector stuck in the kernel.
pub fn run(cli: Cli) -> Result<(), RunError> {
    // The web settings first: a bad --web.config.file is then the only line on stderr, before
    // the collectors log anything.
    let settings = Settings::from_args(&cli.web, landing())?;
    let busy = Busy::new();
    let app = scrape::NodeApp::from_cli(&cli, &busy)?;
    let listeners = settings.bind()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Collectors and statfs calls run on the blocking pool (see `threads`). Idle threads are
        // kept across scrapes; the cap leaves room for threads stuck in the kernel.
        .max_blocking_threads(64)
        .thread_keep_alive(std::time::Duration::from_secs(300))
        // Collectors parse flat files; they need far less than the 2 MiB default stack.
        .thread_stack_size(256 * 1024)
        .build()
        .map_err(anyhow::Error::from)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "Starting node-exporter"
    );
    tracing::info!(collectors = %cli.enabled.join(","), "Enabled collectors");
    let served = rt.block_on(server::serve(
        listeners,
        settings,
        Arc::new(app),
        busy.clone(),
        shutdown::signal(busy.clone()),
    ));
    // Never a plain drop of the runtime: it would wait for a collector blocked on a FIFO or a
    // hung mount, forever.
    shutdown::finish(rt, &busy, served)?;
    Ok(())
}

/// Adds `node_exporter_build_info`.
pub fn build_info(out: &mut exporter_core::Exposition) {
    exporter_core::build_info(out, "node_exporter", &scrape::build_facts());
}

/// The landing page text.
pub fn landing() -> Landing {
    Landing {
        name: "Node Exporter",
        description: "Prometheus Node Exporter (Rust, drop-in for prometheus/node_exporter)",
        version: env!("CARGO_PKG_VERSION"),
    }
}
