SELECT id FROM rdvsp.accounts WHERE status <> 'disconnected' ORDER BY id;
