//! The `bonding` collector: `node_bonding_slaves{master}` and `node_bonding_active{master}`,
//! the configured and MII-up slaves of each Linux bonding interface, from
//! `<sysfs>/class/net/bonding_masters`, `<master>/bonding/slaves` and each slave's
//! `lower_<slave>/bonding_slave/mii_status` (`slave_<slave>/...` on old kernels).
//! Without the bonding driver there is no `bonding_masters`: no data (as is any other missing
//! file, as upstream has it).

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `bonding` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Bonding {
        root: paths.sys("class/net"),
    }))
}

struct Bonding {
    root: PathBuf,
}

/// `(master, slaves, active)` per bonding master.
pub fn read_bonding(root: &Path) -> Result<Vec<(String, u64, u64)>, CollectError> {
    let masters_path = root.join("bonding_masters");
    let masters = crate::sys::read::string(&masters_path)
        .map_err(|e| CollectError::from_io(&masters_path, e))?;
    let mut res = Vec::new();
    for master in masters.split_whitespace() {
        let slaves_path = root.join(master).join("bonding/slaves");
        let slaves = crate::sys::read::string(&slaves_path)
            .map_err(|e| CollectError::from_io(&slaves_path, e))?;
        let (mut total, mut active) = (0, 0);
        for slave in slaves.split_whitespace() {
            let lower = root
                .join(master)
                .join(format!("lower_{slave}"))
                .join("bonding_slave/mii_status");
            let state = match crate::sys::read::string(&lower) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let old = root
                        .join(master)
                        .join(format!("slave_{slave}"))
                        .join("bonding_slave/mii_status");
                    crate::sys::read::string(&old).map_err(|e| CollectError::from_io(&old, e))?
                }
                other => other.map_err(|e| CollectError::from_io(&lower, e))?,
            };
            total += 1;
            if state.trim() == "up" {
                active += 1;
            }
        }
        res.push((master.to_string(), total, active));
    }
    Ok(res)
}

impl Collector for Bonding {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        for (master, slaves, active) in read_bonding(&self.root)? {
            out.gauge(
                "node_bonding_slaves",
                "Number of configured slaves per bonding interface.",
                &[("master", &master)],
                slaves as f64,
            );
            out.gauge(
                "node_bonding_active",
                "Number of active slaves per bonding interface.",
                &[("master", &master)],
                active as f64,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_file};

    /// Two masters as the bonding driver lays them out on Linux 6.x: bond0 with one of two
    /// slaves down, bond1 with the pre-4.x `slave_` links.
    #[test]
    fn counts_slaves() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("class/net");
        write_file(&net.join("bonding_masters"), "bond0 bond1\n");
        write_file(&net.join("bond0/bonding/slaves"), "eth0 eth1\n");
        write_file(
            &net.join("bond0/lower_eth0/bonding_slave/mii_status"),
            "up\n",
        );
        write_file(
            &net.join("bond0/lower_eth1/bonding_slave/mii_status"),
            "down\n",
        );
        write_file(&net.join("bond1/bonding/slaves"), "eth2\n");
        write_file(
            &net.join("bond1/slave_eth2/bonding_slave/mii_status"),
            "up\n",
        );
        let paths = sys_at(dir.path());
        assert_eq!(
            render(&*build(&paths, &Args {}).unwrap()).unwrap(),
            "# HELP node_bonding_active Number of active slaves per bonding interface.
# TYPE node_bonding_active gauge
node_bonding_active{master=\"bond0\"} 1
node_bonding_active{master=\"bond1\"} 1
# HELP node_bonding_slaves Number of configured slaves per bonding interface.
# TYPE node_bonding_slaves gauge
node_bonding_slaves{master=\"bond0\"} 2
node_bonding_slaves{master=\"bond1\"} 1
"
        );
        // A slave without any mii_status fails the scrape (as "no data", like upstream, which
        // treats any missing file that way) rather than counting a silent zero.
        write_file(&net.join("bond1/bonding/slaves"), "eth2 eth3\n");
        assert!(matches!(
            build(&paths, &Args {})
                .unwrap()
                .update(&mut Exposition::new()),
            Err(CollectError::NoData(_))
        ));
    }

    #[test]
    fn no_bonding_driver_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_bonding(dir.path()),
            Err(CollectError::NoData(_))
        ));
    }
}
