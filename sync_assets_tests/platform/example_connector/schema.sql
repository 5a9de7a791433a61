-- The example connector's tables (a real connector adds them with a migration of sql/migrations/).
CREATE SCHEMA example;
CREATE TABLE example.customers (
    id        bigint PRIMARY KEY,
    name      text NOT NULL,
    email     text,
    synced_at timestamptz NOT NULL
);
CREATE TABLE example.invoices (
    id           bigint PRIMARY KEY,
    company_id   bigint NOT NULL,
    number       text NOT NULL,
    customer_id  bigint NOT NULL REFERENCES example.customers (id),
    amount_cents bigint NOT NULL,
    status       text NOT NULL,
    updated_at   timestamptz NOT NULL,
    synced_at    timestamptz NOT NULL
);
CREATE INDEX invoices_company ON example.invoices (company_id);
COMMENT ON SCHEMA example IS 'Rows synced from the example invoicing API, one company at a time.';
COMMENT ON TABLE example.customers IS 'One row per customer seen on a synced invoice. Personal data: names and emails.';
COMMENT ON COLUMN example.customers.id IS 'The customer''s id at the API.';
COMMENT ON COLUMN example.customers.name IS 'Name. Personal data.';
COMMENT ON COLUMN example.customers.email IS 'Email. Personal data.';
COMMENT ON COLUMN example.customers.synced_at IS 'When a sync last changed the row.';
COMMENT ON TABLE example.invoices IS 'One row per invoice of the synced companies.';
COMMENT ON COLUMN example.invoices.id IS 'The invoice''s id at the API.';
COMMENT ON COLUMN example.invoices.company_id IS 'The company that issued it (the partition key).';
COMMENT ON COLUMN example.invoices.number IS 'Its number, as printed.';
COMMENT ON COLUMN example.invoices.customer_id IS 'Its customer (example.customers.id).';
COMMENT ON COLUMN example.invoices.amount_cents IS 'Its amount, in cents of the invoice''s currency.';
COMMENT ON COLUMN example.invoices.status IS 'draft, sent, paid or cancelled.';
COMMENT ON COLUMN example.invoices.updated_at IS 'When the API last changed it: what the incremental sync reads from.';
COMMENT ON COLUMN example.invoices.synced_at IS 'When a sync last changed the row.';
