#!/usr/bin/python3
"""docker-compose.aws.yml on top of docker-compose.yml, resolved by docker-compose 1.29's own code
(Debian's package, hence /usr/bin/python3) for each profile combination, with the settings of
deploy/aws/compose.env.example. For every combination: the services resolve with their
dependencies (compose raises on one left out by the profiles, as `up` would) and are those of
docker-compose.yml alone; every service logs to CloudWatch (awslogs, region and group set);
Prometheus runs the AWS entry point with 15 days of retention and the AMP settings; Grafana has
its database on PostgreSQL over TLS, AMP provisioning, and the login form off; every file the
override mounts exists. Exit status 1 on any failure.
"""
import os
import sys

from compose.config import config
from compose.config.environment import Environment
from compose.project import Project
from docker.errors import NotFound

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROFILES = [("observability",), ("kafka",), ("observability", "kafka")]


class NoEngine:
    """Answers compose's look-ups as a Docker engine with nothing on it would."""
    api_version = "1.41"

    def __getattr__(self, name):
        def missing(*args, **kwargs):
            raise NotFound(f"no engine ({name})")
        return missing


def load(files):
    env = Environment.from_env_file(ROOT, os.path.join(ROOT, "deploy", "aws", "compose.env.example"))
    details = config.find(ROOT, files, env)
    return config.load(details)


def main():
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
    sys.exit(main())
