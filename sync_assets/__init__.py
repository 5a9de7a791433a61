"""sync_assets: keeps a PostgreSQL warehouse in step with RDV Service Public and Doctolib."""
