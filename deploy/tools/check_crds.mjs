// Validates the ServiceMonitors, PodMonitors and PrometheusRules the chart renders (and the
// Prometheus that deploy/aws/kube-prometheus-stack/values-amp.yaml asks for) against the
// schemas @kubernetes-models/prometheus-operator generates from prometheus-operator's Go types
// (types, required fields, patterns such as durations; unknown fields are not caught there, the
// Kubernetes API server prunes them). Input: the crds.json written by `check_chart.py validate`.
// Usage: NODE_PATH=<venv>/node/node_modules node deploy/tools/check_crds.mjs OUT/crds.json
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// By file: the package's "exports" map only answers ES module resolution from a project that
// depends on it, and this script lives outside the installed tree.
const pkg = join(process.env.NODE_PATH, "@kubernetes-models", "prometheus-operator");
const load = async (kind) =>
  (await import(pathToFileURL(join(pkg, "monitoring.coreos.com", "v1", `${kind}.js`)).href))[kind];
const models = {};
for (const kind of ["ServiceMonitor", "PodMonitor", "PrometheusRule", "Prometheus"]) models[kind] = await load(kind);

let failures = 0;
const check = (kind, object) => {
  try {
    new models[kind](object).validate();
    return null;
  } catch (e) {
    return e.message.split("\n")[0];
  }
};

const counts = {};
for (const { set, object } of JSON.parse(readFileSync(process.argv[2], "utf8"))) {
  const err = check(object.kind, object);
  const ref = `${set}: ${object.kind}/${object.metadata.name}`;
  if (err) {
    console.log(`  FAIL  ${ref}: ${err}`);
    failures++;
  } else {
    counts[set] = (counts[set] || 0) + 1;
  }
}
for (const [set, n] of Object.entries(counts)) console.log(`  ok    ${set}: ${n} prometheus-operator objects valid`);

// The check must reject what the operator would, or it proves nothing.
const negatives = [
  ["ServiceMonitor", { metadata: { name: "x" }, spec: { selector: {}, endpoints: [{ port: "metrics", interval: "30 seconds" }] } }],
  ["PodMonitor", { metadata: { name: "x" }, spec: { selector: {}, sampleLimit: "1000", podMetricsEndpoints: [] } }],
  ["PrometheusRule", { metadata: { name: "x" }, spec: { groups: [{ name: "g", rules: [{ alert: "A" }] }] } }],
];
for (const [kind, object] of negatives) {
  const err = check(kind, object);
  if (err) console.log(`  ok    a broken ${kind} is rejected: ${err}`);
  else {
    console.log(`  FAIL  a broken ${kind} was accepted: ${JSON.stringify(object.spec)}`);
    failures++;
  }
}
process.exit(failures ? 1 : 0);
