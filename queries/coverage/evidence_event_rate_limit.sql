-- CIS 1.2.8 (EventRateLimit admission plugin): a namespace created more than 600 Event objects
-- in one minute and none of them was refused with 429, so nothing limits the rate.
SELECT *
FROM (
  SELECT
    example AS audit_id, minute AS stage_at, NULL AS user_name,
    'namespace ' || namespace || ': ' || CAST(created AS VARCHAR) || ' events created in the minute from ' || CAST(minute AS VARCHAR) || ', none refused with 429' AS detail,
    count(*) OVER () AS total,
    row_number() OVER (ORDER BY created DESC, minute) AS nth
  FROM (
    SELECT
      coalesce(object_namespace, '') AS namespace,
      date_trunc('minute', stage_at) AS minute,
      count(*) FILTER (WHERE response_code BETWEEN 200 AND 299) AS created,
      count(*) FILTER (WHERE response_code = 429) AS throttled,
      min(audit_id) AS example
    FROM scoped
    WHERE object_resource = 'events'
      AND verb = 'create'
      AND stage = 'ResponseComplete'
    GROUP BY 1, 2
  ) per_minute
  WHERE created > 600 AND throttled = 0
) found
WHERE nth <= 20
