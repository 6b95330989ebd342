-- id: secret-read-scripting-user-agent
-- title: Secret read with a scripting client
-- severity: Notice
-- mitre: T1552.007, T1528
-- tags: credential-access, secrets
-- behaviours: 9
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, source_ip, user_agent
-- suppress: 1h
-- output: {user_name} {verb} secrets {target} with {user_agent} from {source_ip}
-- description: Secrets were read (get or list, allowed) with a generic HTTP client or
--   scripting runtime such as curl, wget, python-requests or Go's default client, not with
--   kubectl or a Kubernetes client library. Programs that legitimately read secrets use
--   client libraries; a bare HTTP client reading secrets is typical of a token taken from a
--   pod and replayed by hand or by a script.

-- Kubelets, control-plane components, kube-system service accounts and known controllers
-- read secrets as part of their job and are left out.
SELECT DISTINCT
       e.cluster,
       e.audit_id,
       e.stage_at AS time,
       e.user_name,
       e.user_groups,
       e.source_ip,
       e.user_agent,
       e.verb,
       e.request_uri,
       e.object_namespace,
       e.object_name,
       COALESCE(NULLIF(concat_ws('/', e.object_namespace, e.object_name), ''), '(all namespaces)') AS target,
       e.response_code
FROM events e
JOIN scripting_user_agents s
  ON lower(e.user_agent) LIKE s.value
WHERE COALESCE(e.stage, 'ResponseComplete') = 'ResponseComplete'
  AND e.object_resource = 'secrets'
  AND e.object_subresource IS NULL
  AND e.verb IN ('get', 'list')
  AND (e.authz_decision = 'allow'
       OR (e.authz_decision IS NULL AND e.response_code BETWEEN 200 AND 299))
  AND COALESCE(e.user_name, '') NOT LIKE 'system:node:%'
  AND COALESCE(e.user_name, '') NOT LIKE 'system:kube-%'
  AND COALESCE(e.user_name, '') NOT LIKE 'system:serviceaccount:kube-system:%'
  AND NOT in_list(COALESCE(e.user_name, ''), 'known_controllers')
