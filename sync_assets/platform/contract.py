"""Schema contracts: validate API payloads with pydantic and classify what does not fit.

- additive drift: a field the contract does not know. The row is kept; the field path is
  recorded so that someone can decide to add it.
- breaking drift: a field missing, retyped, or holding an enum value we do not know. The row
  is not stored (it would be stored wrong); it is counted and its field paths recorded, and
  the blocking asset checks fail the run.

Only field paths, error types, counts and record ids are ever recorded, never values:
pydantic's own messages repeat the input, so they are not used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from sync_assets.platform.errors import ContractBreach
from sync_assets.platform.merge import AnyConnection, driver_connection
from sync_assets.platform.sql_files import package_sql

MAX_SAMPLE_IDS = 5


class ContractModel(BaseModel):
    """Base of every payload model: unknown fields are ignored here and reported by
    `validate_batch` (from the payload), never refused."""

    model_config = ConfigDict(extra="ignore")


NUL = "\u0000"


def load_json(raw: bytes) -> Any:
    """A JSON body, ready for PostgreSQL. ValueError when it is not JSON, or nested too deeply
    for the parser (RecursionError would otherwise escape as a server error).

    PostgreSQL's text and jsonb cannot hold the NUL character: one in a free-text field would
    fail the whole page (or delivery) for ever, so NULs in keys and values become U+FFFD.
    """
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply to be read") from None
    if b"\\u0000" in raw:  # JSON can only carry a NUL escaped
        data = _without_nul(data)
    return data


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def json_depth(value: Any) -> int:
    """How deeply objects and lists nest in a parsed JSON value (a scalar: 0), level by level
    rather than by recursion, since the value may come from anyone."""
    depth, level = 0, [value]
    while True:
        containers = [node for node in level if isinstance(node, (dict, list))]
        if not containers:
            return depth
        depth += 1
        level = [child for node in containers for child in (node.values() if isinstance(node, dict) else node)]


M = TypeVar("M", bound=BaseModel)
DriftKind = Literal["additive", "breaking"]


@dataclass
class FieldDrift:
    kind: DriftKind
    field_path: str
    error_type: str
    row_count: int = 0
    sample_record_ids: list[str] = field(default_factory=list)


@dataclass
class ContractResult(Generic[M]):
    entity: str
    valid: list[M] = field(default_factory=list)
    valid_payloads: list[Any] = field(default_factory=list)  # filled only when asked, aligned with `valid`
    rejected: int = 0
    drift: dict[tuple[DriftKind, str, str], FieldDrift] = field(default_factory=dict)

    @property
    def breaking(self) -> list[FieldDrift]:
        return [d for d in self.drift.values() if d.kind == "breaking"]

    @property
    def additive(self) -> list[FieldDrift]:
        return [d for d in self.drift.values() if d.kind == "additive"]

    def note(self, kind: DriftKind, path: str, error_type: str, record_id: Any, rows: int = 1) -> None:
        entry = self.drift.setdefault((kind, path, error_type), FieldDrift(kind, path, error_type))
        entry.row_count += rows
        for sample in [] if record_id is None else record_id if isinstance(record_id, list) else [record_id]:
            if str(sample) not in entry.sample_record_ids and len(entry.sample_record_ids) < MAX_SAMPLE_IDS:
                entry.sample_record_ids.append(str(sample))

    def merge(self, other: ContractResult[M], keep_valid: bool = True) -> None:
        """Fold another batch's result (of the same entity) into this one.

        keep_valid=False folds only the counts and drift, so that a long listing's running
        total does not hold every record in memory.
        """
        if keep_valid:
            self.valid.extend(other.valid)
            self.valid_payloads.extend(other.valid_payloads)
        self.rejected += other.rejected
        for d in other.drift.values():
            self.note(d.kind, d.field_path, d.error_type, d.sample_record_ids, rows=d.row_count)

    def keep_tenant(
        self, tenant_of: Callable[[M], Any], allowed: Collection[object], path: str, error_type: str
    ) -> None:
        """Reject the valid rows of another tenant (organisation, practice) than the run's: they are
        never stored, and count as breaking drift on `path`, so the run fails loudly."""
        kept = [n for n, row in enumerate(self.valid) if tenant_of(row) in allowed]
        if len(kept) == len(self.valid):
            return
        for n in sorted(set(range(len(self.valid))) - set(kept)):
            self.rejected += 1
            self.note("breaking", path, error_type, getattr(self.valid[n], "id", None))
        if self.valid_payloads:
            self.valid_payloads = [self.valid_payloads[n] for n in kept]
        self.valid = [self.valid[n] for n in kept]

    def summary(self) -> str:
        """Counts and paths, for messages and metadata (no values)."""
        parts = [f"{d.field_path} ({d.error_type}, {d.row_count} rows)" for d in self.breaking + self.additive]
        return f"{self.entity}: {self.rejected} rows rejected; " + ("; ".join(parts) or "no drift")

    def raise_if_breaking(self, connector: str) -> None:
        if self.breaking:
            paths = ", ".join(f"{d.field_path} ({d.error_type}, {d.row_count} rows)" for d in self.breaking)
            raise ContractBreach(
                f"{connector} {self.entity}: {self.rejected} record(s) broke the schema contract: {paths}. "
                "The API changed: see sync.drift_events, then update the contract in the connector's models."
            )


def validate_batch(
    model: type[M], payloads: Iterable[Any], *, entity: str, id_field: str = "id", keep_payloads: bool = False
) -> ContractResult[M]:
    """Validate payloads against `model`; keep the valid ones and classify the drift.

    keep_payloads: also keep each valid payload as received (for tables storing it raw).
    """
    result: ContractResult[M] = ContractResult(entity)
    for payload in payloads:
        record_id = payload.get(id_field) if isinstance(payload, dict) else None
        try:
            instance = model.model_validate(payload)
        except ValidationError as error:
            result.rejected += 1
            for problem in error.errors(include_url=False, include_context=False, include_input=False):
                result.note("breaking", field_path(problem["loc"]), problem["type"], record_id)
        else:
            result.valid.append(instance)
            if keep_payloads:
                result.valid_payloads.append(payload)
        for path in unknown_fields_of_payload(model, payload):
            result.note("additive", path, "unknown_field", record_id)
    return result


def field_path(loc: tuple[int | str, ...]) -> str:
    """('participations', 3, 'status') -> 'participations[].status'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += "[]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(root)"


