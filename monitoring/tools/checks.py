#!/usr/bin/env python3
"""Structural checks of the monitoring configuration, run by scripts/check-monitoring.sh.

Each subcommand prints one line per thing it checked and exits 1 on any failure:
  alerts        every alert has severity, summary, description and a runbook_url whose section
                exists in monitoring/runbooks.md; every alert has a unit test in which it fires
                and one in which it stays silent
  dashboards    valid JSON; unique uid and title; every data source reference is the
                ${datasource} variable (no data source names, no other uid); job and
                instance variables; panel ids unique; every panel has a query; grid in bounds
  provisioning  Grafana provisioning: the Prometheus data source has a pinned uid; the
                dashboard provider reads the directory compose mounts the dashboards at; the
                Slack contact point takes its URL from an environment variable that compose sets
  alertmanager  the Slack webhook URL is read from a file, under the directory compose mounts
                from monitoring/alertmanager/secrets, which git ignores
  mounts        lists "KIND<TAB>PATH" for every file or directory docker-compose.yml bind-mounts
                from the repository, failing when one is missing or has no known checker
  dockerfile    every build target of docker-compose.yml is a stage of the Dockerfile; each
                daemon stage runs as a non-root user with an exec-form ENTRYPOINT and no RUN
                (no shell in the final image); .dockerignore keeps what the build needs
  local-config  a generated localhost variant (prometheus_local.py) matches its source: same
                jobs less the dropped ones, every target on the given host, same rules except
                `for`, no `for` above the cap
  secrets       no Slack webhook URL in any file tracked by git
  environments  dashboards and rules keep deployments apart: each dashboard has the variables
                environment, region and cluster (All = .*, which also matches series without
                the label, as on the local stack); every selector of a panel or variable
                query filters on them, and every `by (...)`/`on (...)` of a panel or rule keeps
                them
"""
import glob
import json
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MON = os.path.join(ROOT, "monitoring")
SEVERITIES = {"critical", "warning", "info"}
DS_REF = {"type": "prometheus", "uid": "${datasource}"}


class Report:
    def __init__(self, name):
        self.name, self.failures = name, 0

    def ok(self, msg):
        print(f"  ok    {msg}")

    def fail(self, msg):
        print(f"  FAIL  {msg}")
        self.failures += 1

    def check(self, cond, msg, why=""):
        if cond:
            self.ok(msg)
        else:
            self.fail(f"{msg}{': ' + why if why else ''}")
        return cond

    def exit(self):
        return 1 if self.failures else 0


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def rel(path):
    return os.path.relpath(path, ROOT)


def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


# ------------------------------------------------------------------------------- alerts
def cmd_alerts(rules_dir, tests_dir, runbooks):
    r = Report("alerts")
    anchors = set()
    with open(runbooks) as f:
        for line in f:
            m = re.match(r"^#{1,6}\s+(.*)$", line)
            if m:
                anchors.add(slug(m.group(1)))
    alerts = {}
    for path in sorted(glob.glob(os.path.join(rules_dir, "*.yml"))):
        for g in load_yaml(path).get("groups", []):
            for rule in g.get("rules", []):
                if "alert" in rule:
                    name = rule["alert"]
                    if name in alerts:
                        r.fail(f"{name}: defined twice")
                    alerts[name] = (rel(path), rule)
    r.check(alerts, f"{len(alerts)} alerts found in {rel(rules_dir)}")
    for name, (path, rule) in sorted(alerts.items()):
        sev = rule.get("labels", {}).get("severity")
        ann = rule.get("annotations", {})
        missing = [a for a in ("summary", "description", "runbook_url") if not ann.get(a)]
        r.check(sev in SEVERITIES and not missing, f"{name}: severity={sev}, annotations",
                f"severity must be one of {sorted(SEVERITIES)}; missing {missing}")
        url = ann.get("runbook_url", "")
        anchor = url.split("#", 1)[1] if "#" in url else ""
        r.check(url.startswith("monitoring/runbooks.md#") and anchor in anchors,
                f"{name}: runbook {url}", f"no section #{anchor} in {rel(runbooks)}")

    fires, silent = {}, {}
    for path in sorted(glob.glob(os.path.join(tests_dir, "*.test.yml"))):
        doc = load_yaml(path)
        for rf in doc.get("rule_files", []):
            r.check(os.path.exists(os.path.join(os.path.dirname(path), rf)),
                    f"{rel(path)}: rule file {rf} exists")
        for t in doc.get("tests", []):
            for case in t.get("alert_rule_test", []) or []:
                target = fires if case.get("exp_alerts") else silent
                target.setdefault(case["alertname"], []).append(rel(path))
    for name in sorted(alerts):
        r.check(name in fires and name in silent,
                f"{name}: tested firing ({len(fires.get(name, []))}) and silent ({len(silent.get(name, []))})",
                "every alert needs a case where it fires and one where it stays silent")
    for name in sorted((set(fires) | set(silent)) - set(alerts)):
        r.fail(f"tests name an alert that no rule defines: {name}")
    return r.exit()


