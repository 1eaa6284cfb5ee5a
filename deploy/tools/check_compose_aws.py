#!/usr/bin/python3
"""docker-compose.aws.yml on top of docker-compose.yml, checked with docker-compose 1.29 (Debian's
package, hence /usr/bin/python3) and the settings of deploy/aws/compose.env.example, whose secrets
are empty on purpose: SECRETS below stands in for them. Subcommands, each printing one line per
thing checked and exiting 1 on any failure:
  resolve      for each profile combination, through compose's own code: the services resolve
               with their dependencies (compose raises on one left out by the profiles, as `up`
               would) and are those of docker-compose.yml alone; every service logs to CloudWatch
               (awslogs, region and group set); Prometheus runs the AWS entry point with 15 days
               of retention and the AMP settings; Grafana has its database on PostgreSQL over TLS,
               AMP provisioning, the login form and basic-auth API off; Kafka UI has its login;
               every file the override mounts exists
  secrets      `docker-compose config` without each secret in turn (the others set) fails, and
               its message names the one missing
  credentials  `docker-compose config` of every profile combination: no known default password
               (docker-compose.yml's admin123 among them) anywhere in the output, and every
               password or secret in it is one the operator supplied
"""
import os
import re
import subprocess
import sys

import yaml
from compose.config import config
from compose.config.environment import Environment
from compose.project import Project
from docker.errors import NotFound

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROFILES = [("observability",), ("kafka",), ("observability", "kafka")]
# What the operator supplies from Secrets Manager; values no default could be.
SECRETS = {name: f"supplied-{name.lower().replace('_', '-')}-7Qx2" for name in (
    "GRAFANA_ADMIN_PASSWORD", "GRAFANA_DB_PASSWORD", "GRAFANA_OAUTH_CLIENT_SECRET", "KAFKA_UI_PASSWORD")}
# Default passwords of the images and charts in play, and of docker-compose.yml's local profile.
KNOWN_DEFAULTS = ["admin123", "prom-operator", "change-me", "changeme", "SPRING_SECURITY_USER_PASSWORD: pass\n"]
CREDENTIAL_KEY = re.compile(r"PASSWORD|SECRET|TOKEN$")


class NoEngine:
    """Answers compose's look-ups as a Docker engine with nothing on it would."""
    api_version = "1.41"

    def __getattr__(self, name):
        def missing(*args, **kwargs):
            raise NotFound(f"no engine ({name})")
        return missing


def load(files):
    env = Environment.from_env_file(ROOT, os.path.join(ROOT, "deploy", "aws", "compose.env.example"))
    env.update(SECRETS)
    details = config.find(ROOT, files, env)
    return config.load(details)


def compose_config(profiles, env_overrides):
    """`docker-compose config` of the AWS files with the example settings; the shell's
    environment is left out so that a developer's own variables cannot hide a missing one."""
    args = ["docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.aws.yml",
            "--env-file", "deploy/aws/compose.env.example"]
    for p in profiles:
        args += ["--profile", p]
    env = {"PATH": os.environ["PATH"], **env_overrides}
    return subprocess.run(args + ["config"], cwd=ROOT, env=env, capture_output=True, text=True)


class Report:
    failures = 0

    def check(self, cond, msg):
        print(f"  {'ok  ' if cond else 'FAIL'}  {msg}")
        self.failures += 0 if cond else 1


def cmd_secrets():
    r = Report()
    for name in SECRETS:
        out = compose_config(("observability", "kafka"), {k: v for k, v in SECRETS.items() if k != name})
        last = (out.stderr.strip().splitlines() or [""])[-1]
        # compose 1.29 prints the service's whole environment before the message; show the end.
        said = last[last.rfind(": set ") + 2:] if ": set " in last else last[-160:]
        r.check(out.returncode != 0 and f"set {name}" in last, f"without {name}: refused, \"{said}\"")
    return 1 if r.failures else 0


def cmd_credentials():
    r = Report()
    for profiles in PROFILES:
        label = " + ".join(profiles)
        out = compose_config(profiles, SECRETS)
        if out.returncode != 0:
            r.check(False, f"profile {label}: docker-compose config failed: {out.stderr.strip()[-300:]}")
            continue
        found = [d.strip() for d in KNOWN_DEFAULTS if d in out.stdout]
        r.check(not found, f"profile {label}: no known default password in the rendered config" + (f" {found}" if found else ""))
        doc = yaml.safe_load(out.stdout)
        creds = {}
        for svc, spec in (doc.get("services") or {}).items():
            for key, value in (spec.get("environment") or {}).items():
                if CREDENTIAL_KEY.search(key):
                    creds[f"{svc}.{key}"] = value
        foreign = {k: v for k, v in creds.items() if v not in SECRETS.values()}
        r.check(creds and not foreign, f"profile {label}: {len(creds)} credentials, each one the operator supplied: "
                + (f"{sorted(creds)}" if not foreign else f"not {sorted(foreign)}"))
    # The negative control: the local profile alone keeps its documented default, and the scan sees it.
    base = subprocess.run(["docker-compose", "-f", "docker-compose.yml", "--profile", "observability", "config"],
                          cwd=ROOT, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True)
    r.check("admin123" in base.stdout, "negative control: docker-compose.yml alone (local) renders admin123, and the scan finds it")
    return 1 if r.failures else 0


