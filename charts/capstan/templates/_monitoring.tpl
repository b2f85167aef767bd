{{/* Labels of a monitoring object: the chart's labels, then those the values add (the chart's win). */}}
{{- define "capstan.monitoringLabels" -}}
{{- merge (include "capstan.labels" .context | fromYaml) (.labels | default dict) | toYaml -}}
{{- end -}}

{{/* Namespaces whose apps the PodMonitors scrape: the watched ones, or every namespace. */}}
{{- define "capstan.monitoredNamespaces" -}}
{{- if .Values.watchNamespaces -}}
matchNames: {{- toYaml .Values.watchNamespaces | nindent 2 }}
{{- else -}}
any: true
{{- end -}}
{{- end -}}

{{/* A PodMonitor endpoint's relabelings: the app's name as `app`, and a fixed `job` the rules and
dashboards select (prometheus-operator adds namespace, pod and container itself). */}}
{{- define "capstan.podRelabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_instance]
  targetLabel: app
- targetLabel: job
  replacement: {{ . }}
{{- end -}}
