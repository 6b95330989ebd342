-- One row per successful (2xx) write of a pod spec: the rows of pod_spec_write_attempts that
-- the API server accepted, with the same columns (where they land and who wrote them among
-- them).
SELECT *
FROM pod_spec_write_attempts
WHERE response_code BETWEEN 200 AND 299
