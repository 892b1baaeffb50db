//! Where the quantity fields of the built-in kinds are: JSON pointers into one object.

use serde_json::Value;

use super::Field;

/// Collects the JSON pointers of an object's quantity fields.
struct Found<'a> {
    obj: &'a Value,
    out: Vec<(String, Field)>,
}

/// One JSON-pointer segment (`~` and `/` escaped).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl<'a> Found<'a> {
    fn at(&self, pointer: &str) -> Option<&'a Value> {
        if pointer.is_empty() {
            return Some(self.obj);
        }
        self.obj.pointer(pointer)
    }

    /// The pointers of the items of the array at `pointer`.
    fn items(&self, pointer: &str) -> Vec<String> {
        match self.at(pointer) {
            Some(Value::Array(a)) => (0..a.len()).map(|i| format!("{pointer}/{i}")).collect(),
            _ => Vec::new(),
        }
    }

    /// Every entry of the resource list (a map of quantities) at `pointer`.
    fn list(&mut self, pointer: &str) {
        if let Some(Value::Object(m)) = self.at(pointer) {
            for k in m.keys() {
                self.out
                    .push((format!("{pointer}/{}", escape(k)), Field::ListEntry));
            }
        }
    }

    /// A single quantity at `pointer`.
    fn single(&mut self, pointer: &str) {
        if self.at(pointer).is_some() {
            self.out.push((pointer.to_string(), Field::Single));
        }
    }

    /// `limits` and `requests` of the resource requirements at `pointer`.
    fn requirements(&mut self, pointer: &str) {
        self.list(&format!("{pointer}/limits"));
        self.list(&format!("{pointer}/requests"));
    }

    /// A pod spec: containers of every sort, overhead, pod-level resources, volumes.
    fn pod_spec(&mut self, spec: &str) {
        for containers in ["containers", "initContainers", "ephemeralContainers"] {
            for c in self.items(&format!("{spec}/{containers}")) {
                self.requirements(&format!("{c}/resources"));
            }
        }
        self.list(&format!("{spec}/overhead"));
        self.requirements(&format!("{spec}/resources"));
        for v in self.items(&format!("{spec}/volumes")) {
            self.single(&format!("{v}/emptyDir/sizeLimit"));
            self.claim_spec(&format!("{v}/ephemeral/volumeClaimTemplate/spec"));
        }
    }

    /// A pod's status: what each container was given.
    fn pod_status(&mut self, status: &str) {
        for kind in [
            "containerStatuses",
            "initContainerStatuses",
            "ephemeralContainerStatuses",
        ] {
            for c in self.items(&format!("{status}/{kind}")) {
                self.list(&format!("{c}/allocatedResources"));
                self.requirements(&format!("{c}/resources"));
            }
        }
    }

    /// A PersistentVolumeClaim spec.
    fn claim_spec(&mut self, spec: &str) {
        self.requirements(&format!("{spec}/resources"));
    }

    /// A whole PersistentVolumeClaim (spec and status).
    fn claim(&mut self, claim: &str) {
        self.claim_spec(&format!("{claim}/spec"));
        self.list(&format!("{claim}/status/capacity"));
        self.list(&format!("{claim}/status/allocatedResources"));
    }

    /// HorizontalPodAutoscaler (autoscaling/v2) metric targets and current values.
    fn autoscaler(&mut self) {
        const SOURCES: [&str; 5] = [
            "resource",
            "containerResource",
            "pods",
            "object",
            "external",
        ];
        for (list, part) in [
            ("/spec/metrics", "target"),
            ("/status/currentMetrics", "current"),
        ] {
            for m in self.items(list) {
                for source in SOURCES {
                    self.single(&format!("{m}/{source}/{part}/value"));
                    self.single(&format!("{m}/{source}/{part}/averageValue"));
                }
            }
        }
    }
}

/// The JSON pointers of the quantity fields of a built-in object of kind `group`/`kind`, with
/// what the server does to each.
pub(super) fn quantity_fields(group: &str, kind: &str, obj: &Value) -> Vec<(String, Field)> {
    let mut f = Found {
        obj,
        out: Vec::new(),
    };
    match (group, kind) {
        ("", "Pod") => {
            f.pod_spec("/spec");
            f.pod_status("/status");
        }
        ("", "PodTemplate") => f.pod_spec("/template/spec"),
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "DaemonSet")
        | ("batch", "Job") => f.pod_spec("/spec/template/spec"),
        ("apps", "StatefulSet") => {
            f.pod_spec("/spec/template/spec");
            for c in f.items("/spec/volumeClaimTemplates") {
                f.claim(&c);
            }
        }
        ("batch", "CronJob") => f.pod_spec("/spec/jobTemplate/spec/template/spec"),
        ("", "ResourceQuota") => {
            f.list("/spec/hard");
            f.list("/status/hard");
            f.list("/status/used");
        }
        ("", "LimitRange") => {
            for item in f.items("/spec/limits") {
                for part in [
                    "max",
                    "min",
                    "default",
                    "defaultRequest",
                    "maxLimitRequestRatio",
                ] {
                    f.list(&format!("{item}/{part}"));
                }
            }
        }
        ("", "PersistentVolumeClaim") => f.claim(""),
        ("", "PersistentVolume") => f.list("/spec/capacity"),
        ("", "Node") => {
            f.list("/status/capacity");
            f.list("/status/allocatable");
        }
        ("autoscaling", "HorizontalPodAutoscaler") => f.autoscaler(),
        ("storage.k8s.io", "CSIStorageCapacity") => {
            f.single("/capacity");
            f.single("/maximumVolumeSize");
        }
        _ => {}
    }
    f.out
}
