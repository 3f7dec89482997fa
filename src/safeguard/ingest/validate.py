"""Validate an extract folder: every check of the contract, vectorised in polars.

Each table is read as text, then one lazy plan per table parses every column and evaluates every
single-table check as a boolean column; the plans are collected together. Checks that look across
tables (references, date order through a link) run as a second plan on the collected frames. Rows
failing any error-severity check are quarantined; the rest load, typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from safeguard.ingest.csvfile import LINE, FileProblem, RawCsv, read_csv_file
from safeguard.ingest.report import (
    ISSUE_SCHEMA,
    TableOutcome,
    ValidationReport,
    empty_issues,
    file_issue,
    issues_frame,
)
from safeguard.periods import Month
from safeguard.schema import Column, ColumnCheck, ColumnType, Contract, Severity, Table

PARSED = "__p"  # suffix of a parsed column while validating
RULES = "_rules"  # quarantine: the rule codes a row failed

DATE_FORM = r"^(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4})$"
# hours 00-23, minutes and seconds 00-59: a leap second "60" would be rolled into the next minute
DATETIME_FORM = (
    r"^(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4})(?:[ T](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)?$"
)
FLAG_VALUES = {
    "y": True,
    "yes": True,
    "true": True,
    "1": True,
    "n": False,
    "no": False,
    "false": False,
    "0": False,
}
ANNEX_A_PREFIX = r"^[A-Za-z]{1,2}\)\s*"

DTYPES: dict[ColumnType, pl.DataType] = {
    ColumnType.ID: pl.String(),
    ColumnType.TEXT: pl.String(),
    ColumnType.DATE: pl.Date(),
    ColumnType.DATETIME: pl.Datetime("us"),
    ColumnType.FLAG: pl.Boolean(),
    ColumnType.CODE: pl.String(),
    ColumnType.INTEGER: pl.Int64(),
    ColumnType.NUMBER: pl.Float64(),
}

TYPE_MESSAGES: dict[ColumnType, tuple[ColumnCheck, str]] = {
    ColumnType.DATE: ("invalid-date", "not a date: write YYYY-MM-DD or DD/MM/YYYY"),
    ColumnType.DATETIME: (
        "invalid-datetime",
        "not a date-time: write YYYY-MM-DD or DD/MM/YYYY, optionally followed by ' HH:MM' "
        "or 'THH:MM:SS'",
    ),
    ColumnType.FLAG: ("invalid-flag", "not a flag: write Y or N (Yes/No, true/false, 1/0)"),
    ColumnType.INTEGER: ("invalid-number", "not a whole number"),
    ColumnType.NUMBER: ("invalid-number", "not a number"),
}


@dataclass(frozen=True)
class Check:
    """One boolean column of the validation plan and how to report its true rows."""

    flag: str
    column: str  # the column reported (its text value is the issue's value)
    rule: str
    severity: Severity
    message: pl.Expr


@dataclass
class TableResult:
    """A validated table: its typed good rows, its quarantined rows and what was found."""

    outcome: TableOutcome
    loaded: pl.DataFrame
    quarantine: pl.DataFrame
    issues: pl.DataFrame


@dataclass
class ExtractResult:
    report: ValidationReport
    tables: dict[str, TableResult] = field(default_factory=dict)


# (a contract table, a one-column frame of distinct ids the extract does not hold) -> those of
# them the processed store does not hold either; None when the store holds no such table
NotHeld = Callable[[str, pl.LazyFrame], pl.LazyFrame | None]

# rule codes of a header-only file (README's rule table): an empty table loads with a warning,
# a stronger one when the store's previous extract held at least VANISHED_ROWS rows of it; a
# header-only person.csv is refused (header-only, the reader's own code)
NO_ROWS = "no-rows"
ROWS_VANISHED = "rows-vanished"
HEADER_ONLY = "header-only"
# consecutive monthly extracts share 23 of their 24 months, so a table that held this many rows
# last month would, at an even rate, still hold nearly all of them: none at all is a failed
# query, not a quiet month (a small authority's two complaints can all fall out of the window)
VANISHED_ROWS = 10


@dataclass(frozen=True)
class StoreHeld:
    """What the processed store already holds, for the checks that consult it. Built from the
    store by ``safeguard.ingest.held`` (validation never opens the store itself)."""

    label: str  # what the report says was consulted ("data/processed, holding 2 other extracts")
    not_held: NotHeld
    # table -> (the newest earlier monthly extract holding it, the rows its file had)
    previous: dict[str, tuple[str, int]] = field(default_factory=dict)
    # references the store cannot answer (its child ids are pseudonymised under another key)
    not_checked: list[str] = field(default_factory=list)
    # a table's records as the store holds them, typed (lazily); None when it holds none
    records: Callable[[str], pl.LazyFrame | None] = lambda table: None


# --- parsing expressions -------------------------------------------------------------------


def _text(name: str) -> pl.Expr:
    """The trimmed text of a column, blank as null."""
    trimmed = pl.col(name).str.strip_chars()
    return pl.when(trimmed == "").then(None).otherwise(trimmed).alias(name)


def _parsed(name: str, column: Column, lookup: dict[str, str] | None) -> pl.Expr:
    raw = pl.col(name)
    kind = column.type
    if kind in (ColumnType.ID, ColumnType.TEXT):
        parsed = raw
    elif kind is ColumnType.DATE:
        parsed = pl.when(raw.str.contains(DATE_FORM)).then(
            _iso_date(raw).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        )
    elif kind is ColumnType.DATETIME:
        # the form is checked by one regex; the parse itself uses cheap slices, no regex
        clock = raw.str.slice(11)
        clock = (
            pl.when(clock.str.len_bytes() == 0)
            .then(pl.lit("00:00:00"))
            .when(clock.str.len_bytes() == 5)
            .then(clock + ":00")
            .otherwise(clock)
        )
        parsed = pl.when(raw.str.contains(DATETIME_FORM)).then(
            (_iso_date(raw.str.slice(0, 10)) + " " + clock).str.strptime(
                pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False
            )
        )
    elif kind is ColumnType.FLAG:
        parsed = raw.str.to_lowercase().replace_strict(
            FLAG_VALUES, default=None, return_dtype=pl.Boolean
        )
    elif kind is ColumnType.CODE:
        assert lookup is not None
        parsed = raw.replace_strict(lookup, default=None, return_dtype=pl.String)
    elif kind is ColumnType.INTEGER:
        parsed = pl.when(raw.str.contains(r"^[+-]?\d+$")).then(raw.cast(pl.Int64, strict=False))
    else:  # NUMBER
        parsed = pl.when(raw.str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)$")).then(
            raw.cast(pl.Float64, strict=False)
        )
    return parsed.cast(DTYPES[kind]).alias(name + PARSED)


def _iso_date(text: pl.Expr) -> pl.Expr:
    """``DD/MM/YYYY`` rearranged to ``YYYY-MM-DD``; anything else unchanged (slices, no regex)."""
    uk = pl.concat_str(
        text.str.slice(6, 4), pl.lit("-"), text.str.slice(3, 2), pl.lit("-"), text.str.slice(0, 2)
    )
    return pl.when(text.str.slice(2, 1) == "/").then(uk).otherwise(text)


def normalise_code(value: str) -> str:
    """An Annex A style value reduced to what the code list is looked up by."""
    value = re.sub(ANNEX_A_PREFIX, "", value.strip())
    return re.sub(r"\s+", " ", value.strip()).upper()


def code_lookup(values: list[str], table: dict[str, str]) -> dict[str, str]:
    """Map each distinct raw value to its canonical code, where it has one.

    A value is found as written (``M``), after removing an Annex A letter prefix and case
    (``a) Male``), or by its leading code before a colon or dash (``u) 10: Unknown``).
    """
    found = {}
    for value in values:
        key = normalise_code(value)
        code = table.get(key)
        if code is None:
            leading = re.match(r"^([A-Z0-9_]+)\s*[:\-]", key)
            code = table.get(leading.group(1)) if leading else None
        if code is not None:
            found[value] = code
    return found


def _as_date(name: str, column: Column) -> pl.Expr:
    parsed = pl.col(name + PARSED)
    return parsed.dt.date() if column.type is ColumnType.DATETIME else parsed


def _describe_codes(codes: dict[str, tuple[str, ...]]) -> str:
    names = list(codes)
    shown = ", ".join(names[:12])
    return shown + (f" … ({len(names)} codes)" if len(names) > 12 else "")


# --- the checks of one table ---------------------------------------------------------------


def _column_checks(
    table: Table,
    name: str,
    column: Column,
    contract: Contract,
    month_end: date,
    has_duplicates: bool,
    year_start: date | None = None,
) -> list[tuple[pl.Expr, Check]]:
    raw = pl.col(name)
    parsed = pl.col(name + PARSED)
    found: list[tuple[pl.Expr, Check]] = []

    def add(check: ColumnCheck, condition: pl.Expr, message: str) -> None:
        found.append(
            (condition, Check("", name, column.rule(check), Severity.ERROR, pl.lit(message)))
        )

    if column.required:
        add("required-value", raw.is_null(), f"{name} is blank; every row needs one")
    if column.type in TYPE_MESSAGES:
        check, message = TYPE_MESSAGES[column.type]
        add(check, raw.is_not_null() & parsed.is_null(), message)
    if column.type is ColumnType.CODE:
        assert column.codes is not None
        codes = contract.codes[column.codes].codes
        add(
            "invalid-code",
            raw.is_not_null() & parsed.is_null(),
            f"not a {column.codes.replace('_', ' ')} code: expected {_describe_codes(codes)}",
        )
    if column.minimum is not None or column.maximum is not None:
        low = column.minimum if column.minimum is not None else float("-inf")
        high = column.maximum if column.maximum is not None else float("inf")
        bounds = (
            f"between {column.minimum:g} and {column.maximum:g}"
            if column.minimum is not None and column.maximum is not None
            else f"at least {low:g}"
            if column.minimum is not None
            else f"at most {high:g}"
        )
        add(
            "out-of-range",
            parsed.is_not_null() & ~parsed.is_between(low, high),
            f"must be {bounds}",
        )
    if column.type in (ColumnType.DATE, ColumnType.DATETIME) and not column.future_ok:
        add(
            "after-extract-month",
            _as_date(name, column) > month_end,
            f"dated after the end of the extract's month ({month_end.isoformat()})",
        )
    bounded = column.type in (ColumnType.DATE, ColumnType.DATETIME)
    if year_start is not None and bounded and "before-return-year" in column.rules:
        # a return bounded by its year (the CIN census): DfE's census-year rules. A warning,
        # not a quarantine: the row's other fields stand (a referral whose closure date is out
        # of the year is still a referral), and the return was DfE's to accept
        message = (
            f"dated before the census year ({year_start.isoformat()} to "
            f"{month_end.isoformat()}): DfE's census-year rule"
        )
        rule = column.rule("before-return-year")
        found.append(
            (
                _as_date(name, column) < year_start,
                Check("", name, rule, Severity.WARNING, pl.lit(message)),
            )
        )
    if name == table.id and has_duplicates:
        add(
            "duplicate-id",
            raw.is_not_null() & raw.is_duplicated(),
            f"the same {name} is on more than one row; every copy is quarantined",
        )
    return found


def _together_checks(table: Table, present: set[str]) -> list[tuple[pl.Expr, Check]]:
    """Columns given together or not at all; a rule whose columns were not all extracted is
    not judged (a missing column is not a blank value)."""
    found: list[tuple[pl.Expr, Check]] = []
    for rule in table.together:
        if not set(rule.columns) <= present:
            continue
        given = [pl.col(c).is_not_null() for c in rule.columns]
        wrong = pl.any_horizontal(given) & ~pl.all_horizontal(given)
        message = pl.concat_str(
            pl.lit(f"{rule.meaning}: "),
            pl.concat_str(
                [pl.when(pl.col(c).is_null()).then(pl.lit(c)) for c in rule.columns],
                separator=", ",
                ignore_nulls=True,
            ),
            pl.lit(" blank while "),
            pl.concat_str(
                [pl.when(pl.col(c).is_not_null()).then(pl.lit(c)) for c in rule.columns],
                separator=", ",
                ignore_nulls=True,
            ),
            pl.lit(" given"),
        )
        found.append((wrong, Check("", rule.columns[0], rule.rule, rule.severity, message)))
    return found


def _order_checks(table: Table, present: set[str]) -> list[tuple[pl.Expr, Check]]:
    found: list[tuple[pl.Expr, Check]] = []
    for order in table.date_order:
        if order.earlier not in present or order.later not in present:
            continue
        early, late = table.columns[order.earlier], table.columns[order.later]
        first, second = _as_date(order.earlier, early), _as_date(order.later, late)
        wrong = second <= first if order.strictly_after else second < first
        if early.type is ColumnType.DATETIME and late.type is ColumnType.DATETIME:
            # compare the times only when both values have one: a date alone says nothing
            # about the time of day, so 10:00 and a same-day date are not out of order
            timed = (pl.col(order.earlier).str.len_bytes() > 10) & (
                pl.col(order.later).str.len_bytes() > 10
            )
            first_t, second_t = pl.col(order.earlier + PARSED), pl.col(order.later + PARSED)
            wrong = (
                pl.when(timed)
                .then(second_t <= first_t if order.strictly_after else second_t < first_t)
                .otherwise(wrong)
            )
        message = pl.concat_str(
            pl.lit(f"{order.meaning}: {order.later} is "),
            pl.lit("not after " if order.strictly_after else "before "),
            pl.lit(f"{order.earlier} "),
            pl.col(order.earlier),
        )
        found.append(
            (wrong.fill_null(False), Check("", order.later, order.rule, order.severity, message))
        )
    return found


def _map_header(
    table_name: str, table: Table, raw: RawCsv
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Match header names to columns (case-insensitive, Annex A aliases); report problems."""

    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", text.strip().lstrip("\ufeff")).lower()

    names: dict[str, str] = {}
    for cname, column in table.columns.items():
        names[norm(cname)] = cname
        for alias in column.aliases:
            names.setdefault(norm(alias), cname)
    positions: dict[str, int] = {}
    problems: list[dict[str, Any]] = []
    if raw.header and not any(norm(heading) in names for heading in raw.header):
        # not one heading is a column of the table: the first line is most likely a record
        # (the header row left out), so its fields, a child's id among them, are not echoed
        return positions, [
            file_issue(
                table.file,
                "missing-header",
                f"the first line is not a header row: none of its {len(raw.header)} fields is "
                f"a column of {table_name} (expected headings such as "
                f"{', '.join(list(table.columns)[:3])}); was the header row left out of the "
                "export? Its fields are not shown, as they may be a child's record",
                line=1,
            )
        ]
    for index, heading in enumerate(raw.header):
        known = names.get(norm(heading))
        if known is None:
            shown = heading.strip() or f"(blank heading, column {index + 1})"
            problems.append(
                file_issue(
                    table.file,
                    "unknown-column",
                    "column not in the extract contract: it is not loaded",
                    line=1,
                    column=shown,
                    severity=Severity.WARNING,
                )
            )
        elif known in positions:
            first = raw.header[positions[known]].strip()
            problems.append(
                file_issue(
                    table.file,
                    "duplicate-column",
                    f"two columns mean {known}: {first!r} (column {positions[known] + 1}) "
                    f"and {heading.strip()!r} (column {index + 1})",
                    line=1,
                    column=known,
                )
            )
        else:
            positions[known] = index
    for cname, column in table.columns.items():
        if column.required and cname not in positions:
            problems.append(
                file_issue(
                    table.file,
                    "missing-column",
                    f"required column {cname} is missing "
                    f"(headings found: {', '.join(h.strip() for h in raw.header)})",
                    line=1,
                    column=cname,
                )
            )
    return positions, problems


