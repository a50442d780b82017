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

{{/* NATS connection for one component role (scheduler, node): the chart's NATS gives each role its
own user (see nats.yaml) and speaks TLS only, with certgen's CA at .ca in the component's
container; an existing NATS takes a creds file from nats.credentialsSecret. */}}
{{- define "hami.natsEnv" -}}
{{- $root := .root -}}
- name: NATS_URL
  value: {{ include "hami.natsURL" $root | quote }}
{{- if $root.Values.nats.enabled }}
- name: NATS_USER
  value: hami-{{ .role }}
- name: NATS_PASSWORD
  valueFrom: { secretKeyRef: { name: hami-nats-users, key: {{ .role }}-password } }
- name: NATS_TLS_CA
  value: {{ .ca }}
{{- else if $root.Values.nats.credentialsSecret }}
- name: NATS_CREDS
  value: /etc/hami/nats/creds
{{- end }}
{{- end -}}

{{/* The serving pair and the CA certificate from certgen's Secret, mode 0400 (the Secret also holds
the CA's key and other components' pairs, which no pod may read), and NATS credentials when given:
the volumes of hami-scheduler and hami-webhook. */}}
{{- define "hami.servingVolumes" -}}
- name: certs
  secret:
    secretName: {{ .Values.certgen.secretName }}
    defaultMode: 256 # 0400, written in decimal: YAML 1.1 and 1.2 read a leading 0 differently
    items:
      - { key: tls.crt, path: tls.crt }
      - { key: tls.key, path: tls.key }
      - { key: ca.crt, path: ca.crt }
{{- if .Values.nats.credentialsSecret }}
- name: nats-creds
  secret: { secretName: {{ .Values.nats.credentialsSecret }} }
{{- end }}
{{- end -}}
