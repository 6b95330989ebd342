-- Identities with more than 20 403s in a minute.
SELECT user_name, date_trunc('minute', stage_at) AS minute, count(*) AS denied FROM events
WHERE response_code = 403
GROUP BY user_name, date_trunc('minute', stage_at) HAVING count(*) > 20
ORDER BY denied DESC, user_name, minute
