-- Every later migration comments each table, view and column it adds (sync_assets_tests/platform/test_comments.py fails otherwise).
--
-- What analysts read beside names and types: in psql (\d+ rdvsp.rdvs, \dt+, \dv+), in each
-- column of an asset's column schema in the Dagster UI (sync_assets/platform/table_metadata.py
-- passes these comments on), and in BI tools (Metabase, DBeaver, dbt docs), which read the same
-- catalog. One or two sentences each: what a row is, units, time zones, the values of enum-like
-- columns, ids and what they refer to, and "Personal data" wherever a person can be identified.
-- Comments set by earlier migrations are kept as they are.
--
-- Conventions stated once here: a timestamptz column is an instant (psql shows it in the
-- session's time zone: SET TIME ZONE 'Europe/Paris' for French local time); a date column is a
-- calendar day with no time zone; durations say their unit in their name or comment.

-- Schemas (\dn+)
COMMENT ON SCHEMA rdvsp IS
    'Rows synced from RDV Service Public (one connected agent account at a time), keyed by the API''s ids, and the '
    'machinery of that connector (OAuth accounts, webhooks, write-back outbox).';
COMMENT ON SCHEMA doctolib IS
    'Rows synced from Doctolib, one practice at a time, keyed by Doctolib''s ids. Patients'' personal data is only '
    'in doctolib.patients.';
COMMENT ON SCHEMA coop IS
    'The host application''s own tables: each mediator''s beneficiaries and activities (CRA), and settings.';
COMMENT ON SCHEMA sync IS
    'The machinery shared by every connector: migrations, the run log (runs, run_tables), raw API responses, the '
    'webhook inbox, schema drift, cursors, tombstones and request budgets.';
COMMENT ON SCHEMA analytics IS
    'Views for analysts over the other schemas, defined in sql/views/ and rebuilt by the analytics/* assets.';

-- sync: the machinery

COMMENT ON TABLE sync.schema_migrations IS
    'One row per migration file of sql/migrations applied to this database, each once, in order.';
COMMENT ON COLUMN sync.schema_migrations.version IS 'The file''s number (0014 for 0014_comments.sql).';
COMMENT ON COLUMN sync.schema_migrations.name IS 'The file''s name without number and extension.';
COMMENT ON COLUMN sync.schema_migrations.checksum IS
    'sha256 of the file as applied (hex): an applied file that changes afterwards stops the next upgrade.';
COMMENT ON COLUMN sync.schema_migrations.applied_at IS 'When it was applied.';

COMMENT ON TABLE sync.raw_responses IS
    'API pages as received: one row per distinct body of an (endpoint, parameters) pair; fetching the same body '
    'again only moves last_fetched_at and fetch_count. Pruned SYNC_RAW_RETENTION_DAYS (30) after the last fetch.';
COMMENT ON COLUMN sync.raw_responses.id IS 'Row number (no meaning beyond order of insertion).';
COMMENT ON COLUMN sync.raw_responses.connector IS 'rdvsp (RDV Service Public) or doctolib.';
COMMENT ON COLUMN sync.raw_responses.endpoint IS 'The path asked, without query string (/api/v1/rdvs).';
COMMENT ON COLUMN sync.raw_responses.params IS
    'The query parameters asked, as a JSON object (page, organisation, cursor…).';
COMMENT ON COLUMN sync.raw_responses.status IS 'The HTTP status of the answer (200…).';
COMMENT ON COLUMN sync.raw_responses.body_sha256 IS
    'sha256 of the raw body (64 hex digits): an unchanged page is recognised by it.';
COMMENT ON COLUMN sync.raw_responses.body IS
    'The body as JSON (a body that was not JSON is kept as a JSON string). Personal data: the records of the page, '
    'with the people in them.';
COMMENT ON COLUMN sync.raw_responses.fetched_at IS 'When this body was first received.';
COMMENT ON COLUMN sync.raw_responses.last_fetched_at IS 'When this body was last received (retention counts from it).';
COMMENT ON COLUMN sync.raw_responses.fetch_count IS 'How many times this same body was received.';

COMMENT ON TABLE sync.webhook_inbox IS
    'One row per webhook delivery received, before and after it is applied; unique on the body''s hash, so a '
    'duplicate delivery is recognised and applied once.';
COMMENT ON COLUMN sync.webhook_inbox.id IS 'Inbox id (named in logs and failed retry runs).';
COMMENT ON COLUMN sync.webhook_inbox.connector IS 'rdvsp (RDV Service Public).';
COMMENT ON COLUMN sync.webhook_inbox.body_sha256 IS 'sha256 of the raw body (64 hex digits).';
COMMENT ON COLUMN sync.webhook_inbox.body IS
    'The delivery as JSON; NULL when it was not valid JSON (then raw_body holds it). Personal data: the record it carries.';
COMMENT ON COLUMN sync.webhook_inbox.raw_body IS
    'The raw bytes, kept only for a body that could not be parsed. Personal data, possibly.';
COMMENT ON COLUMN sync.webhook_inbox.model IS
    'The record''s kind (meta.model): Rdv, User, UserProfile, Organisation, Motif, Lieu, Agent, AgentRole…';
COMMENT ON COLUMN sync.webhook_inbox.event IS 'created, updated or destroyed (meta.event).';
COMMENT ON COLUMN sync.webhook_inbox.record_id IS 'The record''s id at the source, as text.';
COMMENT ON COLUMN sync.webhook_inbox.event_at IS 'The event''s own time (meta.timestamp): the version it would write.';
COMMENT ON COLUMN sync.webhook_inbox.received_at IS 'When the delivery was received.';
COMMENT ON COLUMN sync.webhook_inbox.status IS
    'received (not applied yet), applied, ignored (older than the row held, or a model we do not keep: see '
    'status_reason), failed (retried at next_attempt_at) or rejected (not an event, or signed by another organisation).';
COMMENT ON COLUMN sync.webhook_inbox.status_reason IS
    'Why it was ignored, failed or rejected (ids and field names only).';
COMMENT ON COLUMN sync.webhook_inbox.attempts IS
    'How many times it was applied or tried (a failed event gives up after 8).';
COMMENT ON COLUMN sync.webhook_inbox.next_attempt_at IS 'When a failed event is tried again; NULL when none is due.';
COMMENT ON COLUMN sync.webhook_inbox.applied_at IS 'When it was applied or ignored.';
COMMENT ON COLUMN sync.webhook_inbox.endpoint_organisation_id IS
    'The organisation (rdvsp.organisations.id) whose webhook endpoint received it and whose secret verified its signature.';

COMMENT ON TABLE sync.drift_events IS
    'Schema drift seen in API payloads, one row per (run, entity, field, kind of error): field paths and counts, '
    'never values. additive: a field the contract does not know (rows stored); breaking: the rows were not stored.';
COMMENT ON COLUMN sync.drift_events.id IS 'Row number.';
COMMENT ON COLUMN sync.drift_events.detected_at IS 'When it was seen.';
COMMENT ON COLUMN sync.drift_events.connector IS 'rdvsp or doctolib.';
COMMENT ON COLUMN sync.drift_events.entity IS 'The kind of record checked (rdvs, users, appointments…).';
COMMENT ON COLUMN sync.drift_events.kind IS
    'additive (a field we do not know; the row is stored) or breaking (a field missing, retyped or with an unknown '
    'value, or a record of another organisation or practice; the row is not stored and the run fails).';
COMMENT ON COLUMN sync.drift_events.field_path IS
    'Where in the payload (participations.0.status, motif.location_type…).';
COMMENT ON COLUMN sync.drift_events.error_type IS
    'What was wrong, as the contract check names it (missing, literal_error, unknown_field…).';
COMMENT ON COLUMN sync.drift_events.row_count IS 'How many records had it.';
COMMENT ON COLUMN sync.drift_events.sample_record_ids IS 'A few of those records'' ids at the source, to look them up.';
COMMENT ON COLUMN sync.drift_events.run_id IS 'The Dagster run that saw it, when there was one.';

COMMENT ON TABLE sync.pseudonym_salt IS
    'One row: the random salt of the pseudonymous keys of the analytics views (patient_key). Not for analysts: with '
    'it, a key can be recomputed from a patient id.';
COMMENT ON COLUMN sync.pseudonym_salt.only_row IS 'Always true: keeps the table to one row.';
COMMENT ON COLUMN sync.pseudonym_salt.salt IS 'The salt (32 random bytes). Never copy it out of the warehouse.';

COMMENT ON COLUMN sync.runs.id IS
    'The run''s id (also in Dagster''s metadata as run_log_id, and in sync.run_tables.run_id).';
COMMENT ON COLUMN sync.runs.started_at IS 'When the run started (its row is written then).';
COMMENT ON COLUMN sync.runs.ended_at IS
    'When it ended (an interrupted run: when the next run found it so); NULL while running.';

COMMENT ON COLUMN sync.run_tables.run_id IS 'The run (sync.runs.id).';
COMMENT ON COLUMN sync.run_tables.table_name IS 'The table merged, without schema (rdvs, appointments…).';
COMMENT ON COLUMN sync.run_tables.created IS 'Rows inserted.';
COMMENT ON COLUMN sync.run_tables.updated IS 'Rows changed.';
COMMENT ON COLUMN sync.run_tables.deleted IS 'Rows deleted (gone from the source, within what the run read in full).';

-- rdvsp: RDV Service Public

COMMENT ON TABLE rdvsp.accounts IS
    'One row per agent account connected with OAuth (a mediator); its id is the agent id and the partition key of '
    'rdvsp_accounts. Tokens are encrypted with SYNC_SECRET_KEY.';
COMMENT ON COLUMN rdvsp.accounts.id IS 'The agent''s id at RDV Service Public (rdvsp.agents.id).';
COMMENT ON COLUMN rdvsp.accounts.base_url IS 'The RDV Service Public server the account belongs to.';
COMMENT ON COLUMN rdvsp.accounts.access_token_encrypted IS
    'OAuth access token, encrypted; NULL once disconnected. Never copy it.';
COMMENT ON COLUMN rdvsp.accounts.refresh_token_encrypted IS
    'OAuth refresh token, encrypted; NULL once disconnected. Never copy it.';
COMMENT ON COLUMN rdvsp.accounts.access_token_expires_at IS
    'When the access token expires (it is refreshed a minute before).';
COMMENT ON COLUMN rdvsp.accounts.scope IS 'The OAuth scope granted.';
COMMENT ON COLUMN rdvsp.accounts.sync_from IS
    'First day of RDVs synced (a date): RDVs starting before it are not synced.';
COMMENT ON COLUMN rdvsp.accounts.status IS
    'active (synced), error (a refresh token was refused: reconnect; see error) or disconnected.';
COMMENT ON COLUMN rdvsp.accounts.error IS
    'Why the account is in error, or why its tokens could not be revoked (no personal data).';
COMMENT ON COLUMN rdvsp.accounts.error_at IS 'When it went into error.';
COMMENT ON COLUMN rdvsp.accounts.connected_at IS 'When it was last connected (or reconnected).';
COMMENT ON COLUMN rdvsp.accounts.token_refreshed_at IS 'When its tokens were last refreshed.';
COMMENT ON COLUMN rdvsp.accounts.last_synced_at IS 'When its last successful sync committed.';
COMMENT ON COLUMN rdvsp.accounts.updated_at IS 'When the row last changed.';

COMMENT ON TABLE rdvsp.organisations IS
    'One row per organisation (a structure that holds RDVs) a connected account belongs to.';
COMMENT ON COLUMN rdvsp.organisations.id IS 'The organisation''s id at RDV Service Public.';
COMMENT ON COLUMN rdvsp.organisations.name IS 'Its name.';
COMMENT ON COLUMN rdvsp.organisations.email IS 'The organisation''s contact email (not a person''s).';
COMMENT ON COLUMN rdvsp.organisations.phone_number IS 'The organisation''s contact phone, as entered.';
COMMENT ON COLUMN rdvsp.organisations.verticale IS
    'The RDV Service Public product it uses (rdv_solidarites, rdv_aide_numerique…).';
COMMENT ON COLUMN rdvsp.organisations.website IS 'Its website.';
COMMENT ON COLUMN rdvsp.organisations.time_zone IS
    'Its time zone (Europe/Paris, or an overseas one): the local time of its RDVs.';
COMMENT ON COLUMN rdvsp.organisations.synced_at IS
    'When a sync or a webhook last changed the row (an unchanged row keeps its time).';
COMMENT ON COLUMN rdvsp.organisations.last_event_at IS
    'Version of the state held: the webhook event''s time, or the start of the poll that wrote it.';

COMMENT ON TABLE rdvsp.account_organisations IS
    'Which connected account belongs to which organisation, one row per pair; links no longer listed are removed at each sync.';
COMMENT ON COLUMN rdvsp.account_organisations.account_id IS 'The account (rdvsp.accounts.id).';
COMMENT ON COLUMN rdvsp.account_organisations.organisation_id IS 'The organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.account_organisations.synced_at IS 'When a sync last wrote the link.';

COMMENT ON TABLE rdvsp.agents IS
    'One row per agent (staff of an organisation) of the synced organisations or of synced RDVs. Personal data: names and emails.';
COMMENT ON COLUMN rdvsp.agents.id IS 'The agent''s id at RDV Service Public (rdvsp.accounts.id when connected).';
COMMENT ON COLUMN rdvsp.agents.email IS 'Work email. Personal data.';
COMMENT ON COLUMN rdvsp.agents.first_name IS 'First name. Personal data.';
COMMENT ON COLUMN rdvsp.agents.last_name IS 'Last name. Personal data.';
COMMENT ON COLUMN rdvsp.agents.synced_at IS 'When a sync or a webhook last changed the row.';
COMMENT ON COLUMN rdvsp.agents.last_event_at IS
    'Version of the state held: the webhook event''s time, or the start of the poll that wrote it.';

COMMENT ON TABLE rdvsp.agent_roles IS 'Membership of an agent in an organisation, one row per (organisation, agent).';
COMMENT ON COLUMN rdvsp.agent_roles.organisation_id IS 'The organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.agent_roles.agent_id IS 'The agent (rdvsp.agents.id).';
COMMENT ON COLUMN rdvsp.agent_roles.access_level IS
    'basic, admin or intervenant, when an AgentRole webhook said so; NULL when known from listings only (they do not carry it).';
COMMENT ON COLUMN rdvsp.agent_roles.synced_at IS 'When a sync or a webhook last changed the row.';

COMMENT ON TABLE rdvsp.users IS
    'One row per user (usager) of the synced organisations or of synced RDVs. Personal data: identity, contact, '
    'address, family and housing situation, notes. Query with care; never copy it into logs or tickets.';
COMMENT ON COLUMN rdvsp.users.id IS 'The user''s id at RDV Service Public.';
COMMENT ON COLUMN rdvsp.users.first_name IS 'First name (Usager supprimé when the user was anonymised). Personal data.';
COMMENT ON COLUMN rdvsp.users.last_name IS 'Last name (Usager supprimé when the user was anonymised). Personal data.';
COMMENT ON COLUMN rdvsp.users.birth_name IS 'Birth name. Personal data.';
COMMENT ON COLUMN rdvsp.users.birth_date IS
    'Birth date (a date); 1900-01-01 is the API''s "unknown", kept as sent. Personal data.';
COMMENT ON COLUMN rdvsp.users.email IS 'Email. Personal data.';
COMMENT ON COLUMN rdvsp.users.notification_email IS 'Email notifications go to. Personal data.';
COMMENT ON COLUMN rdvsp.users.address IS 'Postal address. Personal data.';
COMMENT ON COLUMN rdvsp.users.address_details IS 'Address complement (floor, building…). Personal data.';
COMMENT ON COLUMN rdvsp.users.phone_number IS 'Phone number as entered. Personal data.';
COMMENT ON COLUMN rdvsp.users.phone_number_formatted IS
    'The same number in international format (+33…), when RDV Service Public could parse it. Personal data.';
COMMENT ON COLUMN rdvsp.users.caisse_affiliation IS
    'Benefits fund: aucun, caf or msa (NULL: not given). Personal data.';
COMMENT ON COLUMN rdvsp.users.affiliation_number IS 'Number at that fund (CAF or MSA). Personal data.';
COMMENT ON COLUMN rdvsp.users.family_situation IS
    'single, in_a_relationship or divorced (NULL: not given). Personal data.';
COMMENT ON COLUMN rdvsp.users.number_of_children IS 'Number of children (NULL: not given). Personal data.';
COMMENT ON COLUMN rdvsp.users.notify_by_sms IS 'Whether the user accepts notifications by SMS.';
COMMENT ON COLUMN rdvsp.users.notify_by_email IS 'Whether the user accepts notifications by email.';
COMMENT ON COLUMN rdvsp.users.invitation_created_at IS
    'When the user was invited to create an RDV Service Public login.';
COMMENT ON COLUMN rdvsp.users.invitation_accepted_at IS 'When the user accepted that invitation.';
COMMENT ON COLUMN rdvsp.users.responsible_id IS
    'The user responsible for this one (a parent for a child), an rdvsp.users id; may be outside the synced organisations.';
COMMENT ON COLUMN rdvsp.users.case_number IS
    'The user''s case number (numéro de dossier) in the organisation. Personal data.';
COMMENT ON COLUMN rdvsp.users.logement IS
    'Housing: sdf, heberge, en_accession_propriete, proprietaire, locataire or autre (NULL: not given). Personal data.';
COMMENT ON COLUMN rdvsp.users.notes IS 'Free notes written by agents. Personal data.';
COMMENT ON COLUMN rdvsp.users.created_at IS 'When the user was created at RDV Service Public.';
COMMENT ON COLUMN rdvsp.users.synced_at IS 'When a sync or a webhook last changed the row.';
COMMENT ON COLUMN rdvsp.users.last_event_at IS
    'Version of the state held: the webhook event''s time, or the start of the poll that wrote it.';

COMMENT ON TABLE rdvsp.user_profiles IS
    'A user''s profile in an organisation, one row per (organisation, user): the user is known there.';
COMMENT ON COLUMN rdvsp.user_profiles.organisation_id IS 'The organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.user_profiles.user_id IS 'The user (rdvsp.users.id).';
COMMENT ON COLUMN rdvsp.user_profiles.synced_at IS 'When a sync or a webhook last changed the row.';

COMMENT ON TABLE rdvsp.motifs IS 'One row per motif (kind of RDV an organisation offers), with its category.';
COMMENT ON COLUMN rdvsp.motifs.id IS 'The motif''s id at RDV Service Public.';
COMMENT ON COLUMN rdvsp.motifs.organisation_id IS 'The organisation offering it (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.motifs.name IS 'Its name, as users see it.';
COMMENT ON COLUMN rdvsp.motifs.location_type IS
    'Where its RDVs take place: public_office (at a lieu), phone, home or visio.';
COMMENT ON COLUMN rdvsp.motifs.bookable_by IS
    'Who may book it: agents, agents_and_prescripteurs, agents_and_prescripteurs_and_invited_users or everyone.';
COMMENT ON COLUMN rdvsp.motifs.bookable_publicly IS 'Whether users can book it online themselves.';
COMMENT ON COLUMN rdvsp.motifs.service_id IS
    'The service of the organisation it belongs to (an RDV Service Public id; no table here).';
COMMENT ON COLUMN rdvsp.motifs.collectif IS 'Whether its RDVs are collective (several participants).';
COMMENT ON COLUMN rdvsp.motifs.follow_up IS 'Whether it is for follow-up RDVs with a referent agent.';
COMMENT ON COLUMN rdvsp.motifs.instruction_for_rdv IS 'Instructions sent to users with their RDV.';
COMMENT ON COLUMN rdvsp.motifs.motif_category_id IS 'Its category''s id at RDV Service Public (NULL: none).';
COMMENT ON COLUMN rdvsp.motifs.motif_category_name IS 'Its category''s name.';
COMMENT ON COLUMN rdvsp.motifs.motif_category_short_name IS
    'Its category''s short name: the theme of activities made from its RDVs.';
COMMENT ON COLUMN rdvsp.motifs.default_duration_in_min IS 'Default length of its RDVs, in minutes.';
COMMENT ON COLUMN rdvsp.motifs.min_public_booking_delay IS
    'How soon before an RDV users may book it online, in seconds.';
COMMENT ON COLUMN rdvsp.motifs.max_public_booking_delay IS 'How far ahead users may book it online, in seconds.';
COMMENT ON COLUMN rdvsp.motifs.deleted_at IS
    'When it was deleted at RDV Service Public (its past RDVs keep it); NULL while in use.';
COMMENT ON COLUMN rdvsp.motifs.synced_at IS 'When a sync or a webhook last changed the row.';
COMMENT ON COLUMN rdvsp.motifs.last_event_at IS
    'Version of the state held: the webhook event''s time, or the start of the poll that wrote it.';

COMMENT ON TABLE rdvsp.lieux IS 'One row per lieu (a place where an organisation holds RDVs).';
COMMENT ON COLUMN rdvsp.lieux.id IS 'The lieu''s id at RDV Service Public.';
COMMENT ON COLUMN rdvsp.lieux.organisation_id IS 'Its organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.lieux.name IS 'Its name.';
COMMENT ON COLUMN rdvsp.lieux.address IS 'Its postal address (a public place, not a person''s).';
COMMENT ON COLUMN rdvsp.lieux.phone_number IS 'Its phone number.';
COMMENT ON COLUMN rdvsp.lieux.single_use IS 'Whether it was made for one RDV only (an ad hoc place).';
COMMENT ON COLUMN rdvsp.lieux.latitude IS 'Latitude, in degrees (WGS 84).';
COMMENT ON COLUMN rdvsp.lieux.longitude IS 'Longitude, in degrees (WGS 84).';
COMMENT ON COLUMN rdvsp.lieux.synced_at IS 'When a sync or a webhook last changed the row.';
COMMENT ON COLUMN rdvsp.lieux.last_event_at IS
    'Version of the state held: the webhook event''s time, or the start of the poll that wrote it.';

COMMENT ON TABLE rdvsp.rdvs IS
    'One row per RDV (appointment) of the synced organisations from each account''s sync_from on, with the payload '
    'as of its last change. Which accounts see it: rdvsp.account_rdvs; its participants: rdvsp.participations.';
COMMENT ON COLUMN rdvsp.rdvs.id IS 'The RDV''s id at RDV Service Public.';
COMMENT ON COLUMN rdvsp.rdvs.uuid IS 'Its uuid at RDV Service Public.';
COMMENT ON COLUMN rdvsp.rdvs.organisation_id IS 'Its organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.rdvs.motif_id IS 'Its motif (rdvsp.motifs.id).';
COMMENT ON COLUMN rdvsp.rdvs.lieu_id IS 'Its lieu (rdvsp.lieux.id); NULL for an RDV by phone, at home or by video.';
COMMENT ON COLUMN rdvsp.rdvs.status IS
    'The RDV''s overall status: unknown (to come, or not yet filled in), seen (took place), noshow (the user did not '
    'come), excused (cancelled by the user) or revoked (cancelled by the organisation). Each participant has its own.';
COMMENT ON COLUMN rdvsp.rdvs.starts_at IS
    'When it starts (timestamptz). Its local time: starts_at AT TIME ZONE its organisation''s time_zone (mostly Europe/Paris).';
COMMENT ON COLUMN rdvsp.rdvs.ends_at IS
    'When it ends (timestamptz); NULL when the API did not send it (starts_at + duration_in_min).';
COMMENT ON COLUMN rdvsp.rdvs.duration_in_min IS 'Its length, in minutes.';
COMMENT ON COLUMN rdvsp.rdvs.address IS
    'Where it takes place, as text: the lieu''s address, or the user''s own address for an RDV at home. Personal data when at home.';
COMMENT ON COLUMN rdvsp.rdvs.context IS 'Free context written by the agent who booked it. May hold personal data.';
COMMENT ON COLUMN rdvsp.rdvs.name IS 'The title of a collective RDV (NULL for an individual one).';
COMMENT ON COLUMN rdvsp.rdvs.collectif IS 'Whether it is collective (several participants).';
COMMENT ON COLUMN rdvsp.rdvs.max_participants_count IS 'Seats of a collective RDV (NULL: no limit, or individual).';
COMMENT ON COLUMN rdvsp.rdvs.users_count IS 'Participants registered, not counting excused and revoked ones.';
COMMENT ON COLUMN rdvsp.rdvs.cancelled_at IS 'When it was cancelled (status excused or revoked); NULL otherwise.';
COMMENT ON COLUMN rdvsp.rdvs.created_at IS 'When it was booked at RDV Service Public.';
COMMENT ON COLUMN rdvsp.rdvs.created_by IS
    'Who booked it (deprecated by the API): agent, user, file_attente or prescripteur.';
COMMENT ON COLUMN rdvsp.rdvs.created_by_type IS
    'Who booked it: Agent, User, FileAttente (waiting list) or Prescripteur.';
COMMENT ON COLUMN rdvsp.rdvs.created_by_id IS
    'The id of who booked it, of the kind created_by_type says (Agent: an rdvsp.agents id; User: an rdvsp.users id).';
COMMENT ON COLUMN rdvsp.rdvs.agent_ids IS 'The agents holding the RDV (rdvsp.agents ids), in ascending order.';
COMMENT ON COLUMN rdvsp.rdvs.url_for_agents IS 'The RDV''s page at RDV Service Public, for agents.';
COMMENT ON COLUMN rdvsp.rdvs.visio_url IS 'The video call''s link, for an RDV by video.';
COMMENT ON COLUMN rdvsp.rdvs.raw IS
    'The API''s payload as of the RDV''s last change (a participant''s later change is in rdvsp.users). Personal data: '
    'it embeds its participants and agents.';
COMMENT ON COLUMN rdvsp.rdvs.synced_at IS
    'When a sync or a webhook last changed the row (an unchanged row keeps its time).';
COMMENT ON COLUMN rdvsp.rdvs.last_event_at IS
    'Version of the state held: the webhook event''s time, or the start of the poll that wrote it.';

COMMENT ON TABLE rdvsp.account_rdvs IS
    'Which connected account sees which RDV, one row per (account, RDV): an RDV can be seen by several accounts, and '
    'is deleted only when none sees it any more. Join on it to count a mediator''s RDVs.';
COMMENT ON COLUMN rdvsp.account_rdvs.account_id IS 'The account (rdvsp.accounts.id).';
COMMENT ON COLUMN rdvsp.account_rdvs.rdv_id IS 'The RDV (rdvsp.rdvs.id).';
COMMENT ON COLUMN rdvsp.account_rdvs.organisation_id IS
    'The RDV''s organisation (rdvsp.organisations.id), copied here for fast filters.';
COMMENT ON COLUMN rdvsp.account_rdvs.starts_at IS
    'When the RDV starts (timestamptz), copied here for fast date ranges.';
COMMENT ON COLUMN rdvsp.account_rdvs.synced_at IS 'When a sync or a webhook last changed the row.';

COMMENT ON TABLE rdvsp.participations IS 'One row per participant of an RDV, with that participant''s own status.';
COMMENT ON COLUMN rdvsp.participations.id IS 'The participation''s id at RDV Service Public.';
COMMENT ON COLUMN rdvsp.participations.rdv_id IS 'The RDV (rdvsp.rdvs.id).';
COMMENT ON COLUMN rdvsp.participations.user_id IS 'The participant (rdvsp.users.id).';
COMMENT ON COLUMN rdvsp.participations.status IS
    'This participant''s status: unknown (to come), seen (came), noshow (did not come), excused (cancelled) or revoked '
    '(cancelled by the organisation). Prefer it to the RDV''s status for collective RDVs.';
COMMENT ON COLUMN rdvsp.participations.send_lifecycle_notifications IS
    'Whether the participant is told when the RDV is booked, moved or cancelled.';
COMMENT ON COLUMN rdvsp.participations.send_reminder_notification IS
    'Whether the participant gets a reminder before the RDV.';
COMMENT ON COLUMN rdvsp.participations.created_by IS
    'Who registered the participant (deprecated by the API): agent, user or prescripteur.';
COMMENT ON COLUMN rdvsp.participations.created_by_type IS
    'Who registered the participant: Agent, User or Prescripteur.';
COMMENT ON COLUMN rdvsp.participations.created_by_id IS
    'The id of who registered the participant (after created_by_type).';
COMMENT ON COLUMN rdvsp.participations.created_by_agent_prescripteur IS
    'Whether an agent registered the participant acting as a prescripteur.';
COMMENT ON COLUMN rdvsp.participations.synced_at IS 'When a sync or a webhook last changed the row.';

COMMENT ON TABLE rdvsp.webhook_endpoints IS
    'Webhook endpoints of the synced organisations as the API lists them, ours and other consumers'', one row per endpoint.';
COMMENT ON COLUMN rdvsp.webhook_endpoints.id IS 'The endpoint''s id at RDV Service Public.';
COMMENT ON COLUMN rdvsp.webhook_endpoints.organisation_id IS 'Its organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.webhook_endpoints.target_url IS 'Where RDV Service Public sends the events.';
COMMENT ON COLUMN rdvsp.webhook_endpoints.subscriptions IS 'The models it receives (rdv, user, …); empty: none.';
COMMENT ON COLUMN rdvsp.webhook_endpoints.synced_at IS 'When a sync last changed the row.';

COMMENT ON TABLE rdvsp.webhook_installations IS
    'Our webhook endpoint in each organisation, one row per organisation: whether it took, and its secret. '
    'Organisations not installed are polled every hour instead.';
COMMENT ON COLUMN rdvsp.webhook_installations.organisation_id IS 'The organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.webhook_installations.account_id IS 'The account whose token installed it (rdvsp.accounts.id).';
COMMENT ON COLUMN rdvsp.webhook_installations.endpoint_id IS
    'Our endpoint (rdvsp.webhook_endpoints.id), when the API made one.';
COMMENT ON COLUMN rdvsp.webhook_installations.target_url IS
    'The address our endpoint sends to (RDVSP_WEBHOOK_URL and the organisation).';
COMMENT ON COLUMN rdvsp.webhook_installations.secret_encrypted IS
    'The endpoint''s signing secret, encrypted with SYNC_SECRET_KEY. Never copy it.';
COMMENT ON COLUMN rdvsp.webhook_installations.status IS
    'installed; failed (the API refused, see reason); not_taken (accepted but not listed); not_configured '
    '(RDVSP_WEBHOOK_URL unset); disconnected (released: no connected account needs it).';
COMMENT ON COLUMN rdvsp.webhook_installations.reason IS
    'Why it is not installed (HTTP status, API message; no personal data).';
COMMENT ON COLUMN rdvsp.webhook_installations.checked_at IS 'When the installation was last checked.';

COMMENT ON COLUMN rdvsp.run_organisations.run_id IS 'The run (sync.runs.id).';
COMMENT ON COLUMN rdvsp.run_organisations.organisation_id IS 'The organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.run_organisations.rdvs_created IS 'RDVs of the organisation the run inserted.';
COMMENT ON COLUMN rdvsp.run_organisations.rdvs_updated IS 'RDVs of the organisation the run changed.';
COMMENT ON COLUMN rdvsp.run_organisations.rdvs_deleted IS 'RDVs of the organisation the run deleted.';
COMMENT ON COLUMN rdvsp.run_organisations.drift IS
    'rdvs_created + rdvs_updated + rdvs_deleted: for a nightly run, what webhooks missed.';
COMMENT ON COLUMN rdvsp.run_organisations.webhook_status IS
    'The organisation''s webhook installation at that time (rdvsp.webhook_installations.status); NULL: none.';

COMMENT ON TABLE rdvsp.applied_pages IS
    'The body of each RDV listing page a successful sync applied, one row per (account, page): a polling run that '
    'reads the same body again skips it. Bookkeeping, not RDV data.';
COMMENT ON COLUMN rdvsp.applied_pages.account_id IS 'The account (rdvsp.accounts.id).';
COMMENT ON COLUMN rdvsp.applied_pages.endpoint IS 'The path read (/api/v1/organisations/ID/rdvs…).';
COMMENT ON COLUMN rdvsp.applied_pages.params IS 'The query parameters of the page (JSON).';
COMMENT ON COLUMN rdvsp.applied_pages.body_sha256 IS 'sha256 of the body applied (hex).';
COMMENT ON COLUMN rdvsp.applied_pages.synced_at IS 'When that body was applied.';

COMMENT ON TABLE rdvsp.pending_authorizations IS
    'OAuth authorizations started by `sync-assets rdvsp connect`, one row per attempt, completed when the browser '
    'comes back to the redirect URI.';
COMMENT ON COLUMN rdvsp.pending_authorizations.state IS 'The OAuth state parameter that identifies the attempt.';
COMMENT ON COLUMN rdvsp.pending_authorizations.code_verifier_encrypted IS
    'The PKCE code verifier, encrypted. Never copy it.';
COMMENT ON COLUMN rdvsp.pending_authorizations.sync_from IS 'The first day of RDVs to sync asked for (a date).';
COMMENT ON COLUMN rdvsp.pending_authorizations.created_at IS 'When the attempt started.';
COMMENT ON COLUMN rdvsp.pending_authorizations.completed_at IS
    'When it completed (connected or failed); NULL while waiting.';
COMMENT ON COLUMN rdvsp.pending_authorizations.account_id IS 'The account it connected (rdvsp.accounts.id).';
COMMENT ON COLUMN rdvsp.pending_authorizations.error IS 'Why it failed (no personal data).';

COMMENT ON COLUMN rdvsp.write_requests.id IS 'The request''s id (what a host application reads its outcome by).';
COMMENT ON COLUMN rdvsp.write_requests.account_id IS 'The account it acts for (rdvsp.accounts.id).';
COMMENT ON COLUMN rdvsp.write_requests.created_at IS 'When the host application inserted it.';

COMMENT ON COLUMN coop.account_settings.account_id IS 'The mediator''s account (rdvsp.accounts.id).';

-- The former run tables, now views of sync.runs and sync.run_tables (read-only)

COMMENT ON COLUMN rdvsp.sync_logs.id IS 'The run (sync.runs.id).';
COMMENT ON COLUMN rdvsp.sync_logs.account_id IS 'The account synced (rdvsp.accounts.id).';
COMMENT ON COLUMN rdvsp.sync_logs.dagster_run_id IS 'The Dagster run that ran it.';
COMMENT ON COLUMN rdvsp.sync_logs.kind IS 'initial, polling, nightly or scoped.';
COMMENT ON COLUMN rdvsp.sync_logs.organisation_ids IS
    'The organisations synced (empty: every organisation of the account).';
COMMENT ON COLUMN rdvsp.sync_logs.started_at IS 'When it started.';
COMMENT ON COLUMN rdvsp.sync_logs.ended_at IS 'When it ended; NULL while running.';
COMMENT ON COLUMN rdvsp.sync_logs.status IS 'running, success, failed, skipped or interrupted.';
COMMENT ON COLUMN rdvsp.sync_logs.error IS 'Why it failed (no personal data).';
COMMENT ON COLUMN rdvsp.sync_logs.drift IS 'Rows created, updated or deleted, all tables together.';
COMMENT ON COLUMN rdvsp.sync_logs.pages_fetched IS 'API pages read.';
COMMENT ON COLUMN rdvsp.sync_logs.api_requests IS 'API requests sent.';
COMMENT ON COLUMN rdvsp.sync_logs.runner_pid IS 'The database backend that wrote the run.';

COMMENT ON COLUMN rdvsp.sync_log_tables.sync_log_id IS 'The run (sync.runs.id).';
COMMENT ON COLUMN rdvsp.sync_log_tables.table_name IS 'The table merged.';
COMMENT ON COLUMN rdvsp.sync_log_tables.count IS 'Rows the API returned (distinct).';
COMMENT ON COLUMN rdvsp.sync_log_tables.created IS 'Rows inserted.';
COMMENT ON COLUMN rdvsp.sync_log_tables.updated IS 'Rows changed.';
COMMENT ON COLUMN rdvsp.sync_log_tables.deleted IS 'Rows deleted.';
COMMENT ON COLUMN rdvsp.sync_log_tables.noop IS 'Rows already as the API had them.';
COMMENT ON COLUMN rdvsp.sync_log_tables.drift IS 'created + updated + deleted.';

COMMENT ON COLUMN rdvsp.sync_log_organisations.sync_log_id IS 'The run (sync.runs.id).';
COMMENT ON COLUMN rdvsp.sync_log_organisations.organisation_id IS 'The organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.sync_log_organisations.rdvs_created IS 'RDVs inserted.';
COMMENT ON COLUMN rdvsp.sync_log_organisations.rdvs_updated IS 'RDVs changed.';
COMMENT ON COLUMN rdvsp.sync_log_organisations.rdvs_deleted IS 'RDVs deleted.';
COMMENT ON COLUMN rdvsp.sync_log_organisations.drift IS 'rdvs_created + rdvs_updated + rdvs_deleted.';
COMMENT ON COLUMN rdvsp.sync_log_organisations.webhook_status IS
    'The organisation''s webhook installation at that time.';

COMMENT ON COLUMN doctolib.sync_runs.id IS 'The run (sync.runs.id).';
COMMENT ON COLUMN doctolib.sync_runs.practice_id IS
    'The practice synced (doctolib.practices.id); NULL when none could be chosen.';
COMMENT ON COLUMN doctolib.sync_runs.account_name IS 'The account it was synced through (doctolib.accounts.name).';
COMMENT ON COLUMN doctolib.sync_runs.dagster_run_id IS 'The Dagster run that ran it.';
COMMENT ON COLUMN doctolib.sync_runs.mode IS 'incremental or full_refresh.';
COMMENT ON COLUMN doctolib.sync_runs.started_at IS 'When it started.';
COMMENT ON COLUMN doctolib.sync_runs.ended_at IS 'When it ended; NULL while running.';
COMMENT ON COLUMN doctolib.sync_runs.status IS 'running, success, failed, skipped or interrupted.';
COMMENT ON COLUMN doctolib.sync_runs.reason IS 'Why it failed or was skipped (no personal data).';
COMMENT ON COLUMN doctolib.sync_runs.updated_since IS 'What the API was asked from (NULL: everything).';
COMMENT ON COLUMN doctolib.sync_runs.cursor_before IS 'The practice''s cursor before the run.';
COMMENT ON COLUMN doctolib.sync_runs.cursor_after IS 'The practice''s cursor after the run.';
COMMENT ON COLUMN doctolib.sync_runs.pages_fetched IS 'API pages read.';
COMMENT ON COLUMN doctolib.sync_runs.api_requests IS 'API requests sent.';
COMMENT ON COLUMN doctolib.sync_runs.drift IS 'Rows created, updated or deleted, all tables together.';
COMMENT ON COLUMN doctolib.sync_runs.runner_pid IS 'The database backend that wrote the run.';

COMMENT ON COLUMN doctolib.sync_run_tables.sync_run_id IS 'The run (sync.runs.id).';
COMMENT ON COLUMN doctolib.sync_run_tables.table_name IS 'The table merged.';
COMMENT ON COLUMN doctolib.sync_run_tables.count IS 'Rows the API returned (distinct).';
COMMENT ON COLUMN doctolib.sync_run_tables.created IS 'Rows inserted.';
COMMENT ON COLUMN doctolib.sync_run_tables.updated IS 'Rows changed.';
COMMENT ON COLUMN doctolib.sync_run_tables.deleted IS 'Rows deleted.';
COMMENT ON COLUMN doctolib.sync_run_tables.noop IS 'Rows already as the API had them.';
COMMENT ON COLUMN doctolib.sync_run_tables.drift IS 'created + updated + deleted.';

COMMENT ON COLUMN doctolib.sync_state.practice_id IS 'The practice (doctolib.practices.id).';
COMMENT ON COLUMN doctolib.sync_state.cursor_updated_at IS
    'The highest updated_at its last successful run read (sync.cursors.cursor).';
COMMENT ON COLUMN doctolib.sync_state.last_success_at IS 'When it last synced successfully.';
COMMENT ON COLUMN doctolib.sync_state.last_full_refresh_at IS 'When it was last read in full.';
COMMENT ON COLUMN doctolib.sync_state.last_run_id IS 'That run, in sync.runs.';

-- doctolib: Doctolib

COMMENT ON TABLE doctolib.accounts IS
    'One row per DOCTOLIB_API_KEY_<ACCOUNT> variable seen: a practice profile or a dentist profile. The key itself is never stored.';
COMMENT ON COLUMN doctolib.accounts.name IS 'The <ACCOUNT> part of the variable''s name, lower-case.';
COMMENT ON COLUMN doctolib.accounts.remote_id IS 'The account''s id at Doctolib.';
COMMENT ON COLUMN doctolib.accounts.kind IS
    'practice (a practice''s own profile) or dentist (a dentist working in several practices).';
COMMENT ON COLUMN doctolib.accounts.status IS 'active, or error (its key was refused: see status_reason).';
COMMENT ON COLUMN doctolib.accounts.status_reason IS 'Why it is in error (HTTP status; no key, no personal data).';
COMMENT ON COLUMN doctolib.accounts.synced_at IS 'When discovery last changed the row.';

COMMENT ON TABLE doctolib.practices IS
    'One row per practice an account reaches (or once reached): the partition key of doctolib_practices.';
COMMENT ON COLUMN doctolib.practices.id IS 'The practice''s id at Doctolib.';
COMMENT ON COLUMN doctolib.practices.name IS 'Its name.';
COMMENT ON COLUMN doctolib.practices.city IS 'Its city.';
COMMENT ON COLUMN doctolib.practices.zipcode IS 'Its postcode.';
COMMENT ON COLUMN doctolib.practices.sync_account IS
    'The one account it is synced through (doctolib.accounts.name): its own profile when that key works, else a dentist''s.';
COMMENT ON COLUMN doctolib.practices.first_seen_at IS 'When an account first listed it.';
COMMENT ON COLUMN doctolib.practices.vanished_at IS
    'When no account listed it any more (its rows are kept); NULL while reached.';
COMMENT ON COLUMN doctolib.practices.synced_at IS 'When discovery last changed the row.';

COMMENT ON TABLE doctolib.account_practices IS
    'Which account reaches which practice, one row per pair (a practice is often reached by several accounts).';
COMMENT ON COLUMN doctolib.account_practices.account_name IS 'The account (doctolib.accounts.name).';
COMMENT ON COLUMN doctolib.account_practices.practice_id IS 'The practice (doctolib.practices.id).';
COMMENT ON COLUMN doctolib.account_practices.synced_at IS 'When discovery last wrote the link.';

COMMENT ON TABLE doctolib.practitioners IS 'One row per practitioner seen on a synced appointment.';
COMMENT ON COLUMN doctolib.practitioners.id IS 'The practitioner''s id at Doctolib.';
COMMENT ON COLUMN doctolib.practitioners.name IS
    'The practitioner''s name, as Doctolib shows it (a professional''s name).';
COMMENT ON COLUMN doctolib.practitioners.synced_at IS 'When a sync last changed the row.';

COMMENT ON TABLE doctolib.visit_motives IS
    'One row per visit motive (reason for an appointment) seen on a synced appointment.';
COMMENT ON COLUMN doctolib.visit_motives.id IS 'The visit motive''s id at Doctolib.';
COMMENT ON COLUMN doctolib.visit_motives.name IS 'Its name.';
COMMENT ON COLUMN doctolib.visit_motives.synced_at IS 'When a sync last changed the row.';

COMMENT ON TABLE doctolib.patients IS
    'One row per patient of a synced appointment. Personal data: names, birth dates, phones and emails, kept here '
    'only. Analysts read analytics.doctolib_patients instead.';
COMMENT ON COLUMN doctolib.patients.id IS 'The patient''s id at Doctolib.';
COMMENT ON COLUMN doctolib.patients.first_name IS 'First name. Personal data.';
COMMENT ON COLUMN doctolib.patients.last_name IS 'Last name. Personal data.';
COMMENT ON COLUMN doctolib.patients.birth_date IS 'Birth date (a date; NULL when unknown). Personal data.';
COMMENT ON COLUMN doctolib.patients.phone IS 'Phone number. Personal data.';
COMMENT ON COLUMN doctolib.patients.email IS 'Email. Personal data.';
COMMENT ON COLUMN doctolib.patients.synced_at IS 'When a sync last changed the row.';

COMMENT ON TABLE doctolib.appointments IS
    'One row per Doctolib appointment of the synced practices, including those Doctolib soft-deleted (deleted_at set).';
COMMENT ON COLUMN doctolib.appointments.id IS 'The appointment''s id at Doctolib.';
COMMENT ON COLUMN doctolib.appointments.practice_id IS 'Its practice (doctolib.practices.id).';
COMMENT ON COLUMN doctolib.appointments.agenda_id IS 'The practice''s agenda it is in (a Doctolib id; no table here).';
COMMENT ON COLUMN doctolib.appointments.practitioner_id IS 'Its practitioner (doctolib.practitioners.id).';
COMMENT ON COLUMN doctolib.appointments.patient_id IS 'Its patient (doctolib.patients.id).';
COMMENT ON COLUMN doctolib.appointments.visit_motive_id IS 'Its visit motive (doctolib.visit_motives.id).';
COMMENT ON COLUMN doctolib.appointments.start_at IS 'When it starts (timestamptz; Europe/Paris for French local time).';
COMMENT ON COLUMN doctolib.appointments.end_at IS 'When it ends (timestamptz).';
COMMENT ON COLUMN doctolib.appointments.status IS
    'confirmed (to come), done (took place), no_show (the patient did not come) or cancelled.';
COMMENT ON COLUMN doctolib.appointments.created_at IS 'When it was booked at Doctolib.';
COMMENT ON COLUMN doctolib.appointments.updated_at IS
    'When Doctolib last changed it: what the incremental sync reads from.';
COMMENT ON COLUMN doctolib.appointments.deleted_at IS 'When Doctolib deleted it (soft delete); NULL while it exists.';
COMMENT ON COLUMN doctolib.appointments.synced_at IS
    'When a sync last changed the row (an unchanged row keeps its time).';

-- coop: the host application

COMMENT ON TABLE coop.beneficiaires IS
    'One row per beneficiary of a mediator: one mediator''s record of a person, created or filled from an RDV '
    'Service Public user. Personal data: names, birth date, email, phone, address.';
COMMENT ON COLUMN coop.beneficiaires.id IS 'The beneficiary''s id in the host application.';
COMMENT ON COLUMN coop.beneficiaires.account_id IS 'The mediator (rdvsp.accounts.id).';
COMMENT ON COLUMN coop.beneficiaires.rdv_user_id IS
    'The RDV Service Public user it was made from or merged with (rdvsp.users.id); NULL once that user was anonymised.';
COMMENT ON COLUMN coop.beneficiaires.first_name IS 'First name. Personal data.';
COMMENT ON COLUMN coop.beneficiaires.last_name IS 'Last name. Personal data.';
COMMENT ON COLUMN coop.beneficiaires.birth_date IS
    'Birth date (a date); NULL when unknown (RDV Service Public''s 1900-01-01 included). Personal data.';
COMMENT ON COLUMN coop.beneficiaires.email IS 'Email. Personal data.';
COMMENT ON COLUMN coop.beneficiaires.anonymised_at IS
    'When its RDV user was anonymised and its identity removed (its activities stay); NULL otherwise.';
COMMENT ON COLUMN coop.beneficiaires.created_at IS 'When the row was created.';
COMMENT ON COLUMN coop.beneficiaires.updated_at IS 'When the row last changed.';

COMMENT ON TABLE coop.activites IS
    'One row per activity (CRA, compte rendu d''activité) of a mediator: entered in the host application or made from an attended RDV.';
COMMENT ON COLUMN coop.activites.id IS 'The activity''s id.';
COMMENT ON COLUMN coop.activites.account_id IS 'The mediator (rdvsp.accounts.id).';
COMMENT ON COLUMN coop.activites.date IS
    'When it took place (timestamptz; the RDV''s starts_at for one made from an RDV).';
COMMENT ON COLUMN coop.activites.type IS
    'individuel (one person), collectif (a group) or demarche (an administrative procedure).';
COMMENT ON COLUMN coop.activites.themes IS
    'Its themes (numerique…); for one made from an RDV, the motif''s category short name.';
COMMENT ON COLUMN coop.activites.duration_min IS 'Its length, in minutes (more than 0).';
COMMENT ON COLUMN coop.activites.lieu_id IS 'Where it took place (rdvsp.lieux.id), when at a lieu.';
COMMENT ON COLUMN coop.activites.place IS
    'Otherwise a free label of the place (for one made from an RDV at home, its address: personal data).';
COMMENT ON COLUMN coop.activites.rdv_id IS
    'The RDV it was made from (rdvsp.rdvs.id); an RDV makes one activity at most.';
COMMENT ON COLUMN coop.activites.created_at IS 'When the row was created.';
COMMENT ON COLUMN coop.activites.updated_at IS 'When the row last changed.';

COMMENT ON TABLE coop.activite_beneficiaires IS 'Who an activity was for: one row per (activity, beneficiary).';
COMMENT ON COLUMN coop.activite_beneficiaires.activite_id IS 'The activity (coop.activites.id).';
COMMENT ON COLUMN coop.activite_beneficiaires.beneficiaire_id IS 'The beneficiary (coop.beneficiaires.id).';

COMMENT ON TABLE coop.rdv_cra_declined IS
    'RDVs a mediator chose not to turn into an activity, one row per RDV: never proposed again. Written by the host application.';
COMMENT ON COLUMN coop.rdv_cra_declined.rdv_id IS 'The RDV (rdvsp.rdvs.id).';
COMMENT ON COLUMN coop.rdv_cra_declined.account_id IS 'The mediator who declined it (rdvsp.accounts.id).';
COMMENT ON COLUMN coop.rdv_cra_declined.declined_at IS 'When it was declined.';
