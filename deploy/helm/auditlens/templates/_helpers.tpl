{{/* Names, labels and the checks every template shares. */}}

{{- define "auditlens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "auditlens.fullname" -}}
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

{{- define "auditlens.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "auditlens.selectorLabels" -}}
app.kubernetes.io/name: {{ include "auditlens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "auditlens.labels" -}}
helm.sh/chart: {{ include "auditlens.chart" . }}
{{ include "auditlens.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "auditlens.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "auditlens.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "auditlens.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the tokens file. */}}
{{- define "auditlens.tokensSecret" -}}
{{- default (printf "%s-tokens" (include "auditlens.fullname" .)) .Values.tokens.existingSecret }}
{{- end }}

{{- define "auditlens.tokensKey" -}}
{{- if .Values.tokens.existingSecret }}{{ .Values.tokens.existingSecretKey }}{{ else }}tokens.csv{{ end }}
{{- end }}

{{/* Whether the chart generates the tokens Secret. */}}
{{- define "auditlens.generateTokens" -}}
{{- if and .Values.tokens.enabled (not .Values.tokens.existingSecret) }}true{{ end }}
{{- end }}

{{/* https when the webhook serves TLS. */}}
{{- define "auditlens.scheme" -}}
{{- if .Values.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

{{/*
Settings auditlens would refuse at start, refused at render time instead, with the fix.
*/}}
{{- define "auditlens.validate" -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) }}
{{- fail "tls.enabled needs tls.existingSecret: a kubernetes.io/tls Secret with tls.crt and tls.key" }}
{{- end }}
{{- if and .Values.tls.clientCA.enabled (not .Values.tls.enabled) }}
{{- fail "tls.clientCA.enabled needs tls.enabled: mutual TLS is TLS with client certificates" }}
{{- end }}
{{- if and .Values.tls.clientCA.enabled (not .Values.tls.clientCA.existingSecret) }}
{{- fail "tls.clientCA.enabled needs tls.clientCA.existingSecret: a Secret with the CA as ca.crt" }}
{{- end }}
{{- if and .Values.tokens.enabled (not .Values.tokens.existingSecret) (not .Values.tokens.clusters) }}
{{- fail "tokens.enabled needs tokens.existingSecret or at least one name in tokens.clusters" }}
{{- end }}
{{- if not (or .Values.tls.enabled .Values.tokens.enabled .Values.allowInsecure) }}
{{- fail "the webhook needs authentication off loopback: enable tokens (tokens.enabled) or TLS (tls.enabled, with tls.clientCA for client certificates), or set allowInsecure" }}
{{- end }}
{{- if and .Values.query.postgres.enabled (not (or .Values.tokens.enabled .Values.tls.clientCA.enabled)) }}
{{- fail "query.postgres.enabled needs tokens.enabled (the password is a token) or tls.clientCA.enabled" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.tls.clientCA.enabled (not .Values.metrics.serviceMonitor.tlsConfig.cert) }}
{{- fail "with tls.clientCA.enabled Prometheus must present a client certificate: set metrics.serviceMonitor.tlsConfig.cert and .keySecret" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.tokens.enabled .Values.tokens.existingSecret (not .Values.metrics.serviceMonitor.bearerTokenSecret.name) }}
{{- fail "with tokens.existingSecret, /metrics needs a token: set metrics.serviceMonitor.bearerTokenSecret.name and .key" }}
{{- end }}
{{- if .Values.networkPolicy.enabled }}
{{- if not (or .Values.networkPolicy.apiserver.cidrs .Values.networkPolicy.apiserver.peers) }}
{{- fail "networkPolicy.enabled needs networkPolicy.apiserver.cidrs or .peers: otherwise no kube-apiserver could reach the webhook" }}
{{- end }}
{{- end }}
{{- end }}
