#!/usr/bin/env python3
"""Generate a large kustomize tree for the render benchmark (stdlib only).

Layout written under OUTDIR (each level is a kustomization over the one before):

    base/apps/app-NNN/      one kustomization per app: Deployment, Service, ServiceAccount,
                            Role, RoleBinding, PodDisruptionBudget, HorizontalPodAutoscaler,
                            plus a configMapGenerator and a secretGenerator  (9 objects/app)
    base/                   aggregates every app
    components/observability/  a Component: a patch on every Deployment and one extra object
    env/prod/               namespace, namePrefix, labels, images, replicas, strategic-merge
                            and JSON 6902 patches, generator merge, the component
    region/eu-west/         nameSuffix, commonAnnotations, replacements from a region
                            ConfigMap, more patches, a secret generator

Render the top overlay: `kubectl kustomize OUTDIR/region/eu-west`.
The default of 250 apps yields 2,250+ objects.
"""

import argparse
import os
import sys

TOP = "region/eu-west"


def write(path, text):
    """Write text to path, creating parent directories."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def app_files(i):
    """The input files of app number i, as {relative path: text}."""
    name = "app-%03d" % i
    team = "team-%d" % (i % 7)
    image = "registry.example.com/%s/svc-%d:1.%d.0" % (team, i % 13, i % 5)
    files = {}
    files["kustomization.yaml"] = """resources:
- deployment.yaml
- service.yaml
- rbac.yaml
- policy.yaml
configMapGenerator:
- name: {n}-config
  literals:
  - LOG_LEVEL=info
  - APP_NAME={n}
  - TEAM={team}
  files:
  - application.properties
secretGenerator:
- name: {n}-secret
  literals:
  - DB_PASSWORD=password-{i}
  - API_TOKEN=token-{i}-abcdef
labels:
- pairs:
    app.kubernetes.io/name: {n}
  includeSelectors: true
""".format(n=name, team=team, i=i)
    files["application.properties"] = "".join(
        "%s.setting.%d=value-%d-%d\n" % (name, k, i, k) for k in range(12)
    )
    files["deployment.yaml"] = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {n}
  labels:
    team: {team}
    tier: {tier}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: {n}
  template:
    metadata:
      labels:
        app: {n}
        team: {team}
    spec:
      serviceAccountName: {n}
      containers:
      - name: app
        image: {image}
        args: ["--port=8080", "--metrics-port=9090", "--name={n}"]
        ports:
        - name: http
          containerPort: 8080
        - name: metrics
          containerPort: 9090
        env:
        - name: REGION
          value: unset
        - name: LOG_LEVEL
          valueFrom:
            configMapKeyRef:
              name: {n}-config
              key: LOG_LEVEL
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: {n}-secret
              key: DB_PASSWORD
        envFrom:
        - configMapRef:
            name: {n}-config
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            memory: 256Mi
        readinessProbe:
          httpGet:
            path: /ready
            port: http
        volumeMounts:
        - name: config
          mountPath: /etc/{n}
      - name: proxy
        image: envoyproxy/envoy:v1.29.0
        ports:
        - name: admin
          containerPort: 9901
      volumes:
      - name: config
        configMap:
          name: {n}-config
      - name: secret
        secret:
          secretName: {n}-secret
""".format(n=name, team=team, tier=("backend" if i % 3 else "frontend"), image=image)
    files["service.yaml"] = """apiVersion: v1
kind: Service
metadata:
  name: {n}
  labels:
    team: {team}
spec:
  selector:
    app: {n}
  ports:
  - name: http
    port: 80
    targetPort: http
  - name: metrics
    port: 9090
    targetPort: metrics
""".format(n=name, team=team)
    files["rbac.yaml"] = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: {n}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {n}
