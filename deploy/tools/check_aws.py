#!/usr/bin/python3
"""Structural checks of the AWS configuration, run by scripts/check-deploy.sh (Debian's Python
with PyYAML). Each subcommand prints one line per thing it checked and exits 1 on any failure:
  prometheus RENDERED  monitoring/prometheus-aws.yml scrapes every 30 s with the environment and
                       region as external labels, writes to AMP with SigV4 and no key, and has
                       exactly the jobs and targets, rules and Alertmanager of
                       monitoring/prometheus/prometheus.yml; RENDERED (the entry point's output)
                       has every placeholder filled in
  iam                  the IAM policies parse and grant what their names say, on a workspace ARN;
                       the CloudWatch Logs policy grants what docker-compose.aws.yml's awslogs
                       options need (CreateLogGroup with awslogs-create-group) on that group
  insights             Container Insights: the ECS cluster settings and the EKS add-on request
                       against the ECS and EKS API models of botocore (run with the deploy venv)
  grafana              the AMP data source: plugin type, SigV4 from the default chain, default
  eks TMP              kube-prometheus-stack's values: its node dashboards kept without its
                       node_exporter; Grafana's admin from a Secret, no default password; its
                       Alertmanager configured as monitoring/alertmanager/alertmanager.yml with
                       the Slack webhook read from a mounted Secret (amtool check-config in TMP)
"""
import glob
import json
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class Report:
    failures = 0

    def check(self, cond, msg):
        print(f"  {'ok  ' if cond else 'FAIL'}  {msg}")
        self.failures += 0 if cond else 1

    def exit(self):
        return 1 if self.failures else 0


def load(path):
    with open(os.path.join(ROOT, path)) as f:
        return yaml.safe_load(f)


def jobs(cfg):
    return {j["job_name"]: sorted(t for sc in j.get("static_configs", []) for t in sc["targets"])
            for j in cfg["scrape_configs"]}


def cmd_prometheus(rendered):
    r = Report()
    aws, base = load("monitoring/prometheus-aws.yml"), load("monitoring/prometheus/prometheus.yml")
    g = aws["global"]
    r.check(g["scrape_interval"] == "30s", f"scrape_interval {g['scrape_interval']}")
    r.check(set(g.get("external_labels", {})) >= {"environment", "region"},
            f"external_labels {sorted(g.get('external_labels', {}))}")
    r.check(jobs(aws) == jobs(base), f"the jobs and targets of prometheus/prometheus.yml: {sorted(jobs(aws))}")
    r.check(aws["alerting"] == base["alerting"], "the same Alertmanager")
    # Same rule files: rules/*.yml relative to prometheus/, prometheus/rules/*.yml relative to monitoring/.
    r.check([os.path.normpath(os.path.join("prometheus", p)) for p in base["rule_files"]] == aws["rule_files"],
            f"the same rule files: {aws['rule_files']}")
    rw = aws.get("remote_write", [])
    ok = len(rw) == 1 and "sigv4" in rw[0] and re.fullmatch(
        r"https://aps-workspaces\.[^/]+\.amazonaws\.com/workspaces/[^/]+/api/v1/remote_write", rw[0]["url"])
    r.check(bool(ok), "remote_write to an AMP workspace, signed with sigv4")
    r.check(ok and not {"access_key", "secret_key", "profile"} & set(rw[0]["sigv4"]),
            "sigv4 from the default credential chain (no key, no profile in the file)")
    qc = rw[0].get("queue_config", {}) if rw else {}
    r.check({"capacity", "max_samples_per_send", "max_shards"} <= set(qc), f"queue_config {qc}")
    with open(rendered) as f:
        out = yaml.safe_load(f)
    left = re.findall(r"__[A-Z][A-Z_]*__", yaml.safe_dump(out))
    r.check(not left, f"rendered by the entry point: every placeholder filled in {left or ''}")
    r.check(out["global"]["external_labels"] == {"environment": "production", "region": "eu-west-1"},
            f"rendered external_labels {out['global']['external_labels']}")
    return r.exit()


