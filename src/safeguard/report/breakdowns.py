"""The breakdowns as the paper prints them: one table each, formatted, small numbers withheld
for the public.

Suppression here follows :mod:`safeguard.report.suppress`: in a public table a count of 1 to 5
is ``c``, and so is the share beside it. Each column of a count table is a group of parts and
their total: when exactly one part is withheld the smallest other non-zero part is withheld
too, so subtraction from the total cannot give it back. A team of fewer than the breakdown's
``minimum_workers`` is withheld whole in a public caseload table, and when only one team is,
the next smallest is too (the all-teams row would give it back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from safeguard.indicators.breakdowns import (
    AGENCY,
    ALL_TEAMS,
    IN_POST,
    LEAVERS,
    NOT_AVAILABLE,
    RATIO,
    STARTERS,
    TWELVE_MONTHS,
    YEAR_EARLIER,
    periods,
)
from safeguard.indicators.catalogue import Breakdown, Catalogue, Statistic
from safeguard.periods import Month
from safeguard.report.model import Table
from safeguard.report.suppress import HIGH, LOW, WITHHELD

Values = dict[tuple[str, str], float | None]  # (group, measure) -> value


def column_withheld(counts: Sequence[float | None]) -> set[int]:
    """Which cells of one column to withhold: ``counts`` are the parts, then their total."""
    hidden = {i for i, v in enumerate(counts) if v is not None and LOW <= v <= HIGH}
    parts = range(len(counts) - 1)
    if counts and len(counts) - 1 not in hidden and sum(i in hidden for i in parts) == 1:
        others = [i for i in parts if i not in hidden and counts[i]]
        if others:
            hidden.add(min(others, key=lambda i: (counts[i], i)))
    return hidden


def _count(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}%"


def _number(value: float | None, decimals: int = 1) -> str:
    return "" if value is None else f"{value:,.{decimals}f}"


def _period_label(period: str, end: Month) -> str:
    if period == TWELVE_MONTHS:
        return f"12 months to {end.first_day:%b %Y}"
    if period == YEAR_EARLIER:
        return f"{end.shift(-12).first_day:%b %Y}"
    return f"{end.first_day:%b %Y}"


def tables(
    frame: pl.DataFrame, catalogue: Catalogue, month: Month, audience: str
) -> tuple[Table, ...]:
    """Every breakdown in ``frame`` (``breakdowns.SCHEMA``) as the paper's table."""
    public = audience == "public"
    made = []
    for name, table in catalogue.breakdowns.items():
        own = frame.filter(pl.col("breakdown") == name)
        if own.is_empty():
            continue
        kind = catalogue.indicators[table.indicator].kind
        shown = periods(table, kind)
        values: dict[str, Values] = {p: {} for p in shown}
        missing: dict[str, str] = {}
        order: dict[str, int] = {}
        for row in own.iter_rows(named=True):
            if row["measure"] == NOT_AVAILABLE:
                missing[row["period"]] = row["reason"]
                continue
            values[row["period"]][(row["group"], row["measure"])] = row["value"]
            order.setdefault(row["group"], row["position"])
        groups = sorted(order, key=lambda g: order[g])
        notes = [table.note] if table.note else []
        notes += [
            f"{_period_label(p, month)}: not available ({why})." for p, why in missing.items()
        ]
        if table.statistic is Statistic.COUNT:
            built = _count_table(table, month, shown, groups, values, missing, public)
        elif table.statistic is Statistic.CASELOAD:
            built = _caseload_table(table, month, groups, values, missing, public)
        else:
            built = _stability_table(table, month, shown, values, missing, public)
        made.append(replace(built, note=" ".join(notes)))
    return tuple(made)


