{{/* Names, labels and the pieces every component shares. */}}

{{- define "po.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name; each component adds its own suffix (so 52 characters at most). */}}
{{- define "po.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "po.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "po.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "node-exporter"). */}}
{{- define "po.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "po.componentLabels" -}}
{{ include "po.labels" .ctx }}
app.kubernetes.io/name: {{ .component }}
{{- end -}}

{{/* Labels of the prometheus-operator resources: kube-prometheus-stack selects on `release`. */}}
{{- define "po.monitorLabels" -}}
{{- $l := dict -}}
{{- with .Values.monitoring.release }}{{ $_ := set $l "release" . }}{{ end -}}
{{- $l = merge $l (.Values.monitoring.additionalLabels | default dict) -}}
{{- if $l }}{{ toYaml $l }}{{ end -}}
{{- end -}}

{{/*
registry/repository:tag of a component: (dict "ctx" $ "image" .Values.nodeExporter.image). The
component's registry and tag (prometheus-community's charts set them per image) win over the
chart-wide image.registry and image.tag.
*/}}
{{- define "po.image" -}}
{{- $tag := .image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- $registry := .image.registry | default .ctx.Values.image.registry -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $registry) .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "po.pullPolicy" -}}
{{- .image.pullPolicy | default .ctx.Values.image.pullPolicy -}}
{{- end -}}

{{/* The ServiceAccount of a component: (dict "ctx" $ "component" "node-exporter" "sa" .serviceAccount). */}}
{{- define "po.serviceAccountName" -}}
{{- if .sa.create -}}
{{- .sa.name | default (printf "%s-%s" (include "po.fullname" .ctx) .component) -}}
{{- else -}}
{{- .sa.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount object of a component, same arguments. */}}
{{- define "po.serviceAccount" -}}
{{- if .sa.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "po.serviceAccountName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "po.componentLabels" . | nindent 4 }}
  {{- with .sa.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ .sa.automountServiceAccountToken | default false }}
{{- end }}
{{- end -}}

{{/* Volumes and mounts of extraHostVolumeMounts (prometheus-node-exporter's shape). */}}
{{- define "po.extraHostVolumes" -}}
{{- range . }}
- name: {{ .name }}
  hostPath:
    path: {{ .hostPath }}
    {{- with .type }}
    type: {{ . }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "po.extraHostVolumeMounts" -}}
{{- range . }}
- name: {{ .name }}
  mountPath: {{ .mountPath }}
  {{- /* Read-only unless asked otherwise: an exporter only reads. */}}
  readOnly: {{ ne .readOnly false }}
  {{- with .mountPropagation }}
  mountPropagation: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "po.webConfigEnabled" -}}
{{- if and .Values.webConfig.enabled (or .Values.webConfig.existingSecret .Values.webConfig.config) -}}true{{- end -}}
{{- end -}}

{{- define "po.webConfigSecret" -}}
{{- default (printf "%s-web-config" (include "po.fullname" .)) .Values.webConfig.existingSecret -}}
{{- end -}}

{{/* The flag, volume mount and volume of the web configuration. */}}
{{- define "po.webConfigArg" -}}
{{- if include "po.webConfigEnabled" . }}
- --web.config.file=/etc/exporter-web/web-config.yml
{{- end }}
{{- end -}}

{{- define "po.webConfigMount" -}}
{{- if include "po.webConfigEnabled" . }}
- name: web-config
  mountPath: /etc/exporter-web
  readOnly: true
{{- end }}
{{- end -}}

{{- define "po.webConfigVolume" -}}
{{- if include "po.webConfigEnabled" . }}
- name: web-config
  projected:
    sources:
      - secret:
          name: {{ include "po.webConfigSecret" . }}
          items:
            - key: web-config.yml
              path: web-config.yml
      {{- with .Values.webConfig.tlsSecret }}
      - secret:
          name: {{ . }}
      {{- end }}
{{- end }}
{{- end -}}

{{/* The hardening every container of the chart gets: distroless `nonroot` user, nothing writable. */}}
{{- define "po.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
One endpoint of a ServiceMonitor or PodMonitor:
(dict "ctx" $ "port" "metrics" "monitor" .Values.nodeExporter.prometheus.monitor).
The job label is set by relabelling, so the rules and dashboards find the job they expect
whatever the Service is called. The monitor's own interval, scrapeTimeout, scheme, tlsConfig,
basicAuth and proxyUrl (prometheus-community's names) win over monitoring.*.
*/}}
{{- define "po.endpoint" -}}
{{- $m := .ctx.Values.monitoring -}}
{{- $ep := dict "port" .port "path" "/metrics" -}}
{{- with (.monitor.interval | default $m.interval) }}{{ $_ := set $ep "interval" . }}{{ end -}}
{{- with (.monitor.scrapeTimeout | default $m.scrapeTimeout) }}{{ $_ := set $ep "scrapeTimeout" . }}{{ end -}}
{{- $relabel := list (dict "action" "replace" "targetLabel" "job" "replacement" .monitor.jobName) -}}
{{- if .nodeLabel -}}
{{- $relabel = append $relabel (dict "action" "replace" "sourceLabels" (list "__meta_kubernetes_pod_node_name") "targetLabel" "node") -}}
{{- end -}}
{{- $_ := set $ep "relabelings" (concat $relabel (.monitor.relabelings | default list)) -}}
{{- with .monitor.metricRelabelings }}{{ $_ := set $ep "metricRelabelings" . }}{{ end -}}
{{- $own := dict -}}
{{- range $k := list "scheme" "tlsConfig" "basicAuth" "proxyUrl" -}}
{{- with (get $.monitor $k) }}{{ $_ := set $own $k . }}{{ end -}}
{{- end -}}
{{- $ep = merge $ep (deepCopy $own) (deepCopy ($m.endpoint | default dict)) -}}
- {{ toYaml $ep | nindent 2 | trim }}
{{- end -}}

{{/* The monitor's sampleLimit: its own when set (0: none), else monitoring.sampleLimit. */}}
{{- define "po.sampleLimit" -}}
{{- $limit := .monitor.sampleLimit -}}
{{- if kindIs "invalid" $limit }}{{ .ctx.Values.monitoring.sampleLimit }}{{ else }}{{ int64 $limit }}{{ end -}}
{{- end -}}

{{/*
Labels of one ServiceMonitor: the component's, then the monitor's additionalLabels (most
specific), release=monitoring.release, monitoring.additionalLabels.
(dict "ctx" $ "component" "node-exporter" "monitor" .prometheus.monitor)
*/}}
{{- define "po.monitorMetaLabels" -}}
{{- $release := dict -}}
{{- with .ctx.Values.monitoring.release }}{{ $_ := set $release "release" . }}{{ end -}}
{{- $l := merge (deepCopy (.monitor.additionalLabels | default dict)) $release (deepCopy (.ctx.Values.monitoring.additionalLabels | default dict)) -}}
{{ include "po.componentLabels" . }}
{{- if $l }}
{{ toYaml $l }}
{{- end }}
{{- end -}}

{{/* NetworkPolicy peers allowed to the metrics ports. */}}
{{- define "po.metricsPeers" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.monitoring.namespace }}
{{- with .Values.networkPolicy.extraFrom }}
{{ toYaml . }}
{{- end }}
{{- end -}}
