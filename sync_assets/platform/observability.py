"""Structured logs, personal-data redaction and Sentry.

Personal data (names, emails, phones, birth dates, addresses) must never reach a log line,
an exception message, Dagster metadata or Sentry. Code logs ids and counts only; the
redaction here is the safety net for what slips through: values under personal-data keys are
replaced, and emails and phone numbers are masked in any text.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # sentry_sdk is imported lazily, where it is used
    from sentry_sdk.transport import Transport

REDACTED = "[redacted]"

# Keys whose values are personal data wherever they appear (API payloads, log extras, Sentry).
PERSONAL_KEYS = frozenset(
    {
        "first_name",
        "last_name",
        "birth_name",
        "full_name",
        "name",
        "email",
        "notification_email",
        "phone",
        "phone_number",
        "phone_number_formatted",
        "birth_date",
        "bith_date",
        "bith_name",
        "address",
        "address_details",
        "affiliation_number",
        "case_number",
        "notes",
        "patient",
        "patients",
        "user",
        "users",
        "responsible",
    }
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# French numbers (06 12 34 56 78, +33 6 12 34 56 78, 0033…) and other international ones.
_PHONE = re.compile(
    r"(?<![\w])(?:(?:\+|00)\d{1,3}[\s.-]?(?:\(0\))?|0)[1-9](?:[\s.-]?\d{2}){4}(?![\w])"
    r"|(?<![\w])\+\d{1,3}(?:[\s.-]?\d){8,12}(?![\w])"
)
# `"first_name": "Jean"` or `first_name='Jean'` inside text (a serialised payload or repr).
_KEYED_VALUE = re.compile(
    r"""(?P<key>["']?(?:"""
    # input_value: pydantic repeats the offending input in its error messages.
    + "|".join(sorted(PERSONAL_KEYS | {"input_value"}, key=len, reverse=True))
    + r""")["']?\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,;)}\]]+)""",
    re.IGNORECASE,
)


# Database errors quote the offending row or key values.
_DATABASE_DETAIL = re.compile(r"(Failing row contains|DETAIL:|Key \()[^\n]*")


def redact_text(text: str) -> str:
    text = _DATABASE_DETAIL.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _KEYED_VALUE.sub(lambda m: m.group("key") + REDACTED, text)
    text = _EMAIL.sub(REDACTED, text)
    return _PHONE.sub(REDACTED, text)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of `value` with personal data removed (mappings, sequences and text)."""
    if _depth > 32:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED if str(k).lower() in PERSONAL_KEYS and v is not None else redact(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, _depth + 1) for v in value)
    return value


_STANDARD_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactPersonalData(logging.Filter):
    """Rewrites a record so that no handler after it sees personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} (unformattable arguments)"
        record.msg, record.args = redact_text(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key in set(vars(record)) - _STANDARD_RECORD_FIELDS:
            value = getattr(record, key)
            setattr(record, key, REDACTED if key.lower() in PERSONAL_KEYS else redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in set(vars(record)) - _STANDARD_RECORD_FIELDS:
            entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


_configured = False
_redact_filter = RedactPersonalData()


def configure_logging(level: str | None = None, stream: TextIO | None = None) -> None:
    """JSON lines on stderr for the `sync_assets` loggers, with personal data redacted."""
    global _configured
    logger = get_logger("sync_assets")
    logger.setLevel(level or os.environ.get("SYNC_LOG_LEVEL", "INFO"))
    if _configured:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    _configured = True


def get_logger(name: str) -> logging.Logger:
    """A `sync_assets.*` logger whose records are redacted before any handler sees them.

    The filter sits on the logger itself: it runs once `extra` fields are on the record and
    before every handler, ours and others' (Dagster's managed loggers, Sentry's integration).
    Always take loggers from here, not from `logging.getLogger`.
    """
    logger = logging.getLogger(name if name.startswith("sync_assets") else f"sync_assets.{name}")
    if _redact_filter not in logger.filters:
        logger.addFilter(_redact_filter)
    return logger


# --- Sentry -------------------------------------------------------------------------------


def scrub_sentry_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """`before_send`: drop request bodies and query strings, redact everything else."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "query_string", "cookies"):
            request.pop(key, None)
    event.pop("user", None)
    error = (hint or {}).get("exc_info", (None, None, None))[1]
    if error is not None:
        for value in (event.get("exception") or {}).get("values") or []:
            if value.get("type") == type(error).__name__:
                value["value"] = safe_error_message(error)
    sdk = event.pop("sdk", None)  # the SDK's own name and version, needed by Sentry
    scrubbed = redact(event)
    if sdk is not None:
        scrubbed["sdk"] = sdk
    return scrubbed


def scrub_sentry_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return redact(crumb)


def init_sentry(transport: Transport | None = None) -> bool:
    """Initialise Sentry when `SENTRY_DSN` is set; return whether it was."""
    dsn = os.environ.get("SENTRY_DSN")
    if not dsn:
        return False
    import sentry_sdk

    options: dict[str, Any] = {
        "dsn": dsn,
        # Collect nothing about people automatically: no user identity, bodies, query strings,
        # cookies or SQL parameters, and no frame locals (they hold API payloads).
        "data_collection": {
            "user_info": False,
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "cookies": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        "before_send": scrub_sentry_event,
        "before_breadcrumb": scrub_sentry_breadcrumb,
        "environment": os.environ.get("SENTRY_ENVIRONMENT", "production"),
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    return True


def report_failure(logger: logging.Logger, error: BaseException, message: str, **ids: Any) -> None:
    """Surface a failure as a structured error log line and a Sentry event (when enabled).

    `ids` are identifiers and counts only (account id, organisation ids, run id). The caller
    persists the status (sync log, inbox row, drift event): the third way a failure shows.
    """
    logger.error(message, extra={"error_type": type(error).__name__, "error": safe_error_message(error), **ids})
    import sentry_sdk

    if sentry_sdk.get_client().is_active():
        with sentry_sdk.new_scope() as scope:
            for key, value in ids.items():
                scope.set_tag(key, str(value))
            sentry_sdk.capture_exception(error)


def safe_error_message(error: BaseException) -> str:
    """An error's text for persisted statuses (sync logs, inbox rows): no personal data.

    Our own errors are written that way. A database error's DETAIL can quote a failing row, so
    only its primary message is kept; anything else is redacted.
    """
    from sync_assets.platform.errors import SyncError

    if isinstance(error, SyncError):
        return str(error)
    try:
        import psycopg

        if isinstance(error, psycopg.Error):
            return f"{type(error).__name__}: {error.diag.message_primary or 'database error'}"
    except ImportError:  # pragma: no cover
        pass
    return f"{type(error).__name__}: {redact_text(str(error))[:500]}"
