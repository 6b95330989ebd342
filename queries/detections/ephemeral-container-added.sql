-- id: ephemeral-container-added
-- title: Ephemeral debug container added to a pod
-- severity: Notice
-- mitre: T1609, T1610
-- tags: execution, ephemeral-container, kubectl-debug
-- behaviours: 30
-- equivalents: EphemeralContainers Created
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 10m
-- output: {user_name} added an ephemeral container ({image}) to pod {object_namespace}/{object_name} from {source_ip} with {user_agent}
-- description: Someone added an ephemeral container to a running pod (`kubectl debug`). The new
--   container joins the pod's network and, with process-namespace targeting, sees the target
--   container's processes and files; it can use any image, including one full of tools that
--   the workload's own image leaves out, and it does not appear in the owning Deployment.
--   Check the image and who added it. The image is only visible at audit level Request or
--   higher; at Metadata the alert still fires with an empty image.

-- kubectl debug patches the pods/ephemeralcontainers subresource; older clients PUT a
-- v1 EphemeralContainers object (image at $.ephemeralContainers[*]), newer ones a Pod
-- (image at $.spec.ephemeralContainers[*]).
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       COALESCE(NULLIF(array_to_string(
                  array_concat(json_values(request_object, '$.spec.ephemeralContainers[*].image'),
                               json_values(request_object, '$.ephemeralContainers[*].image')),
                  ', '), ''),
                'image not logged') AS image,
       array_to_string(
         array_concat(json_values(request_object, '$.spec.ephemeralContainers[*].name'),
                      json_values(request_object, '$.ephemeralContainers[*].name')),
         ', ') AS container
FROM events
WHERE object_resource = 'pods'
  AND object_subresource = 'ephemeralcontainers'
  AND verb IN ('update', 'patch')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
