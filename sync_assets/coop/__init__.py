"""The host application's side: beneficiaries merged from RDV users, activities (CRA) made from
attended RDVs, and the analyst views over the synced tables."""
