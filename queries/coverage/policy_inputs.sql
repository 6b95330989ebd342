-- The attributes an audit policy decides on, per distinct request, with what was logged: the
-- level and stage of the events, how many, and one audit ID as an example. The coverage report
-- evaluates policies on these rows to tell which one the stream is consistent with.
SELECT
  coalesce(user_name, '') AS user_name,
  coalesce(array_to_string(user_groups, ','), '') AS user_groups,
  coalesce(verb, '') AS verb,
  object_resource IS NOT NULL AS is_resource,
  coalesce(object_api_group, '') AS api_group,
  coalesce(object_resource, '') AS resource,
  coalesce(object_subresource, '') AS subresource,
  coalesce(object_namespace, '') AS namespace,
  coalesce(object_name, '') AS name,
  coalesce(split_part(request_uri, '?', 1), '') AS path,
  coalesce(level, '') AS level,
  coalesce(stage, '') AS stage,
  count(*) AS events,
  min(audit_id) AS example
FROM scoped
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
