#!/usr/bin/env python3
"""Offline checks of the Helm chart, run by scripts/check-deploy.sh with the Python of
${CARGO_HOME:-$HOME/.cargo}/venvs/deploy (scripts/install-deploy-tools.sh): Helm 4's own Go code
through helm-python-sdk, and kubernetes-validate's copies of the Kubernetes OpenAPI schemas.

Each subcommand prints one line per thing it checked and exits 1 on any failure:
  lint OUT       `helm lint --strict` with the default values and with each ci/*-values.yaml, for
                 the oldest Kubernetes the chart supports and a current one; then renders each of
                 those value sets into OUT/<name>/ (one file per template) and OUT/<name>.yaml
  validate OUT   every rendered object of a core kind against the Kubernetes schemas (strict: an
                 unknown field fails), for each Kubernetes version in KUBE_VERSIONS; writes the
                 prometheus-operator objects to OUT/crds.json for the Node.js check
  schema         values.yaml passes values.schema.json, and each value in BAD is rejected, by
                 Helm's validation, with a message naming the offending key
  sources        the rendered PrometheusRules carry exactly the rules of
                 monitoring/prometheus/rules (parsed), and the dashboard ConfigMaps the bytes of
                 monitoring/grafana/dashboards, the rules ConfigMap crates/gateway-sidecar/routes.yml
  patches        deploy/k8s/gateway-sidecar: each patch applied to testdata/api-gateway.yaml gives
                 a valid Deployment or Service, and names the ConfigMap and port the chart renders
  sasl           each SASL mechanism renders the exporter's flags and only the Secret it needs
                 (ci/msk-iam-values.yaml: MSK IAM with the IRSA role, no password)
  compat         ci/prometheus-community-values.yaml (values as written for prometheus-community's
                 prometheus-node-exporter and prometheus-kafka-exporter charts) renders with each
                 value in effect: host mounts (the textfile collector's directory), args, env,
                 service, ServiceAccount, pod labels and annotations, ServiceMonitor settings
  args OUT BIN   every node-exporter command line rendered into OUT/<name>.yaml, and values.yaml's
                 commented extraArgs example, parses in BIN (`<args> --version` exits 0)
  kps-guard TMP  deploy/aws/kube-prometheus-stack/values-amp.yaml's extraManifests, rendered as
                 kube-prometheus-stack renders them, stop the install without
                 grafana.admin.existingSecret, and pass with it or with Grafana off
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "platform-observability")
RELEASE, NAMESPACE = "obs", "monitoring"
# The chart's kubeVersion floor, and a current EKS version.
KUBE_VERSIONS = ["1.29.0", "1.33.0"]
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}

# Values that must not install, each with a piece of the message Helm must give.
BAD = [
    ({"nodeExporter": {"service": {"port": "9100"}}}, "/nodeExporter/service/port"),
    ({"nodeExporter": {"service": {"port": 70000}}}, "/nodeExporter/service/port"),
    ({"nodeExporter": {"prot": 9101}}, "'prot' not allowed"),
    ({"nodeExporter": {"prometheus": {"monitor": {"intervall": "30s"}}}}, "'intervall' not allowed"),
    ({"nodeExporter": {"extraHostVolumeMounts": [{"name": "textfile", "hostPath": "/var/lib/textfile",
                                                  "mountPath": "/textfile", "readonly": True}]}}, "'readonly' not allowed"),
    ({"nodeExporter": {"extraHostVolumeMounts": [{"name": "textfile", "hostPath": "var/lib/textfile",
                                                  "mountPath": "/textfile"}]}}, "/nodeExporter/extraHostVolumeMounts/0/hostPath"),
    ({"nodeExporter": {"hostRootFsMount": {"mountPropagation": "Bidirectional"}}},
     "/nodeExporter/hostRootFsMount/mountPropagation"),
    ({"nodeExporter": {"kubeRBACProxy": {"enabled": True}}}, "'kubeRBACProxy' not allowed"),
    ({"kafkaExporter": {"enabled": True}}, "/kafkaExporter/kafkaServer"),
    ({"kafkaExporter": {"kafkaServer": ["kafka"]}}, "/kafkaExporter/kafkaServer/0"),
    ({"kafkaExporter": {"sasl": {"mechanism": "kerberos"}}}, "/kafkaExporter/sasl/mechanism"),
    ({"kafkaExporter": {"sasl": {"kerberos": {"authType": "passwordAuth"}}}}, "/kafkaExporter/sasl/kerberos/authType"),
    ({"kafkaExporter": {"sasl": {"kerberos": {"keytabFile": "../etc/krb5.keytab"}}}}, "/kafkaExporter/sasl/kerberos/keytabFile"),
    ({"kafkaExporter": {"sasl": {"awsRegion": "eu west 1"}}}, "/kafkaExporter/sasl/awsRegion"),
    ({"kafkaExporter": {"sasl": {"oauthbearer": {"scopes": ["a,b"]}}}}, "/kafkaExporter/sasl/oauthbearer/scopes/0"),
    ({"kafkaExporter": {"enabled": True, "kafkaServer": ["k:9092"], "sasl": {"enabled": True}}},
     "/kafkaExporter/sasl/username"),
    ({"kafkaExporter": {"replicaCount": 2}}, "/kafkaExporter/replicaCount"),
    ({"kafkaExporter": {"verbosity": 2}}, "'verbosity' not allowed"),
    ({"kafkaExporter": {"env": [{"value": "x"}]}}, "/kafkaExporter/env/0"),
    ({"kafkaExporter": {"refreshInterval": "30"}}, "/kafkaExporter/refreshInterval"),
    ({"monitoring": {"interval": "30 seconds"}}, "/monitoring/interval"),
    ({"monitoring": {"sampleLimit": -1}}, "/monitoring/sampleLimit"),
    ({"monitoring": {"namespace": "Monitoring"}}, "/monitoring/namespace"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"gatewaySidecar": {"podSelector": {"app": 1}}}, "/gatewaySidecar/podSelector/app"),
    ({"webConfig": {"config": {"tls_config": {}}}}, "'tls_config' not allowed"),
]


class Report:
    def __init__(self):
        self.failures = 0

    def ok(self, msg):
        print(f"  ok    {msg}")

    def fail(self, msg):
        print(f"  FAIL  {msg}")
        self.failures += 1

    def exit(self):
        return 1 if self.failures else 0


def value_sets():
    """(name, values) for the defaults and each ci/*-values.yaml."""
    sets = [("default", {})]
    for path in sorted(glob.glob(os.path.join(CHART, "ci", "*-values.yaml"))):
        with open(path) as f:
            sets.append((os.path.basename(path)[: -len("-values.yaml")], yaml.safe_load(f) or {}))
    return sets


def render(values):
    with helm.Chart.load(CHART) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def documents(manifests):
    """(template, object) for every non-empty YAML document of the rendered templates."""
    for template in sorted(manifests):
        if not template.endswith(".yaml"):
            continue  # NOTES.txt
        for doc in yaml.safe_load_all(manifests[template]):
            if doc:
                yield template, doc


def cmd_lint(out):
    r = Report()
    for name, values in value_sets():
        for kube in KUBE_VERSIONS:
            report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version=f"v{kube}")
            problems = [m for m in report["messages"] if m["severity"] >= 2] + report.get("errors", [])
            if problems:
                r.fail(f"helm lint --strict ({name} values, Kubernetes {kube}): {problems}")
            else:
                r.ok(f"helm lint --strict ({name} values, Kubernetes {kube}): no warning, no error")
        try:
            manifests = render(values)
        except helm.HelmError as e:
            r.fail(f"helm template ({name} values): {e}")
            continue
        os.makedirs(os.path.join(out, name), exist_ok=True)
        kinds = {}
        with open(os.path.join(out, f"{name}.yaml"), "w") as all_docs:
            for template, text in sorted(manifests.items()):
                path = os.path.join(out, name, template.replace("/", "_"))
                with open(path, "w") as f:
                    f.write(text)
                if template.endswith(".yaml") and text.strip():
                    all_docs.write(f"---\n# Source: {template}\n{text}\n")
            for _, doc in documents(manifests):
                kinds[doc["kind"]] = kinds.get(doc["kind"], 0) + 1
        r.ok(f"helm template ({name} values): " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    return r.exit()


def cmd_validate(out):
    r = Report()
    crds = []
    for name, _ in value_sets():
        with open(os.path.join(out, f"{name}.yaml")) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        core = [d for d in docs if d["kind"] not in CRD_KINDS]
        crds += [{"set": f"{name} values", "object": d} for d in docs if d["kind"] in CRD_KINDS]
        for kube in KUBE_VERSIONS:
            bad = 0
            for doc in core:
                ref = f"{doc['kind']}/{doc['metadata']['name']}"
                try:
                    kubernetes_validate.validate(doc, kube, strict=True)
                except kubernetes_validate.ValidationError as e:
                    r.fail(f"{name} values, Kubernetes {kube}: {ref}: {e.message} at {'/'.join(map(str, e.path))}")
                    bad += 1
                except kubernetes_validate.SchemaNotFoundError:
                    r.fail(f"{name} values, Kubernetes {kube}: {ref}: no schema for {doc['apiVersion']}")
                    bad += 1
            if not bad:
                r.ok(f"{name} values, Kubernetes {kube}: {len(core)} objects valid (strict)")
    # The check must fail on a misspelt field, or it proves nothing.
    ds = next(d for d in core if d["kind"] == "DaemonSet")
    broken = json.loads(json.dumps(ds))
    broken["spec"]["template"]["spec"]["hostNetwrok"] = True
    try:
        kubernetes_validate.validate(broken, KUBE_VERSIONS[0], strict=True)
        r.fail("a DaemonSet with a misspelt field (hostNetwrok) was accepted")
    except kubernetes_validate.ValidationError as e:
        r.ok(f"a DaemonSet with a misspelt field is rejected: {e.message}")
    # kube-prometheus-stack selects what carries its release label.
    for item in crds:
        labels = item["object"]["metadata"].get("labels", {})
        if labels.get("release") != "kube-prometheus-stack":
            r.fail(f"{item['set']}: {item['object']['kind']}/{item['object']['metadata']['name']} lacks release=kube-prometheus-stack")
    # kube-prometheus-stack copies prometheus.prometheusSpec into its Prometheus resource (less
    # its own *NilUsesHelmValues switches): check that spec with the operator's schema too.
    with open(os.path.join(ROOT, "deploy", "aws", "kube-prometheus-stack", "values-amp.yaml")) as f:
        spec = yaml.safe_load(f)["prometheus"]["prometheusSpec"]
    spec = {k: v for k, v in spec.items() if not k.endswith("NilUsesHelmValues")}
    crds.append({"set": "deploy/aws/kube-prometheus-stack/values-amp.yaml prometheusSpec",
                 "object": {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
                            "metadata": {"name": "kube-prometheus-stack-prometheus"}, "spec": spec}})
    with open(os.path.join(out, "crds.json"), "w") as f:
        json.dump(crds, f)
    r.ok(f"{len(crds)} prometheus-operator objects handed to the Node.js check")
    return r.exit()


def cmd_schema():
    r = Report()
    with helm.Chart.load(CHART) as chart:
        try:
            chart.validate_schema({})
            r.ok("values.yaml passes values.schema.json")
        except helm.HelmError as e:
            r.fail(f"values.yaml fails values.schema.json: {e}")
        for name, values in value_sets()[1:]:
            try:
                chart.validate_schema(values)
                r.ok(f"ci/{name}-values.yaml passes values.schema.json")
            except helm.HelmError as e:
                r.fail(f"ci/{name}-values.yaml fails values.schema.json: {e}")
        for values, expect in BAD:
            shown = json.dumps(values)
            try:
                chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
                r.fail(f"{shown} was accepted")
            except helm.HelmError as e:
                msg = " ".join(str(e).split())
                if expect in msg:
                    r.ok(f"{shown} rejected: {msg.split('platform-observability:')[-1].strip()}")
                else:
                    r.fail(f"{shown} rejected, but the message does not name {expect!r}: {msg}")
    return r.exit()


def cmd_sources():
    r = Report()
    manifests = render({"kafkaExporter": {"enabled": True, "kafkaServer": ["kafka:9092"]},
                        "gatewaySidecar": {"enabled": True}})
    docs = [d for _, d in documents(manifests)]
    rules = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PrometheusRule"}
    sources = sorted(glob.glob(os.path.join(ROOT, "monitoring", "prometheus", "rules", "*.yml")))
    prefix = f"{RELEASE}-platform-observability-"
    for src in sources:
        base = os.path.basename(src)[: -len(".yml")]
        with open(src) as f:
            want = yaml.safe_load(f)
        got = rules.pop(prefix + base, None)
        if got is None:
            r.fail(f"no PrometheusRule for monitoring/prometheus/rules/{base}.yml")
        elif got["spec"] != want:
            r.fail(f"PrometheusRule {prefix + base} differs from monitoring/prometheus/rules/{base}.yml")
        else:
            n = sum(len(g["rules"]) for g in want["groups"])
            r.ok(f"PrometheusRule {prefix + base}: the {n} rules of monitoring/prometheus/rules/{base}.yml")
    for extra in rules:
        r.fail(f"PrometheusRule {extra} has no source in monitoring/prometheus/rules")
    maps = {}
    for d in docs:
        if d["kind"] == "ConfigMap":
            maps.update(d.get("data", {}))
    for src in sorted(glob.glob(os.path.join(ROOT, "monitoring", "grafana", "dashboards", "*.json"))) + [
            os.path.join(ROOT, "crates", "gateway-sidecar", "routes.yml")]:
        with open(src) as f:
            want = f.read()
        key = os.path.basename(src)
        if maps.get(key) == want:
            r.ok(f"ConfigMap key {key}: the bytes of {os.path.relpath(src, ROOT)}")
        else:
            r.fail(f"ConfigMap key {key} is not {os.path.relpath(src, ROOT)}")
    return r.exit()


def merge(base, patch):
    """Strategic merge as the API server does it for the fields the sidecar patches touch: maps
    merge, lists of named objects (containers, volumes, ports) merge by name, the rest replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(
            isinstance(x, dict) and "name" in x for x in base + patch):
        out = list(base)
        for item in patch:
            i = next((i for i, x in enumerate(out) if x["name"] == item["name"]), None)
            if i is None:
                out.append(item)
            else:
                out[i] = merge(out[i], item)
        return out
    return patch


def json_patch(doc, ops):
    """RFC 6902 `test` and `replace`, the two operations service-targetport-patch.json uses."""
    doc = json.loads(json.dumps(doc))
    for op in ops:
        *parents, last = [int(p) if p.isdigit() else p for p in op["path"].strip("/").split("/")]
        node = doc
        for p in parents:
            node = node[p]
        if op["op"] == "test" and node[last] != op["value"]:
            raise ValueError(f"test failed at {op['path']}: {node[last]!r} != {op['value']!r}")
        if op["op"] == "replace":
            node[last] = op["value"]
    return doc


def cmd_patches():
    r = Report()
    d = os.path.join(ROOT, "deploy", "k8s", "gateway-sidecar")
    with open(os.path.join(d, "testdata", "api-gateway.yaml")) as f:
        deployment, service = [x for x in yaml.safe_load_all(f) if x]
    # What the chart calls the rules ConfigMap and the metrics port, installed as the README says.
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render({"gatewaySidecar": {"enabled": True}}, name="platform-observability",
                                 namespace="monitoring", is_install=True)
    docs = [doc for _, doc in documents(manifests)]
    rules_cm = next(x["metadata"]["name"] for x in docs if x["kind"] == "ConfigMap" and "routes.yml" in x["data"])
    svc = next(x for x in docs if x["kind"] == "Service" and x["metadata"]["name"].endswith("gateway-sidecar"))
    metrics_port = svc["spec"]["ports"][0]
    for name, key in [("native-sidecar-patch.yaml", "initContainers"), ("container-sidecar-patch.yaml", "containers")]:
        with open(os.path.join(d, name)) as f:
            patch = yaml.safe_load(f)
        patched = merge(deployment, patch)
        pod = patched["spec"]["template"]["spec"]
        try:
            for kube in KUBE_VERSIONS:
                kubernetes_validate.validate(patched, kube, strict=True)
            r.ok(f"{name} applied to testdata/api-gateway.yaml: a valid Deployment (Kubernetes {', '.join(KUBE_VERSIONS)}, strict)")
        except kubernetes_validate.ValidationError as e:
            r.fail(f"{name} applied: {e.message} at {'/'.join(map(str, e.path))}")
        sidecar = next(c for c in pod[key] if c["name"] == "gateway-sidecar")
        names = [c["name"] for c in pod["containers"]]
        ok = "api-gateway" in names and (key == "containers" or sidecar.get("restartPolicy") == "Always")
        r.ok(f"{name}: the app container is kept, the sidecar is in {key}") if ok else r.fail(f"{name}: containers {names}")
        vol = next(v for v in pod["volumes"] if v["name"] == "gateway-sidecar-rules")
        if vol["configMap"]["name"] == rules_cm:
            r.ok(f"{name}: mounts ConfigMap {rules_cm}, as the chart names it")
        else:
            r.fail(f"{name}: mounts ConfigMap {vol['configMap']['name']}, the chart renders {rules_cm}")
        ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
        if ports.get("sidecar-metrics") == metrics_port["targetPort"] and metrics_port["name"] == "sidecar-metrics":
            r.ok(f"{name}: metrics on port sidecar-metrics ({ports['sidecar-metrics']}), which the chart's Service targets")
        else:
            r.fail(f"{name}: sidecar ports {ports}, the chart's Service targets {metrics_port}")
    with open(os.path.join(d, "service-targetport-patch.json")) as f:
        patched = json_patch(service, json.load(f))
    try:
        kubernetes_validate.validate(patched, KUBE_VERSIONS[0], strict=True)
        if patched["spec"]["ports"][0]["targetPort"] == 8000:
            r.ok("service-targetport-patch.json: the gateway Service now targets the proxy port 8000")
        else:
            r.fail(f"service-targetport-patch.json: targetPort {patched['spec']['ports'][0]['targetPort']}")
    except kubernetes_validate.ValidationError as e:
        r.fail(f"service-targetport-patch.json applied: {e.message}")
    with open(os.path.join(d, "values-snippet.yaml")) as f:
        snippet = yaml.safe_load(f)
    probe = merge(deployment, {"spec": {"template": {"spec": {
        "initContainers": snippet["extraInitContainers"], "volumes": snippet["extraVolumes"]}}}})
    try:
        kubernetes_validate.validate(probe, KUBE_VERSIONS[0], strict=True)
        r.ok("values-snippet.yaml: its init container and volume make a valid pod spec")
    except kubernetes_validate.ValidationError as e:
        r.fail(f"values-snippet.yaml: {e.message} at {'/'.join(map(str, e.path))}")
    return r.exit()


def cmd_sasl():
    r = Report()
    full = f"{RELEASE}-platform-observability"
    base = {"enabled": True, "kafkaServer": ["kafka:9092"]}

    def container(sasl, extra=None):
        values = {"kafkaExporter": merge(dict(base, sasl=sasl), extra or {})}
        docs = {(d["kind"], d["metadata"]["name"]): d for _, d in documents(render(values))}
        dep = docs[("Deployment", f"{full}-kafka-exporter")]
        return dep["spec"]["template"]["spec"]["containers"][0], docs

    with open(os.path.join(CHART, "ci", "msk-iam-values.yaml")) as f:
        msk = yaml.safe_load(f)["kafkaExporter"]
    c, docs = container(msk["sasl"], {k: v for k, v in msk.items() if k != "sasl"})
    sa = docs.get(("ServiceAccount", f"{full}-kafka-exporter"), {})
    names = [e["name"] for e in c.get("env", [])]
    ok = ("--sasl.mechanism=awsiam" in c["args"] and "--sasl.aws-region=eu-west-1" in c["args"]
          and not any(a.startswith("--sasl.username") for a in c["args"]) and "SASL_USER_PASSWORD" not in names
          and sa.get("metadata", {}).get("annotations", {}).get("eks.amazonaws.com/role-arn", "").endswith("/kafka-exporter-msk"))
    (r.ok if ok else r.fail)("awsiam (ci/msk-iam-values.yaml): --sasl.mechanism=awsiam --sasl.aws-region, "
                             "no username, no password, the IRSA role on the ServiceAccount")
    c, _ = container({"enabled": True, "mechanism": "awsiam"})
    ok = not any(a.startswith("--sasl.aws-region") for a in c["args"])
    (r.ok if ok else r.fail)("awsiam without awsRegion: no --sasl.aws-region (the pod's AWS_REGION serves)")
    c, _ = container({"enabled": True, "mechanism": "oauthbearer", "username": "exporter",
                      "oauthbearer": {"tokenUrl": "https://idp.example/token", "scopes": ["kafka", "read"]}},
                     {"secret": {"data": {"password": "s"}}})
    ok = ("--sasl.oauthbearer-token-url=https://idp.example/token" in c["args"]
          and "--sasl.oauthbearer-scopes=kafka,read" in c["args"] and "--sasl.username=exporter" in c["args"]
          and any(e["name"] == "SASL_USER_PASSWORD" for e in c.get("env", [])))
    (r.ok if ok else r.fail)("oauthbearer: token URL, scopes joined by commas, client id, secret from the Secret's password")
    krb = {"enabled": True, "mechanism": "gssapi", "username": "exporter",
           "kerberos": {"realm": "EXAMPLE.COM", "keytabFile": "exporter.keytab", "configFile": "krb5.conf"}}
    c, _ = container(krb, {"existingSecret": "kafka-exporter-kerberos"})
    ok = ({"--sasl.service-name=kafka", "--sasl.kerberos-auth-type=keytabAuth", "--sasl.realm=EXAMPLE.COM",
           "--sasl.username=exporter", "--sasl.keytab-path=/etc/kafka-exporter/secret/exporter.keytab",
           "--sasl.kerberos-config-path=/etc/kafka-exporter/secret/krb5.conf"} <= set(c["args"])
          and not any(e["name"] == "SASL_USER_PASSWORD" for e in c.get("env", []))
          and any(m["mountPath"] == "/etc/kafka-exporter/secret" for m in c["volumeMounts"]))
    (r.ok if ok else r.fail)("gssapi keytabAuth: service name, realm, keytab and krb5.conf from the mounted Secret, no password")
    c, _ = container(dict(krb, kerberos={"authType": "userAuth"}), {"existingSecret": "kafka-exporter-kerberos"})
    ok = ("--sasl.kerberos-auth-type=userAuth" in c["args"] and not any(a.startswith("--sasl.keytab-path") for a in c["args"])
          and any(e["name"] == "SASL_USER_PASSWORD" and e["valueFrom"]["secretKeyRef"]["optional"] is False
                  for e in c.get("env", [])))
    (r.ok if ok else r.fail)("gssapi userAuth: the password from the Secret (required), no keytab")
    try:
        container(dict(krb, kerberos={}), {"existingSecret": "kafka-exporter-kerberos"})
        r.fail("gssapi keytabAuth without keytabFile: rendered")
    except helm.HelmError as e:
        (r.ok if "needs the keytab" in str(e) else r.fail)("gssapi keytabAuth without keytabFile: the install stops, asking for the keytab")
    try:
        container({"enabled": True, "mechanism": "scram-sha512", "username": "u"})
        r.fail("scram-sha512 without a Secret: rendered")
    except helm.HelmError as e:
        (r.ok if "needs the password" in str(e) else r.fail)("scram-sha512 without a Secret: the install stops, asking for the password")
    return r.exit()


def cmd_compat():
    r = Report()
    with open(os.path.join(CHART, "ci", "prometheus-community-values.yaml")) as f:
        values = yaml.safe_load(f)
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in documents(render(values))}
    full = f"{RELEASE}-platform-observability"

    def expect(what, cond):
        (r.ok if cond else r.fail)(what)

    ne, ke = values["nodeExporter"], values["kafkaExporter"]
    ds = docs[("DaemonSet", f"{full}-node-exporter")]
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    mount = ne["extraHostVolumeMounts"][0]
    vol = next((v for v in pod["volumes"] if v["name"] == mount["name"]), {})
    vm = next((m for m in c["volumeMounts"] if m["name"] == mount["name"]), {})
    expect(f"extraHostVolumeMounts: host {mount['hostPath']} ({mount['type']}) mounted read-only at {mount['mountPath']}",
           vol.get("hostPath") == {"path": mount["hostPath"], "type": mount["type"]}
           and vm.get("mountPath") == mount["mountPath"] and vm.get("readOnly") is True)
    expect("extraArgs: the textfile collector reads that directory (--collector.textfile.directory)",
           all(a in c["args"] for a in ne["extraArgs"]))
    root = next((m for m in c["volumeMounts"] if m["name"] == "root"), {})
    expect("hostRootFsMount: / read-only at /host/root, HostToContainer, --path.rootfs",
           root.get("mountPropagation") == "HostToContainer" and root.get("readOnly") is True
           and "--path.rootfs=/host/root" in c["args"])
    expect("env: TZ=UTC", {"name": "TZ", "value": "UTC"} in c.get("env", []))
    expect("podLabels and podAnnotations on the pods",
           ds["spec"]["template"]["metadata"]["labels"].get("team") == "platform"
           and "cluster-autoscaler.kubernetes.io/safe-to-evict" in ds["spec"]["template"]["metadata"]["annotations"])
    sa = docs.get(("ServiceAccount", "node-exporter"), {})
    expect("serviceAccount: node-exporter created with its annotations, no token mounted, used by the pods",
           pod.get("serviceAccountName") == "node-exporter" and sa.get("metadata", {}).get("annotations") == ne["serviceAccount"]["annotations"]
           and sa.get("automountServiceAccountToken") is False and pod.get("automountServiceAccountToken") is False)
    expect("updateStrategy, tolerations, nodeSelector as given",
           ds["spec"]["updateStrategy"] == ne["updateStrategy"] and pod["tolerations"] == ne["tolerations"]
           and pod["nodeSelector"] == ne["nodeSelector"])
    svc = docs[("Service", f"{full}-node-exporter")]
    expect("service: port 9100 (host port too), annotations and labels",
           svc["spec"]["ports"][0]["port"] == 9100 and c["ports"][0].get("hostPort") == 9100
           and svc["metadata"]["annotations"] == ne["service"]["annotations"] and svc["metadata"]["labels"].get("tier") == "monitoring")
    sm = docs[("ServiceMonitor", f"{full}-node-exporter")]
    mon = ne["prometheus"]["monitor"]
    ep = sm["spec"]["endpoints"][0]
    expect("prometheus.monitor: release label, interval 15s, scrapeTimeout, sampleLimit 0, podTargetLabels, attachMetadata",
           sm["metadata"]["labels"].get("release") == "kube-prometheus-stack" and ep.get("interval") == "15s"
           and ep.get("scrapeTimeout") == "10s" and sm["spec"]["sampleLimit"] == 0
           and sm["spec"].get("podTargetLabels") == ["team"] and sm["spec"].get("attachMetadata") == {"node": True})
    expect("prometheus.monitor: relabelings after the job and node ones, metricRelabelings",
           ep["relabelings"][2:] == mon["relabelings"] and ep["relabelings"][0]["replacement"] == "node-exporter"
           and ep.get("metricRelabelings") == mon["metricRelabelings"])

    dep = docs[("Deployment", f"{full}-kafka-exporter")]
    kpod = dep["spec"]["template"]["spec"]
    kc = kpod["containers"][0]
    expect("kafkaServer: one --kafka.server each; replicaCount 1",
           [a for a in kc["args"] if a.startswith("--kafka.server=")] == [f"--kafka.server={b}" for b in ke["kafkaServer"]]
           and dep["spec"]["replicas"] == 1)
    expect("extraArgs, env (a list of EnvVar), annotations on the pods, serviceAccount kafka-exporter",
           "--log.level=debug" in kc["args"] and {"name": "TZ", "value": "UTC"} in kc.get("env", [])
           and dep["spec"]["template"]["metadata"]["annotations"].get("example.com/owner") == "platform"
           and kpod.get("serviceAccountName") == "kafka-exporter" and ("ServiceAccount", "kafka-exporter") in docs)
    expect("resources as given", kc["resources"] == ke["resources"])
    ksvc = docs[("Service", f"{full}-kafka-exporter")]
    expect("service: ClusterIP, port 9308, labels and annotations",
           ksvc["spec"]["type"] == "ClusterIP" and ksvc["spec"]["ports"][0]["port"] == 9308
           and ksvc["metadata"]["labels"].get("tier") == "monitoring" and ksvc["metadata"]["annotations"] == ke["service"]["annotations"])
    ksm = docs[("ServiceMonitor", f"{full}-kafka-exporter")]
    expect("prometheus.serviceMonitor: in namespace monitoring, release label, interval 30s, targetLabels",
           ksm["metadata"]["namespace"] == "monitoring" and ksm["metadata"]["labels"].get("release") == "kube-prometheus-stack"
           and ksm["spec"]["endpoints"][0].get("interval") == "30s" and ksm["spec"].get("targetLabels") == ["tier"])
    expect("rbac: accepted, and nothing rendered for it (neither exporter calls the Kubernetes API)",
           not any(k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "PodSecurityPolicy") for k, _ in docs))
    # And the other way: switched off, the host's / is not mounted and not passed.
    off = {(d["kind"], d["metadata"]["name"]): d for _, d in documents(render(
        {"nodeExporter": {"hostRootFsMount": {"enabled": False}, "serviceAccount": {"create": False}}}))}
    opod = off[("DaemonSet", f"{full}-node-exporter")]["spec"]["template"]["spec"]
    expect("hostRootFsMount.enabled=false: no root volume, no --path.rootfs; serviceAccount.create=false: `default`, none rendered",
           all(v["name"] != "root" for v in opod["volumes"]) and not any(a.startswith("--path.rootfs") for a in opod["containers"][0]["args"])
           and opod["serviceAccountName"] == "default" and not any(k == "ServiceAccount" for k, _ in off))
    return r.exit()


# A stand-in for kube-prometheus-stack's templates/extra-objects.yaml (which needs no other part
# of that chart): each string of extraManifests goes through `tpl` with the root context.
KPS_EXTRA_OBJECTS = """{{- range .Values.extraManifests }}
---
{{ tpl . $ }}
{{- end }}
"""


def cmd_kps_guard(tmp):
    r = Report()
    chart = os.path.join(tmp, "kps-standin")
    shutil.rmtree(chart, ignore_errors=True)
    os.makedirs(os.path.join(chart, "templates"))
    with open(os.path.join(chart, "Chart.yaml"), "w") as f:
        f.write("apiVersion: v2\nname: kps-standin\nversion: 0.0.0\n")
    # kube-prometheus-stack's own defaults for what the guard reads.
    with open(os.path.join(chart, "values.yaml"), "w") as f:
        yaml.safe_dump({"grafana": {"enabled": True, "admin": {"existingSecret": ""}}, "extraManifests": []}, f)
    with open(os.path.join(chart, "templates", "extra-objects.yaml"), "w") as f:
        f.write(KPS_EXTRA_OBJECTS)
    with open(os.path.join(ROOT, "deploy", "aws", "kube-prometheus-stack", "values-amp.yaml")) as f:
        amp = yaml.safe_load(f)

    def attempt(grafana):
        values = json.loads(json.dumps(amp))
        values["grafana"] = merge(values["grafana"], grafana)
        with helm.Chart.load(chart) as c:
            try:
                out = c.render(values, name="kube-prometheus-stack", namespace=NAMESPACE, is_install=True)
                return None, [d for _, d in documents(out)]
            except helm.HelmError as e:
                return " ".join(str(e).split()), None
    err, _ = attempt({})
    if err and "set grafana.admin.existingSecret" in err:
        r.ok("values-amp.yaml as committed: the install stops with \"" + err[err.index("set grafana."):] + "\"")
    else:
        r.fail(f"values-amp.yaml as committed: {err or 'installed without an admin Secret'}")
    for label, grafana in (("--set grafana.admin.existingSecret=grafana-admin", {"admin": {"existingSecret": "grafana-admin"}}),
                           ("--set grafana.enabled=false (Amazon Managed Grafana)", {"enabled": False})):
        err, docs = attempt(grafana)
        if err is None and not docs:
            r.ok(f"{label}: installs, and the guard renders no object")
        else:
            r.fail(f"{label}: {err or docs}")
    return r.exit()


def cmd_args(out, binary):
    """Every node-exporter command line the chart renders (default values, each ci/*-values.yaml,
    and values.yaml's commented extraArgs example) parses in our binary: `<args> --version` exits
    0, where a flag we do not know exits 64 (node_exporter's flags, so a values file written for
    prometheus-community's chart starts ours)."""
    r = Report()
    lines = []
    for name, _ in value_sets():
        with open(os.path.join(out, f"{name}.yaml")) as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") != "DaemonSet" or not doc["metadata"]["name"].endswith("node-exporter"):
                    continue
                for c in doc["spec"]["template"]["spec"]["containers"]:
                    if c["name"] == "node-exporter":
                        lines.append((f"{name} values", c.get("args", [])))
    with open(os.path.join(CHART, "values.yaml")) as f:
        for line in f:
            m = re.match(r"\s*#\s*extraArgs:\s*(\[.*\])\s*$", line)
            if m:
                lines.append(("values.yaml's commented example", yaml.safe_load(m.group(1))))
    if not lines:
        r.fail("no node-exporter command line found in the renders")
    for what, args in lines:
        p = subprocess.run([binary, *args, "--version"], capture_output=True, text=True)
        if p.returncode == 0:
            r.ok(f"{what}: node-exporter {' '.join(args)} parses")
        else:
            err = (p.stderr or p.stdout).strip().splitlines()
            r.fail(f"{what}: node-exporter {' '.join(args)}: exit {p.returncode}: {err[:1]}")
    return r.exit()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    return {"lint": cmd_lint, "validate": cmd_validate, "schema": cmd_schema, "sources": cmd_sources,
            "patches": cmd_patches, "compat": cmd_compat, "sasl": cmd_sasl, "args": cmd_args, "kps-guard": cmd_kps_guard}[cmd](*args)


if __name__ == "__main__":
    sys.exit(main())
