{{- define "kb-nova.fullname" -}}
{{ .Release.Name }}
{{- end }}

{{- define "kb-nova.selectorLabels" -}}
app.kubernetes.io/name: kb-nova
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kb-nova.labels" -}}
{{ include "kb-nova.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