def unknown_fields_of_payload(model: type[BaseModel], payload: Any, prefix: str = "") -> list[str]:
    """Paths of the keys of `payload` (and of its nested objects) that `model` does not declare.

    Reads the payload, not the validated model. A payload whose keys are all known costs one
    subset test; the others are answered from a cache per set of keys.
    """
    if not isinstance(payload, dict):
        return []
    fields, nested = _field_tree(model)
    keys = payload.keys()
    if keys <= fields:  # the common case, answered in C without building a set
        paths = []
    else:
        unknown = _unknown_keys.get((model, frozenset(keys)))
        if unknown is None:
            unknown = _unknown_keys[(model, frozenset(keys))] = tuple(sorted(keys - fields))
        paths = [f"{prefix}{key}" for key in unknown]
    for name, (child, is_list) in nested.items():
        value = payload.get(name)
        if value is None:
            continue
        if is_list:
            if isinstance(value, list):
                found: list[str] = []
                for item in value:
                    for path in unknown_fields_of_payload(child, item, f"{prefix}{name}[]."):
                        if path not in found:
                            found.append(path)
                paths.extend(found)
        else:
            paths.extend(unknown_fields_of_payload(child, value, f"{prefix}{name}."))
    return paths


_unknown_keys: dict[tuple[type, frozenset], tuple[str, ...]] = {}
_field_trees: dict[type, tuple[frozenset[str], dict[str, tuple[type[BaseModel], bool]]]] = {}


def _field_tree(model: type[BaseModel]) -> tuple[frozenset[str], dict[str, tuple[type[BaseModel], bool]]]:
    """The keys a model accepts, and which of its fields hold (lists of) models."""
    tree = _field_trees.get(model)
    if tree is None:
        keys: set[str] = set()
        nested: dict[str, tuple[type[BaseModel], bool]] = {}
        for name, info in model.model_fields.items():
            key = info.alias or name
            keys.add(key)
            child = _model_in(info.annotation)
            if child is not None:
                nested[key] = child
        tree = _field_trees[model] = (frozenset(keys), nested)
    return tree


def _model_in(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """`Model`, `Model | None`, `list[Model]` -> (Model, is_list); anything else -> None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple) and args:
        found = _model_in(args[0])
        return (found[0], True) if found and not found[1] else None
    for arg in args:  # unions, Optional
        if arg is not type(None):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def record_drift(conn: AnyConnection, connector: str, result: ContractResult, run_id: str | None = None) -> int:
    """Write the drift of `result` to `sync.drift_events` in one statement; return rows written."""
    entries = list(result.drift.values())
    if not entries:
        return 0
    driver_connection(conn).execute(
        package_sql(__file__, "record_drift_events"),
        {
            "connector": connector,
            "entity": result.entity,
            "run_id": run_id,
            "kinds": [d.kind for d in entries],
            "paths": [d.field_path for d in entries],
            "error_types": [d.error_type for d in entries],
            "counts": [d.row_count for d in entries],
            # text[][] must be rectangular: pass each sample list as one comma-joined string.
            "samples": [",".join(d.sample_record_ids) for d in entries],
        },
    )
    return len(entries)


def settle_contracts(
    conn: AnyConnection,
    connector: str,
    results: Iterable[ContractResult],
    *,
    run_id: str | None = None,
    emit: Callable[[str], None] | None = None,
) -> None:
    """Record every result's drift, then raise on breaking drift.

    Called before any merge, so that a breaking change applies nothing. `conn` should sit
    outside the run's transaction, so that the drift stays recorded when the run fails.
    """
    results = list(results)
    for result in results:
        record_drift(conn, connector, result, run_id=run_id)
        if emit is not None:
            for drift in result.additive:
                emit(f"additive drift in {result.entity}: unknown field {drift.field_path} ({drift.row_count} records)")
    for result in results:
        result.raise_if_breaking(connector)
