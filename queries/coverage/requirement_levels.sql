-- Per CIS 3.2.2 request class: how many events were seen at each level.
SELECT requirement, coalesce(level, '') AS level, count(*) AS events
FROM request_classes
GROUP BY requirement, coalesce(level, '')
ORDER BY requirement, level
