-- id: pod-exec-credential-access
-- title: Credentials or service-account token read through pod exec
-- severity: Error
-- mitre: T1609, T1528, T1552.001
-- tags: credential-access, exec, service-account-token
-- behaviours: 26
-- equivalents: Kubernetes.Pod.StealServiceAccountToken
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 30m
-- output: {user_name} read credentials in pod {object_namespace}/{object_name} (container {container}) from {source_ip}: {command}
-- description: An exec session ran a command that touches credential material inside the
--   container: the mounted service-account token (/var/run/secrets/..., including EKS IRSA,
--   Azure and GKE workload-identity tokens), kubeconfigs and PKI under /etc/kubernetes or
--   /var/lib/kubelet, /etc/shadow, cloud CLI credentials (~/.aws, ~/.azure, gcloud), SSH keys,
--   private keys, docker/git/netrc credentials or a process environment (/proc/*/environ).
--   A stolen token lets the thief act as the workload from anywhere; check what that identity
--   can do and whether it is used from an unusual address next. Platform identities acting in
--   system namespaces are not reported.

WITH sessions AS (
  SELECT *
  FROM exec_sessions
  -- control-plane, node and kube-system identities working in system namespaces are routine;
  -- the same identities in application namespaces, and people anywhere, are not
  WHERE NOT (
        (    (COALESCE(user_name, '') LIKE 'system:%'
              AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%')
          OR COALESCE(user_name, '') LIKE 'system:serviceaccount:kube-system:%'
          OR COALESCE(user_name, '') LIKE 'eks:%'
          OR COALESCE(user_name, '') = 'aksService')
        AND in_list(COALESCE(object_namespace, ''), 'system_namespaces'))
)
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       container,
       command
FROM sessions
WHERE command ~* '(^|[^a-z0-9_])(/var)?/run/secrets/'                  -- SA, IRSA, workload-identity tokens
   OR command ~* 'serviceaccount/token'
   OR command ~* '/etc/kubernetes(/|\b)|/var/lib/kubelet(/|\b)'        -- node kubeconfigs and PKI
   OR command ~* '/etc/g?shadow\b'
   OR command ~* '\.aws/(credentials|config)\b|\.azure/|\.config/gcloud\b'
   OR command ~* '\.kube/config\b|\.docker/config\.json|\.git-credentials|\.netrc\b|\.pgpass\b|\.vault-token\b'
   OR command ~* '\.ssh/|\bid_(rsa|dsa|ecdsa|ed25519)\b|[a-z0-9_-]\.key\b'
   OR command ~* '/proc/[^/\s]+/environ'
