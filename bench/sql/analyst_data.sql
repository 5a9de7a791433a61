-- Bench data for bench/analyst_queries.py, generated in SQL: %(accounts)s mediators, %(rdvs)s RDVs
-- over 1,000 days around now (one participant each), %(users)s users (each the beneficiary of one
-- mediator), %(activities)s activities (those converted from attended RDVs, the rest free, one
-- beneficiary each), and some declined RDVs. Deterministic: setseed.
-- RDV id g belongs to mediator g mod accounts + 1 (one organisation and one lieu per mediator); its
-- status, kind, motif, conversion and decline follow its number among the mediator's RDVs
-- (g / accounts), so that every mediator has the same mix of them and a filter of the listing
-- finds rows in every mediator's list (derived from g itself, they would be the same for all of a
-- mediator's RDVs: all seen or all no-show, all collective or none). Likewise a free activity's
-- beneficiary follows its number among the mediator's activities: each has a few.
SELECT setseed(0.42);
INSERT INTO rdvsp.accounts (id, base_url, sync_from)
SELECT g, 'https://bench.test', '2020-01-01' FROM generate_series(1, %(accounts)s) g;
-- Every mediator lists its RDVs among its activities (the benchmark turns it off later, to time
-- the listing of a mediator who did not choose it).
UPDATE coop.account_settings SET include_rdvs_in_activity_listing = true;
INSERT INTO rdvsp.organisations (id, name, synced_at) SELECT g, 'Organisation ' || g, now() FROM generate_series(1, 100) g;
INSERT INTO rdvsp.lieux (id, organisation_id, name, address, single_use, synced_at)
SELECT g, g %% 100 + 1, 'Lieu ' || g, g || ' rue du Banc', false, now() FROM generate_series(1, 1000) g;
INSERT INTO rdvsp.motifs (id, organisation_id, name, location_type, bookable_by, bookable_publicly,
                          motif_category_short_name, synced_at)
SELECT g, g %% 100 + 1, 'Motif ' || g, 'public_office', 'agents', false,
       (ARRAY['numerique', 'administratif', 'emploi', 'sante'])[g %% 4 + 1], now()
FROM generate_series(1, 500) g;
INSERT INTO rdvsp.users (id, first_name, last_name, synced_at)
SELECT g, 'Prenom' || g, 'Nom' || g, now() FROM generate_series(1, %(users)s) g;

CREATE TEMPORARY TABLE bench_rdvs AS
SELECT g AS id, g %% %(accounts)s + 1 AS account_id, g / %(accounts)s AS n,
       date_trunc('minute', now() - interval '700 days' + random() * interval '1000 days') AS starts_at
FROM generate_series(1, %(rdvs)s) g;
INSERT INTO rdvsp.rdvs (id, organisation_id, motif_id, lieu_id, status, starts_at, ends_at, duration_in_min, collectif,
                        agent_ids, raw, synced_at)
SELECT id, id %% 100 + 1, n %% 500 + 1, id %% 1000 + 1,
       CASE WHEN starts_at < now()
            THEN (ARRAY['seen', 'seen', 'seen', 'seen', 'seen', 'noshow', 'excused', 'revoked'])[n %% 8 + 1]
            ELSE (ARRAY['unknown', 'unknown', 'unknown', 'revoked'])[n %% 4 + 1] END,
       starts_at, starts_at + interval '45 minutes', 45, n %% 20 = 0, ARRAY[account_id], '{}', now()
FROM bench_rdvs;
INSERT INTO rdvsp.account_rdvs (account_id, rdv_id, organisation_id, starts_at, synced_at)
SELECT account_id, id, id %% 100 + 1, starts_at, now() FROM bench_rdvs;
INSERT INTO rdvsp.participations (id, rdv_id, user_id, status, synced_at)
SELECT r.id, r.id, r.id %% %(users)s + 1, r.status, now() FROM rdvsp.rdvs r;
-- User u takes part only in RDVs of mediator ((u - 1) mod accounts) + 1: its beneficiary is there.
INSERT INTO coop.beneficiaires (account_id, rdv_user_id, first_name, last_name)
SELECT (u - 1) %% %(accounts)s + 1, u, 'Prenom' || u, 'Nom' || u FROM generate_series(1, %(users)s) u;

INSERT INTO coop.activites (account_id, date, type, themes, duration_min, lieu_id, rdv_id)
SELECT r.account_id, r.starts_at, 'individuel', ARRAY['numerique'], 45, x.lieu_id, r.id
FROM bench_rdvs r JOIN rdvsp.rdvs x ON x.id = r.id
WHERE x.status = 'seen' AND r.n %% 10 <> 0
ORDER BY r.id
LIMIT %(activities)s / 2;
INSERT INTO coop.activites (account_id, date, type, themes, duration_min, place)
SELECT g %% %(accounts)s + 1, date_trunc('minute', now() - interval '700 days' + random() * interval '730 days'),
       (ARRAY['individuel', 'collectif', 'demarche'])[g %% 3 + 1],
       CASE g %% 3 WHEN 0 THEN ARRAY['numerique'] WHEN 1 THEN ARRAY['administratif', 'emploi'] ELSE ARRAY['sante'] END,
       30, 'Permanence'
FROM generate_series(1, %(activities)s - (SELECT count(*) FROM coop.activites)) g;
INSERT INTO coop.activite_beneficiaires (activite_id, beneficiaire_id)
SELECT a.id, b.id
FROM coop.activites a
JOIN coop.beneficiaires b ON b.account_id = a.account_id
 AND b.rdv_user_id = CASE WHEN a.rdv_id IS NOT NULL THEN a.rdv_id %% %(users)s + 1
                          ELSE a.account_id + (a.id / %(accounts)s %% (%(users)s / %(accounts)s)) * %(accounts)s END;
INSERT INTO coop.rdv_cra_declined (rdv_id, account_id)
SELECT r.id, r.account_id FROM bench_rdvs r JOIN rdvsp.rdvs x ON x.id = r.id
WHERE x.status = 'seen' AND r.n %% 50 = 0;
ANALYZE;
