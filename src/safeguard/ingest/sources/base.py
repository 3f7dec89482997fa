"""What every statutory-return reader (CIN census XML, SSDA903 CSV tables, Annex A workbook)
returns, and the declared mapping each one follows.

A reader turns one return into ``Converted``: all-text polars frames named and shaped like
the monthly extract contract's tables (``pipelines/extracts.yaml``), each row carrying the
line (XML, CSV) or row (Excel) it came from, plus the return's own problems. The same
validation, quarantine and store as a monthly extract then apply unchanged.

The mapping from the return's fields to the contract's columns is data, declared in
``pipelines/sources/<format>.yaml`` and loaded into ``SourceMapping`` (unknown keys
rejected), so it is documented field by field where it is decided.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from pydantic import Field

from safeguard.defaults import ConfigFolder
from safeguard.models import StrictModel
from safeguard.periods import Month
from safeguard.schema import Contract, load_model

LINE = "_line"  # the source line (XML, CSV) or worksheet row (Excel) of each row


class FieldMap(StrictModel):
    """How one contract column is filled from the return."""

    # the return's field (XML element, 903 column, Annex A heading); a list gives the
    # accepted spellings (Annex A headings vary), the first being the official one
    source: str | list[str] | None = None
    constant: str | None = None  # a fixed value instead of a field (e.g. an assessment type)
    # the return's code -> the contract's code, where they differ
    values: dict[str, str] = Field(default_factory=dict)
    note: str = ""  # what the field holds and why it maps so: the field-by-field documentation
    # False: the return does not record this field and the constant only satisfies the
    # contract (e.g. NOT_RECORDED); the column then counts as not held, so an indicator that
    # reads it is "not available" for the months only this return covers, never a false 0
    held: bool = True


class IdRecipe(StrictModel):
    """A deterministic id for records the return gives no id of their own."""

    prefix: str  # e.g. "cin-referral": says where the record came from
    parts: list[str]  # contract columns (after mapping) that identify the record


class TableMap(StrictModel):
    source: str  # where the rows come from: an element path, a 903 table, an Annex A list
    note: str = ""
    id: IdRecipe | None = None  # None: the return has an id of its own (e.g. the child's)
    # contract columns naming the same record in a monthly extract (child and start date):
    # a monthly extract holding it supersedes the return's row instead of duplicating it
    natural_key: list[str] = Field(default_factory=list)
    columns: dict[str, FieldMap]


class SourceMapping(StrictModel):
    format: str  # "cin-xml", "ssda903" or "annex-a"
    description: str
    tables: dict[str, TableMap]  # contract table name -> how it is filled
    # True: a date whose contract column names a rule for "before-return-year" must fall in
    # the return's year (the CIN census: DfE rules 8620, 8696, 8715, 8930); False: rows may
    # carry earlier dates (Annex A lists plans started before their window)
    year_bounded: bool = False
    # parts of the return with no table in the store: counted and reported, never dropped
    # silently (e.g. 903 missing episodes, Annex A list 2 early help)
    not_loaded: dict[str, str] = Field(default_factory=dict)


def load_mapping(pipelines: ConfigFolder, format_name: str) -> SourceMapping:
    return load_model(pipelines / f"sources/{format_name}.yaml", SourceMapping)


@dataclass
class SourceTable:
    """One contract table's rows taken from a return."""

    file: str  # the file (and sheet) the rows came from, as the report names it
    frame: pl.DataFrame  # pl.String columns named as the contract's, plus LINE (UInt32)
    columns: dict[str, str] = field(default_factory=dict)  # contract column -> source field


@dataclass
class Converted:
    """One return (one collection year) read and mapped, not yet validated."""

    format: str
    label: str  # the return's name in the store and reports, e.g. "cin-2022" or "ssda903-2020"
    period: Month  # the month the return closes: the last month its events can fall in
    first: Month  # the first month the return covers completely (its collection year's start)
    tables: dict[str, SourceTable]
    problems: list[dict[str, Any]]  # from safeguard.ingest.report.file_issue(...)
    checksums: dict[str, str]  # source file name -> sha256 of its bytes
    not_loaded: dict[str, int] = field(default_factory=dict)  # part of the return -> rows


def record_ids(frame: pl.DataFrame, recipe: IdRecipe) -> pl.Series:
    """``prefix-`` and 16 hex digits of SHA-256 over the recipe's parts: the same record read
    twice gets the same id, so re-loading a return is idempotent. Hashed (not the child id
    written out) so an id shown by ``explain`` does not carry the child's id.

    SHA-256 rather than polars' hash, which is not stable across polars versions. The loop
    is over distinct keys of an annual return, not the monthly hot path.
    """
    keys = frame.select(
        pl.concat_str(
            [pl.col(part).fill_null("") for part in recipe.parts], separator="\x1f"
        ).alias("key")
    )["key"]
    mapping = {
        key: f"{recipe.prefix}-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        for key in keys.unique().to_list()
    }
    return keys.replace_strict(mapping, return_dtype=pl.String)


def mapping_problems(mapping: SourceMapping, contract: Contract) -> list[str]:
    """What in a return's mapping does not fit the contract: tables and columns it does not
    declare, id recipes naming columns not filled, a natural key other than the contract's."""
    problems = []
    for name, table_map in mapping.tables.items():
        table = contract.tables.get(name)
        if table is None:
            problems.append(f"{mapping.format}: {name} is not a table of the contract")
            continue
        unknown = sorted(set(table_map.columns) - set(table.columns))
        if unknown:
            problems.append(f"{mapping.format}: {name} has no column {', '.join(unknown)}")
        if table_map.id is not None:
            missing = sorted(set(table_map.id.parts) - set(table_map.columns))
            if missing:
                problems.append(
                    f"{mapping.format}: {name}'s id is made from {', '.join(missing)}, "
                    "which the mapping does not fill"
                )
        # the contract's natural key, or the table's own id where the return has it (a child)
        if table_map.natural_key and tuple(table_map.natural_key) not in (
            table.natural_key,
            (table.id,),
        ):
            problems.append(
                f"{mapping.format}: {name}'s natural key {table_map.natural_key} is not the "
                f"contract's {list(table.natural_key)}"
            )
    return problems
