"""The host application's side: analyst views over the synced tables (and, later, beneficiaries
and activities)."""
