{{- define "hami.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "hami.labels" -}}
app.kubernetes.io/part-of: hami
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "hami.natsURL" -}}
{{- if .Values.nats.enabled -}}
nats://hami-nats.{{ .Release.Namespace }}.svc:4222
{{- else -}}
{{ required "nats.url is required when nats.enabled is false" .Values.nats.url }}
{{- end -}}
{{- end -}}

{{- define "hami.natsEnv" -}}
- name: NATS_URL
  value: {{ include "hami.natsURL" . | quote }}
{{- if .Values.nats.credentialsSecret }}
- name: NATS_CREDS
  value: /etc/hami/nats/creds
{{- end }}
{{- end -}}
