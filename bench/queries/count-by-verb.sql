-- Requests per verb over the whole history.
SELECT verb, count(*) AS n FROM events GROUP BY verb ORDER BY n DESC
