#!/usr/bin/python3
"""Which services each profile of docker-compose.yml starts, as docker-compose 1.29 decides it.

`docker-compose config` validates the file but ignores --profile. This loads the project with
compose's own code (Debian's docker-compose package, hence /usr/bin/python3) and an engine
stub, then asks it for the services of each profile combination with their dependencies:
compose raises there when a service depends on one that the active profiles leave out, as
`up` would. It then checks the services and published ports against the platform's design.
Exit status 1 on any difference.
"""
import os
import sys

from compose.config import config
from compose.config.environment import Environment
from compose.project import Project
from docker.errors import NotFound

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

OBSERVABILITY = {"prometheus": {9090}, "alertmanager": {9093}, "grafana": {3001},
                 # host network: listens on the host's 9100 without publishing
                 "node-exporter": set(), "gateway-sidecar": {8000, 9464}}
KAFKA = {"kafka": {9092}, "kafka-ui": {8080}, "kafka-exporter": {9308}}
EXPECTED = {
    ("observability",): OBSERVABILITY,
    ("kafka",): KAFKA,
    ("observability", "kafka"): {**OBSERVABILITY, **KAFKA},
}


class NoEngine:
    """Answers compose's look-ups as a Docker engine with nothing on it would."""
    api_version = "1.41"

    def __getattr__(self, name):
        def missing(*args, **kwargs):
            raise NotFound(f"no engine ({name})")
        return missing


def published(service):
    ports = set()
    for p in service.options.get("ports", []):
        if getattr(p, "published", None):  # compose's ServicePort
            ports.add(int(str(p.published).split("-")[0]))
    return ports


def main():
    env = Environment.from_env_file(ROOT)
    data = config.load(config.find(ROOT, None, env))
    failures = 0
    for profiles, expected in EXPECTED.items():
        label = " + ".join(profiles)
        try:
            project = Project.from_config("check", data, NoEngine(), enabled_profiles=list(profiles))
            services = {s.name: s for s in project.get_services(include_deps=True)}
        except Exception as e:  # compose's ConfigurationError and friends
            print(f"  FAIL  profile {label}: {e}")
            failures += 1
            continue
        got = {name: published(s) for name, s in services.items()}
        if got == expected:
            print(f"  ok    profile {label}: " +
                  ", ".join(f"{n}{' :' + ','.join(map(str, sorted(p))) if p else ''}" for n, p in got.items()))
        else:
            print(f"  FAIL  profile {label}: services/ports {got}, expected {expected}")
            failures += 1
        seen = {}
        for name, ports in got.items():
            for port in ports:
                if port in seen:
                    print(f"  FAIL  profile {label}: port {port} published by {seen[port]} and {name}")
                    failures += 1
                seen[port] = name
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