@dataclass
class _Planned:
    name: str
    file: str  # the file's name as it is on disk
    table: Table
    raw: RawCsv
    present: list[str]
    checks: list[Check]
    where: str = ""  # a return's part the rows came from ("element <CINdetails>"), or ""


def _probe(table: Table, raw: RawCsv, positions: dict[str, int]) -> pl.LazyFrame:
    """What the plan needs to know first: each code column's distinct values (mapped in Python
    once, then replaced vectorised) and whether the id column repeats at all (the duplicate
    check runs only when it does)."""
    present = [c for c in table.columns if c in positions]
    probes = [
        _text(str(positions[c])).unique().implode().alias(c)
        for c in present
        if table.columns[c].codes is not None
    ]
    ident = _text(str(positions[table.id])).drop_nulls()
    return raw.frame.lazy().select(
        *probes, (ident.n_unique() < ident.len()).alias("__has_duplicates")
    )


def _plan(
    name: str,
    file: str,
    table: Table,
    raw: RawCsv,
    positions: dict[str, int],
    contract: Contract,
    month: Month,
    probed: pl.DataFrame,
    year_start: date | None = None,
) -> tuple[pl.LazyFrame, _Planned]:
    present = [c for c in table.columns if c in positions]
    lookups = {
        c: code_lookup(
            probed[c][0].drop_nulls().to_list(),
            contract.codes[table.columns[c].codes or ""].lookup(),
        )
        for c in present
        if table.columns[c].codes is not None
    }
    has_duplicates = bool(probed["__has_duplicates"][0])
    lf = raw.frame.lazy().select(
        pl.col(LINE), *[_text(str(positions[c])).alias(c) for c in present]
    )
    lf = lf.with_columns([_parsed(c, table.columns[c], lookups.get(c)) for c in present])
    pairs: list[tuple[pl.Expr, Check]] = []
    for c in present:
        pairs += _column_checks(
            table, c, table.columns[c], contract, month.last_day, has_duplicates, year_start
        )
    pairs += _order_checks(table, set(present))
    pairs += _together_checks(table, set(present))
    checks = [replace(check, flag=f"__f{i}") for i, (_, check) in enumerate(pairs)]
    lf = lf.with_columns(
        # a check on a blank value is false, never null: a null would drop the row from both
        # the loaded and the quarantined frames
        [
            expr.fill_null(False).alias(check.flag)
            for (expr, _), check in zip(pairs, checks, strict=True)
        ]
    )
    return lf, _Planned(name, file, table, raw, present, checks)


