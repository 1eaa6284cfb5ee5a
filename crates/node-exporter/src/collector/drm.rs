//! The `drm` collector (off by default, as upstream): AMD GPUs (driver `amdgpu`) under
//! `/sys/class/drm/card[0-9]`, their busy percentage and memory use, `node_drm_*{card}`. As
//! upstream's `drm_linux.go` over procfs' `ClassDRMCardAMDGPUStats`:
//!
//! - only `card0`..`card9` are looked at (procfs' glob is `card[0-9]`);
//! - a card whose `device/uevent` cannot be read fails the collector, except with ENODATA;
//! - cards of other drivers are skipped;
//! - an attribute that is missing or unreadable reads as 0 (or empty). One that is present but
//!   not a number would crash upstream (a nil dereference); here it reads as 0 too.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};
use crate::sys::read::{parse_sysfs_u64, sys_read_string};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Drm {
        dir: paths.sys("class/drm"),
    }))
}

struct Drm {
    dir: PathBuf,
}

/// `(attribute under device/, metric suffix, HELP)`, the numeric ones.
const GAUGES: [(&str, &str, &str); 7] = [
    (
        "gpu_busy_percent",
        "gpu_busy_percent",
        "How busy the GPU is as a percentage.",
    ),
    (
        "mem_info_gtt_total",
        "memory_gtt_size_bytes",
        "The size of the graphics translation table (GTT) block in bytes.",
    ),
    (
        "mem_info_gtt_used",
        "memory_gtt_used_bytes",
        "The used amount of the graphics translation table (GTT) block in bytes.",
    ),
    (
        "mem_info_vram_total",
        "memory_vram_size_bytes",
        "The size of VRAM in bytes.",
    ),
    (
        "mem_info_vram_used",
        "memory_vram_used_bytes",
        "The used amount of VRAM in bytes.",
    ),
    (
        "mem_info_vis_vram_total",
        "memory_vis_vram_size_bytes",
        "The size of visible VRAM in bytes.",
    ),
    (
        "mem_info_vis_vram_used",
        "memory_vis_vram_used_bytes",
        "The used amount of visible VRAM in bytes.",
    ),
];

impl Collector for Drm {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let cards = crate::sys::read::dir_names(&self.dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.len() == 5 && n.starts_with("card") && n.as_bytes()[4].is_ascii_digit());
        for card in cards {
            let dir = self.dir.join(&card);
            let uevent = match sys_read_string(&dir.join("device/uevent")) {
                Ok(u) => u,
                Err(e) if e.errno() == Some(libc::ENODATA) => continue,
                Err(e) => {
                    return Err(anyhow::anyhow!(crate::sys::read::read_failed(
                        &dir.join("device/uevent"),
                        e
                    ))
                    .into())
                }
            };
            if !uevent.contains("DRIVER=amdgpu") {
                continue;
            }
            // procfs resolves the device link and fails the whole read when it cannot.
            std::fs::canonicalize(dir.join("device"))
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join("device").display()))?;
            write_card(&card, &dir, out);
        }
        Ok(())
    }
}

fn attr(dir: &Path, name: &str) -> Option<String> {
    sys_read_string(&dir.join("device").join(name)).ok()
}

fn write_card(card: &str, dir: &Path, out: &mut Exposition) {
    let text = |name: &str| attr(dir, name).unwrap_or_default();
    out.gauge(
        "node_drm_card_info",
        "Card information",
        &[
            ("card", card),
            ("memory_vendor", &text("mem_info_vram_vendor")),
            (
                "power_performance_level",
                &text("power_dpm_force_performance_level"),
            ),
            ("unique_id", &text("unique_id")),
            ("vendor", "amd"),
        ],
        1.0,
    );
    for (file, suffix, help) in GAUGES {
        let v = attr(dir, file)
            .and_then(|s| parse_sysfs_u64(&s))
            .unwrap_or(0);
        out.gauge(
            &format!("node_drm_{suffix}"),
            help,
            &[("card", card)],
            v as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_files};

    /// A hand-made tree (no GPU here), shaped like an amdgpu card's sysfs on Linux 6.x: the
    /// class entry links to the PCI device.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let dev = "devices/pci0000:00/0000:00:03.0/0000:03:00.0";
        write_files(
            dir.path(),
            &[
                (&format!("{dev}/uevent"), "DRIVER=amdgpu\nPCI_CLASS=30000\n"),
                (&format!("{dev}/gpu_busy_percent"), "4\n"),
                (&format!("{dev}/mem_info_gtt_total"), "8573157376\n"),
                (&format!("{dev}/mem_info_gtt_used"), "144560128\n"),
                (&format!("{dev}/mem_info_vram_total"), "8573157376\n"),
                (&format!("{dev}/mem_info_vram_used"), "1490378752\n"),
                (&format!("{dev}/mem_info_vis_vram_total"), "8573157376\n"),
                (&format!("{dev}/mem_info_vram_vendor"), "samsung\n"),
                (
                    &format!("{dev}/power_dpm_force_performance_level"),
                    "manual\n",
                ),
                (&format!("{dev}/unique_id"), "0123456789abcdef\n"),
                (
                    "devices/platform/simple-framebuffer.0/uevent",
                    "DRIVER=simple-framebuffer\n",
                ),
            ],
        );
        let class = dir.path().join("class/drm");
        std::fs::create_dir_all(class.join("card0")).unwrap();
        std::fs::create_dir_all(class.join("card1")).unwrap();
        std::fs::create_dir_all(class.join("card0-DP-1")).unwrap();
        std::os::unix::fs::symlink(format!("../../../{dev}"), class.join("card0/device")).unwrap();
        std::os::unix::fs::symlink(
            "../../../devices/platform/simple-framebuffer.0",
            class.join("card1/device"),
        )
        .unwrap();
        dir
    }

    #[test]
    fn amd_cards_only() {
        let dir = tree();
        let t = render(&*build(&sys_at(dir.path()), &Args {}).unwrap()).unwrap();
        assert!(t.contains("# HELP node_drm_card_info Card information\n# TYPE node_drm_card_info gauge\nnode_drm_card_info{card=\"card0\",memory_vendor=\"samsung\",power_performance_level=\"manual\",unique_id=\"0123456789abcdef\",vendor=\"amd\"} 1\n"), "{t}");
        assert!(t.contains("node_drm_gpu_busy_percent{card=\"card0\"} 4\n"));
        assert!(t.contains("node_drm_memory_vram_used_bytes{card=\"card0\"} 1.490378752e+09\n"));
        // Missing attribute: 0.
        assert!(t.contains("node_drm_memory_vis_vram_used_bytes{card=\"card0\"} 0\n"));
        assert!(!t.contains("card1"));
        assert_eq!(t.matches("# TYPE").count(), 8);
    }

    #[test]
    fn no_class_dir_is_empty_and_a_card_without_uevent_fails() {
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            render(&*build(&sys_at(empty.path()), &Args {}).unwrap()).unwrap(),
            ""
        );
        write_files(empty.path(), &[("class/drm/card2/dev", "226:2\n")]);
        assert!(render(&*build(&sys_at(empty.path()), &Args {}).unwrap()).is_err());
    }
}