def cmd_iam():
    r = Report()
    want = {"amp-remote-write-policy.json": {"aps:RemoteWrite"},
            "amp-query-policy.json": {"aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"}}
    for path in sorted(glob.glob(os.path.join(ROOT, "deploy", "aws", "iam", "*.json"))):
        name = os.path.basename(path)
        try:
            with open(path) as f:
                doc = json.load(f)
        except ValueError as e:
            r.check(False, f"{name}: {e}")
            continue
        stmts = doc["Statement"]
        r.check(doc.get("Version") == "2012-10-17" and all(s["Effect"] in ("Allow", "Deny") for s in stmts),
                f"{name}: parses, version 2012-10-17, {len(stmts)} statement(s)")
        if name in want:
            actions = {a for s in stmts for a in s["Action"]}
            resources = [s["Resource"] for s in stmts]
            r.check(actions == want[name] and all(
                re.fullmatch(r"arn:aws:aps:[a-z0-9-]+:\d{12}:workspace/ws-[0-9a-f-]+", x) for x in resources),
                f"{name}: {sorted(actions)} on the workspace only")
    # kafka-exporter on MSK IAM reads metadata, offsets (DescribeTopic: Metadata, ListOffsets) and
    # groups (DescribeGroup: ListGroups, DescribeGroups, OffsetFetch); never data, never a write.
    with open(os.path.join(ROOT, "deploy", "aws", "iam", "msk-kafka-exporter-policy.json")) as f:
        msk = json.load(f)["Statement"]
    actions = {a for s in msk for a in s["Action"]}
    arns = [x for s in msk for x in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    r.check(actions == {"kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:DescribeTopic",
                        "kafka-cluster:DescribeGroup"}
            and all(re.fullmatch(r"arn:aws:kafka:[a-z0-9-]+:\d{12}:(cluster|topic|group)/platform/[0-9a-f-]+(/\*)?", x) for x in arns),
            "msk-kafka-exporter-policy.json: Connect and Describe* only (no ReadData, no write), on one cluster's ARNs")
    # awslogs in docker-compose.aws.yml: the Docker daemon (instance profile) or ECS (the task
    # execution role) creates the group when awslogs-create-group is on, then streams into it.
    with open(os.path.join(ROOT, "docker-compose.aws.yml")) as f:
        opts = yaml.safe_load(f)["x-awslogs"]["options"]
    group = re.sub(r"\$\{ENVIRONMENT[^}]*\}", "production", opts["awslogs-group"])
    need = {"logs:CreateLogStream", "logs:PutLogEvents"}
    if opts.get("awslogs-create-group") == "true":
        need.add("logs:CreateLogGroup")
    with open(os.path.join(ROOT, "deploy", "aws", "iam", "cloudwatch-logs-policy.json")) as f:
        logs = json.load(f)
    granted = {}
    for st in logs["Statement"]:
        for res in ([st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]):
            for a in st["Action"]:
                granted.setdefault(a, set()).add(res)
    arn = f"arn:aws:logs:eu-west-1:123456789012:log-group:{group}"
    missing = [a for a in sorted(need) if not granted.get(a, set()) & {arn, arn + ":*", arn + ":log-stream:*"}]
    r.check(not missing and "logs:CreateLogGroup" in need,
            f"cloudwatch-logs-policy.json: {sorted(need)} on {group} (awslogs-create-group "
            f"{opts.get('awslogs-create-group')}) {('missing ' + str(missing)) if missing else ''}".rstrip())
    r.check(all(res.startswith(arn) for rs in granted.values() for res in rs),
            "cloudwatch-logs-policy.json: on that log group only, never *")
    trust = os.path.join(ROOT, "deploy", "aws", "iam", "irsa-cloudwatch-agent-trust-policy.json")
    with open(trust) as f:
        cond = json.load(f)["Statement"][0]["Condition"]["StringEquals"]
    r.check("system:serviceaccount:amazon-cloudwatch:cloudwatch-agent" in cond.values(),
            "irsa-cloudwatch-agent-trust-policy.json: the add-on's cloudwatch-agent service account only")
    return r.exit()


def cmd_insights():
    """Container Insights requests against botocore's copies of the ECS and EKS API models."""
    import botocore.session
    from botocore.validate import ParamValidator

    r = Report()
    session = botocore.session.get_session()
    ci = os.path.join(ROOT, "deploy", "aws", "container-insights")

    def validate(service, operation, params):
        model = session.get_service_model(service).operation_model(operation)
        report = ParamValidator().validate(params, model.input_shape)
        return model, report.generate_report() if report.has_errors() else ""

    def enum_of(model, *path):
        shape = model.input_shape
        for name in path:
            shape = shape.members[name] if name != "[]" else shape.member
        return shape.enum

    with open(os.path.join(ci, "ecs-cluster-settings.json")) as f:
        ecs = json.load(f)
    model, err = validate("ecs", "UpdateClusterSettings", ecs)
    r.check(not err, f"ecs-cluster-settings.json is a valid ecs UpdateClusterSettings request {err}".rstrip())
    names, values = enum_of(model, "settings", "[]", "name"), ("enhanced", "enabled")
    r.check(any(st["name"] in names and st["name"] == "containerInsights" and st["value"] in values for st in ecs["settings"]),
            f"ECS cluster {ecs['cluster']}: containerInsights {[st['value'] for st in ecs['settings']]} (the model's names: {names})")
    _, err = validate("ecs", "UpdateClusterSettings", {"cluster": "x", "settings": "containerInsights=enhanced"})
    r.check(bool(err), "negative control: a malformed ECS request is rejected by the model")

    with open(os.path.join(ci, "eks-cloudwatch-observability-addon.json")) as f:
        addon = json.load(f)
    with open(os.path.join(ci, "eks-cloudwatch-observability-values.json")) as f:
        values_text = f.read()
    conf = json.loads(values_text)
    # As `aws eks create-addon --cli-input-json file://...addon.json --configuration-values file://...values.json` sends it.
    _, err = validate("eks", "CreateAddon", {**addon, "configurationValues": values_text})
    r.check(not err, f"the add-on request is a valid eks CreateAddon request {err}".rstrip())
    r.check(addon["addonName"] == "amazon-cloudwatch-observability"
            and re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", addon.get("serviceAccountRoleArn", "")),
            f"EKS cluster {addon['clusterName']}: add-on {addon['addonName']}, agent role {addon.get('serviceAccountRoleArn')}")
    k8s = conf["agent"]["config"]["logs"]["metrics_collected"]["kubernetes"]
    r.check(k8s.get("enhanced_container_insights") is True and conf.get("containerLogs", {}).get("enabled") is True,
            "add-on configuration: Container Insights with enhanced observability, container logs on")
    _, err = validate("eks", "CreateAddon", {**addon, "configurationValues": conf})
    r.check(bool(err), "negative control: configuration values as an object, not the string the API takes, are rejected")
    return r.exit()


def cmd_grafana():
    r = Report()
    ds = {d["uid"]: d for d in load("deploy/aws/grafana/provisioning/datasources/amp.yml")["datasources"]}
    amp = ds.get("amp", {})
    j = amp.get("jsonData", {})
    r.check(amp.get("type") == "grafana-amazonprometheus-datasource", f"AMP data source type {amp.get('type')}")
    r.check(j.get("sigV4Auth") is True and j.get("sigV4AuthType") == "default" and "secureJsonData" not in amp,
            "SigV4 from the default credential chain, no keys")
    r.check(amp.get("isDefault") is True and sum(bool(d.get("isDefault")) for d in ds.values()) == 1,
            "AMP is the one default data source (the dashboards' `datasource` variable starts there)")
    kps = load("deploy/aws/grafana/kube-prometheus-stack-grafana-sso.yaml")["grafana"]
    extra = kps["additionalDataSources"][0]
    r.check(extra["type"] == amp.get("type") and extra["jsonData"]["sigV4AuthType"] == "default",
            "kube-prometheus-stack's Grafana gets the same AMP data source")
    r.check(kps["grafana.ini"]["auth.generic_oauth"]["enabled"] is True and kps["grafana.ini"]["auth"]["disable_login_form"],
            "kube-prometheus-stack's Grafana: generic OAuth, no login form")
    return r.exit()


# Default passwords of the charts and images in play: kube-prometheus-stack's Grafana, and
# docker-compose.yml's local profile.
KNOWN_DEFAULTS = ["admin123", "prom-operator", "change-me", "changeme"]


def cmd_eks(tmp):
    r = Report()
    kps_path = "deploy/aws/kube-prometheus-stack/values-amp.yaml"
    sso_path = "deploy/aws/grafana/kube-prometheus-stack-grafana-sso.yaml"
    v = load(kps_path)
    ne = v["nodeExporter"]
    r.check(ne["enabled"] is True or ne.get("forceDeployDashboards") is True,
            f"nodeExporter.enabled {ne['enabled']}, forceDeployDashboards {ne.get('forceDeployDashboards')}: "
            "its node dashboards are deployed either way")

    # Grafana's admin: no password in the values, a Secret named at install, refused without it
    # (the refusal itself is rendered by check_chart.py kps-guard).
    texts = {p: open(os.path.join(ROOT, p)).read() for p in (kps_path, sso_path)}
    grafana = {**load(sso_path)["grafana"], **v["grafana"]}
    r.check("adminPassword" not in grafana and grafana["admin"]["existingSecret"] == ""
            and grafana["admin"]["passwordKey"] == "admin-password",
            "Grafana: no adminPassword; admin.existingSecret left for the install to name (key admin-password)")
    guard = " ".join(v.get("extraManifests", []))
    r.check("required" in guard and ".Values.grafana.admin.existingSecret" in guard,
            "extraManifests: the install stops while grafana.admin.existingSecret is empty")
    found = [(p, d) for p, t in texts.items() for d in KNOWN_DEFAULTS if d in t]
    r.check(not found, f"no known default password in the kube-prometheus-stack values {found or ''}".rstrip())
    r.check(grafana["grafana.ini"].get("auth.basic", {}).get("enabled") is False,
            "Grafana: basic-auth API off (SSO for people, service account tokens for automation)")

    # Alertmanager: the routing of monitoring/alertmanager/alertmanager.yml, the URL from a Secret.
    am = v["alertmanager"]
    cfg = am["config"]
    src = load("monitoring/alertmanager/alertmanager.yml")
    url_file = cfg["global"].get("slack_api_url_file", "")
    m = re.fullmatch(r"/etc/alertmanager/secrets/([a-z0-9-]+)/[A-Za-z0-9._-]+", url_file)
    r.check(bool(m) and m.group(1) in am["alertmanagerSpec"].get("secrets", []),
            f"the Slack webhook URL is read from {url_file}, a Secret the operator mounts "
            f"(alertmanagerSpec.secrets {am['alertmanagerSpec'].get('secrets')})")
    want = json.loads(json.dumps(src))
    want["global"]["slack_api_url_file"] = url_file
    want["templates"] = ["/etc/alertmanager/config/*.tmpl"]
    r.check(cfg == want, "alertmanager.config is monitoring/alertmanager/alertmanager.yml (routes, receivers, "
            "inhibitions), with the Secret's path and the chart's template directory")
    with open(os.path.join(ROOT, "monitoring", "alertmanager", "templates", "slack.tmpl")) as f:
        tmpl = f.read()
    r.check(am.get("templateFiles", {}).get("slack.tmpl") == tmpl,
            "alertmanager.templateFiles carries monitoring/alertmanager/templates/slack.tmpl byte for byte")
    inline = [p for p in glob.glob(os.path.join(ROOT, "deploy", "**", "*.y*ml"), recursive=True)
              if re.search(r"\bslack_api_url:|hooks\.slack\.com/services/T[A-Z0-9]", open(p).read())]
    inline += [rc["name"] for rc in cfg["receivers"] for sc in rc.get("slack_configs", []) if "api_url" in sc]
    r.check(not inline, f"no Slack webhook URL written into any file under deploy/ {inline or ''}".rstrip())
    # amtool on that configuration, with the template where the configuration looks for it.
    os.makedirs(tmp, exist_ok=True)
    local = json.loads(json.dumps(cfg))
    local["templates"] = [os.path.join(tmp, "*.tmpl")]
    with open(os.path.join(tmp, "slack.tmpl"), "w") as f:
        f.write(tmpl)
    with open(os.path.join(tmp, "alertmanager.yml"), "w") as f:
        yaml.safe_dump(local, f)
    out = subprocess.run(["amtool", "check-config", os.path.join(tmp, "alertmanager.yml")],
                         capture_output=True, text=True)
    r.check(out.returncode == 0 and "1 templates" in out.stdout,
            "amtool check-config: " + " ".join(out.stdout.split()[-4:] or out.stderr.split()[-8:]))
    for sev, receiver in (("critical", "slack-critical"), ("warning", "slack-warning"), ("none", "blackhole")):
        got = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={os.path.join(tmp, 'alertmanager.yml')}",
                              "alertname=Test", f"severity={sev}", "environment=production", "cluster=platform-eks"],
                             capture_output=True, text=True).stdout.strip()
        r.check(got == receiver, f"an alert of severity {sev} goes to {got} (want {receiver})")
    return r.exit()


if __name__ == "__main__":
    cmd = sys.argv[1]
    sys.exit({"prometheus": lambda: cmd_prometheus(sys.argv[2]), "iam": cmd_iam, "grafana": cmd_grafana,
              "eks": lambda: cmd_eks(sys.argv[2]), "insights": cmd_insights}[cmd]())