def _cross_checks(
    planned: _Planned,
    frames: dict[str, pl.DataFrame],
    contract: Contract,
    not_run: list[str],
    id_sets: dict[str, pl.Series],
    store: StoreHeld | None = None,
    found_in_store: dict[str, int] | None = None,
) -> tuple[pl.LazyFrame, list[Check]]:
    """Checks that need another table of the same extract, when that table is present.

    A check that cannot run because its other table is absent (or refused) is named in
    ``not_run``, so the report says so rather than looking like a pass. ``id_sets`` holds the
    ids of each referenced table, shared across the extract's tables.

    With ``store``, a reference the extract does not hold is looked up in the processed store
    too (a windowed extract leaves out an old referral whose assessment it still holds): only
    a reference neither holds fails, and the rows whose reference only the store holds are
    counted in ``found_in_store``.
    """
    table = planned.table
    frame = frames[planned.name]
    # the checks run on the few columns they read, not the whole parsed frame, and their flag
    # columns are then set beside it (joins keep the left order, so rows stay aligned)
    needed = [c for c in planned.present if table.columns[c].references is not None]
    for across in table.date_order_across:
        needed += [across.via, across.column + PARSED]
    lf = frame.lazy().select([c for c in dict.fromkeys(needed) if c in frame.columns])
    checks: list[Check] = []
    only_in_store: dict[str, pl.Series] = {}  # reference column -> ids only the store holds

    def skipped(what: str, target: str) -> None:
        not_run.append(f"{planned.file} {what}: {contract.tables[target].file} was not read")

    for cname in planned.present:
        target = table.columns[cname].references
        if target is None:
            continue
        if target not in frames:
            skipped(f"{cname} reference-not-found", target)
            continue
        other = contract.tables[target]
        # the referenced ids, found once per extract however many tables refer to them
        if target not in id_sets:
            id_sets[target] = frames[target].get_column(other.id).drop_nulls().unique()
        # the values that refer to nothing, by a join of the distinct values (fast: the hash
        # table is built on the smaller side), then a membership test against those few
        dangling = (
            frame.lazy()
            .select(pl.col(cname).drop_nulls().unique())
            .join(id_sets[target].to_frame(cname).lazy(), on=cname, how="anti")
            .collect()
            .get_column(cname)
        )
        looked = False  # whether the store answered for this table's ids
        if store is not None and dangling.len():
            rest = store.not_held(target, dangling.to_frame().lazy())
            looked = rest is not None
            if rest is not None:
                remaining = rest.collect().get_column(cname)
                found = dangling.filter(~dangling.is_in(remaining.implode()))
                only_in_store[cname] = found
                dangling = remaining
                rows = int(frame.get_column(cname).is_in(found.implode()).sum())
                if rows and found_in_store is not None:
                    found_in_store[f"{planned.file} {cname}"] = rows
        flag = f"__x{len(checks)}:{cname}"
        lf = lf.with_columns(pl.col(cname).is_in(dangling.implode()).fill_null(False).alias(flag))
        checks.append(
            Check(
                flag,
                cname,
                table.columns[cname].rule("reference-not-found"),
                Severity.ERROR,
                pl.lit(
                    f"no row of {other.file} has this {other.id}"
                    + (", nor does the store (no earlier extract held it)" if looked else "")
                ),
            )
        )
    for across in table.date_order_across:
        if across.column not in planned.present or across.via not in planned.present:
            continue
        if across.table not in frames:
            skipped(f"{across.column} {across.rule}", across.table)
            continue
        other = contract.tables[across.table]
        right = (
            frames[across.table]
            .lazy()
            .filter(pl.col(other.id).is_not_null())
            .unique(subset=[other.id], keep="none")
            .select(
                pl.col(other.id).alias("__key"),
                _as_date(across.not_before, other.columns[across.not_before]).alias("__limit"),
                pl.col(across.not_before).alias("__limit_text"),
            )
        )
        stored = None
        if store is not None and across.via in only_in_store and only_in_store[across.via].len():
            stored = store.records(across.table)
        if stored is not None:
            # the records the reference check found only in the store are checked against
            # too, by their typed date (a filter on a few ids, pushed into the parquet scan)
            limit = pl.col(across.not_before)
            if other.columns[across.not_before].type is ColumnType.DATETIME:
                limit = limit.dt.date()
            right = pl.concat(
                [
                    right,
                    stored.filter(pl.col(other.id).is_in(only_in_store[across.via].implode()))
                    .select(
                        pl.col(other.id).alias("__key"),
                        limit.alias("__limit"),
                        (limit.cast(pl.String) + " (held in the store)").alias("__limit_text"),
                    )
                    # one row per id, or the left join below would add rows
                    .unique(subset=["__key"], keep="first"),
                ]
            )
        mine = _as_date(across.column, table.columns[across.column])
        wrong = mine <= pl.col("__limit") if across.strictly_after else mine < pl.col("__limit")
        flag = f"__x{len(checks)}:{across.column}"
        lf = (
            lf.join(right, left_on=across.via, right_on="__key", how="left", maintain_order="left")
            .with_columns(wrong.fill_null(False).alias(flag))
            .rename({"__limit_text": flag + ":limit"})
            .drop("__limit")
        )
        # the message is built only for the rows that fail, when the issues are listed
        message = pl.concat_str(
            pl.lit(
                f"{across.meaning}: {across.column} is "
                f"{'not after' if across.strictly_after else 'before'} "
                f"{other.file} {across.not_before} "
            ),
            pl.col(flag + ":limit"),
        )
        checks.append(Check(flag, across.column, across.rule, across.severity, message))
    added = [c for c in lf.collect_schema().names() if c.startswith("__x")]
    if not added:
        return frame.lazy(), checks
    return pl.concat([frame.lazy(), lf.select(added)], how="horizontal"), checks


