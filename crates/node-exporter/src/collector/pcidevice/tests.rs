//! The device trees are shaped like this host's (a KVM guest with virtio devices, Linux 6.18)
//! plus a hand-made PCIe NIC with SR-IOV behind a bridge, which this host does not have.

use super::*;
use crate::collector::testutil::{render, sys_at, write_files};

fn device(root: &Path, path: &str, files: &[(&str, &str)]) {
    let dir = root.join(path);
    write_files(&dir, files);
    let name = path.rsplit('/').next().unwrap();
    let link = root.join("bus/pci/devices").join(name);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(format!("../../../{path}"), link).unwrap();
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ids = |class, vendor, device, sv, sd, rev| {
        vec![
            ("class", class),
            ("vendor", vendor),
            ("device", device),
            ("subsystem_vendor", sv),
            ("subsystem_device", sd),
            ("revision", rev),
        ]
    };
    // As on this host: a virtio block device on the root bus, no link attributes.
    let mut virtio = ids(
        "0xffff00\n",
        "0x1af4\n",
        "0x1045\n",
        "0x1af4\n",
        "0x1100\n",
        "0x01\n",
    );
    virtio.extend([
        ("numa_node", "-1\n"),
        ("d3cold_allowed", "1\n"),
        ("power_state", "D0\n"),
    ]);
    device(dir.path(), "devices/pci0000:00/0000:00:01.0", &virtio);
    // Hand-made: a PCIe NIC with SR-IOV behind a bridge.
    let mut nic = ids(
        "0x020000\n",
        "0x8086\n",
        "0x1521\n",
        "0x8086\n",
        "0x0001\n",
        "0x01\n",
    );
    nic.extend([
        ("max_link_speed", "5.0 GT/s PCIe\n"),
        ("max_link_width", "4\n"),
        ("current_link_speed", "2.5 GT/s PCIe\n"),
        ("current_link_width", "4\n"),
        ("numa_node", "0\n"),
        ("sriov_drivers_autoprobe", "1\n"),
        ("sriov_numvfs", "2\n"),
        ("sriov_totalvfs", "7\n"),
        ("sriov_vf_device", "1520\n"),
        ("sriov_vf_total_msix", "0\n"),
        ("power_state", "D3hot\n"),
    ]);
    device(
        dir.path(),
        "devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
        &nic,
    );
    dir
}

#[test]
fn parses_locations() {
    assert_eq!(
        Location::parse("0000:00:1f.3").unwrap().0,
        ["0000", "00", "1f", "3"]
    );
    assert_eq!(
        Location::parse("10000:0A:00.7").unwrap().0,
        ["10000", "0a", "00", "7"]
    );
    assert!(Location::parse("0000:00:1f").is_none());
    assert!(Location::parse("0000:00:1f.3.1").is_none());
    assert!(Location::parse("pci0000:00").is_none());
    assert!(Location::parse("ffffffffff:00:00.0").is_none());
}

#[test]
fn renders_devices() {
    let dir = tree();
    let t = render(&*build(&sys_at(dir.path()), &Args::default()).unwrap()).unwrap();
    assert!(t.contains("# HELP node_pcidevice_info Non-numeric data from /sys/bus/pci/devices/<location>, value is always 1.\n# TYPE node_pcidevice_info gauge\n\
node_pcidevice_info{bus=\"00\",class_id=\"0xffff00\",device=\"01\",device_id=\"0x1045\",function=\"0\",parent_bus=\"*\",parent_device=\"*\",parent_function=\"*\",parent_segment=\"*\",revision=\"0x01\",segment=\"0000\",subsystem_device_id=\"0x1100\",subsystem_vendor_id=\"0x1af4\",vendor_id=\"0x1af4\"} 1\n\
node_pcidevice_info{bus=\"01\",class_id=\"0x020000\",device=\"00\",device_id=\"0x1521\",function=\"0\",parent_bus=\"00\",parent_device=\"1c\",parent_function=\"0\",parent_segment=\"0000\",revision=\"0x01\",segment=\"0000\",subsystem_device_id=\"0x0001\",subsystem_vendor_id=\"0x8086\",vendor_id=\"0x8086\"} 1\n"), "{t}");
    assert!(t.contains("node_pcidevice_max_link_transfers_per_second{bus=\"00\",device=\"01\",function=\"0\",segment=\"0000\"} -1\n"));
    assert!(t.contains("node_pcidevice_max_link_transfers_per_second{bus=\"01\",device=\"00\",function=\"0\",segment=\"0000\"} 5e+09\n"));
    assert!(t.contains("node_pcidevice_current_link_width{bus=\"01\",device=\"00\",function=\"0\",segment=\"0000\"} 4\n"));
    assert!(t.contains("node_pcidevice_d3cold_allowed{bus=\"00\",device=\"01\",function=\"0\",segment=\"0000\"} 1\n"));
    assert!(t.contains("node_pcidevice_sriov_totalvfs{bus=\"01\",device=\"00\",function=\"0\",segment=\"0000\"} 7\n"));
    assert!(t.contains("node_pcidevice_power_state{bus=\"01\",device=\"00\",function=\"0\",segment=\"0000\",state=\"D3hot\"} 1\n"));
    assert_eq!(t.matches("node_pcidevice_power_state{").count(), 14);
    // numa_node -1 is left out.
    assert_eq!(t.matches("node_pcidevice_numa_node{").count(), 1);
}

