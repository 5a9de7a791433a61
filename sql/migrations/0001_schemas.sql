-- The five schemas of the warehouse.
--   rdvsp      rows synced from RDV Service Public
--   doctolib   rows synced from Doctolib
--   coop       the host application's tables (beneficiaries, activities)
--   sync       the machinery: migrations, raw responses, webhook inbox, drift events
--   analytics  views for analysts
CREATE SCHEMA IF NOT EXISTS rdvsp;
CREATE SCHEMA IF NOT EXISTS doctolib;
CREATE SCHEMA IF NOT EXISTS coop;
CREATE SCHEMA IF NOT EXISTS sync;
CREATE SCHEMA IF NOT EXISTS analytics;