def _finish(planned: _Planned, frame: pl.DataFrame, threshold: float) -> TableResult:
    table = planned.table
    file = planned.file
    error_flags = [c.flag for c in planned.checks if c.severity is Severity.ERROR]
    bad = pl.any_horizontal(error_flags) if error_flags else pl.lit(False)
    issues = [
        frame.lazy()
        .filter(pl.col(check.flag))
        .select(
            pl.lit(file).alias("file"),
            pl.col(LINE).alias("line"),
            pl.lit(check.column).alias("column"),
            pl.col(check.column).alias("value"),
            pl.lit(check.rule).alias("rule"),
            pl.lit(str(check.severity)).alias("severity"),
            pl.lit("row").alias("level"),
            check.message.alias("message"),
        )
        for check in planned.checks
    ]
    loaded_columns = [
        pl.col(c + PARSED).alias(c)
        if c in planned.present
        else pl.lit(None, DTYPES[col.type]).alias(c)
        for c, col in table.columns.items()
    ]
    rules = (
        pl.concat_str(
            [
                pl.when(pl.col(f)).then(pl.lit(c.rule))
                for f, c in ((c.flag, c) for c in planned.checks if c.severity is Severity.ERROR)
            ],
            separator=";",
            ignore_nulls=True,
        )
        if error_flags
        else pl.lit("")
    )
    loaded, quarantine, *issue_frames = pl.collect_all(
        [
            frame.lazy().filter(~bad).select(pl.col(LINE), *loaded_columns),
            frame.lazy().filter(bad).select(pl.col(LINE), *planned.present, rules.alias(RULES)),
            *issues,
        ]
    )
    found = (
        pl.concat(issue_frames).cast(ISSUE_SCHEMA)  # type: ignore[arg-type]
        if issue_frames
        else empty_issues()
    )
    outcome = TableOutcome(
        table=planned.name,
        file=file,
        sha256=planned.raw.sha256,
        rows=frame.height,
        loaded=loaded.height,
        quarantined=quarantine.height,
        warnings=found.filter(pl.col("severity") == str(Severity.WARNING)).height,
        blank_lines=planned.raw.blank_lines,
        columns_present=planned.present,
    )
    if frame.height and quarantine.height / frame.height > threshold:
        share = quarantine.height / frame.height
        named = planned.name + (f" (from {planned.where})" if planned.where else "")
        found = pl.concat(
            [
                found,
                issues_frame(
                    [
                        file_issue(
                            file,
                            "quarantine-threshold",
                            f"{named}: {quarantine.height} of {frame.height} rows ({share:.1%}) "
                            f"have errors, more than the {threshold:.1%} allowed: the file is "
                            "refused (fix the extract, or raise --max-quarantine)",
                        )
                    ]
                ),
            ]
        )
        outcome.rejected = True
    return TableResult(outcome, loaded, quarantine, found)


