SELECT name FROM doctolib.accounts;
