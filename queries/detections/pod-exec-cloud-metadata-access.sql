-- id: pod-exec-cloud-metadata-access
-- title: Cloud instance metadata queried through pod exec
-- severity: Error
-- mitre: T1609, T1552.005
-- tags: credential-access, exec, cloud, imds
-- behaviours: 25
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 30m
-- output: {user_name} queried the cloud metadata service from pod {object_namespace}/{object_name} (container {container}) from {source_ip}: {command}
-- description: An exec session ran a command that addresses the cloud instance metadata service
--   (169.254.169.254 and its decimal/hex spellings, fd00:ec2::254, the ECS task endpoint,
--   metadata.google.internal, Azure's /metadata/identity token path, Alibaba's 100.100.100.200).
--   From a pod this usually means harvesting the node's or the workload's cloud credentials,
--   which reach far beyond the cluster. Check which credentials the node role or workload
--   identity grants and look for their use in the cloud audit trail.

SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       container,
       command
FROM exec_sessions
WHERE command ~* '169\.254\.169\.254|\b2852039166\b|0xa9fea9fe|0251\.0376\.0251\.0376'   -- AWS, Azure, GCP, OCI link-local IMDS
   OR command ~* 'fd00:ec2::254'                                                          -- AWS IMDS over IPv6
   OR command ~* '169\.254\.170\.2\b'                                                     -- ECS/EKS Fargate credentials endpoint
   OR command ~* 'metadata\.google\.internal|computemetadata/v1'                          -- GCP
   OR command ~* '/metadata/identity/oauth2/token|/metadata/instance\b'                   -- Azure
   OR command ~* '100\.100\.100\.200'                                                      -- Alibaba Cloud
