"""RDV Service Public jobs beyond the sync: disconnecting an account, and the write-back outbox."""
# No `from __future__ import annotations` here: Dagster reads the context and config annotations.

import dagster as dg

from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.secrets import TokenCipher
from sync_assets.rdvsp.disconnect import disconnect_account
from sync_assets.rdvsp.resources import RdvspApiResource
from sync_assets.rdvsp.write_back import WriteBack

TAGS = {"sync_assets/area": "rdvsp"}


class DisconnectConfig(dg.Config):
    account_id: int
    """The account (agent id) to disconnect."""
    purge: bool = False
    """Also remove its links and the rows no other connected account sees (never coop.* rows)."""


@dg.op(
    name="disconnect_account",
    pool="rdvsp_api",
    description=(
        "Disconnects an RDV Service Public account: stops its webhooks where no other connected account needs them, "
        "revokes its tokens at the API, erases them, sets status 'disconnected'; with purge, removes the rows no "
        "other connected account sees. A revocation that fails still disconnects the account here, and says so."
    ),
)
def disconnect_account_op(
    context: dg.OpExecutionContext, config: DisconnectConfig, warehouse: WarehouseResource, rdvsp: RdvspApiResource
) -> None:
    engine, cipher = warehouse.engine(), TokenCipher.from_environment()
    outcome = disconnect_account(
        engine,
        rdvsp.settings(),
        cipher,
        config.account_id,
        purge=config.purge,
        client_factory=lambda: rdvsp.client_for(engine, config.account_id, cipher),
    )
    for line in outcome.lines():
        (context.log.info if outcome.tokens_revoked is not False else context.log.warning)(line)
    context.add_output_metadata(
        {
            "account_id": config.account_id,
            "tokens_revoked": dg.MetadataValue.bool(bool(outcome.tokens_revoked)),
            "webhooks_unsubscribed": dg.MetadataValue.json(outcome.unsubscribed),
            "webhooks_not_unsubscribed": dg.MetadataValue.json(
                {str(k): v for k, v in outcome.not_unsubscribed.items()}
            ),
            "webhooks_handed_over": dg.MetadataValue.json({str(k): v for k, v in outcome.handed_over.items()}),
            "write_requests_failed": outcome.write_requests_failed,
            "purged": dg.MetadataValue.json(outcome.purged),
            "summary": dg.MetadataValue.md("\n".join(f"- {line}" for line in outcome.lines())),
        }
    )


@dg.job(
    name="rdvsp_disconnect",
    tags=TAGS,
    description=(
        "Disconnects an RDV Service Public account (run config: account_id, purge). Its partition stays, for its "
        "history; schedules and sensors skip it until it is reconnected."
    ),
)
def rdvsp_disconnect_job():
    disconnect_account_op()


class WriteBackConfig(dg.Config):
    request_ids: list[int] = []
    """Deliver only these rdvsp.write_requests (empty: every due request, then the due plan lookups)."""


@dg.op(
    name="deliver_write_requests",
    pool="rdvsp_api",
    description=(
        "Delivers the due rows of the write-back outbox (rdvsp.write_requests) to RDV Service Public, oldest first, "
        "and records each outcome; then looks up again the RDV plans still without an RDV. Fails, naming the "
        "request ids, when a request failed for good."
    ),
)
def deliver_write_requests_op(
    context: dg.OpExecutionContext, config: WriteBackConfig, warehouse: WarehouseResource, rdvsp: RdvspApiResource
) -> None:
    engine, cipher = warehouse.engine(), TokenCipher.from_environment()
    report = WriteBack(
        engine, lambda account_id: rdvsp.client_for(engine, account_id, cipher), emit=context.log.info
    ).run(config.request_ids or None)
    context.add_output_metadata(
        {
            "done": dg.MetadataValue.json(report.done),
            "failed": dg.MetadataValue.json(report.failed),
            "retrying": dg.MetadataValue.json(report.retrying),
            "interrupted": dg.MetadataValue.json(report.interrupted),
            "plans_checked": report.plans_checked,
            "plans_with_rdv": report.plans_with_rdv,
        }
    )
    context.log.info(
        f"write-back: {len(report.done)} done, {len(report.failed)} failed, {len(report.retrying)} to "
        f"retry, {len(report.interrupted)} interrupted earlier; {report.plans_checked} plan(s) looked "
        f"up, {report.plans_with_rdv} with an RDV"
    )
    if report.failed:
        raise dg.Failure(
            description=(
                f"{len(report.failed)} write request(s) failed: rdvsp.write_requests ids {report.failed}. "
                "Their error column says why (docs/runbook.md, 'A write request failed')."
            ),
            metadata={"write_request_ids": dg.MetadataValue.json(report.failed)},
            allow_retries=False,
        )


@dg.job(
    name="rdvsp_write_back",
    tags=TAGS,
    description=(
        "Delivers the write-back outbox (rdvsp.write_requests: attendance statuses, RDV plans) to RDV Service "
        "Public. Started by the rdvsp_write_requests sensor, or by `sync-assets rdvsp set-status` / `plan`."
    ),
)
def rdvsp_write_back_job():
    deliver_write_requests_op()
