-- id: configmap-with-credentials
-- title: ConfigMap created or changed with credentials in it
-- severity: Warning
-- mitre: T1552
-- tags: credential-access, configmap
-- behaviours: 73
-- equivalents: Create/Modify Configmap With Private Credentials
-- level: Request
-- mode: event
-- output: {user_name} {verb} ConfigMap {object_namespace}/{object_name} containing credentials ({matched}) from {source_ip}
-- description: A ConfigMap was written whose data looks like it holds credentials: AWS access
--   keys, a password or passphrase, or a private key. ConfigMaps are not secret: many roles and
--   every pod that mounts them can read them, and they are not encrypted at rest. Move the value
--   into a Secret and rotate it. Control-plane components and kube-system controllers are not
--   reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       lower(regexp_match(data, '(aws[_-](s3[_-])?access[_-]key[_-]id|aws[_-]secret[_-]access[_-]key|password|passphrase|-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16})', 'i')[1]) AS matched
FROM (
  SELECT *, json_value(request_object, '$.data') AS data
  FROM events_with_principal
  WHERE object_resource = 'configmaps'
    AND object_subresource IS NULL
    AND verb IN ('create', 'update', 'patch')
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- keys and values of data; binaryData is base64 and not searched
  AND data ~* '(aws[_-](s3[_-])?access[_-]key[_-]id|aws[_-]secret[_-]access[_-]key|password|passphrase|-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16})'
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
