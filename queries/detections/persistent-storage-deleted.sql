-- id: persistent-storage-deleted
-- title: Persistent volume, claim or snapshot deleted
-- severity: Notice
-- mitre: T1485
-- tags: impact, data-destruction, storage
-- behaviours: 89
-- level: Metadata
-- mode: event
-- output: {user_name} {action} {object_resource} {target} from {source_ip} ({user_agent})
-- description: Someone deleted a PersistentVolumeClaim, a PersistentVolume or a volume snapshot.
--   With the common Delete reclaim policy, deleting a claim destroys the disk behind it, and
--   deleting snapshots removes the way back; this is how data is destroyed or held to ransom
--   through the API. Deletions by the cluster's controllers and by storage provisioners (any
--   service account, for volumes and snapshot contents they release) are left out.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       CASE verb WHEN 'deletecollection' THEN 'deleted all' ELSE 'deleted' END AS action,
       object_resource,
       object_namespace,
       object_name,
       CASE
         WHEN object_namespace IS NOT NULL THEN object_namespace || '/' || COALESCE(NULLIF(object_name, ''), '(all)')
         ELSE COALESCE(NULLIF(object_name, ''), '(all)')
       END AS target
FROM events
WHERE object_resource IN ('persistentvolumeclaims', 'persistentvolumes',
                          'volumesnapshots', 'volumesnapshotcontents')
  AND object_subresource IS NULL
  AND verb IN ('delete', 'deletecollection')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- a server-side dry run (?dryRun=All) changes nothing
  AND COALESCE(request_uri, '') NOT LIKE '%dryRun=All%'
  AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
  AND user_name NOT LIKE 'system:node:%'
  AND user_name NOT IN ('system:kube-controller-manager', 'system:apiserver')
  AND NOT in_list(user_name, 'known_controllers')
  -- CSI provisioners and snapshot controllers run as service accounts and delete the
  -- cluster-scoped halves (volumes, snapshot contents) once a claim or snapshot is gone
  AND NOT (object_resource IN ('persistentvolumes', 'volumesnapshotcontents')
           AND user_name LIKE 'system:serviceaccount:%')
