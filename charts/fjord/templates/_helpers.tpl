{{/*
The prefix of every object's name: `fullnameOverride`, else "fjord" (the names of
manifests/install.yaml: fjord-controller, fjord-webhook, ...). Not the release name: the
ClusterRole and the kube-system Service are cluster-wide, one install per cluster.
*/}}
{{- define "fjord.fullname" -}}
{{- default "fjord" .Values.fullnameOverride | trunc 48 | trimSuffix "-" -}}
{{- end -}}

{{/* The controller's Deployment, ServiceAccount, ClusterRole and bindings. */}}
{{- define "fjord.controllerName" -}}
{{- printf "%s-controller" (include "fjord.fullname" .) -}}
{{- end -}}

{{/* The API server's Deployment, ServiceAccount, RBAC and Service. */}}
{{- define "fjord.serverName" -}}
{{- printf "%s-server" (include "fjord.fullname" .) -}}
{{- end -}}

{{/* The labels of the API server's objects. */}}
{{- define "fjord.serverLabels" -}}
app.kubernetes.io/name: {{ include "fjord.serverName" . }}
app.kubernetes.io/part-of: fjord
helm.sh/chart: {{ include "fjord.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Whether the API server serves HTTPS. */}}
{{- define "fjord.serverTls" -}}
{{- if or .Values.server.tls.secretName .Values.server.tls.selfSigned -}}true{{- end -}}
{{- end -}}

{{/* The ServiceAccount the controller runs as. */}}
{{- define "fjord.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fjord.controllerName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* chart label: name-version, as Helm's conventions spell it. */}}
{{- define "fjord.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels of every object: the selector's, plus Helm's. */}}
{{- define "fjord.labels" -}}
{{ include "fjord.selectorLabels" . }}
app.kubernetes.io/part-of: fjord
helm.sh/chart: {{ include "fjord.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
The controller Pods' selector: fixed for the life of a release (a Deployment's selector cannot
change), and the same as manifests/install.yaml's.
*/}}
{{- define "fjord.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fjord.controllerName" . }}
{{- end -}}

{{/* The controller's image reference. */}}
{{- define "fjord.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The namespace of the Sealed Secrets key Secrets and of the kubeseal-compatible Service. */}}
{{- define "fjord.sealedSecretsNamespace" -}}
{{- default "kube-system" .Values.sealedSecrets.keyNamespace -}}
{{- end -}}

{{/* The labels of the Sealed Secrets controller's objects. */}}
{{- define "fjord.sealedSecretsLabels" -}}
app.kubernetes.io/name: sealed-secrets-controller
app.kubernetes.io/part-of: fjord
helm.sh/chart: {{ include "fjord.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
