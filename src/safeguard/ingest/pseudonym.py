"""Optional pseudonymisation of children's ids in the processed store.

When ``SAFEGUARD_PSEUDONYM_KEY`` is set (the key comes from the environment, never from a
file in the repository), every column holding a child's id is replaced, before anything is
written, by ``PS-`` and the first 16 hex digits of HMAC-SHA256(key, id): the same child keeps
the same pseudonym across extracts, so supersession and the indicators work unchanged, and
``safeguard explain`` shows pseudonyms. The store records a fingerprint of the key (not the
key), and an ingest with a different key, or none, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable

import polars as pl

from safeguard.ingest.validate import ExtractResult, TableResult
from safeguard.schema import ColumnType, Contract

KEY_VARIABLE = "SAFEGUARD_PSEUDONYM_KEY"


def key_from_environment() -> bytes | None:
    value = os.environ.get(KEY_VARIABLE)
    return value.encode("utf-8") if value else None


def fingerprint(key: bytes | None) -> str | None:
    if key is None:
        return None
    return hashlib.sha256(b"safeguard pseudonym key\0" + key).hexdigest()[:16]


def _mapping(values: pl.Series, key: bytes) -> dict[str, str]:
    return {
        value: "PS-" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        for value in values.drop_nulls().unique().to_list()
    }


def _replace(
    frame: pl.DataFrame, columns: list[str], mapping: Callable[[pl.Series], dict[str, str]]
) -> pl.DataFrame:
    """``columns`` of ``frame`` with each value ``mapping`` gives a replacement for replaced
    (the mapping is built from the column's own distinct values)."""
    present = [c for c in columns if c in frame.columns]
    if not present:
        return frame
    return frame.with_columns(pl.col(c).replace(mapping(frame[c])) for c in present)


def pseudonymise(result: ExtractResult, contract: Contract, key: bytes) -> ExtractResult:
    """The same extract with every child id replaced (rows, quarantine and report values)."""
    tables = {}
    ids = result.report.child_ids
    for name, table in result.tables.items():
        columns = [c for c, spec in contract.tables[name].columns.items() if spec.person_id]
        # a quarantined row may hold a child id in any column (a misaligned row): every text
        # column's values equal to a child id are pseudonymised too
        shifted = [
            c
            for c, dtype in table.quarantine.schema.items()
            if dtype == pl.String and c not in columns
        ]
        tables[name] = TableResult(
            table.outcome,
            _replace(table.loaded, columns, lambda values: _mapping(values, key)),
            _replace(
                _replace(table.quarantine, columns, lambda values: _mapping(values, key)),
                shifted,
                lambda values: _mapping(values.filter(values.is_in(ids.implode())), key),
            ),
            table.issues,
        )
    person_columns = sorted(
        {c for t in contract.tables.values() for c, spec in t.columns.items() if spec.person_id}
    )
    issues = result.report.issues
    ids = result.report.child_ids
    # a value in a person-id column, or equal to a child id in any column (an id shifted into
    # a date or code column): pseudonymised in the stored report too
    hidden = pl.col("value").is_not_null() & (
        pl.col("column").is_in(person_columns)
        | (pl.col("value").is_in(ids.implode()) if ids.len() else pl.lit(False))
    )
    mapping = _mapping(issues.filter(hidden)["value"], key)
    result.report.issues = issues.with_columns(
        pl.when(hidden)
        .then(pl.col("value").replace_strict(mapping, default=None, return_dtype=pl.String))
        .otherwise(pl.col("value"))
        .alias("value")
    )
    return ExtractResult(result.report, tables)


_DERIVED = re.compile(r"^([a-z0-9]+(?:-[a-z0-9]+)*)-[0-9a-f]{16}$")


def _derived_mapping(values: pl.Series, key: bytes) -> dict[str, str]:
    mapping = {}
    for value in values.drop_nulls().unique().to_list():
        found = _DERIVED.match(value)
        if found is not None:
            digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
            mapping[value] = f"{found.group(1)}-{digest}"
    return mapping


def pseudonymise_derived_ids(
    result: ExtractResult, contract: Contract, key: bytes
) -> ExtractResult:
    """A statutory return's record ids are made from the child's id and a date (SHA-256,
    unkeyed): with a pseudonym key they are re-made under the key, so they reveal nothing a
    list of child ids could confirm. The prefix (``cin-referral``) is kept, and every column
    linking to such a record is mapped the same way, so links hold."""

    def derived(values: pl.Series) -> dict[str, str]:
        return _derived_mapping(values, key)

    tables = {}
    for name, table in result.tables.items():
        columns = [
            c
            for c, spec in contract.tables[name].columns.items()
            if spec.type is ColumnType.ID and not spec.person_id
        ]
        tables[name] = TableResult(
            table.outcome,
            _replace(table.loaded, columns, derived),
            _replace(table.quarantine, columns, derived),
            table.issues,
        )
    result.report.issues = _replace(result.report.issues, ["value"], derived)
    return ExtractResult(result.report, tables)