def _count_table(
    table: Breakdown,
    month: Month,
    shown: tuple[str, ...],
    groups: list[str],
    values: dict[str, Values],
    missing: dict[str, str],
    public: bool,
) -> Table:
    label = f"{month.first_day:%B %Y}"
    caption = (
        f"{table.title}: {label} and the 12 months to {label}"
        if TWELVE_MONTHS in shown
        else f"{table.title}: at the end of {label} and a year earlier"
    )
    header = [table.heading or "Group"]
    for period in shown:
        header += [_period_label(period, month), "%"]
    columns: list[list[str]] = []
    for period in shown:
        counts = [values[period].get((g, "count")) for g in groups]
        hidden = column_withheld(counts) if public else set()
        if period in missing:
            columns += [[NOT_AVAILABLE] * len(groups), [""] * len(groups)]
            continue
        columns.append([WITHHELD if i in hidden else _count(c) for i, c in enumerate(counts)])
        columns.append(
            [
                WITHHELD if i in hidden else _percent(values[period].get((g, "percent")))
                for i, g in enumerate(groups)
            ]
        )
    rows = tuple((g, *(column[i] for column in columns)) for i, g in enumerate(groups))
    return Table(caption, tuple(header), rows or ((NOT_AVAILABLE, *[""] * (len(header) - 1)),))


def _caseload_table(
    table: Breakdown,
    month: Month,
    groups: list[str],
    values: dict[str, Values],
    missing: dict[str, str],
    public: bool,
) -> Table:
    got = next(iter(values.values()))
    header = ("Team", "Case-holding workers", "FTE", "Cases per FTE", "Lowest", "Highest")
    caption = f"{table.title}, {month.first_day:%B %Y}"
    if missing:
        return Table(caption, header, ((NOT_AVAILABLE, "", "", "", "", ""),))
    teams = [g for g in groups if g != ALL_TEAMS]
    workers = {g: got.get((g, "workers")) or 0.0 for g in groups}
    hidden = {g for g in teams if workers[g] < table.minimum_workers} if public else set()
    if public and len(hidden) == 1 and len(teams) > 1:
        rest = [g for g in teams if g not in hidden]
        hidden.add(min(rest, key=lambda g: (workers[g], g)))
    rows = []
    for group in groups:
        if group in hidden:
            rows.append((group, *[WITHHELD] * 5))
            continue
        rows.append(
            (
                group,
                _count(got.get((group, "workers"))),
                _number(got.get((group, "fte"))),
                _number(got.get((group, "mean"))),
                _count(got.get((group, "lowest"))),
                _count(got.get((group, "highest"))),
            )
        )
    return Table(caption, header, tuple(rows))


def _ratio(values: Values) -> str:
    permanent = values.get((RATIO, "permanent_percent"))
    if permanent is None:
        return ""
    whole = round(permanent)
    return f"{whole} : {100 - whole}"


def _stability_table(
    table: Breakdown,
    month: Month,
    shown: tuple[str, ...],
    values: dict[str, Values],
    missing: dict[str, str],
    public: bool,
) -> Table:
    caption = f"{table.title}, {month.first_day:%B %Y}"
    header = ("Measure", *(_period_label(p, month) for p in shown))

    def cell(period: str, group: str, measure: str, count: bool = False) -> str:
        if period in missing:
            return NOT_AVAILABLE
        value = values[period].get((group, measure))
        if value is None:
            return ""
        if count and public and LOW <= value <= HIGH:
            return WITHHELD
        return _count(value) if count else _number(value)

    lines = (
        (f"{IN_POST} (headcount)", IN_POST, "headcount", True),
        (f"{IN_POST} (FTE)", IN_POST, "fte", False),
        (f"{AGENCY} (headcount)", AGENCY, "headcount", True),
        (f"{AGENCY} (FTE)", AGENCY, "fte", False),
    )
    rows = [(text, *(cell(p, g, m, c) for p in shown)) for text, g, m, c in lines]
    rows.append(
        (
            f"{RATIO} (FTE)",
            *(NOT_AVAILABLE if p in missing else _ratio(values[p]) for p in shown),
        )
    )
    rows += [(g, *(cell(p, g, "count", True) for p in shown)) for g in (STARTERS, LEAVERS)]
    return Table(caption, header, tuple(rows))
