-- Doctolib appointments and RDV Service Public RDVs together: attended ones per month and source.
SELECT date_trunc('month', starts_at) AS month, source, count(*) AS attended
FROM analytics.appointments
WHERE status = 'attended'
GROUP BY 1, 2
ORDER BY 1, 2;
