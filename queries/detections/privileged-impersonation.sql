-- id: privileged-impersonation
-- title: Request impersonating a privileged identity
-- severity: Warning
-- mitre: T1078, T1548, T1134
-- tags: privilege-escalation, impersonation, rbac
-- behaviours: 18
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, impersonated_user_name
-- suppress: 1h
-- output: {user_name} acted as {impersonated_user_name} (groups {impersonated_groups}): {verb} {target} from {source_ip}, allowed
-- description: A caller used impersonation (Impersonate-User / Impersonate-Group headers,
--   `kubectl --as`) to act as an administrator, a control-plane component, a node, a
--   kube-system service account or a member of a privileged group such as system:masters,
--   and the request was allowed. Whoever holds the `impersonate` permission can become any of
--   these and bypass their own RBAC limits. Access proxies do this by design: list them in
--   trusted_impersonators.
SELECT e.cluster,
       e.audit_id,
       e.stage_at AS time,
       e.user_name,
       e.user_groups,
       e.impersonated_user_name,
       e.impersonated_user_groups,
       array_to_string(e.impersonated_user_groups, ', ') AS impersonated_groups,
       e.source_ip,
       e.user_agent,
       e.verb,
       e.request_uri,
       CASE WHEN e.object_resource IS NULL THEN split_part(e.request_uri, '?', 1)
            ELSE concat_ws(' ', e.object_resource || COALESCE('/' || e.object_subresource, ''),
                           NULLIF(concat_ws('/', e.object_namespace, e.object_name), ''))
       END AS target,
       e.response_code,
       e.authz_reason
FROM events e
WHERE COALESCE(e.stage, 'ResponseComplete') = 'ResponseComplete'
  AND (e.impersonated_user_name IS NOT NULL OR e.impersonated_user_groups IS NOT NULL)
  AND (e.authz_decision = 'allow'
       OR (e.authz_decision IS NULL AND e.response_code BETWEEN 200 AND 299))
  AND (
        e.impersonated_user_name = 'system:admin'
     OR e.impersonated_user_name LIKE 'system:kube-%'
     OR e.impersonated_user_name LIKE 'system:node:%'
     OR e.impersonated_user_name LIKE 'system:serviceaccount:kube-system:%'
     OR in_list(e.impersonated_user_name, 'full_admin_users')
     OR array_has(e.impersonated_user_groups, 'system:masters')
     OR EXISTS (SELECT 1 FROM privileged_roles p
                WHERE array_has(e.impersonated_user_groups, p.value))
      )
  AND NOT in_list(COALESCE(e.user_name, ''), 'trusted_impersonators')
