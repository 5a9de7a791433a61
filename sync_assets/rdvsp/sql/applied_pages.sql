SELECT endpoint, params, body_sha256 FROM rdvsp.applied_pages WHERE account_id = %(account_id)s;
