-- Run once by the compose file's PostgreSQL when its data volume is first created (as the
-- POSTGRES_USER, who owns it): Dagster's runs, events and schedules get a database of their own,
-- next to the warehouse (`sync_assets`). DAGSTER_POSTGRES_URL names it.
CREATE DATABASE dagster;
