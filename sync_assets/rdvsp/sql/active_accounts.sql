SELECT id FROM rdvsp.accounts WHERE status = 'active' ORDER BY id;
