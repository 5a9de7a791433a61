"""Errors for expected conditions.

Their messages say what was wrong and what to do, carry ids and counts only (never personal
data), and are printed by the command line without a traceback.
"""


class SyncError(Exception):
    """An expected failure with a message meant for the operator."""


class ConfigurationError(SyncError):
    """Missing or invalid configuration (environment variables, files)."""


class MigrationError(SyncError):
    """A migration could not be applied; the database is left as it was before that file."""


class ApiError(SyncError):
    """An API call failed for good (after retries, or with a status that is never retried)."""

    def __init__(
        self,
        connector: str,
        method: str,
        endpoint: str,
        reason: str,
        status: int | None = None,
        attempts: int = 1,
        outcome_unknown: bool = False,
    ):
        self.connector = connector
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.attempts = attempts
        # The request reached the server, which may have acted on it (a timeout while reading the
        # answer, a dropped connection, a 5xx): a write may have been applied.
        self.outcome_unknown = outcome_unknown
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        # The endpoint is the path without its query string: query values can hold personal data.
        super().__init__(f"{connector} {method} {endpoint} failed{tries}: {reason}")


class ContractBreach(SyncError):
    """Payloads broke their schema contract (missing or retyped fields)."""
