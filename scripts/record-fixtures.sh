#!/usr/bin/env bash
# Records, from this live host, the /proc, /sys, udev and os-release files that node_exporter's
# collectors read, into crates/node-exporter/tests/fixtures/<name>/, for the golden test.
#
#   scripts/record-fixtures.sh [NAME]
#
# NAME defaults to <distro><version>-linux<major.minor> (e.g. debian12-linux6.18); recording again
# under the same name replaces that tree. After recording, regenerate the golden file:
#
#   UPDATE_GOLDEN=1 cargo test -p node-exporter --test golden
#
# How: one scrape of the real node_exporter (all its default collectors) and one of ours (all
# ours) run under `strace -f`; every path they successfully open, stat or readlink below /proc,
# /sys, /run/udev/data or the os-release files is copied:
#   - regular files by content (sysfs files claim 4096 bytes; we copy what read() returns),
#   - /sys and rootfs symlinks kept as relative symlinks (sysfs class/* entries are symlinks into
#     devices/, collectors rely on that), /proc symlinks (/proc/net -> self/net) flattened,
#   - per-process dirs reduced to /proc/1/{mounts,mountinfo} (the filesystem collector's input),
#   - files some 1.12 collectors read that 1.5 does not (EXTRA_GLOBS below) copied when present,
#   - scrubbed: hostname -> fixture-host, IPv4 -> 192.0.2.x, IPv6 -> 2001:db8::x, MACs ->
#     02:00:00:00:00:xx, serial numbers / UUIDs / machine and boot ids removed or blanked.
#
# Environment:
#   NODE_EXPORTER_BIN   the reference binary (default /usr/bin/prometheus-node-exporter)
#   OURS_BIN            our binary (default: `cargo build -p node-exporter`, then the debug build)
#   DROP_MOUNTS_RE      regex; lines of /proc/1/mounts and mountinfo matching it are dropped
#                       (for mounts that belong to the recording environment, not to the host)
#   ADD_ONLY=1          keep the existing tree of NAME and only add what is missing: trace only
#                       ours, with --collector.disable-defaults and the off-by-default collectors
#                       of OFF_COLLECTORS below, copy the files not yet in the tree (nothing already
#                       recorded changes), and append a dated note to its README
#
# Needs: strace, curl, python3 (standard library only). Run as root to read everything a root
# node_exporter reads (some sysfs files are root-only); unprivileged works with fewer files.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
fixtures="$repo/crates/node-exporter/tests/fixtures"
upstream="${NODE_EXPORTER_BIN:-/usr/bin/prometheus-node-exporter}"

for tool in strace curl python3; do
  command -v "$tool" >/dev/null || { echo "record-fixtures: $tool is required" >&2; exit 1; }
done
[ -x "$upstream" ] || { echo "record-fixtures: $upstream not found (set NODE_EXPORTER_BIN)" >&2; exit 1; }

if [ -z "${OURS_BIN:-}" ]; then
  (cd "$repo" && cargo build -q -p node-exporter)
  OURS_BIN="${CARGO_TARGET_DIR:-$repo/target}/debug/node-exporter"
fi

