"""One partition per Doctolib practice (its practice id)."""

import dagster as dg

doctolib_practices = dg.DynamicPartitionsDefinition(name="doctolib_practices")
