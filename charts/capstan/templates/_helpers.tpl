{{/* Name of the operator's objects: <release>-operator, within 63 characters. */}}
{{- define "capstan.fullname" -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the operator's pods. The DistributedApps' NetworkPolicies admit pods labelled
app.kubernetes.io/name=capstan-operator, so this label must stay as it is. */}}
{{- define "capstan.selectorLabels" -}}
app.kubernetes.io/name: capstan-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "capstan.labels" -}}
{{ include "capstan.selectorLabels" . }}
app.kubernetes.io/part-of: capstan
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* topologySpreadConstraints from the values; one without labelSelector selects the operator's pods
(per rollout: matchLabelKeys pod-template-hash). Called with (dict "constraints" list "context" $). */}}
{{- define "capstan.topologySpreadConstraints" -}}
{{- $out := list -}}
{{- range .constraints -}}
{{- $c := deepCopy . -}}
{{- if not (hasKey $c "labelSelector") -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "capstan.selectorLabels" $.context | fromYaml)) -}}
{{- if not (hasKey $c "matchLabelKeys") -}}
{{- $_ := set $c "matchLabelKeys" (list "pod-template-hash") -}}
{{- end -}}
{{- end -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Resources that have no namespace: rules on them only work in a ClusterRole. */}}
{{- define "capstan.clusterScopedResources" -}}
nodes namespaces persistentvolumes componentstatuses tokenreviews subjectaccessreviews selfsubjectaccessreviews
selfsubjectrulesreviews selfsubjectreviews customresourcedefinitions apiservices storageclasses csidrivers csinodes
volumeattachments priorityclasses runtimeclasses clusterroles clusterrolebindings certificatesigningrequests
mutatingwebhookconfigurations validatingwebhookconfigurations validatingadmissionpolicies
validatingadmissionpolicybindings ingressclasses flowschemas prioritylevelconfigurations
{{- end -}}

{{/* The part of (dict "rules" list "cluster" bool) on cluster-scoped resources (cluster true, with every
nonResourceURLs rule) or on namespaced ones (cluster false), as a YAML list. A rule naming both kinds is
split. */}}
{{- define "capstan.scopedRules" -}}
{{- $clusterScoped := include "capstan.clusterScopedResources" . | splitList " " | join "\n" | splitList "\n" | compact -}}
{{- $cluster := .cluster -}}
{{- $out := list -}}
{{- range .rules -}}
{{- if hasKey . "nonResourceURLs" -}}
{{- if $cluster }}{{ $out = append $out . }}{{ end -}}
{{- else -}}
{{- $resources := list -}}
{{- range .resources -}}
{{- if eq $cluster (has (first (splitList "/" .)) $clusterScoped) -}}
{{- $resources = append $resources . -}}
{{- end -}}
{{- end -}}
{{- if $resources -}}
{{- $out = append $out (set (deepCopy .) "resources" $resources) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
