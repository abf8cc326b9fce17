{{/* Chart name, capped at 63 characters (a DNS label). */}}
{{- define "netvol.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name prefix of every object of the release. */}}
{{- define "netvol.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of the webhook Deployment, Service and friends. */}}
{{- define "netvol.webhookName" -}}
{{- printf "%s-webhook" (include "netvol.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Secret holding tls.crt, tls.key and ca.crt of the webhook. */}}
{{- define "netvol.tlsSecretName" -}}
{{- printf "%s-webhook-tls" (include "netvol.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "netvol.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "netvol.labels" -}}
helm.sh/chart: {{ include "netvol.chart" . }}
{{ include "netvol.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: netvol
{{- end }}

{{/* Labels that select the webhook pods (never change them: selectors are immutable). */}}
{{- define "netvol.selectorLabels" -}}
app.kubernetes.io/name: {{ include "netvol.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "netvol.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "netvol.webhookName" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* DNS names the API server uses to reach the Service. */}}
{{- define "netvol.dnsNames" -}}
{{- $svc := include "netvol.webhookName" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/* The webhook's config.json (the contract of netvol-webhook --config). */}}
{{- define "netvol.webhookConfig" -}}
{{- $rs := .Values.inject.restoreSync -}}
{{- $image := printf "%s:%s" $rs.image.repository (default .Chart.AppVersion $rs.image.tag) -}}
{{- $restore := dict "enabled" $rs.enabled "image" $image "imagePullPolicy" $rs.imagePullPolicy "dataVolume" $rs.dataVolume "storeSecret" $rs.storeSecret "runAsUser" $rs.runAsUser "podIdFromPodName" $rs.podIdFromPodName "resources" $rs.resources -}}
{{- dict "workspaceVolume" .Values.inject.workspaceVolume "envName" .Values.inject.envName "restoreSync" $restore | toPrettyJson }}
{{- end }}