def list_tables(folder: Path, contract: Contract) -> tuple[dict[str, Path], list[dict[str, Any]]]:
    """The contract tables present in a folder (or the one file named), and problems with the
    folder's other entries."""
    found: dict[str, Path] = {}
    problems: list[dict[str, Any]] = []
    entries = [folder] if folder.is_file() else sorted(folder.iterdir())
    for path in entries:
        if path.name.startswith("."):
            continue
        if path.name.lower() in contract.skipped_files:
            continue
        name = contract.table_for_file(path.name)
        if name is None:
            problems.append(
                file_issue(
                    path.name,
                    "unknown-file",
                    "not a table of the extract contract: it is not loaded",
                    severity=Severity.WARNING,
                )
            )
        elif name in found:
            problems.append(
                file_issue(
                    path.name,
                    "duplicate-file",
                    f"{found[name].name} and {path.name} are both the {name} table",
                )
            )
        else:
            found[name] = path
    if not found:
        problems.append(
            file_issue(
                folder.name,
                "no-tables",
                "no extract tables here: expected files named like contacts.csv, "
                "referrals.csv (see pipelines/extracts.yaml)",
            )
        )
    return found, problems


def validate_extract(
    folder: Path,
    month: Month,
    contract: Contract,
    *,
    encoding: str | None = None,
    max_quarantine: float = 0.01,
    store: StoreHeld | None = None,
) -> ExtractResult:
    """Validate every contract table present in ``folder`` as the extract closing ``month``.

    ``folder`` may also be a single table's file; references to other tables are then not
    checked, since the other tables are not read. With ``store`` (what the processed store
    already holds), a reference is looked up there too when the extract does not hold it.

    A file with a header and no rows loads as an empty table with a warning (``no-rows``;
    ``rows-vanished`` when the store's previous extract held many rows of it), except
    person.csv, which is refused (``header-only``).
    """
    paths, problems = list_tables(folder, contract)
    readable: dict[str, tuple[str, RawCsv, dict[str, int]]] = {}
    shas: dict[str, str] = {}
    for name, path in paths.items():
        _read_one(name, path, encoding, month, contract, store, problems, readable, shas)
    files = {name: path.name for name, path in paths.items()}
    return _validate(
        readable,
        problems,
        files,
        shas,
        month,
        contract,
        max_quarantine=max_quarantine,
        extract=folder.parent.name if folder.is_file() else folder.name,
        missing_tables=[] if folder.is_file() else sorted(set(contract.tables) - set(paths)),
        encoding=encoding,
        store=store,
    )


