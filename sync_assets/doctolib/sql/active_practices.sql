SELECT id FROM doctolib.practices WHERE vanished_at IS NULL ORDER BY id;
