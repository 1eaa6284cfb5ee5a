//! Hand-made input: the recording host has no NFS mount. The layout follows what Linux 6.x
//! writes for an NFSv4.2 and an NFSv3 mount (fs/nfs/super.c `nfs_show_stats`,
//! net/sunrpc/xprtsock.c `xs_tcp_print_stats`); the numbers are invented.

use super::*;
use crate::collector::testutil::{proc_at, render, write_files};

const MOUNTSTATS: &str = "device proc mounted on /proc with fstype proc
device /dev/vda mounted on / with fstype ext4
device nfs.example:/export mounted on /mnt/a with fstype nfs4 statvers=1.1
\topts:\trw,vers=4.2,rsize=1048576,wsize=1048576,proto=tcp,timeo=600
\tage:\t1234
\tcaps:\tcaps=0x3ffbffff,wtmult=512,dtsize=1048576,bsize=0,namlen=255
\tsec:\tflavor=1,pseudoflavor=1
\tevents:\t10 20 30 40 50 60 70 80 90 100 110 120 130 140 150 160 170 180 190 200 210 220 230 240 250 260 270
\tbytes:\t1000 2000 3000 4000 5000 6000 7 8
\tRPC iostats version: 1.1  p/v: 100003/4 (nfs)
\txprt:\ttcp 0 1 2 0 9007199254740993 300 299 0 3000 4 64 5 6
\tper-op statistics
\t        NULL: 1 1 0 44 24 0 0 1 0
\t        READ: 100 100 0 14000 104857600 9007199254741992 2500 2600 0
\t       WRITE: 50 51 1 52428800 7200 20 3000 3100 2

device nfs.example:/export mounted on /mnt/b with fstype nfs4 statvers=1.1
\tage:\t99
\tbytes:\t1 1 1 1 1 1 1 1
\tevents:\t1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
\txprt:\ttcp 0 1 2 0 0 1 1 0 0 0 1 0 0
\tper-op statistics
\t        NULL: 1 1 0 44 24 0 0 1

device old.example:/srv mounted on /mnt/c with fstype nfs statvers=1.0
\tage:\t5
\tbytes:\t0 0 0 0 0 0 0 0
\tevents:\t0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
\txprt:\tudp 0 3 7 6 0 2 9
\tper-op statistics
\t     GETATTR: 2 2 0 200 224 0 1 1

";

const MOUNTINFO: &str = "23 1 8:0 / /proc rw,nosuid - proc proc rw
24 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 24 0:50 / /mnt/a rw,relatime shared:90 - nfs4 nfs.example:/export rw,vers=4.2,proto=tcp,addr=192.0.2.10,clientaddr=192.0.2.1
41 24 0:50 / /mnt/b rw,relatime shared:91 - nfs4 nfs.example:/export rw,vers=4.2,proto=tcp,addr=192.0.2.10,clientaddr=192.0.2.1
42 24 0:51 / /mnt/c rw,relatime - nfs old.example:/srv rw,vers=3,proto=udp,addr=192.0.2.20
";

#[test]
fn parses_entries_and_nfs_stats() {
    let m = parse_mountstats(MOUNTSTATS).unwrap();
    assert_eq!(m.len(), 5);
    assert_eq!(m[1].nfs, None);
    let s = m[2].nfs.as_ref().unwrap();
    assert_eq!(s.age_seconds, 1234.0);
    assert_eq!(s.bytes, [1000, 2000, 3000, 4000, 5000, 6000, 7, 8]);
    assert_eq!(s.events[26], 270);
    assert_eq!(s.transports[0].idle_time_seconds, 9007199254740993);
    assert_eq!(s.transports[0].max_slots, 64);
    assert_eq!(s.transports[0].pending_queue, 6);
    assert_eq!(s.operations.len(), 3);
    assert_eq!(s.operations[2].name, "WRITE");
    // UDP 1.0: no connect or idle fields, no slot counters.
    let u = &m[4].nfs.as_ref().unwrap().transports[0];
    assert_eq!(
        (u.bind, u.connect, u.sends, u.receives, u.backlog),
        (3, 0, 7, 6, 9)
    );
    assert_eq!(u.max_slots, 0);
}