rules:
- apiGroups: [""]
  resources: ["configmaps", "secrets"]
  resourceNames: ["{n}-config", "{n}-secret"]
  verbs: ["get", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {n}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {n}
subjects:
- kind: ServiceAccount
  name: {n}
""".format(n=name)
    files["policy.yaml"] = """apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {n}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app: {n}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {n}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {n}
  minReplicas: 2
  maxReplicas: {mx}
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 75
""".format(n=name, mx=4 + i % 8)
    return files


def generate(out, apps):
    """Write the whole tree for `apps` apps under `out`."""
    for i in range(apps):
        for rel, text in app_files(i).items():
            write(os.path.join(out, "base/apps/app-%03d" % i, rel), text)
    write(
        os.path.join(out, "base/kustomization.yaml"),
        "resources:\n" + "".join("- apps/app-%03d\n" % i for i in range(apps)),
    )

    write(
        os.path.join(out, "components/observability/kustomization.yaml"),
        """apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
- collector.yaml
patches:
- target:
    kind: Deployment
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        metadata:
          annotations:
            prometheus.io/scrape: "true"
            prometheus.io/port: "9090"
""",
    )
    write(
        os.path.join(out, "components/observability/collector.yaml"),
        """apiVersion: v1
kind: ConfigMap
metadata:
  name: otel-collector
data:
  config.yaml: |
    receivers:
      prometheus: {}
    exporters:
      otlp:
        endpoint: collector.observability:4317
""",
    )

    replicas = "".join(
        "- name: app-%03d\n  count: %d\n" % (i, 3 + i % 4) for i in range(0, apps, max(1, apps // 8))
    )
    merges = "".join(
        "- name: app-%03d-config\n  behavior: merge\n  literals:\n  - LOG_LEVEL=warn\n  - ENV=prod\n"
        % i
        for i in range(0, apps, max(1, apps // 4))
    )
    write(
        os.path.join(out, "env/prod/kustomization.yaml"),
        """namespace: prod
namePrefix: prod-
resources:
- ../../base
components:
- ../../components/observability
labels:
- pairs:
    environment: prod
  includeTemplates: true
commonAnnotations:
  example.com/environment: production
images:
- name: envoyproxy/envoy
  newTag: v1.30.2
- name: registry.example.com/team-1/svc-1
  newName: mirror.example.com/team-1/svc-1
replicas:
{replicas}patches:
- path: resources.yaml
  target:
    kind: Deployment
    labelSelector: tier=backend
- target:
    kind: Deployment
    labelSelector: tier=frontend
  patch: |-
    - op: replace
      path: /spec/template/spec/containers/0/resources/limits/memory
      value: 1Gi
    - op: add
      path: /spec/template/spec/containers/0/env/-
      value:
        name: FRONTEND
        value: "true"
- target:
    kind: HorizontalPodAutoscaler
  patch: |-
    - op: replace
      path: /spec/minReplicas
      value: 3
configMapGenerator:
{merges}""".format(replicas=replicas, merges=merges),
    )
    write(
        os.path.join(out, "env/prod/resources.yaml"),
        """apiVersion: apps/v1
kind: Deployment
metadata:
  name: any
spec:
  template:
    spec:
      containers:
      - name: app
        resources:
          requests:
            cpu: 250m
            memory: 256Mi
      tolerations:
      - key: dedicated
        operator: Equal
        value: backend
        effect: NoSchedule
""",
    )

    write(
        os.path.join(out, TOP, "kustomization.yaml"),
        """nameSuffix: -euw
resources:
- ../../env/prod
- region.yaml
commonAnnotations:
  example.com/region: eu-west-1
replacements:
- source:
    kind: ConfigMap
    name: region-info
    fieldPath: data.region
  targets:
  - select:
      kind: Deployment
    fieldPaths:
    - spec.template.spec.containers.[name=app].env.[name=REGION].value
    - spec.template.spec.nodeSelector.topology\\.kubernetes\\.io/region
    options:
      create: true
patches:
- target:
    kind: Service
  patch: |-
    - op: add
      path: /metadata/annotations/service.beta.kubernetes.io~1aws-load-balancer-internal
      value: "true"
- target:
    kind: Deployment
    name: prod-app-00.*
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          priorityClassName: high
secretGenerator:
- name: region-credentials
  namespace: prod
  literals:
  - ACCESS_KEY=AKIAEXAMPLE
  - SECRET_KEY=example-secret-key
""",
    )
    write(
        os.path.join(out, TOP, "region.yaml"),
        """apiVersion: v1
kind: ConfigMap
metadata:
  name: region-info
  namespace: prod
data:
  region: eu-west-1
  zones: eu-west-1a,eu-west-1b,eu-west-1c
""",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", help="directory to create the tree in (must not exist or be empty)")
    parser.add_argument("--apps", type=int, default=250, help="number of apps (9 objects each; default 250)")
    args = parser.parse_args()
    if args.apps < 1:
        parser.error("--apps must be at least 1")
    if os.path.exists(args.outdir) and os.listdir(args.outdir):
        parser.error("%s exists and is not empty" % args.outdir)
    generate(args.outdir, args.apps)
    print(os.path.join(args.outdir, TOP))


if __name__ == "__main__":
    sys.exit(main())
