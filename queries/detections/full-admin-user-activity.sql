-- id: full-admin-user-activity
-- title: Request by a default full-admin user or a system:masters member
-- severity: Notice
-- mitre: T1078.001, T1078.004
-- tags: privilege, admin, allow-list
-- behaviours: 17
-- equivalents: Full K8s Administrative Access
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, source_ip
-- suppress: 1h
-- output: {user_name} ({why}) {verb} {target} from {source_ip} with {user_agent}
-- description: A request was made with one of the administrator identities that installers
--   create (kubernetes-admin, minikube-user, admin...; list full_admin_users) or by a user in
--   the group system:masters. These credentials bypass RBAC entirely, cannot be revoked
--   short of rotating the cluster CA, and are shared rather than personal, so nothing says
--   who is behind them. Routine use means people administer the cluster with a break-glass
--   credential; unexpected use means it leaked.

-- Control-plane components that legitimately belong to system:masters (the API server's own
-- loopback client, system:apiserver) have system: names and are not reported.
SELECT e.cluster,
       e.audit_id,
       e.stage_at AS time,
       e.user_name,
       e.user_groups,
       CASE WHEN a.value IS NOT NULL THEN 'default admin user'
            ELSE 'member of system:masters'
       END AS why,
       e.source_ip,
       e.user_agent,
       e.verb,
       e.request_uri,
       CASE WHEN e.object_resource IS NULL THEN split_part(e.request_uri, '?', 1)
            ELSE concat_ws(' ', e.object_resource || COALESCE('/' || e.object_subresource, ''),
                           NULLIF(concat_ws('/', e.object_namespace, e.object_name), ''))
       END AS target,
       e.response_code
FROM events e
LEFT JOIN full_admin_users a
  ON a.value = e.user_name
WHERE COALESCE(e.stage, 'ResponseComplete') = 'ResponseComplete'
  AND COALESCE(e.user_name, '') NOT LIKE 'system:%'
  AND (a.value IS NOT NULL
       OR array_has(e.user_groups, 'system:masters'))
