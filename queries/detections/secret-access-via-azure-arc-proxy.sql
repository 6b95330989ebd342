-- id: secret-access-via-azure-arc-proxy
-- title: Secret or ConfigMap read through the Azure Arc cluster-connect proxy
-- severity: Notice
-- mitre: T1552.007, T1133
-- tags: credential-access, secrets, configmaps, azure-arc, remote-access
-- behaviours: 84
-- level: Metadata
-- mode: event
-- dedup: cluster, impersonated_user_name, object_resource, object_namespace
-- suppress: 1h
-- output: {impersonated_user_name} ran {verb} on {object_resource} {target} through Azure Arc cluster connect (as {user_name}) from {source_ip}
-- description: Secrets or ConfigMaps outside the azure-arc and kube-system namespaces were read
--   through Azure Arc's cluster-connect proxy, which lets Azure identities reach the cluster's
--   API from anywhere without network access to it. The Arc agent's service account makes the
--   request and impersonates the Azure identity, shown here as the impersonated user. Reading
--   credentials through this remote path is worth confirming with that identity.

SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       impersonated_user_name,
       impersonated_user_groups,
       source_ip,
       user_agent,
       verb,
       object_resource,
       object_namespace,
       object_name,
       CASE WHEN object_name IS NOT NULL THEN object_namespace || '/' || object_name
            WHEN COALESCE(object_namespace, '') = '' THEN 'in all namespaces'
            ELSE 'in ' || object_namespace END AS target
FROM events
WHERE user_name LIKE 'system:serviceaccount:azure-arc:%'
  AND object_resource IN ('secrets', 'configmaps')
  AND verb IN ('get', 'list', 'watch')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND COALESCE(object_namespace, '') NOT IN ('azure-arc', 'kube-system')