#[test]
fn refuses_what_procfs_refuses() {
    let nfs =
        |body: &str| format!("device a:/b mounted on /c with fstype nfs4 statvers=1.1\n{body}\n");
    assert!(parse_mountstats("device x mounted on\n").is_err());
    assert!(parse_mountstats("device x mounted at /y with fstype ext4\n").is_err());
    assert!(parse_mountstats("device x mounted on /y with fstype ext4 statvers=1.1\n").is_err());
    assert!(parse_mountstats(&nfs("\tbytes:\t1 2 3")).is_err());
    assert!(parse_mountstats(&nfs("\tbytes:\t1 2 3 4 5 6 7 18446744073709551616")).is_err());
    assert!(parse_mountstats(&nfs("\tevents:\t1")).is_err());
    assert!(parse_mountstats(&nfs("\txprt:\ttcp 1 2")).is_err());
    assert!(parse_mountstats(&nfs("\txprt:\tsctp 0 1 2 0 0 1 1 0 0 0 1 0 0")).is_err());
    assert!(parse_mountstats(&nfs("\tage:")).is_err());
    assert!(parse_mountstats(&nfs("\tper-op statistics\n\tNULL: 1 1 0")).is_err());
    let rdma = "\txprt:\trdma 0 0 1 0 0 5 5 0 0 0 1 2 3 4 5 6 7 8 9 10 11";
    let r = parse_mountstats(&nfs(rdma)).unwrap();
    let t = &r[0].nfs.as_ref().unwrap().transports[0];
    assert_eq!(
        (t.sends, t.backlog, t.max_slots, t.sending_queue),
        (5, 0, 0, 0)
    );
    // RDMA: 20 to 31 values, as procfs (a 32nd would overrun its array).
    let rdma31 = format!("\txprt:\trdma {}", vec!["1"; 31].join(" "));
    assert!(parse_mountstats(&nfs(&rdma31)).is_ok());
    let rdma32 = format!("\txprt:\trdma {}", vec!["1"; 32].join(" "));
    assert!(parse_mountstats(&nfs(&rdma32)).is_err());
    // Huge counts are kept exactly.
    let big = nfs("\tbytes:\t18446744073709551615 0 0 0 0 0 0 0");
    assert_eq!(
        parse_mountstats(&big).unwrap()[0]
            .nfs
            .as_ref()
            .unwrap()
            .bytes[0],
        u64::MAX
    );
}

#[test]
fn mountinfo_addresses() {
    let a = parse_mountinfo_addrs(MOUNTINFO).unwrap();
    assert_eq!(a[0], None);
    assert_eq!(a[2].as_deref(), Some("192.0.2.10"));
    assert!(parse_mountinfo_addrs("1 2 3\n").is_err());
    assert!(parse_mountinfo_addrs("x 1 0:1 / /a rw shared:1 - ext4 /dev/x rw\n").is_err());
    assert!(parse_mountinfo_addrs("1 1 0:1 / /a rw shared:1 x ext4 /dev/x rw\n").is_err());
}

#[test]
fn renders_with_duplicates_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("self/mountstats", MOUNTSTATS),
            ("self/mountinfo", MOUNTINFO),
        ],
    );
    let text = render(&*build(&proc_at(dir.path()), &Args {}).unwrap()).unwrap();
    // Both mount points of the same export get their info sample, the stats come once.
    assert!(text.contains(
        "# HELP node_mountstats_nfs_mountpoint_info Info metric for an NFS mountpoint.\n\
# TYPE node_mountstats_nfs_mountpoint_info gauge\n\
node_mountstats_nfs_mountpoint_info{export=\"nfs.example:/export\",mountaddr=\"192.0.2.10\",mountpoint=\"/mnt/a\",protocol=\"tcp\"} 1\n\
node_mountstats_nfs_mountpoint_info{export=\"nfs.example:/export\",mountaddr=\"192.0.2.10\",mountpoint=\"/mnt/b\",protocol=\"tcp\"} 1\n\
node_mountstats_nfs_mountpoint_info{export=\"old.example:/srv\",mountaddr=\"192.0.2.20\",mountpoint=\"/mnt/c\",protocol=\"udp\"} 1\n"
    ), "{text}");
    assert!(text.contains(
        "# HELP node_mountstats_nfs_age_seconds_total The age of the NFS mount in seconds.\n\
# TYPE node_mountstats_nfs_age_seconds_total counter\n\
node_mountstats_nfs_age_seconds_total{export=\"nfs.example:/export\",mountaddr=\"192.0.2.10\",protocol=\"tcp\"} 1234\n\
node_mountstats_nfs_age_seconds_total{export=\"old.example:/srv\",mountaddr=\"192.0.2.20\",protocol=\"udp\"} 5\n"
    ));
    // Modulo 2^53, then milliseconds to seconds.
    assert!(text.contains("node_mountstats_nfs_transport_idle_time_seconds{export=\"nfs.example:/export\",mountaddr=\"192.0.2.10\",protocol=\"tcp\",transport=\"0\"} 1\n"));
    assert!(text.contains("node_mountstats_nfs_operations_queue_time_seconds_total{export=\"nfs.example:/export\",mountaddr=\"192.0.2.10\",operation=\"READ\",protocol=\"tcp\"} 1\n"));
    assert!(text.contains("node_mountstats_nfs_operations_request_time_seconds_total{export=\"nfs.example:/export\",mountaddr=\"192.0.2.10\",operation=\"WRITE\",protocol=\"tcp\"} 3.1\n"));
    assert!(text.contains("node_mountstats_nfs_event_pnfs_write_total{export=\"nfs.example:/export\",mountaddr=\"192.0.2.10\",protocol=\"tcp\"} 270\n"));
    assert!(text.contains("node_mountstats_nfs_event_truncation_total{export=\"nfs.example:/export\",mountaddr=\"192.0.2.10\",protocol=\"tcp\"} 200\n"));
    assert_eq!(text.matches("# TYPE").count(), 1 + 1 + 8 + 10 + 8 + 26);
}
