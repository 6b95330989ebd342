-- CIS 1.2.9 (NodeRestriction admission plugin): a node identity (system:node:NAME) changed a
-- Node object other than its own, and the API server allowed it.
SELECT *
FROM (
  SELECT
    audit_id, stage_at, user_name,
    verb || ' nodes/' || coalesce(object_name, '') ||
      CASE WHEN object_subresource IS NULL THEN '' ELSE '/' || object_subresource END ||
      ' → ' || CAST(response_code AS VARCHAR) AS detail,
    count(*) OVER () AS total,
    row_number() OVER (ORDER BY stage_at, audit_id) AS nth
  FROM scoped
  WHERE user_name LIKE 'system:node:%'
    AND object_resource = 'nodes'
    AND coalesce(object_api_group, '') = ''
    AND verb IN ('update', 'patch', 'delete')
    AND object_name IS NOT NULL
    AND object_name <> substr(user_name, 13)
    AND response_code BETWEEN 200 AND 299
) found
WHERE nth <= 20
