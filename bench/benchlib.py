"""What the benchmark scripts share: free loopback ports, percentiles, and a child process's
memory, CPU time and stopping, read from /proc. Standard library only."""

import os
import socket
import subprocess

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def memory_kib(pid, keys=("VmRSS:", "VmHWM:")):
    """The /proc/<pid>/status lines named in `keys` (e.g. VmRSS), in KiB, by name."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(keys):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def cpu_seconds(pid):
    """utime+stime of the whole process, exited threads included."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def stop(proc):
    """SIGTERM, then SIGKILL after 5 s; nothing if it has exited."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
