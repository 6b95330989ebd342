-- CIS 1.2.1 (--anonymous-auth=false): requests made as system:anonymous that were answered
-- without an error. Health and version endpoints are public by default RBAC but still prove
-- anonymous authentication is on.
SELECT *
FROM (
  SELECT
    audit_id, stage_at, user_name,
    coalesce(verb, '') || ' ' || coalesce(request_uri, '') || ' → ' || coalesce(CAST(response_code AS VARCHAR), '?') AS detail,
    count(*) OVER () AS total,
    row_number() OVER (ORDER BY stage_at, audit_id) AS nth
  FROM scoped
  WHERE user_name = 'system:anonymous'
    AND stage = 'ResponseComplete'
    AND response_code BETWEEN 200 AND 399
) found
WHERE nth <= 20