def _read_one(
    name: str,
    path: Path,
    encoding: str | None,
    month: Month,
    contract: Contract,
    store: StoreHeld | None,
    problems: list[dict[str, Any]],
    readable: dict[str, tuple[str, RawCsv, dict[str, int]]],
    shas: dict[str, str],
) -> None:
    """Read one table's file into ``readable`` (its checksum into ``shas``), or say in
    ``problems`` why it cannot be (a header-only file loads empty, bar person.csv). A
    function of its own so that no reference to the text outlives ``readable``'s."""
    try:
        raw = read_csv_file(path, encoding)
    except FileProblem as problem:
        if problem.raw is None or _holds_children(contract.tables[name]):
            problems.append(_refusal(path.name, problem))
            return
        raw = problem.raw
        problems.append(_no_rows(name, path.name, month, store))
    shas[name] = raw.sha256
    _admit(name, path.name, raw, contract, problems, readable)


def _holds_children(table: Table) -> bool:
    """person.csv: the table whose own id is the child's, which every other table refers to."""
    return table.columns[table.id].person_id


def _refusal(file: str, problem: FileProblem) -> dict[str, Any]:
    """A file that cannot be taken, as a file-level error; a header-only person.csv says why
    it, unlike the other tables, is refused."""
    issue = problem_issue(file, problem)
    if problem.rule == HEADER_ONLY:
        issue["message"] = (
            f"{file} {problem.message}: an extract with no children cannot be loaded (every "
            "other table's child is looked up in it, and an empty person query is a failed "
            "extract, not a quiet month); re-extract it"
        )
    return issue


