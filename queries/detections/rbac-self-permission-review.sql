-- id: rbac-self-permission-review
-- title: Identity enumerated its own permissions
-- severity: Notice
-- mitre: T1069.003, T1087.004
-- tags: discovery, rbac
-- behaviours: 7
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_resource
-- suppress: 1h
-- output: {user_name} asked the API server what it may do ({object_resource}) from {source_ip} with {user_agent}
-- description: An identity asked the API server for the list of everything it is allowed to
--   do (SelfSubjectRulesReview, `kubectl auth can-i --list`), or a service account or node
--   checked single permissions or its own identity (SelfSubjectAccessReview,
--   SelfSubjectReview: `kubectl auth can-i`, `kubectl auth whoami`). Right after stealing a
--   token, this is the first thing attackers and their tools run. Workloads rarely need it;
--   add the ones that do to known_controllers.

-- Dashboards and IDEs check single permissions of the human using them all the time
-- (SelfSubjectAccessReview), so for people only the full listing is reported.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       user_groups,
       impersonated_user_name,
       source_ip,
       user_agent,
       object_api_group,
       object_resource,
       response_code
FROM events
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND verb = 'create'
  AND (
        (object_api_group = 'authorization.k8s.io'
         AND object_resource = 'selfsubjectrulesreviews')
     OR (object_api_group IN ('authorization.k8s.io', 'authentication.k8s.io')
         AND object_resource IN ('selfsubjectaccessreviews', 'selfsubjectreviews')
         AND (COALESCE(impersonated_user_name, user_name) LIKE 'system:serviceaccount:%'
              OR COALESCE(impersonated_user_name, user_name) LIKE 'system:node:%'))
      )
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
