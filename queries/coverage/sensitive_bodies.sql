-- Events of the Metadata-only classes (Secrets, ConfigMaps, TokenReviews) that break the guidance:
-- logged at Request or RequestResponse, or carrying a request or response body. `total` counts
-- every such event of the class; the first 20 of each class are listed.
SELECT *
FROM (
  SELECT
    requirement, audit_id, stage, stage_at, level, verb, user_name, object_namespace,
    object_name, has_request_body, has_response_body,
    count(*) OVER (PARTITION BY requirement) AS total,
    row_number() OVER (PARTITION BY requirement ORDER BY stage_at, audit_id) AS nth
  FROM request_classes
  WHERE requirement LIKE '%-metadata-only'
    AND (level IN ('Request', 'RequestResponse') OR has_request_body OR has_response_body)
) found
WHERE nth <= 20
ORDER BY requirement, nth
