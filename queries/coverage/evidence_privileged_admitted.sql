-- CIS 5.2.2 (minimise the admission of privileged containers): a Pod whose request body asks
-- for a privileged container was created. Needs Request or RequestResponse logging of pod
-- creations to be seen at all.
SELECT *
FROM (
  SELECT
    audit_id, stage_at, user_name,
    'create pod ' || coalesce(object_namespace, '') || '/' ||
      coalesce(object_name, json_get_str(request_object, 'metadata', 'name'), '?') AS detail,
    count(*) OVER () AS total,
    row_number() OVER (ORDER BY stage_at, audit_id) AS nth
  FROM scoped
  WHERE object_resource = 'pods'
    AND coalesce(object_api_group, '') = ''
    AND coalesce(object_subresource, '') = ''
    AND verb = 'create'
    AND response_code BETWEEN 200 AND 299
    AND request_object LIKE '%"privileged":true%'
) found
WHERE nth <= 20