def _no_rows(name: str, file: str, month: Month, store: StoreHeld | None) -> dict[str, Any]:
    """The warning for a table with a header and no rows, which loads as an empty table."""
    window = f"{month.shift(-23).first_day:%B %Y} to {month.first_day:%B %Y}"
    previous = store.previous.get(name) if store is not None else None
    if previous is not None and previous[1] >= VANISHED_ROWS:
        key, rows = previous
        return file_issue(
            file,
            ROWS_VANISHED,
            f"{file} has a header but no rows, yet the store's previous extract {key} had "
            f"{rows:,} rows of it (consecutive extracts share 23 of their 24 months, so most "
            "of those should still be here): a failed query looks like this. It loads as an "
            "empty table: the earlier extracts' records stay in the store, but figures read "
            f"from it will count 0 for {month.first_day:%B %Y}, which no earlier extract "
            "covers. Check with whoever runs the extract, and re-extract it before the paper "
            "goes out",
            line=1,
            severity=Severity.WARNING,
        )
    return file_issue(
        file,
        NO_ROWS,
        f"{file} has a header but no rows: loaded as an empty table, so figures read from it "
        f"count 0 for the months this extract covers ({window}); if there were any, the "
        "extract is incomplete: re-extract it",
        line=1,
        severity=Severity.WARNING,
    )


def problem_issue(file: str, problem: FileProblem) -> dict[str, Any]:
    """A file-level problem as a row of the report."""
    return file_issue(
        file, problem.rule, f"{file} {problem.message}", line=problem.line, value=problem.value
    )


def _admit(
    name: str,
    file: str,
    raw: RawCsv,
    contract: Contract,
    problems: list[dict[str, Any]],
    readable: dict[str, tuple[str, RawCsv, dict[str, int]]],
) -> None:
    """Map a table's header to the contract: its problems join ``problems``, and the table
    joins ``readable`` unless one of them is an error."""
    positions, header_problems = _map_header(name, contract.tables[name], raw)
    for issue in header_problems:
        issue["file"] = file
    problems += header_problems
    if not any(p["severity"] == "error" for p in header_problems):
        readable[name] = (file, raw, positions)


def _validate(
    readable: dict[str, tuple[str, RawCsv, dict[str, int]]],
    problems: list[dict[str, Any]],
    files: dict[str, str],
    shas: dict[str, str],
    month: Month,
    contract: Contract,
    *,
    max_quarantine: float,
    extract: str,
    missing_tables: list[str],
    encoding: str | None,
    store: StoreHeld | None = None,
    parts: dict[str, str] | None = None,
    year_start: date | None = None,
) -> ExtractResult:
    """Every row check on the tables read, and the report: common to extracts and returns.
    ``readable`` is emptied once its rows are parsed, so the files' text is not kept.
    ``parts`` names, for a return, the part of it each table's rows came from; ``year_start``,
    for a return bounded by its year (the CIN census), the year's first day."""
    planned: dict[str, _Planned] = {}
    plans: dict[str, pl.LazyFrame] = {}
    # the probes and the checks across tables are each one collect over every table at once
    probes = pl.collect_all(
        [_probe(contract.tables[name], raw, pos) for name, (_, raw, pos) in readable.items()]
    )
    for (name, (file, raw, pos)), probed in zip(readable.items(), probes, strict=True):
        plans[name], planned[name] = _plan(
            name, file, contract.tables[name], raw, pos, contract, month, probed, year_start
        )
    # a table at a time, each file's text let go once it is parsed (finishing needs only its
    # checksum and blank lines): the text of every file and every parsed table were the
    # largest thing held (at scale 100, 1.8 GB); polars runs each table's columns in parallel
    frames: dict[str, pl.DataFrame] = {}
    for name in list(plans):
        frames[name] = plans.pop(name).collect()
        readable.pop(name)
        planned[name].raw = replace(planned[name].raw, frame=planned[name].raw.frame.clear())
    crossed: dict[str, pl.LazyFrame] = {}
    not_run: list[str] = []
    id_sets: dict[str, pl.Series] = {}
    found_in_store: dict[str, int] = {}
    for name, plan in planned.items():
        crossed[name], extra = _cross_checks(
            plan, frames, contract, not_run, id_sets, store, found_in_store
        )
        plan.checks += extra
    child_ids = _child_ids(frames, contract)
    # the checked frames hold every column of the parsed ones: those go, and each checked
    # frame goes once its table is finished, so a table's loaded rows are never held beside
    # every table's parsed and checked rows
    names = list(crossed)
    checked = pl.collect_all([crossed.pop(name) for name in names])
    frames.clear()
    checked.reverse()
    results: dict[str, TableResult] = {}
    for name in names:
        planned[name].where = (parts or {}).get(name, "")
        results[name] = _finish(planned[name], checked.pop(), max_quarantine)

    outcomes = {name: r.outcome for name, r in results.items()}
    for name, file in files.items():  # files refused before their rows were read
        if name not in outcomes:
            outcomes[name] = TableOutcome(name, file, shas.get(name, ""), rejected=True)
    issues = pl.concat([issues_frame(problems), *(r.issues for r in results.values())])
    issues = issues.sort(["file", "line", "column", "rule"], nulls_last=False)
    report = ValidationReport(
        extract=extract,
        month=month,
        tables=outcomes,
        missing_tables=missing_tables,
        checks_not_run=not_run + (store.not_checked if store is not None else []),
        encoding=encoding,
        issues=issues,
        store=store.label if store is not None else None,
        found_in_store=found_in_store,
        child_ids=child_ids,
    )
    return ExtractResult(report, results)


