#!/usr/bin/env python3
"""Do the alert unit tests notice a wrong threshold or a missing `for`?

For every alert of monitoring/prometheus/rules, in a temporary copy, one change at a time:
  - each `> N` in its expression becomes `> N/2` and each `< N` becomes `< 2N` (0 becomes -1
    or 1), so that the alert fires too early;
  - its `for` becomes 0s.
Then runs the unit tests that load that rule file. A change the tests still pass is reported
as not caught. Exit status 1 if any is, except the equivalent changes listed in EQUIVALENT
(where the changed rule means the same on every possible input).
"""
import concurrent.futures
import copy
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "prometheus"))

# (alert, original comparison) -> why changing it changes nothing
EQUIVALENT = {
    ("KafkaOfflinePartitions", "> 0"): "a count is at least 1, so > 0 and > -1 agree",
    ("HostMemoryFillingUp", "< 0"): "predicted bytes: < 0 and < 1 differ by one byte",
    ("HostDiskFillingUp", "< 0"): "predicted bytes: < 0 and < 1 differ by one byte",
}


def mutants(doc):
    for gi, g in enumerate(doc.get("groups", [])):
        for ri, rule in enumerate(g.get("rules", [])):
            if "alert" not in rule:
                continue
            expr = rule["expr"]
            for op, change in ((">", lambda x: x / 2), ("<", lambda x: x * 2)):
                for m in re.finditer(re.escape(op) + r"\s*(-?[0-9]+(?:\.[0-9]+)?)(?![0-9.])", expr):
                    v = float(m.group(1))
                    nv = (1 if op == "<" else -1) if v == 0 else change(v)
                    d = copy.deepcopy(doc)
                    d["groups"][gi]["rules"][ri]["expr"] = expr[:m.start()] + f"{op} {nv:g}" + expr[m.end():]
                    yield rule["alert"], f"{op} {m.group(1)}", f"{op} {nv:g}", d
            if rule.get("for"):
                d = copy.deepcopy(doc)
                d["groups"][gi]["rules"][ri]["for"] = "0s"
                yield rule["alert"], f"for {rule['for']}", "for 0s", d


def run_one(job):
    rule_file, tests, alert, before, after, doc = job
    work = tempfile.mkdtemp(prefix="mutate-")
    try:
        shutil.copytree(SRC, os.path.join(work, "prometheus"))
        with open(os.path.join(work, "prometheus", "rules", rule_file), "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        test_paths = [os.path.join(work, "prometheus", "tests", t) for t in tests]
        passed = subprocess.run(["promtool", "test", "rules"] + test_paths,
                                capture_output=True).returncode == 0
        return alert, before, after, not passed
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    tests_for = {}
    for t in sorted(glob.glob(os.path.join(SRC, "tests", "*.test.yml"))):
        with open(t) as f:
            for rf in yaml.safe_load(f).get("rule_files", []):
                tests_for.setdefault(os.path.basename(rf), []).append(os.path.basename(t))
    jobs = []
    for path in sorted(glob.glob(os.path.join(SRC, "rules", "*.yml"))):
        name = os.path.basename(path)
        with open(path) as f:
            doc = yaml.safe_load(f)
        for alert, before, after, d in mutants(doc):
            jobs.append((name, tests_for.get(name, []), alert, before, after, d))
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for alert, before, after, caught in pool.map(run_one, jobs):
            why = EQUIVALENT.get((alert, before))
            if caught:
                print(f"  ok    {alert}: {before} -> {after} fails the tests")
            elif why:
                print(f"  skip  {alert}: {before} -> {after} passes, equivalent: {why}")
            else:
                print(f"  FAIL  {alert}: {before} -> {after} still passes the tests")
                failures += 1
    print(f"{len(jobs)} changes, {failures} not caught")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
