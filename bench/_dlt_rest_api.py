"""dlt's `rest_api` source reading RDV Service Public (the sandbox) into PostgreSQL: the comparison
point of `rdvsp_full_sync.py --dlt-python`. Not part of the project: it runs in a scratch
virtualenv holding `dlt[postgres]`, and imports nothing of sync_assets.

The same reads as one account's sync: its organisations, then each organisation's motifs, lieux,
agents, users and RDVs (from SYNC_FROM), merged on their ids (`write_disposition="merge"`, as our
upsert). Environment: RDVSP_BASE_URL, RDVSP_TOKEN, DLT_DSN, SYNC_FROM. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import resource
import time
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import dlt
from dlt.sources.rest_api import rest_api_source


def per_organisation(name: str, path: str, selector: str, params: dict | None = None) -> dict:
    """A child of `organisations`: its id in the path, or as the `organisation_id` parameter."""
    parent = "{resources.organisations.id}"
    if "{organisation_id}" in path:
        path = path.replace("{organisation_id}", parent)
    else:
        params = {**(params or {}), "organisation_id": parent}
    return {
        "name": name,
        "primary_key": "id",
        "write_disposition": "merge",
        "include_from_parent": [],
        "endpoint": {"path": path, "data_selector": selector, "params": params or {}},
    }


def source():
    return rest_api_source(
        {
            "client": {
                "base_url": os.environ["RDVSP_BASE_URL"],
                "auth": {"type": "bearer", "token": os.environ["RDVSP_TOKEN"]},
                "paginator": {
                    "type": "page_number",
                    "base_page": 1,
                    "page_param": "page",
                    "total_path": "meta.total_pages",
                },
            },
            "resources": [
                {
                    "name": "organisations",
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {"path": "/api/v1/organisations", "data_selector": "organisations"},
                },
                per_organisation("motifs", "/api/v1/organisations/{organisation_id}/motifs", "motifs"),
                per_organisation("lieux", "/api/v1/lieux", "lieux"),
                per_organisation("agents", "/api/v1/agents", "agents"),
                per_organisation("users", "/api/v1/organisations/{organisation_id}/users", "users"),
                per_organisation("rdvs", "/api/v1/rdvs", "rdvs", {"starts_after": os.environ["SYNC_FROM"]}),
            ],
        }
    )


def credentials(dsn: str) -> dict:
    """A libpq URL's parts; its host may be a socket folder, given as the `host` parameter."""
    url = urlsplit(dsn)
    query = dict(parse_qsl(url.query))
    return {
        "database": url.path.lstrip("/"),
        "username": unquote(url.username or "postgres"),
        "password": unquote(url.password or "") or "unused",  # trust authentication ignores it
        "host": query.get("host") or url.hostname or "localhost",
        "port": url.port or int(query.get("port", 5432)),
    }


def main() -> None:
    target = credentials(os.environ["DLT_DSN"])
    if target["host"].startswith("/"):  # a socket folder: percent-encoded in the URL dlt builds for libpq
        target["host"] = quote(target["host"], safe="")
    pipeline = dlt.pipeline(
        pipeline_name="rdvsp_comparison",
        destination=dlt.destinations.postgres(target),
        dataset_name="dlt_rdvsp",
        pipelines_dir=os.environ.get("DLT_PIPELINES_DIR"),
        progress=None,
    )
    started = time.perf_counter()
    info = pipeline.run(source())
    seconds = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    peak_kb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "rows": sum(rows.values()),
                "loads": len(info.loads_ids),
                "peak_rss_mb": round(peak_kb / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
