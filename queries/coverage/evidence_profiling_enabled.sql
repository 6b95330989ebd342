-- CIS 1.2.15 / 1.3.2 / 1.4.1 (--profiling=false): /debug/pprof answered with success, so the
-- profiling handlers are on.
SELECT *
FROM (
  SELECT
    audit_id, stage_at, user_name,
    coalesce(verb, '') || ' ' || coalesce(request_uri, '') || ' → ' || CAST(response_code AS VARCHAR) AS detail,
    count(*) OVER () AS total,
    row_number() OVER (ORDER BY stage_at, audit_id) AS nth
  FROM scoped
  WHERE request_uri LIKE '/debug/pprof%'
    AND response_code BETWEEN 200 AND 299
) found
WHERE nth <= 20
