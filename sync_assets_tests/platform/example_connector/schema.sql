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