# --------------------------------------------------------------------------- dashboards
def _walk_datasources(node, where, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "datasource":
                out.append((where, v))
            _walk_datasources(v, where if k != "title" else where, out)
    elif isinstance(node, list):
        for item in node:
            _walk_datasources(item, where, out)


def cmd_dashboards(paths):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from dashboard_queries import iter_panels

    r = Report("dashboards")
    uids, titles = {}, {}
    for path in paths:
        name = rel(path)
        try:
            with open(path) as f:
                d = json.load(f)
        except (OSError, ValueError) as e:
            r.fail(f"{name}: not valid JSON: {e}")
            continue
        r.ok(f"{name}: valid JSON")
        uid, title = d.get("uid"), d.get("title")
        r.check(uid and uid not in uids, f"{name}: uid {uid!r} set and unique")
        r.check(title and title not in titles, f"{name}: title {title!r} set and unique")
        uids[uid], titles[title] = path, path
        r.check(d.get("id") is None, f"{name}: no instance-specific id")
        r.check("__inputs" not in d and "__requires" not in d,
                f"{name}: not an export-for-sharing (no __inputs)")

        variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
        dsv = variables.get("datasource", {})
        r.check(dsv.get("type") == "datasource" and dsv.get("query") == "prometheus",
                f"{name}: a `datasource` variable of type datasource (prometheus)")
        r.check(not dsv.get("current", {}).get("value"),
                f"{name}: the datasource variable pins no data source (defaults to the default one)")
        for v in ("job", "instance"):
            r.check(v in variables, f"{name}: variable ${v}")

        refs = []
        _walk_datasources(d, name, refs)
        bad = []
        for _, ref in refs:
            if ref == DS_REF:
                continue
            if isinstance(ref, dict) and ref.get("uid") == "-- Grafana --":
                continue  # the built-in annotation source
            bad.append(ref)
        r.check(not bad, f"{name}: {len(refs)} data source references, all ${{datasource}}",
                f"other references: {bad[:3]}")

        ids, queries = set(), 0
        for p in iter_panels(d.get("panels")):
            pid, ptitle = p.get("id"), p.get("title", "")
            if pid in ids:
                r.fail(f"{name}: panel id {pid} used twice")
            ids.add(pid)
            gp = p.get("gridPos", {})
            if not (0 <= gp.get("x", -1) and gp.get("w", 0) > 0 and gp.get("x", 0) + gp.get("w", 0) <= 24):
                r.fail(f"{name}: panel {ptitle!r} outside the 24-column grid: {gp}")
            if p.get("type") == "row":
                continue
            exprs = [t.get("expr") for t in p.get("targets") or [] if t.get("expr")]
            if not exprs:
                r.fail(f"{name}: panel {ptitle!r} has no query")
            queries += len(exprs)
        r.check(queries, f"{name}: {len(ids)} panels, {queries} queries, ids unique")
    return r.exit()


# ------------------------------------------------------------------------- provisioning
def _compose():
    return load_yaml(os.path.join(ROOT, "docker-compose.yml"))


def _mounts(compose):
    """(service, host path relative to ROOT, container path) for every bind mount from the repo."""
    out = []
    for name, svc in (compose.get("services") or {}).items():
        for v in svc.get("volumes") or []:
            if isinstance(v, dict):
                if v.get("type") != "bind":
                    continue
                src, dst = v["source"], v["target"]
            else:
                parts = v.split(":")
                src, dst = parts[0], parts[1]
            if src.startswith("./") or src.startswith("../"):
                out.append((name, os.path.normpath(src), dst))
    return out


def cmd_provisioning(prov_dir):
    r = Report("provisioning")
    compose = _compose()
    mounts = {src: (svc, dst) for svc, src, dst in _mounts(compose)}

    ds = []
    for path in glob.glob(os.path.join(prov_dir, "datasources", "*.yml")):
        ds += load_yaml(path).get("datasources", [])
    prom = [x for x in ds if x.get("type") == "prometheus"]
    r.check(len(prom) == 1 and prom[0].get("uid"), "one Prometheus data source, with a pinned uid",
            f"found {[(x.get('name'), x.get('uid')) for x in prom]}")
    if prom:
        r.check(prom[0].get("url") == "http://prometheus:9090",
                f"it points at compose's prometheus service ({prom[0].get('url')})")

    dash_dir = os.path.normpath(os.path.relpath(os.path.join(MON, "grafana", "dashboards"), ROOT))
    mounted_at = mounts.get(dash_dir, (None, None))[1]
    paths = []
    for path in glob.glob(os.path.join(prov_dir, "dashboards", "*.yml")):
        paths += [p.get("options", {}).get("path") for p in load_yaml(path).get("providers", [])]
    r.check(mounted_at and mounted_at in paths,
            f"the dashboard provider reads {paths}, where compose mounts {dash_dir} ({mounted_at})")

    grafana_env = (compose.get("services", {}).get("grafana", {}) or {}).get("environment") or {}
    if isinstance(grafana_env, list):
        grafana_env = dict(e.split("=", 1) for e in grafana_env)
    for path in glob.glob(os.path.join(prov_dir, "alerting", "*.yml")):
        doc = load_yaml(path)
        for cp in doc.get("contactPoints", []):
            for recv in cp.get("receivers", []):
                if recv.get("type") != "slack":
                    continue
                url = str(recv.get("settings", {}).get("url", ""))
                m = re.fullmatch(r"\$\{?(\w+)\}?", url)
                r.check(m, f"contact point {cp.get('name')}: Slack URL from an environment variable ({url})")
                if m:
                    r.check(m.group(1) in grafana_env,
                            f"compose sets {m.group(1)} for grafana")
    return r.exit()


# ------------------------------------------------------------------------- alertmanager
def cmd_alertmanager(config):
    r = Report("alertmanager")
    doc = load_yaml(config)
    text = open(config).read()
    r.check(not re.search(r"^\s*(slack_)?api_url\s*:", text, re.M),
            "no inline Slack URL (api_url / slack_api_url)")
    files = [doc.get("global", {}).get("slack_api_url_file")]
    for recv in doc.get("receivers", []):
        for sc in recv.get("slack_configs", []) or []:
            files.append(sc.get("api_url_file"))
            r.check(sc.get("channel") == "#alerts" and sc.get("send_resolved") is True,
                    f"receiver {recv['name']}: #alerts, send_resolved")
    files = sorted({f for f in files if f})
    r.check(files, f"Slack URL read from {files}")
    mounts = [(src, dst) for svc, src, dst in _mounts(_compose()) if svc == "alertmanager"]
    secrets_dir = os.path.join("monitoring", "alertmanager", "secrets")
    for f in files:
        host = None
        for src, dst in mounts:
            if f.startswith(dst.rstrip("/") + "/"):
                host = os.path.normpath(os.path.join(src, os.path.relpath(f, dst)))
        r.check(host and host.startswith(secrets_dir + os.sep),
                f"{f} is {host} on the host, under {secrets_dir}")
        if host:
            ignored = subprocess.run(["git", "-C", ROOT, "check-ignore", "-q", host]).returncode == 0
            r.check(ignored, f"git ignores {host}")
    tracked = subprocess.run(["git", "-C", ROOT, "ls-files", secrets_dir], capture_output=True,
                             text=True).stdout.split()
    r.check(all(os.path.basename(t) == ".gitignore" for t in tracked),
            f"nothing but .gitignore tracked in {secrets_dir}", f"tracked: {tracked}")
    return r.exit()


# ------------------------------------------------------------------------------- mounts
def _kind(src):
    """Which checker applies to a mounted path."""
    p = src.replace(os.sep, "/")
    if p == "monitoring/prometheus/prometheus.yml":
        return "prometheus-config"
    if p == "monitoring/prometheus/rules":
        return "prometheus-rules"
    if p in ("monitoring/alertmanager", "monitoring/alertmanager/alertmanager.yml"):
        return "alertmanager-config"
    if p == "monitoring/grafana/provisioning":
        return "grafana-provisioning"
    if p == "monitoring/grafana/dashboards":
        return "grafana-dashboards"
    return None


def cmd_mounts():
    failures = 0
    for svc, src, dst in _mounts(_compose()):
        kind = _kind(src)
        if not os.path.exists(os.path.join(ROOT, src)):
            print(f"missing\t{src}\t{svc}:{dst}", file=sys.stderr)
            failures += 1
        elif kind is None:
            print(f"unchecked\t{src}\t{svc}:{dst}: add a checker for it in monitoring/tools/checks.py",
                  file=sys.stderr)
            failures += 1
        else:
            print(f"{kind}\t{src}\t{svc}:{dst}")
    return 1 if failures else 0


# --------------------------------------------------------------------------- dockerfile
def _stages(dockerfile):
    stages, cur = {}, None
    lines = []
    buf = ""
    for raw in open(dockerfile):
        line = raw.rstrip("\n")
        if line.strip().startswith("#") and not buf:
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        lines.append(buf + line)
        buf = ""
    for line in lines:
        m = re.match(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", line, re.I)
        if m:
            cur = (m.group(2) or f"stage{len(stages)}").lower()
            stages[cur] = {"from": m.group(1).lower(), "lines": []}
            continue
        if cur and line.strip():
            stages[cur]["lines"].append(line.strip())
    return stages


def _instr(stage, name):
    return [l for l in stage["lines"] if l.split(None, 1)[0].upper() == name]


def cmd_dockerfile(dockerfile, dockerignore):
    r = Report("dockerfile")
    stages = _stages(dockerfile)
    r.check(stages, f"{rel(dockerfile)}: stages {', '.join(stages)}")
    compose = _compose()
    targets = {}
    for name, svc in compose.get("services", {}).items():
        b = svc.get("build")
        if b:
            b = {"context": b} if isinstance(b, str) else b
            targets[name] = b.get("target")
            r.check(os.path.normpath(os.path.join(ROOT, b.get("context", "."))) == ROOT,
                    f"compose {name}: builds from the repository root")
    members = load_yaml_toml_members()
    for svc, target in sorted(targets.items()):
        if not r.check(target in stages, f"compose {svc}: target {target!r} is a Dockerfile stage"):
            continue
        st = stages[target]
        # Follow FROM <stage> chains to find the user and the base image.
        chain, cur = [st], st
        while cur["from"] in stages:
            cur = stages[cur["from"]]
            chain.append(cur)
        users = [l.split(None, 1)[1] for s in chain for l in _instr(s, "USER")]
        base = chain[-1]["from"]
        nonroot = (users and users[0].split(":")[0] not in ("root", "0")) or (
            not users and base.endswith(":nonroot"))
        r.check(nonroot, f"stage {target}: runs as a non-root user ({users[0] if users else base})")
        ep = [l for s in chain for l in _instr(s, "ENTRYPOINT")]
        r.check(ep and ep[0].split(None, 1)[1].lstrip().startswith("["),
                f"stage {target}: exec-form ENTRYPOINT {ep[0].split(None, 1)[1] if ep else None}")
        runs = [l for s in chain for l in _instr(s, "RUN")]
        r.check(not runs, f"stage {target}: no RUN (the final image needs no shell)")
        copies = [l for l in _instr(st, "COPY") if "--from=" in l]
        r.check(copies, f"stage {target}: copies its binary from the build stage")
        r.check(target in members, f"crate {target} is a workspace member")
    if os.path.exists(dockerignore):
        ign = [l.strip() for l in open(dockerignore) if l.strip() and not l.startswith("#")]
        if "*" in ign:
            for need in ("!Cargo.toml", "!Cargo.lock", "!crates"):
                r.check(need in ign or need + "/" in ign, f".dockerignore keeps {need[1:]}")
        r.check("target" in ign or "target/" in ign or "*" in ign or "/target" in ign,
                ".dockerignore leaves out target/")
    return r.exit()


def load_yaml_toml_members():
    """Package names of the workspace members (Cargo.toml is read without a TOML parser)."""
    text = open(os.path.join(ROOT, "Cargo.toml")).read()
    m = re.search(r"members\s*=\s*\[(.*?)\]", text, re.S)
    names = set()
    for path in re.findall(r'"([^"]+)"', m.group(1) if m else ""):
        for crate in glob.glob(os.path.join(ROOT, path)):
            mm = re.search(r'^name\s*=\s*"([^"]+)"', open(os.path.join(crate, "Cargo.toml")).read(), re.M)
            if mm:
                names.add(mm.group(1))
    return names


# ------------------------------------------------------------------------- local-config
def _rules(directory):
    out = {}
    for path in sorted(glob.glob(os.path.join(directory, "**", "*.yml"), recursive=True)):
        for g in load_yaml(path).get("groups", []):
            for rule in g.get("rules", []):
                key = (os.path.relpath(path, directory), g["name"], rule.get("alert") or rule.get("record"))
                out[key] = rule
    return out


def cmd_local_config(src, out, host, max_for, dropped):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from prometheus_local import parse_duration

    r = Report("local-config")
    a, b = load_yaml(os.path.join(src, "prometheus.yml")), load_yaml(os.path.join(out, "prometheus.yml"))
    ja = [s["job_name"] for s in a["scrape_configs"] if s["job_name"] not in dropped]
    jb = [s["job_name"] for s in b["scrape_configs"]]
    r.check(ja == jb, f"jobs {jb} = source jobs less {dropped}")
    for s in b["scrape_configs"]:
        for sc in s.get("static_configs", []):
            for t in sc["targets"]:
                r.check(t.rsplit(":", 1)[0] == host, f"{s['job_name']}: target {t} on {host}")
    for am in (b.get("alerting") or {}).get("alertmanagers", []):
        for sc in am.get("static_configs", []):
            for t in sc["targets"]:
                r.check(t.rsplit(":", 1)[0] == host, f"alerting: Alertmanager {t} on {host}")
    r.check(a.get("rule_files") == b.get("rule_files"), f"same rule_files {b.get('rule_files')}")
    ra = _rules(os.path.join(src, "rules"))
    rb = _rules(os.path.join(out, "rules"))
    r.check(set(ra) == set(rb), f"same {len(rb)} rules in the same files and groups")
    cap = parse_duration(max_for)
    for key in sorted(set(ra) & set(rb)):
        x, y = dict(ra[key]), dict(rb[key])
        fx, fy = x.pop("for", None), y.pop("for", None)
        if x != y:
            r.fail(f"{key[2]}: changed beyond `for`")
        if fy is not None and parse_duration(fy) > cap:
            r.fail(f"{key[2]}: for {fy} above {max_for}")
        if fx is not None and fy is None:
            r.fail(f"{key[2]}: lost its `for`")
    r.check(not r.failures, f"rules identical but for `for`, every `for` <= {max_for}")
    return r.exit()


# ------------------------------------------------------------------------------ secrets
def cmd_secrets():
    r = Report("secrets")
    files = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True).stdout.split()
    hook = re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{8,}")
    found = []
    for f in files:
        p = os.path.join(ROOT, f)
        try:
            if os.path.getsize(p) > 2_000_000:
                continue
            with open(p, errors="ignore") as fh:
                if hook.search(fh.read()):
                    found.append(f)
        except OSError:
            continue
    r.check(not found, f"no Slack webhook URL in the {len(files)} tracked files", f"found in {found}")
    return r.exit()


# --------------------------------------------------------------------------- environments
# The external labels of prometheus-aws.yml (environment, region) and of the EKS Prometheus
# (cluster): AMP and the global Prometheus hold every deployment's series side by side.
DEPLOYMENT_LABELS = ("environment", "region", "cluster")
_CLAUSE = re.compile(r"\b(by|on)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"\{([^{}]*)\}")


def deployment_gaps(expr, selectors=True):
    """What of DEPLOYMENT_LABELS an expression loses: `by`/`on` clauses without them, and (for
    dashboards) label selectors without the `label=~"$label"` matchers."""
    gaps = []
    for m in _CLAUSE.finditer(expr):
        names = {n.strip() for n in m.group(2).split(",")}
        if not names >= set(DEPLOYMENT_LABELS):
            gaps.append(m.group(0))
    if selectors:
        blocks = _SELECTOR.findall(expr)
        if not blocks:
            gaps.append("no label selector")
        for b in blocks:
            if not all(f'{n}=~"${n}"' in b for n in DEPLOYMENT_LABELS):
                gaps.append("{" + b + "}")
    return gaps


def cmd_environments(rules_dir, dashboards):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from dashboard_queries import queries

    r = Report("environments")
    for path in dashboards:
        with open(path) as f:
            d = json.load(f)
        name = rel(path)
        variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
        order = list(variables)
        for n in DEPLOYMENT_LABELS:
            v = variables.get(n, {})
            r.check(v.get("type") == "query" and v.get("includeAll") and v.get("allValue") == ".*"
                    and order.index(n) < order.index("job"),
                    f"{name}: variable ${n} (query, All = .*, before $job)")
        # The three variables themselves list the labels' values (each filtered by the ones before).
        qs = [(title, expr) for title, _, expr, _ in queries(d)
              if title not in {f"variable ${n}" for n in DEPLOYMENT_LABELS}]
        bad = [(title, expr, deployment_gaps(expr)) for title, expr in qs]
        bad = [b for b in bad if b[2]]
        n = len(qs)
        r.check(not bad, f"{name}: {n} queries filter on and keep {', '.join(DEPLOYMENT_LABELS)}",
                "; ".join(f"{t}: {g}" for t, _, g in bad[:3]))
    for path in sorted(glob.glob(os.path.join(rules_dir, "*.yml"))):
        rules = [rule for g in load_yaml(path).get("groups", []) for rule in g.get("rules", [])]
        bad = [(rule.get("alert") or rule.get("record"), deployment_gaps(rule["expr"], selectors=False))
               for rule in rules]
        bad = [b for b in bad if b[1]]
        r.check(not bad, f"{rel(path)}: every by/on of its {len(rules)} rules keeps {', '.join(DEPLOYMENT_LABELS)}",
                "; ".join(f"{n}: {g}" for n, g in bad[:3]))
    # Negative control: the check must see what it is for.
    probe = 'sum by (job) (rate(x{job=~"$job"}[5m]))'
    r.check(len(deployment_gaps(probe)) == 2, f"negative control: {probe} is flagged twice")
    return r.exit()


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, args = argv[0], argv[1:]
    if cmd == "alerts":
        return cmd_alerts(os.path.join(MON, "prometheus", "rules"), os.path.join(MON, "prometheus", "tests"),
                          os.path.join(MON, "runbooks.md"))
    if cmd == "dashboards":
        return cmd_dashboards(args or sorted(glob.glob(os.path.join(MON, "grafana", "dashboards", "*.json"))))
    if cmd == "provisioning":
        return cmd_provisioning(args[0] if args else os.path.join(MON, "grafana", "provisioning"))
    if cmd == "alertmanager":
        return cmd_alertmanager(args[0] if args else os.path.join(MON, "alertmanager", "alertmanager.yml"))
    if cmd == "mounts":
        return cmd_mounts()
    if cmd == "dockerfile":
        return cmd_dockerfile(os.path.join(ROOT, "Dockerfile"), os.path.join(ROOT, ".dockerignore"))
    if cmd == "local-config":
        src, out, host, max_for, *dropped = args
        return cmd_local_config(src, out, host, max_for, dropped)
    if cmd == "secrets":
        return cmd_secrets()
    if cmd == "environments":
        return cmd_environments(os.path.join(MON, "prometheus", "rules"),
                                args or sorted(glob.glob(os.path.join(MON, "grafana", "dashboards", "*.json"))))
    print(f"checks: unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
