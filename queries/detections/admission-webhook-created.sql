-- id: admission-webhook-created
-- title: Admission webhook configuration created
-- severity: Notice
-- mitre: T1546, T1557
-- tags: admission, persistence
-- behaviours: 70
-- equivalents: Kubernetes.AdmissionController.Created
-- level: Metadata
-- mode: event
-- output: {user_name} created {object_resource} {object_name}{details} from {source_ip}
-- description: A mutating or validating admission webhook was registered. The API server will
--   send matching objects (possibly every pod, secret or RBAC object) to the webhook's service,
--   which can read them and, if mutating, rewrite them: inject containers, change images or
--   strip security settings. It is a powerful persistence and interception point. Webhook names,
--   targets and intercepted resources are shown when the audit policy logs request bodies.
--   Control-plane components and kube-system controllers are not reported.
SELECT cluster, audit_id, time, user_name, user_agent, source_ip, verb, object_resource, object_name,
       webhooks, intercepted_resources, targets,
       -- webhook details are only known when the request body is logged
       CASE WHEN webhooks = '' THEN ''
            ELSE ' (webhooks ' || webhooks || '; resources ' || intercepted_resources
                 || '; calls ' || targets || ')' END AS details
FROM (
  SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
         object_resource, object_name,
         array_to_string(json_values(request_object, '$.webhooks[*].name'), ', ') AS webhooks,
         array_to_string(json_values(request_object, '$.webhooks[*].rules[*].resources[*]'), ', ') AS intercepted_resources,
         array_to_string(array_concat(
           json_values(request_object, '$.webhooks[*].clientConfig.url'),
           json_values(request_object, '$.webhooks[*].clientConfig.service.name')), ', ') AS targets
  FROM events_with_principal
  WHERE object_resource IN ('mutatingwebhookconfigurations', 'validatingwebhookconfigurations')
    AND object_subresource IS NULL
    AND verb = 'create'
    AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
    AND response_code BETWEEN 200 AND 299
    -- not the control plane, a kubelet, a kube-system controller or a listed controller
    AND NOT is_cluster_component
)
