-- One row per container of every pod spec in pod_spec_writes: the rows of
-- pod_container_attempts whose write succeeded, with the same columns.
SELECT *
FROM pod_container_attempts
WHERE response_code BETWEEN 200 AND 299
