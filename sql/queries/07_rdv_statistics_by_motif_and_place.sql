-- Which motifs and places are busiest, across every mediator, and how many RDVs became activities.
SELECT motif, place, sum(rdvs) AS rdvs, sum(activities) AS activities,
       round(100.0 * sum(activities) / nullif(sum(rdvs) FILTER (WHERE status = 'seen'), 0), 1) AS converted_pct
FROM analytics.rdv_statistics
GROUP BY motif, place
ORDER BY rdvs DESC
LIMIT 20;
