-- id: serviceaccount-token-secret-created
-- title: Long-lived service-account token secret created
-- severity: Notice
-- mitre: T1098.001, T1528
-- tags: identity, persistence, credential-access
-- behaviours: 68
-- level: Request
-- mode: event
-- output: {user_name} created long-lived token secret {object_namespace}/{object_name} for service account {service_account} from {source_ip}
-- description: A Secret of type kubernetes.io/service-account-token was created by someone other
--   than the control plane. The token controller fills it with a token for the named service
--   account that never expires and survives until the secret is deleted: a durable credential
--   that outlives the person or pod that made it. Secrets are usually logged at level Metadata;
--   this rule needs the request body (level Request) of secret creations.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       json_value(request_object, '$.metadata.annotations["kubernetes.io/service-account.name"]') AS service_account
FROM events_with_principal
WHERE object_resource = 'secrets'
  AND object_subresource IS NULL
  AND verb = 'create'
  AND json_value(request_object, '$.type') = 'kubernetes.io/service-account-token'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
