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

{{/*
The API server's rules wherever the Applications and their objects are (manifests/install.yaml's
ClusterRole fjord-server; docs/install.md explains each). It writes only Applications and
AppProjects; everything else is read.
*/}}
{{- define "fjord.serverRules" -}}
# Lists, gets and streams of Applications and AppProjects (one shared watch cache).
- apiGroups: [argoproj.io]
  resources: [applications, appprojects]
  verbs: [get, list, watch]
# Sync, rollback, refresh, terminate (the operation field, the refresh annotation) and delete.
- apiGroups: [argoproj.io]
  resources: [applications]
  verbs: [patch, update, delete]
# Project role tokens are recorded in the AppProject.
- apiGroups: [argoproj.io]
  resources: [appprojects]
  verbs: [patch, update]
# Resource tree, live manifests, managed-resources: read and watch objects of any kind.
- apiGroups: ["*"]
  resources: ["*"]
  verbs: [get, list, watch]
# The Events of apps and their resources.
- apiGroups: [""]
  resources: [events]
  verbs: [get, list, watch]
{{- end -}}

{{/* The API server's rules in the release namespace: its sessions, accounts and policy. */}}
{{- define "fjord.serverSettingsRules" -}}
# argocd-secret is read and watched; it and argocd-initial-admin-secret are created when missing.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create]
# Only those two Secrets are written.
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [argocd-secret, argocd-initial-admin-secret]
  verbs: [update, patch]
# argocd-cm (accounts) and argocd-rbac-cm (policy), reloaded on change.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
{{- end -}}
