//! Request and response bodies logged at Request/RequestResponse level: pods, deployments, configmaps.

use serde_json::{json, Value};

/// What a workload object is about; `time` is an RFC 3339 second-precision timestamp.
pub(super) struct Workload<'a> {
    pub namespace: &'a str,
    pub app: &'a str,
    pub name: &'a str,
    pub image: &'a str,
    pub uid: &'a str,
    pub resource_version: u64,
    pub time: &'a str,
}

fn write(out: &mut Vec<u8>, value: &Value) {
    // unwrap: serializing a Value into a Vec<u8> cannot fail.
    serde_json::to_writer(out, value).unwrap();
}

fn container(w: &Workload<'_>) -> Value {
    json!({
        "name": w.app,
        "image": w.image,
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
        "env": [
            {"name": "APP_ENV", "value": "production"},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.monitoring:4317"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "DATABASE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": format!("{}-db", w.app), "key": "password"}}}
        ],
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
        "livenessProbe": {"httpGet": {"path": "/livez", "port": "http", "scheme": "HTTP"},
                          "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http", "scheme": "HTTP"},
                           "periodSeconds": 5, "timeoutSeconds": 1, "failureThreshold": 3},
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent"
    })
}

fn pod_spec(w: &Workload<'_>) -> Value {
    json!({
        "containers": [container(w)],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": w.app,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ],
        "priority": 0,
        "enableServiceLinks": true,
        "preemptionPolicy": "PreemptLowerPriority"
    })
}

/// A pod as the ReplicaSet controller creates it (about 2 KB); `w.name` is the ReplicaSet.
pub(super) fn pod(out: &mut Vec<u8>, w: &Workload<'_>, template_hash: &str) {
    let replica_set = w.name;
    let pod = json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "generateName": format!("{replica_set}-"),
            "namespace": w.namespace,
            "creationTimestamp": null,
            "labels": {"app.kubernetes.io/name": w.app, "pod-template-hash": template_hash},
            "annotations": {"kubectl.kubernetes.io/restartedAt": w.time},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set,
                                 "uid": w.uid, "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": pod_spec(w),
        "status": {}
    });
    write(out, &pod);
}

/// A deployment; `stored` adds what the server fills in (uid, resourceVersion, managedFields, status).
pub(super) fn deployment(out: &mut Vec<u8>, w: &Workload<'_>, replicas: u32, stored: bool) {
    let mut deployment = json!({
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": w.app,
            "namespace": w.namespace,
            "labels": {"app.kubernetes.io/name": w.app, "app.kubernetes.io/managed-by": "argocd",
                       "argocd.argoproj.io/instance": format!("{}-{}", w.namespace, w.app)}
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": w.app}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": w.app},
                             "annotations": {"kubectl.kubernetes.io/restartedAt": w.time}},
                "spec": pod_spec(w)
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600
        }
    });
    if stored {
        let metadata = &mut deployment["metadata"];
        metadata["uid"] = json!(w.uid);
        metadata["resourceVersion"] = json!(w.resource_version.to_string());
        metadata["generation"] = json!(w.resource_version % 97 + 1);
        metadata["creationTimestamp"] = json!("2024-03-11T09:12:44Z");
        metadata["managedFields"] = json!([{
            "manager": "argocd-controller", "operation": "Apply", "apiVersion": "apps/v1", "time": w.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:app.kubernetes.io/name": {}}}, "f:spec": {"f:replicas": {}}}
        }]);
        deployment["status"] = json!({
            "observedGeneration": w.resource_version % 97,
            "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": w.time,
                            "lastTransitionTime": "2024-03-11T09:13:02Z", "reason": "MinimumReplicasAvailable",
                            "message": "Deployment has minimum availability."}]
        });
    }
    write(out, &deployment);
}

/// A configmap with a few settings files.
pub(super) fn config_map(out: &mut Vec<u8>, w: &Workload<'_>) {
    let config = json!({
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": w.name, "namespace": w.namespace, "labels": {"app.kubernetes.io/name": w.app}},
        "data": {
            "app.yaml": format!("server:\n  port: 8080\n  shutdownGracePeriod: 20s\nlogging:\n  level: info\n  format: json\nfeatures:\n  newCheckout: true\n  rollout: {}\n", w.resource_version % 100),
            "upstreams.yaml": "payments: http://payments.payments:8080\nsearch: http://search.search:8080\nauth: http://auth.auth:8080\n"
        }
    });
    write(out, &config);
}

/// The kubelet's periodic node condition heartbeat (a strategic merge patch).
pub(super) fn node_status_patch(out: &mut Vec<u8>, time: &str) {
    let conditions: Vec<Value> = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        .iter()
        .map(|kind| json!({"lastHeartbeatTime": time, "type": kind}))
        .collect();
    let order: Vec<Value> = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        .iter()
        .map(|kind| json!({"type": kind}))
        .collect();
    write(
        out,
        &json!({"status": {"$setElementOrder/conditions": order, "conditions": conditions}}),
    );
}

/// The scheduler's pod binding.
pub(super) fn binding(out: &mut Vec<u8>, namespace: &str, pod: &str, uid: &str, node: &str) {
    let binding = json!({
        "kind": "Binding", "apiVersion": "v1",
        "metadata": {"name": pod, "namespace": namespace, "uid": uid, "creationTimestamp": null},
        "target": {"kind": "Node", "name": node}
    });
    write(out, &binding);
}
