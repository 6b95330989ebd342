-- exec, attach and port-forward sessions in the last hour of the data.
SELECT stage_at, user_name, object_namespace, object_name, object_subresource FROM events
WHERE object_subresource IN ('exec', 'attach', 'portforward')
  AND stage_at >= (SELECT max(stage_at) FROM events) - INTERVAL '1 hour'
ORDER BY stage_at
