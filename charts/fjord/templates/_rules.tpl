{{/*
The controller's RBAC rules, in the order of manifests/install.yaml (docs/install.md explains
each). No escalate, bind or impersonate anywhere.
*/}}
{{- define "fjord.rules" -}}
# Whatever an Application renders: read and watch it (live state, diff, health), apply it
# (sync, self-heal) and delete it (prune, hook delete policies). Also the Secrets that External
# Secrets writes.
- apiGroups: ["*"]
  resources: ["*"]
  verbs: [get, list, watch, create, update, patch, delete]
# Its own API: Applications and AppProjects, their status and finalizers, the default project.
- apiGroups: [argoproj.io]
  resources: [applications, applications/status, appprojects]
  verbs: [get, list, watch, create, update, patch]
# Leader election (one Lease) and sharding (one member Lease per replica).
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, update]
# Events about syncs, health and refreshes.
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
# Settings: argocd-cm, argocd-secret, repository and cluster Secrets.
- apiGroups: [""]
  resources: [configmaps, secrets]
  verbs: [get, list, watch]
{{- if not .Values.namespaceInstall }}
# At start: are the CRDs Established?
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
# CreateNamespace=true, destination namespace checks, ClusterExternalSecret selectors.
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch, create]
{{- end }}
{{- end -}}