# shellcheck disable=SC1091
distro="$(. /etc/os-release && echo "${ID:-linux}${VERSION_ID:-}")"
kver="$(uname -r)"
name="${1:-${distro}-linux$(echo "$kver" | cut -d. -f1-2)}"
case "$name" in */*|.*|"") echo "record-fixtures: bad name $name" >&2; exit 1;; esac
dest="$fixtures/$name"

work="$(mktemp -d /tmp/record-fixtures.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# trace LABEL BINARY ARGS...: runs BINARY under strace, scrapes /metrics once, stops it.
trace() {
  local label="$1" bin="$2"; shift 2
  local port; port="$(free_port)"
  strace -f -qq -e trace=openat,open,newfstatat,statx,stat,lstat,readlinkat,readlink \
    -o "$work/trace-$label.txt" \
    "$bin" --web.listen-address="127.0.0.1:$port" "$@" >"$work/$label.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local i
  for i in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/" -o /dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/$label.log" >&2; echo "record-fixtures: $label exited" >&2; exit 1; }
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/metrics" -o "$work/$label.prom"
  # strace -o FILE PROG blocks fatal signals (its -I3 default): stop the tracee, strace follows.
  local tracee
  for tracee in $(pgrep -P "$pid"); do kill "$tracee"; done
  wait "$pid" 2>/dev/null || true
  echo "record-fixtures: traced one scrape of $label ($(grep -c . "$work/trace-$label.txt") syscalls)"
}

# Collectors node_exporter ships disabled that read /proc or /sys: ours is traced with each it
# accepts, so their files are recorded too. The sysctl flags are the golden test's
# (crates/node-exporter/tests/golden.rs, OPTIONAL_FLAGS): keep the two lists alike.
OFF_COLLECTORS="buddyinfo cgroups drbd drm ksmd lnstat meminfo_numa mountstats nvmesubsystem pcidevice processes slabinfo sysctl zoneinfo"
SYSCTL_FLAGS=(
  --collector.sysctl.include=kernel.threads-max
  --collector.sysctl.include=fs.file-nr
  --collector.sysctl.include=net.ipv4.ip_local_port_range:low,high
  --collector.sysctl.include-info=kernel.core_pattern
  --collector.sysctl.include-info=net.ipv4.tcp_rmem
)
off_flags=()
for c in $OFF_COLLECTORS; do
  if "$OURS_BIN" "--collector.$c" --version >/dev/null 2>&1; then off_flags+=("--collector.$c"); fi
done
case " ${off_flags[*]} " in *" --collector.sysctl "*) off_flags+=("${SYSCTL_FLAGS[@]}");; esac

add_only="${ADD_ONLY:-0}"
if [ "$add_only" = 1 ]; then
  [ -d "$dest/proc" ] || { echo "record-fixtures: ADD_ONLY=1 needs an existing $dest" >&2; exit 1; }
  : >"$work/trace-upstream.txt"
  trace ours "$OURS_BIN" --collector.disable-defaults "${off_flags[@]}"
else
  trace upstream "$upstream"
  trace ours "$OURS_BIN" "${off_flags[@]}"
  rm -rf "$dest"
  mkdir -p "$dest"
fi

upstream_version="$("$upstream" --version 2>&1 | head -1)"

python3 - "$dest" "$work" "$name" "$upstream_version" "${DROP_MOUNTS_RE:-}" "$add_only" "${off_flags[*]}" <<'PY'
import glob, ipaddress, os, re, socket, stat, struct, sys, time

dest, work, name, upstream_version, drop_mounts_re, add_only, off_flags = sys.argv[1:8]
add_only = add_only == "1"
drop_mounts = re.compile(drop_mounts_re) if drop_mounts_re else None

# Paths 1.12 collectors read that 1.5 does not, copied when present on this host (ours traces
# them too once implemented; listing them keeps a recording made before that complete).
EXTRA_GLOBS = [
    "/proc/1/mountinfo",             # filesystem (1.12 reads mountinfo, 1.5 mounts)
    "/proc/1/mounts",
    "/proc/net/dev",                 # netdev with --no-collector.netdev.netlink
    "/proc/net/arp",                 # arp with --no-collector.arp.netlink
    "/proc/pressure/*",              # pressure irq (1.9)
    "/proc/sys/kernel/hung_task_detect_count",
    "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/cpu[0-9]*/online",  # node_cpu_online (1.9)
    "/sys/class/watchdog/*/*",       # watchdog (1.8)
    "/etc/os-release", "/usr/lib/os-release",
]
# diskstats (1.9+) reads /sys/block/<dev>/queue/* for the devices it does not exclude.
DISK_EXCLUDE = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")

ROOTFS_FILES = ("/etc/os-release", "/usr/lib/os-release")

def category(p):
    if p == "/proc" or p.startswith("/proc/"): return "proc"
    if p == "/sys" or p.startswith("/sys/"): return "sys"
    if p == "/run/udev/data" or p.startswith("/run/udev/data/"): return "udev"
    if p in ROOTFS_FILES or p in ("/etc", "/usr", "/usr/lib"): return "rootfs"
    return None

def fixture_path(p):
    c = category(p)
    if c == "udev":
        return os.path.join(dest, "udev/data", p[len("/run/udev/data"):].lstrip("/"))
    return os.path.join(dest, p.lstrip("/"))

