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

{{/* registry/repository:tag of a component: (dict "ctx" $ "image" .Values.nodeExporter.image). */}}
{{- define "po.image" -}}
{{- $tag := default .ctx.Chart.AppVersion .ctx.Values.image.tag -}}
{{- if .ctx.Values.image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .ctx.Values.image.registry) .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
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
(dict "ctx" $ "port" "metrics" "monitor" .Values.nodeExporter.serviceMonitor).
The job label is set by relabelling, so the rules and dashboards find the job they expect
whatever the Service is called.
*/}}
{{- define "po.endpoint" -}}
{{- $m := .ctx.Values.monitoring -}}
{{- $ep := dict "port" .port "path" "/metrics" -}}
{{- with $m.interval }}{{ $_ := set $ep "interval" . }}{{ end -}}
{{- with $m.scrapeTimeout }}{{ $_ := set $ep "scrapeTimeout" . }}{{ end -}}
{{- $relabel := list (dict "action" "replace" "targetLabel" "job" "replacement" .monitor.jobName) -}}
{{- if .nodeLabel -}}
{{- $relabel = append $relabel (dict "action" "replace" "sourceLabels" (list "__meta_kubernetes_pod_node_name") "targetLabel" "node") -}}
{{- end -}}
{{- $_ := set $ep "relabelings" (concat $relabel (.monitor.relabelings | default list)) -}}
{{- with .monitor.metricRelabelings }}{{ $_ := set $ep "metricRelabelings" . }}{{ end -}}
{{- $ep = merge $ep (deepCopy ($m.endpoint | default dict)) -}}
- {{ toYaml $ep | nindent 2 | trim }}
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