#[test]
fn failures() {
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        render(&*build(&sys_at(empty.path()), &Args::default()).unwrap()),
        Err(CollectError::NoData(_))
    ));
    let dir = tree();
    let nic = dir
        .path()
        .join("devices/pci0000:00/0000:00:1c.0/0000:01:00.0");
    std::fs::write(nic.join("max_link_speed"), "5.0 GT/s\n").unwrap();
    let e = render(&*build(&sys_at(dir.path()), &Args::default()).unwrap()).unwrap_err();
    assert!(e.to_string().contains("unknown unit"), "{e}");
    std::fs::write(nic.join("max_link_speed"), "Unknown\n").unwrap();
    std::fs::write(nic.join("class"), "0xffffffffff\n").unwrap();
    assert!(render(&*build(&sys_at(dir.path()), &Args::default()).unwrap()).is_err());
    std::fs::remove_file(nic.join("class")).unwrap();
    assert!(matches!(
        render(&*build(&sys_at(dir.path()), &Args::default()).unwrap()),
        Err(CollectError::NoData(_))
    ));
}

// A few lines in pci.ids' format (names invented).
const IDS: &str = "# comment\n\
8086  Example Corp\n\
\t1521  Example Gigabit NIC\n\
\t\t8086 0001  Example Dual-Port Adapter\n\
1af4  Example Virtio Vendor\n\
\t1045  Example balloon\n\
C 02  Network controller\n\
\t00  Ethernet controller\n\
C 01  Mass storage controller\n\
\t08  Non-Volatile memory controller\n\
\t\t02  NVM Express\n\
C ff  Unassigned class\n";

#[test]
fn resolves_names() {
    let ids = PciIds::parse(IDS);
    assert_eq!(ids.vendor("0x8086"), "Example Corp");
    assert_eq!(ids.vendor("0xABCD"), "abcd");
    assert_eq!(ids.device("0x8086", "0x1521"), "Example Gigabit NIC");
    assert_eq!(ids.device("0x8086", "0x9999"), "9999");
    assert_eq!(
        ids.subsystem("0x8086", "0x1521", "0x8086", "0x0001"),
        "Example Dual-Port Adapter"
    );
    assert_eq!(
        ids.subsystem("0x8086", "0x1521", "0x8086", "0x0002"),
        "0002"
    );
    assert_eq!(ids.class("0x010802"), "NVM Express");
    assert_eq!(ids.class("0x020000"), "Ethernet controller");
    assert_eq!(ids.class("0xff0000"), "Unassigned class");
    assert_eq!(ids.class("0x0c0330"), "Unknown class (0c0330)");

    let dir = tree();
    let file = dir.path().join("pci.ids");
    std::fs::write(&file, IDS).unwrap();
    let args = Args {
        pcidevice_idsfile: Some(file),
        pcidevice_names: true,
        pcidevice_no_names: false,
    };
    let t = render(&*build(&sys_at(dir.path()), &args).unwrap()).unwrap();
    assert!(t.contains("class_name=\"Ethernet controller\",device=\"00\",device_id=\"0x1521\",device_name=\"Example Gigabit NIC\",function=\"0\""), "{t}");
    assert!(t.contains("subsystem_device_name=\"Example Dual-Port Adapter\""));
    assert!(t.contains("subsystem_vendor_name=\"Example Corp\",vendor_id=\"0x8086\",vendor_name=\"Example Corp\"} 1\n"));
    // The virtio device's subsystem is not listed: its id.
    assert!(t.contains("subsystem_device_name=\"1100\""));
}

#[test]
fn flags() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }
    let t = T::parse_from([
        "t",
        "--collector.pcidevice.names",
        "--collector.pcidevice.idsfile=/x",
    ]);
    assert!(t.a.pcidevice_names && !t.a.pcidevice_no_names);
    assert_eq!(t.a.pcidevice_idsfile, Some(PathBuf::from("/x")));
    let t = T::parse_from([
        "t",
        "--collector.pcidevice.names",
        "--no-collector.pcidevice.names",
    ]);
    assert!(!t.a.pcidevice_names && t.a.pcidevice_no_names);
}