SKIP_RE = re.compile(
    r"^/proc/(self|thread-self)(/|$)"
    r"|^/proc/\d+(/|$)"                      # other processes (pid 1 mounts: via EXTRA)
    r"|^/sys/kernel/mm/transparent_hugepage"  # the Go runtime's, not a collector's
    r"|^/sys/fs/cgroup"                       # runtimes' CPU quota probing
)
# pid 1's mounts (filesystem) and its stat and threads' stat (processes): the processes
# collector then counts one process, not the recording host's, which change by the second.
KEEP_PID1 = re.compile(r"^/proc/1/(mounts|mountinfo|stat|task|task/\d+|task/\d+/stat)$")

# Files never copied: identifiers of this machine, not needed by any collector's metrics.
DROP_BASENAMES = {"product_serial", "board_serial", "chassis_serial", "product_uuid", "serial",
                  "machine-id", "boot_id", "uuid", "wwid", "board_asset_tag",
                  "chassis_asset_tag", "product_asset_tag", "phys_port_id", "phys_switch_id"}

stats = {"files": 0, "symlinks": 0, "dirs": 0, "unreadable": [], "dropped": [],
         "macs": {}, "ipv4": {}, "ipv6": {}, "hostname": 0, "udev_ids": 0, "mount_lines": 0}

hostname = socket.gethostname()

def map_mac(m):
    octets = m.split(":")
    low = m.lower()
    if set(low.replace(":", "")) <= {"0"} or set(low.replace(":", "")) <= {"f"}:
        return m
    if low not in stats["macs"]:
        stats["macs"][low] = len(stats["macs"]) + 1
    n = stats["macs"][low]
    return ":".join(["02"] + ["00"] * (len(octets) - 2) + ["%02x" % (n & 0xff)])

def map_v4(a):
    ip = ipaddress.IPv4Address(a)
    if ip.is_loopback or ip.is_unspecified or a == "255.255.255.255" or ip.is_multicast:
        return None
    if a not in stats["ipv4"]:
        stats["ipv4"][a] = len(stats["ipv4"]) + 1
    return "192.0.2.%d" % stats["ipv4"][a]

def map_v6(ip):
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        return None
    if ip.ipv4_mapped is not None:
        v4 = map_v4(str(ip.ipv4_mapped))
        return None if v4 is None else ipaddress.IPv6Address("::ffff:" + v4)
    k = str(ip)
    if k not in stats["ipv6"]:
        stats["ipv6"][k] = len(stats["ipv6"]) + 1
    return ipaddress.IPv6Address("2001:db8::%x" % stats["ipv6"][k])

MAC_RE = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}:){5,}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])")
V4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
HEX4_RE = re.compile(r"\b([0-9A-F]{8}):([0-9A-F]{4})\b")
HEX6_RE = re.compile(r"\b([0-9A-F]{32}):([0-9A-F]{4})\b")
UDEV_ID_RE = re.compile(r"^(E:(?:ID_SERIAL|ID_SERIAL_SHORT|ID_SCSI_SERIAL|SCSI_IDENT_SERIAL|"
                        r"ID_WWN|ID_WWN_WITH_EXTENSION|ID_FS_UUID|ID_FS_UUID_ENC|ID_PART_TABLE_UUID|"
                        r"ID_PART_ENTRY_UUID|DM_UUID|MD_UUID|ID_FS_LABEL|ID_FS_LABEL_ENC)=)(.*)$", re.M)

def scrub_v4(m):
    a = m.group(0)
    try:
        r = map_v4(a)
    except ValueError:
        return a
    return a if r is None else r

def hex4_le(m):
    # /proc/net/{tcp,udp,raw}: IPv4 address as a host-order (little-endian here) 32-bit word.
    raw = bytes.fromhex(m.group(1))[::-1]
    r = map_v4(socket.inet_ntoa(raw))
    if r is None:
        return m.group(0)
    return socket.inet_aton(r)[::-1].hex().upper() + ":" + m.group(2)

def hex6_le(m):
    # /proc/net/{tcp6,udp6,raw6}: four host-order 32-bit words.
    b = bytes.fromhex(m.group(1))
    raw = b"".join(b[i:i + 4][::-1] for i in range(0, 16, 4))
    r = map_v6(ipaddress.IPv6Address(raw))
    if r is None:
        return m.group(0)
    p = r.packed
    return b"".join(p[i:i + 4][::-1] for i in range(0, 16, 4)).hex().upper() + ":" + m.group(2)

