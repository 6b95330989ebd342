-- Every event of `scoped` sorted into the CIS 3.2.2 request class it belongs to (`requirement`,
-- the ids of the coverage report), with the level it was logged at and whether it carries a
-- request or response body. Events of no class are left out.
--
-- `scoped` is `events` narrowed to the cluster and time range the report covers.
SELECT *
FROM (
  SELECT
    audit_id,
    stage,
    stage_at,
    level,
    verb,
    user_name,
    object_namespace,
    object_name,
    request_object IS NOT NULL AS has_request_body,
    response_object IS NOT NULL AS has_response_body,
    CASE
      WHEN object_resource = 'secrets' AND coalesce(object_api_group, '') = ''
        THEN '3.2.2-secrets-metadata-only'
      WHEN object_resource = 'configmaps' AND coalesce(object_api_group, '') = ''
        THEN '3.2.2-configmaps-metadata-only'
      WHEN object_resource = 'tokenreviews' AND object_api_group = 'authentication.k8s.io'
        THEN '3.2.2-tokenreviews-metadata-only'
      WHEN object_resource = 'pods' AND coalesce(object_api_group, '') = ''
        AND coalesce(object_subresource, '') IN ('', 'ephemeralcontainers')
        AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
        THEN '3.2.2-pod-changes-logged'
      WHEN object_resource = 'deployments' AND object_api_group = 'apps'
        AND coalesce(object_subresource, '') IN ('', 'scale')
        AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
        THEN '3.2.2-deployment-changes-logged'
      WHEN object_resource = 'pods' AND coalesce(object_api_group, '') = ''
        AND object_subresource = 'exec'
        THEN '3.2.2-pods-exec-logged'
      WHEN object_resource = 'pods' AND coalesce(object_api_group, '') = ''
        AND object_subresource = 'portforward'
        THEN '3.2.2-pods-portforward-logged'
      WHEN object_resource = 'pods' AND coalesce(object_api_group, '') = ''
        AND object_subresource = 'proxy'
        THEN '3.2.2-pods-proxy-logged'
      WHEN object_resource = 'services' AND coalesce(object_api_group, '') = ''
        AND object_subresource = 'proxy'
        THEN '3.2.2-services-proxy-logged'
    END AS requirement
  FROM scoped
) classified
WHERE requirement IS NOT NULL
