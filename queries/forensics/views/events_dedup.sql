-- One row per request (cluster and audit ID): its most complete stage. kube-apiserver logs a
-- request at several stages (RequestReceived, ResponseStarted, ResponseComplete, Panic); counts of
-- requests read this view, not `events`. Events without an audit ID are left out.
SELECT DISTINCT ON (cluster, audit_id) *
FROM events
WHERE audit_id IS NOT NULL
ORDER BY cluster, audit_id,
         CASE stage
           WHEN 'ResponseComplete' THEN 0
           WHEN 'Panic' THEN 1
           WHEN 'ResponseStarted' THEN 2
           ELSE 3
         END,
         stage_at DESC