def scrub(path, data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    orig = text
    if hostname and text.strip() == hostname:
        text = text.replace(hostname, "fixture-host")
        stats["hostname"] += 1
    elif hostname and len(hostname) >= 4 and re.search(r"\b%s\b" % re.escape(hostname), text):
        text = re.sub(r"\b%s\b" % re.escape(hostname), "fixture-host", text)
        stats["hostname"] += 1
    if path.startswith("/proc/1/mount") and drop_mounts:
        lines = text.splitlines(keepends=True)
        kept = [l for l in lines if not drop_mounts.search(l)]
        stats["mount_lines"] += len(lines) - len(kept)
        text = "".join(kept)
    text = MAC_RE.sub(lambda m: map_mac(m.group(0)), text)
    if path.startswith("/proc/net/") and re.search(r"/(tcp|udp|raw|udplite)6?$", path):
        text = HEX6_RE.sub(hex6_le, text)
        text = HEX4_RE.sub(hex4_le, text)
    text = V4_RE.sub(scrub_v4, text)
    if category(path) == "udev":
        def blank(m):
            stats["udev_ids"] += 1
            return m.group(1) + "fixture-" + m.group(1)[2:-1].lower().replace("_", "-")
        text = UDEV_ID_RE.sub(blank, text)
    return text.encode("utf-8") if text != orig else data

def ensure_dir(p):
    if not os.path.isdir(p):
        os.makedirs(p, exist_ok=True)
        stats["dirs"] += 1

def copy_file(live, dst):
    if os.path.basename(live) in DROP_BASENAMES:
        stats["dropped"].append(live)
        return
    try:
        with open(live, "rb") as f:
            data = f.read(1 << 20)
    except OSError as e:
        stats["unreadable"].append("%s (%s)" % (live, e.strerror))
        return
    ensure_dir(os.path.dirname(dst))
    with open(dst, "wb") as f:
        f.write(scrub(live, data))
    stats["files"] += 1

def materialize(path, depth=0):
    """Recreates `path` in the fixture: its directories, the symlinks on its way, its content."""
    if depth > 20 or category(path) is None:
        return
    parts = [p for p in path.split("/") if p]
    cur = ""
    for i, part in enumerate(parts):
        cur = cur + "/" + part
        last = i == len(parts) - 1
        try:
            st = os.lstat(cur)
        except OSError:
            return
        dst = fixture_path(cur)
        if stat.S_ISLNK(st.st_mode) and category(cur) in ("sys", "rootfs"):
            target = os.readlink(cur)
            resolved = os.path.normpath(os.path.join(os.path.dirname(cur), target))
            if not os.path.isabs(target) and category(resolved) == category(cur):
                ensure_dir(os.path.dirname(dst))
                if not os.path.lexists(dst):
                    os.symlink(target, dst)
                    stats["symlinks"] += 1
                rest = "/".join(parts[i + 1:])
                materialize(resolved + ("/" + rest if rest else ""), depth + 1)
                return
        # /proc symlinks (net -> self/net, mounts -> self/mounts) are flattened: follow them.
        if os.path.isdir(cur):
            ensure_dir(dst)
        elif last and os.path.isfile(cur):
            if not os.path.exists(dst):
                copy_file(cur, dst)
        else:
            return

CALL_RE = re.compile(r'^(\d+)\s+(\w+)\((?:AT_FDCWD, )?"([^"]*)"(.*)$')
RESUMED_RE = re.compile(r'^(\d+)\s+<\.\.\. (\w+) resumed>.*\)\s+=\s+(-?\d+)')
RESULT_RE = re.compile(r'\)\s+=\s+(-?\d+)')

def traced_paths(trace):
    """Paths of the successful calls; with -f, a call another thread interrupts is split into
    `<unfinished ...>` and `<... resumed>` lines."""
    out = set()
    pending = {}
    with open(trace, errors="replace") as f:
        for line in f:
            path = None
            m = CALL_RE.match(line)
            if m:
                if "<unfinished ...>" in m.group(4):
                    pending[m.group(1)] = m.group(3)
                    continue
                r = RESULT_RE.search(m.group(4))
                if r and int(r.group(1)) >= 0:
                    path = m.group(3)
            else:
                m = RESUMED_RE.match(line)
                if m and m.group(1) in pending:
                    p = pending.pop(m.group(1))
                    if int(m.group(3)) >= 0:
                        path = p
            if path is None:
                continue
            p = os.path.normpath(path)
            if not p.startswith("/") or category(p) is None:
                continue
            if SKIP_RE.search(p) and not KEEP_PID1.match(p):
                continue
            out.add(p)
    return out

paths = set()
for label in ("upstream", "ours"):
    t = os.path.join(work, "trace-%s.txt" % label)
    got = traced_paths(t)
    print("record-fixtures: %s opened %d paths below the recorded roots" % (label, len(got)))
    paths |= got
for g in EXTRA_GLOBS if not add_only else []:
    paths |= set(glob.glob(g))
# The processes collector lists /proc/1/task (getdents, which strace -e does not show) and reads
# the stat of every thread but the main one: record them all, so the listing is complete.
if "/proc/1/stat" in paths:
    paths |= set(glob.glob("/proc/1/task/*/stat"))
try:
    if add_only:
        raise OSError("adding only the traced files")
    with open("/proc/diskstats") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 3 and not DISK_EXCLUDE.match(fields[2]):
                paths |= set(glob.glob("/sys/block/%s/queue/*" % fields[2]))
except OSError:
    pass

for p in sorted(paths):
    materialize(p)

def du(root):
    total = 0
    for dp, dns, fns in os.walk(root):
        for fn in fns:
            fp = os.path.join(dp, fn)
            if not os.path.islink(fp):
                total += os.path.getsize(fp)
    return total

# git keeps no empty directories, yet an empty /sys/class/power_supply (success, no samples) is
# not a missing one (no data): list them; the golden test recreates them before it runs.
empty = sorted(os.path.relpath(dp, dest) for dp, dns, fns in os.walk(dest) if not dns and not fns)
if add_only:
    # A fresh checkout lacks the listed empty directories (git keeps none): keep the old list.
    try:
        with open(os.path.join(dest, "empty-dirs.txt")) as f:
            empty = sorted(set(empty) | {l.strip() for l in f if l.strip()})
    except OSError:
        pass
with open(os.path.join(dest, "empty-dirs.txt"), "w") as f:
    f.write("".join(d + "\n" for d in empty))

size = du(dest)
osr = {}
try:
    with open("/etc/os-release") as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                osr[k] = v.strip('"')
except OSError:
    pass
u = os.uname()
# What the collectors would look for; an empty or missing one means no data in this fixture.
PROBES = {"hwmon": "/sys/class/hwmon", "thermal zones": "/sys/class/thermal", "DMI": "/sys/class/dmi/id",
          "power supplies": "/sys/class/power_supply", "NVMe": "/sys/class/nvme", "RAID (mdstat)": "/proc/mdstat",
          "NFS client": "/proc/net/rpc/nfs", "NFS server": "/proc/net/rpc/nfsd", "ZFS": "/proc/spl/kstat/zfs",
          "bcache": "/sys/fs/bcache", "btrfs": "/sys/fs/btrfs", "XFS": "/sys/fs/xfs", "RAPL": "/sys/class/powercap",
          "InfiniBand": "/sys/class/infiniband", "Fibre Channel": "/sys/class/fc_host",
          "tape drives": "/sys/class/scsi_tape", "IPVS": "/proc/net/ip_vs_stats", "cpufreq": "/sys/devices/system/cpu/cpu0/cpufreq",
          "EDAC": "/sys/devices/system/edac/mc", "schedstat": "/proc/schedstat", "watchdogs": "/sys/class/watchdog",
          "udev data": "/run/udev/data", "SELinux": "/sys/fs/selinux", "bonding": "/sys/class/net/bonding_masters"}
absent = [k for k, p in PROBES.items() if not os.path.exists(p) or (os.path.isdir(p) and not os.listdir(p))]
if add_only:
    # The recorded tree stays as it was; a dated note says what was added, and how.
    note = f"""
## Added on {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} (`ADD_ONLY=1`)

On the same host kind (Linux {os.uname().release}), the files that one scrape of ours read with
`--collector.disable-defaults {off_flags}` and that the tree lacked, scrubbed as above:
{stats["files"]} files, {stats["symlinks"]} symlinks. Nothing recorded before was changed, so these
files are from a later moment than the rest. Of /proc's processes only pid 1 (`proc/1/stat`,
`proc/1/task/*/stat`) is kept. Unreadable (skipped): {len(stats["unreadable"])}.
"""
    with open(os.path.join(dest, "README.md"), "a") as f:
        f.write(note)
    print("record-fixtures: added to %s: %d files, %d symlinks" % (dest, stats["files"], stats["symlinks"]))
    sys.exit(0)
readme = f"""# Fixture `{name}`: a recorded /proc and /sys

Recorded by `scripts/record-fixtures.sh` on {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.

- Kernel: Linux {u.release} ({u.machine})
- Distribution: {osr.get("PRETTY_NAME", "unknown")}
- CPUs: {os.cpu_count()}; block devices: {", ".join(sorted(os.listdir("/sys/block"))) if os.path.isdir("/sys/block") else "none"};
  network interfaces: {", ".join(sorted(os.listdir("/sys/class/net"))) if os.path.isdir("/sys/class/net") else "none"}.
- Absent on this host, so their collectors report no data here: {", ".join(absent) or "none"}.
- Traced: one scrape of `{upstream_version}` (all its default
  collectors) and one of ours, both under `strace -f`; every file, directory and symlink they opened, stat'ed or read below
  /proc, /sys, /run/udev/data and the os-release files, plus the files listed in the script's
  EXTRA_GLOBS that newer collectors read ({stats["files"]} files, {stats["symlinks"]} symlinks,
  {size} bytes).

Layout (as upstream's collector/fixtures): `proc/` is `--path.procfs`, `sys/` is `--path.sysfs`,
`udev/data/` is `--path.udev.data`, and this directory is `--path.rootfs` (`etc/os-release`).
Regular files hold what read() returned (sysfs files claim 4096 bytes); sysfs symlinks are kept
as relative symlinks; /proc symlinks (`/proc/net` -> `self/net`) are flattened into directories;
of the per-process directories only `proc/1/mounts`, `proc/1/mountinfo`, `proc/1/stat` and
`proc/1/task/*/stat` are kept. Collectors node_exporter ships disabled were traced too:
`{off_flags}`.
`empty-dirs.txt` lists the empty directories, which git does not keep; the golden test
recreates them.

Scrubbed:
- the host's name -> `fixture-host` ({stats["hostname"]} file(s));
- {len(stats["ipv4"])} IPv4 address(es) -> 192.0.2.x, {len(stats["ipv6"])} IPv6 -> 2001:db8::x
  (loopback, unspecified and multicast kept), also in the hex columns of /proc/net/{{tcp,udp,raw}}*;
- {len(stats["macs"])} MAC address(es) -> 02:00:00:00:00:xx (all-zero and broadcast kept);
- files never copied: serial numbers, UUIDs, machine/boot ids, asset tags
  ({len(stats["dropped"])} dropped here); udev ID_SERIAL*/ID_WWN*/UUID/label values blanked
  ({stats["udev_ids"]} line(s));
- {stats["mount_lines"]} line(s) of /proc/1/mounts and mountinfo belonging to the recording
  environment (DROP_MOUNTS_RE) dropped.

Files that could not be read (skipped, as the collectors skip them): {len(stats["unreadable"])}.

Re-record (replaces this tree), then regenerate the golden file and review its diff:

    scripts/record-fixtures.sh {name}
    UPDATE_GOLDEN=1 cargo test -p node-exporter --test golden
"""
with open(os.path.join(dest, "README.md"), "w") as f:
    f.write(readme)
print("record-fixtures: wrote %s: %d files, %d symlinks, %d bytes" % (dest, stats["files"], stats["symlinks"], size))
if stats["unreadable"]:
    print("record-fixtures: unreadable (skipped): " + ", ".join(stats["unreadable"][:20])
          + (" ..." if len(stats["unreadable"]) > 20 else ""))
if stats["dropped"]:
    print("record-fixtures: dropped identifiers: " + ", ".join(stats["dropped"]))
if size > 2 * 1024 * 1024:
    print("record-fixtures: WARNING: the tree is over 2 MB", file=sys.stderr)
PY
