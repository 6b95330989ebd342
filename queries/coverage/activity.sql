-- How much the scope holds: events, the time they span, identities and verbs seen.
SELECT
  count(*) AS events,
  min(stage_at) AS first_at,
  max(stage_at) AS last_at,
  count(DISTINCT user_name) AS identities,
  count(DISTINCT verb) AS verbs
FROM scoped