def cmd_resolve():
    failures = 0

    def check(cond, msg):
        nonlocal failures
        print(f"  {'ok  ' if cond else 'FAIL'}  {msg}")
        failures += 0 if cond else 1

    base = load(["docker-compose.yml"])
    aws = load(["docker-compose.yml", "docker-compose.aws.yml"])
    for profiles in PROFILES:
        label = " + ".join(profiles)
        try:
            want = {s.name for s in Project.from_config("b", base, NoEngine(), enabled_profiles=list(profiles))
                    .get_services(include_deps=True)}
            services = {s.name: s for s in Project.from_config("a", aws, NoEngine(), enabled_profiles=list(profiles))
                        .get_services(include_deps=True)}
        except Exception as e:  # compose's ConfigurationError and friends
            check(False, f"profile {label}: {e}")
            continue
        check(set(services) == want, f"profile {label}: services {sorted(services)}")
        for name, s in services.items():
            log = s.options.get("logging", {})
            opts = log.get("options", {})
            check(log.get("driver") == "awslogs" and opts.get("awslogs-region") == "eu-west-1"
                  and opts.get("awslogs-group") == "/platform/production/observability",
                  f"profile {label}: {name} logs to CloudWatch group {opts.get('awslogs-group')}")
    svc = {s["name"]: s for s in aws.services}
    prom = svc["prometheus"]
    cmd = prom.get("command", [])
    check(prom.get("entrypoint") == ["/bin/sh", "/etc/prometheus/prometheus-entrypoint.sh"]
          and "--storage.tsdb.retention.time=15d" in cmd and not any(c.startswith("--config.file") for c in cmd),
          f"prometheus: AWS entry point, 15 days locally, arguments {cmd}")
    env = prom.get("environment", {})
    check(all(env.get(k) for k in ("ENVIRONMENT", "AWS_REGION", "AMP_WORKSPACE_ID")),
          f"prometheus: ENVIRONMENT={env.get('ENVIRONMENT')} AWS_REGION={env.get('AWS_REGION')} AMP_WORKSPACE_ID={env.get('AMP_WORKSPACE_ID')}")
    g = svc["grafana"].get("environment", {})
    check(g.get("GF_DATABASE_TYPE") == "postgres" and g.get("GF_DATABASE_SSL_MODE") in ("require", "verify-ca", "verify-full")
          and g.get("GF_DATABASE_HOST", "").endswith(".rds.amazonaws.com:5432"),
          f"grafana: database postgres on {g.get('GF_DATABASE_HOST')} (ssl {g.get('GF_DATABASE_SSL_MODE')})")
    check(g.get("GF_AUTH_GENERIC_OAUTH_ENABLED") == "true" and g.get("GF_AUTH_DISABLE_LOGIN_FORM") == "true",
          "grafana: generic OAuth on, login form off")
    check("grafana-amazonprometheus-datasource" in g.get("GF_INSTALL_PLUGINS", ""), "grafana: AMP data source plugin installed")
    check(g.get("GF_SECURITY_ADMIN_PASSWORD") == SECRETS["GRAFANA_ADMIN_PASSWORD"] and g.get("GF_AUTH_BASIC_ENABLED") == "false",
          "grafana: admin password from GRAFANA_ADMIN_PASSWORD, basic-auth API off")
    k = svc["kafka-ui"].get("environment", {})
    check(k.get("AUTH_TYPE") == "LOGIN_FORM" and k.get("SPRING_SECURITY_USER_PASSWORD") == SECRETS["KAFKA_UI_PASSWORD"],
          "kafka-ui: kafbat's login form, password from KAFKA_UI_PASSWORD")
    mounts = 0
    for name in ("prometheus", "grafana"):
        for v in svc[name].get("volumes", []):
            src = getattr(v, "external", None)
            if src and os.path.isabs(src) and src.startswith(ROOT):
                mounts += 1
                check(os.path.exists(src), f"{name}: mounts {os.path.relpath(src, ROOT)} at {v.internal}")
    check(mounts >= 6, f"{mounts} files and directories of the repository mounted")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit({"resolve": cmd_resolve, "secrets": cmd_secrets, "credentials": cmd_credentials}[sys.argv[1]]())
