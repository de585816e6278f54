{{/* The five services, in the order their objects are rendered. */}}
{{- define "dokkumcp.services" -}}
identity tenancy secrets dokkuexec mcpedge
{{- end -}}

{{- define "dokkumcp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-wide name; each service's objects are named <fullname>-<service>. */}}
{{- define "dokkumcp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dokkumcp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dokkumcp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{/* Labels of every object of one service; call with (dict "root" $ "service" "identity"). */}}
{{- define "dokkumcp.labels" -}}
{{ include "dokkumcp.selectorLabels" . }}
app.kubernetes.io/part-of: dokkumcp
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "dokkumcp.secretName" -}}
{{- default (include "dokkumcp.fullname" .) .Values.secret.name -}}
{{- end -}}

{{- define "dokkumcp.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* In-cluster base URL of a service; call with (dict "root" $ "service" "tenancy"). */}}
{{- define "dokkumcp.serviceURL" -}}
{{- $port := index .root.Values .service "port" -}}
{{- printf "http://%s-%s:%v" (include "dokkumcp.fullname" .root) .service $port -}}
{{- end -}}

{{/* Identity's issuer, which every other service uses as --identity-url. */}}
{{- define "dokkumcp.identityURL" -}}
{{- default (include "dokkumcp.serviceURL" (dict "root" . "service" "identity")) .Values.identity.issuer -}}
{{- end -}}

{{/* A per-service setting that falls back to the release-wide value; call with (dict "root" $ "service" "identity" "key" "resources"). */}}
{{- define "dokkumcp.setting" -}}
{{- $svc := index .root.Values .service -}}
{{- if hasKey $svc .key -}}
{{- toYaml (index $svc .key) -}}
{{- else -}}
{{- toYaml (index .root.Values .key) -}}
{{- end -}}
{{- end -}}

{{- define "dokkumcp.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "dokkumcp.secretName" .root }}
      key: {{ .key }}
{{- end -}}

{{/* Service-specific environment; every DOKKUMCP_* variable is the flag of the same name. */}}
{{- define "dokkumcp.env.identity" -}}
{{- $mcpURL := printf "%s/mcp" (trimSuffix "/" .Values.mcpedge.publicURL) -}}
{{- $resources := concat (list "urn:dokkumcp:dokkuexec" $mcpURL) .Values.identity.extraTenantResources -}}
- name: DOKKUMCP_ISSUER
  value: {{ include "dokkumcp.identityURL" . | quote }}
- name: DOKKUMCP_TENANT_RESOURCES
  value: {{ join "," $resources | quote }}
- name: DOKKUMCP_TENANCY_URL
  value: {{ include "dokkumcp.serviceURL" (dict "root" . "service" "tenancy") | quote }}
- name: DOKKUMCP_TOKEN_TTL
  value: {{ .Values.identity.tokenTTL | quote }}
- name: DOKKUMCP_KEY_ROTATION_INTERVAL
  value: {{ .Values.identity.keyRotationInterval | quote }}
- name: DOKKUMCP_KEY_PUBLISH_DELAY
  value: {{ .Values.identity.keyPublishDelay | quote }}
- name: DOKKUMCP_KEY_RELOAD_INTERVAL
  value: {{ .Values.identity.keyReloadInterval | quote }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_POSTGRES_URL" "key" .Values.identity.postgresURLKey) }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_MASTER_KEY" "key" "identity-master-key") }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUEXEC_CLIENT_SECRET" "key" "dokkuexec-client-secret") }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "MCPEDGE_CLIENT_SECRET" "key" "mcpedge-client-secret") }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "SECRETS_CLIENT_SECRET" "key" "secrets-client-secret") }}
{{- if .Values.identity.operatorClient }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "OPERATOR_CLIENT_SECRET" "key" "operator-client-secret") }}
{{- end }}
{{- /* Kubernetes expands $(VAR) from the variables above at container start. */}}
- name: DOKKUMCP_SERVICE_CLIENTS
  value: "dokkuexec=$(DOKKUEXEC_CLIENT_SECRET),mcpedge=$(MCPEDGE_CLIENT_SECRET),secrets=$(SECRETS_CLIENT_SECRET){{ if .Values.identity.operatorClient }},operator=$(OPERATOR_CLIENT_SECRET){{ end }}"
{{- end -}}

{{- define "dokkumcp.env.tenancy" -}}
- name: DOKKUMCP_IDENTITY_URL
  value: {{ include "dokkumcp.identityURL" . | quote }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_POSTGRES_URL" "key" .Values.tenancy.postgresURLKey) }}
{{- end -}}

{{- define "dokkumcp.env.secrets" -}}
- name: DOKKUMCP_IDENTITY_URL
  value: {{ include "dokkumcp.identityURL" . | quote }}
- name: DOKKUMCP_CERT_TTL
  value: {{ .Values.secrets.certTTL | quote }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_POSTGRES_URL" "key" .Values.secrets.postgresURLKey) }}
{{- /* Every issued credential is recorded in Tenancy's audit ledger before it is returned. */}}
- name: DOKKUMCP_TENANCY_URL
  value: {{ include "dokkumcp.serviceURL" (dict "root" . "service" "tenancy") | quote }}
- name: DOKKUMCP_CLIENT_ID
  value: secrets
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_CLIENT_SECRET" "key" "secrets-client-secret") }}
{{- if .Values.vault.address }}
- name: DOKKUMCP_VAULT_ADDR
  value: {{ .Values.vault.address | quote }}
- name: DOKKUMCP_VAULT_MOUNT
  value: {{ .Values.vault.mount | quote }}
- name: DOKKUMCP_VAULT_ROLE
  value: {{ .Values.vault.role | quote }}
- name: DOKKUMCP_VAULT_BOOTSTRAP
  value: {{ .Values.vault.bootstrap | quote }}
- name: DOKKUMCP_VAULT_KV_MOUNT
  value: {{ .Values.secrets.managedKeys.kvMount | quote }}
{{- /* Rotation interval 0 turns rotation off when managed keys are not used. */}}
- name: DOKKUMCP_MANAGED_KEY_ROTATION_INTERVAL
  value: {{ ternary .Values.secrets.managedKeys.rotationInterval "0" .Values.secrets.managedKeys.enabled | quote }}
- name: DOKKUMCP_MANAGED_KEY_CHECK_INTERVAL
  value: {{ .Values.secrets.managedKeys.checkInterval | quote }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_VAULT_TOKEN" "key" "vault-token") }}
{{- if eq .Values.vault.authMethod "kubernetes" }}
{{- /* Flags of the Secrets service's Vault Kubernetes-auth login. */}}
- name: DOKKUMCP_VAULT_AUTH_METHOD
  value: kubernetes
- name: DOKKUMCP_VAULT_KUBERNETES_MOUNT
  value: {{ .Values.vault.kubernetes.authMount | quote }}
- name: DOKKUMCP_VAULT_KUBERNETES_ROLE
  value: {{ .Values.vault.kubernetes.role | quote }}
- name: DOKKUMCP_VAULT_KUBERNETES_TOKEN_FILE
  value: /var/run/secrets/vault/token
{{- else if ne .Values.vault.authMethod "token" }}
{{- fail (printf "vault.authMethod %q is not supported: use token or kubernetes" .Values.vault.authMethod) }}
{{- end }}
{{- else }}
{{- if .Values.secrets.managedKeys.enabled }}
{{- fail "secrets.managedKeys.enabled needs vault.address: managed keys are stored in Vault KV v2" }}
{{- end }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_MASTER_KEY" "key" "secrets-master-key") }}
{{- end }}
{{- end -}}

{{- define "dokkumcp.env.dokkuexec" -}}
- name: DOKKUMCP_IDENTITY_URL
  value: {{ include "dokkumcp.identityURL" . | quote }}
- name: DOKKUMCP_TENANCY_URL
  value: {{ include "dokkumcp.serviceURL" (dict "root" . "service" "tenancy") | quote }}
- name: DOKKUMCP_SECRETS_URL
  value: {{ include "dokkumcp.serviceURL" (dict "root" . "service" "secrets") | quote }}
- name: DOKKUMCP_CLIENT_ID
  value: dokkuexec
- name: DOKKUMCP_COMMAND_TIMEOUT
  value: {{ .Values.dokkuexec.commandTimeout | quote }}
- name: DOKKUMCP_OUTPUT_LIMIT
  value: {{ .Values.dokkuexec.outputLimit | int64 | quote }}
- name: DOKKUMCP_SSH_DIAL_TIMEOUT
  value: {{ .Values.dokkuexec.sshDialTimeout | quote }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_POSTGRES_URL" "key" .Values.dokkuexec.postgresURLKey) }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_CLIENT_SECRET" "key" "dokkuexec-client-secret") }}
{{- end -}}

{{- define "dokkumcp.env.mcpedge" -}}
- name: DOKKUMCP_PUBLIC_URL
  value: {{ trimSuffix "/" .Values.mcpedge.publicURL | quote }}
- name: DOKKUMCP_IDENTITY_URL
  value: {{ include "dokkumcp.identityURL" . | quote }}
- name: DOKKUMCP_DOKKUEXEC_URL
  value: {{ include "dokkumcp.serviceURL" (dict "root" . "service" "dokkuexec") | quote }}
- name: DOKKUMCP_TENANCY_URL
  value: {{ include "dokkumcp.serviceURL" (dict "root" . "service" "tenancy") | quote }}
- name: DOKKUMCP_CLIENT_ID
  value: mcpedge
- name: DOKKUMCP_ALLOWED_ORIGINS
  value: {{ join "," .Values.mcpedge.allowedOrigins | quote }}
- name: DOKKUMCP_MAX_BODY_BYTES
  value: {{ .Values.mcpedge.maxBodyBytes | int64 | quote }}
- name: DOKKUMCP_CALL_TIMEOUT
  value: {{ .Values.mcpedge.callTimeout | quote }}
- name: DOKKUMCP_METRICS_TENANT_LABEL
  value: {{ .Values.mcpedge.metricsTenantLabel | default false | quote }}
{{ include "dokkumcp.secretEnv" (dict "root" . "name" "DOKKUMCP_CLIENT_SECRET" "key" "mcpedge-client-secret") }}
{{- end -}}

{{/* A NetworkPolicy peer selecting one service's pods; call with (dict "root" $ "service" "identity"). */}}
{{- define "dokkumcp.podPeer" -}}
- podSelector:
    matchLabels:
      {{- include "dokkumcp.selectorLabels" . | nindent 6 }}
{{- end -}}
{{/* An egress rule to one service's pods on its port. */}}
{{- define "dokkumcp.peerTo" -}}
- to:
    {{- include "dokkumcp.podPeer" (dict "root" .root "service" .service) | nindent 4 }}
  ports:
    - protocol: TCP
      port: {{ index .root.Values .service "port" }}
{{- end -}}
