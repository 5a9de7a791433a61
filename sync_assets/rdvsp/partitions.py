"""One partition per connected agent account (its agent id)."""

import dagster as dg

rdvsp_accounts = dg.DynamicPartitionsDefinition(name="rdvsp_accounts")