def _child_ids(frames: dict[str, pl.DataFrame], contract: Contract) -> pl.Series:
    """Every distinct value of every person-id column of the tables read (as text)."""
    parts = [
        frames[name].get_column(column).cast(pl.String)
        for name in frames
        for column, spec in contract.tables[name].columns.items()
        if spec.person_id and column in frames[name].columns
    ]
    if not parts:
        return pl.Series("id", [], pl.String)
    return pl.concat(parts).drop_nulls().unique().alias("id")


def validate_tables(
    tables: dict[str, tuple[str, pl.DataFrame, str]],
    problems: list[dict[str, Any]],
    month: Month,
    contract: Contract,
    *,
    extract: str,
    max_quarantine: float = 0.01,
    parts: dict[str, str] | None = None,
    year_start: date | None = None,
) -> ExtractResult:
    """Validate tables that did not come from an extract's CSV files (a statutory return
    converted to the contract): ``tables`` maps a contract table to (the file named in the
    report, an all-text frame with contract column names and ``_line``, the file's checksum);
    ``parts`` to the part of the return its rows came from (named in a threshold refusal,
    as several tables come from one file). The same checks, quarantine and report as an
    extract."""
    readable: dict[str, tuple[str, RawCsv, dict[str, int]]] = {}
    problems = list(problems)
    for name, (file, frame, sha) in tables.items():
        header = [c for c in frame.columns if c != LINE]
        raw = RawCsv(
            header=header,
            frame=frame.select(
                *[pl.col(c).cast(pl.String).alias(str(i)) for i, c in enumerate(header)],
                pl.col(LINE).cast(pl.UInt32),
            ),
            sha256=sha,
            blank_lines=0,
        )
        _admit(name, file, raw, contract, problems, readable)
    return _validate(
        readable,
        problems,
        {name: file for name, (file, _, _) in tables.items()},
        {name: sha for name, (_, _, sha) in tables.items()},
        month,
        contract,
        max_quarantine=max_quarantine,
        extract=extract,
        missing_tables=[],
        encoding=None,
        parts=parts,
        year_start=year_start,
    )


def validate_read(
    raws: dict[str, tuple[str, RawCsv]],
    problems: list[dict[str, Any]],
    files: dict[str, str],
    month: Month,
    contract: Contract,
    *,
    extract: str,
    max_quarantine: float = 0.01,
    missing_tables: list[str] | None = None,
    encoding: str | None = None,
    store: StoreHeld | None = None,
) -> ExtractResult:
    """Validate tables already read, each as (the file named in the report, its rows with a
    header of contract columns or their aliases): an SSD export mapped to the contract beside
    its local tables. ``files`` also names tables whose file could not be read (refused);
    ``store``, what the store already holds, for references the export lacks. A table with no
    rows is taken as a header-only file is (``validate_extract``)."""
    readable: dict[str, tuple[str, RawCsv, dict[str, int]]] = {}
    problems = list(problems)
    for name, (file, raw) in raws.items():
        if raw.frame.is_empty():  # as a header-only file: refused for person, else a warning
            if _holds_children(contract.tables[name]):
                problems.append(
                    _refusal(file, FileProblem(HEADER_ONLY, "has a header but no rows"))
                )
                continue
            problems.append(_no_rows(name, file, month, store))
        _admit(name, file, raw, contract, problems, readable)
    return _validate(
        readable,
        problems,
        files,
        {name: raw.sha256 for name, (_, raw) in raws.items()},
        month,
        contract,
        max_quarantine=max_quarantine,
        extract=extract,
        missing_tables=missing_tables or [],
        encoding=encoding,
        store=store,
    )
