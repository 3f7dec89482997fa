"""Compute every indicator of the catalogue for the months ending at a month.

All rules' record frames are collected together (one collect for the stage), then summed by
month. A figure is ``ok``, ``not applicable`` (a percentage with nothing in its
denominator) or ``not available`` (a table or column never extracted, a month before the
extracts' window, no population estimate for the year or before it), always with the reason;
never a 0 instead. An ``ok`` rate whose own year's population estimate is not yet held uses the
latest earlier one, and its ``reason`` names it ("population: mid-2014 estimate, the latest
held"); any other ``ok`` figure has no reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from safeguard.calendar import WorkingCalendar
from safeguard.indicators.breakdowns import breakdowns
from safeguard.indicators.breakdowns import empty as empty_breakdowns
from safeguard.indicators.catalogue import Authority, Catalogue, Indicator, Unit
from safeguard.indicators.rules import HISTORY, RULES, Context, NotAvailable
from safeguard.periods import Month, months_between
from safeguard.store import Manifest, Store, is_return, window_of

OK, NOT_APPLICABLE, NOT_AVAILABLE = "ok", "not applicable", "not available"


@dataclass(frozen=True)
class Computed:
    """The stage's output: one row per indicator and month, the team breakdown, and the
    catalogue's breakdowns (``breakdowns.SCHEMA``)."""

    series: pl.DataFrame
    by_team: pl.DataFrame
    breakdowns: pl.DataFrame = field(default_factory=empty_breakdowns)
    # with ``keep_records``: each indicator's rule output, one row per record and month
    # (what ``explain`` lists); empty otherwise, so a paper's run does not hold them all
    records: dict[str, pl.DataFrame] = field(default_factory=dict)


def month_list(month: Month, count: int) -> list[date]:
    return [month.shift(-i).first_day for i in range(count - 1, -1, -1)]


def calendar_for_months(months: list[date], authority: Authority) -> WorkingCalendar:
    # a year either side: rolling windows and look-backs reach before the first month
    return WorkingCalendar(months[0].year - 3, months[-1].year + 1, authority.closures)


def coverage(manifest: Manifest) -> tuple[date | None, date | None]:
    """The first day any extract's or return's window reaches, and the last one's month end."""
    windows = [window_of(key, entry) for key, entry in manifest.extracts.items()]
    if not windows:
        return None, None
    return min(w[0] for w in windows).first_day, max(w[1] for w in windows).last_day


def covered_months(manifest: Manifest, table: str, columns: tuple[str, ...]) -> set[date]:
    """The months (first days) some extract or return holding ``table`` with ``columns``
    covers: a CIN census covers referrals for its year but holds no contacts."""
    months: set[date] = set()
    for key, entry in manifest.extracts.items():
        held = entry.files.get(table)
        if held is None or not set(columns) <= set(held.columns_present):
            continue
        months.update(m.first_day for m in months_between(*window_of(key, entry)))
    return months


def _gap(
    manifest: Manifest, needs: list[tuple[str, tuple[str, ...]]]
) -> Callable[[date, int], str | None]:
    """For a rule's tables: why month ``m`` with ``history`` months before it is not covered,
    or None when every table it read is covered then. Only needed once a store holds
    returns: monthly extracts all hold every table over one contiguous window."""
    covered = [(table, covered_months(manifest, table, columns)) for table, columns in needs]

    def why(first_day: date, history: int) -> str | None:
        month = Month(first_day.year, first_day.month)
        for table, months in covered:
            wanted = [month.shift(-i).first_day for i in range(history + 1)]
            missing = [m for m in wanted if m not in months]
            if missing:
                return (
                    f"no extract or return holding {table} covers {missing[-1]:%B %Y}"
                    if not history
                    else f"needs {history} months of {table} before the month; "
                    f"none covers {missing[-1]:%B %Y}"
                )
        return None

    return why


@dataclass(frozen=True)
class PopulationUsed:
    """The 0-17 estimate a month's rate divides by: its mid-year, and the note saying so when
    it is not the month's own year."""

    year: int
    children: int
    note: str


def population_for(month: date, authority: Authority) -> PopulationUsed | None:
    """DfE's convention: a date in financial year Y/Y+1 uses the mid-Y estimate. ONS publishes
    it about a year later, so until then the latest estimate held before Y stands in, named in
    the note; never a later year's. None when no estimate for Y or before is held."""
    wanted = month.year if month.month >= 4 else month.year - 1
    held = authority.population.children_0_17
    year = max((y for y in held if y <= wanted and held[y]), default=None)
    if year is None:
        return None
    note = (
        ""
        if year == wanted
        else f"population: mid-{year} estimate, the latest held"
        if year == max(held)
        else f"population: mid-{year} estimate (no mid-{wanted} estimate held)"
    )
    return PopulationUsed(year, held[year], note)


def context_for(
    store: Store,
    indicator: Indicator,
    months: list[date],
    cal: WorkingCalendar,
    manifest: Manifest | None = None,
) -> Context:
    return Context(store, months, cal, parameters=dict(indicator.parameters), _manifest=manifest)


def compute(
    store: Store,
    catalogue: Catalogue,
    authority: Authority,
    month: Month,
    only: list[str] | None = None,
    *,
    keep_records: bool = False,
) -> Computed:
    """Every indicator (or those named in ``only``) for ``catalogue.months`` months to
    ``month``; with ``keep_records``, the records behind each figure too."""
    months = month_list(month, catalogue.months)
    cal = calendar_for_months(months, authority)
    manifest = store.manifest()  # read once for every rule
    first_covered, last_covered = coverage(manifest)
    has_returns = any(is_return(key) for key in manifest.extracts)
    plans: dict[str, pl.LazyFrame] = {}
    unavailable: dict[str, str] = {}
    gaps: dict[str, dict[date, str]] = {}
    holes: dict[str, Callable[[date, int], str | None]] = {}
    for name, indicator in catalogue.indicators.items():
        if only is not None and name not in only:
            continue
        ctx = context_for(store, indicator, months, cal, manifest)
        try:
            plans[name] = RULES[indicator.rule](ctx)
        except NotAvailable as missing:
            unavailable[name] = missing.reason
        gaps[name] = ctx.unavailable
        if has_returns:
            holes[name] = _gap(manifest, ctx.needs)
    collected = dict(zip(plans, pl.collect_all(list(plans.values())), strict=True))

    rows: list[dict[str, Any]] = []
    teams: list[pl.DataFrame] = []
    for name, indicator in catalogue.indicators.items():
        if only is not None and name not in only:
            continue
        frame = collected.get(name)
        sums: dict[date, tuple[float, float, int]] = {}
        if frame is not None:
            summed = frame.group_by("month").agg(
                pl.col("numerator").cast(pl.Float64).sum(),
                pl.col("denominator").cast(pl.Float64).sum(),
                pl.len().alias("records"),
            )
            sums = {r[0]: (r[1], r[2], r[3]) for r in summed.iter_rows()}
            if frame.get_column("team").null_count() < frame.height:
                teams.append(_by_team(name, indicator, frame))
        history = HISTORY.get(indicator.rule, 0)
        for first_day in months:
            numerator, denominator, records = sums.get(first_day, (0.0, 0.0, 0))
            status, reason = OK, ""
            if name in unavailable:
                status, reason = NOT_AVAILABLE, unavailable[name]
            elif first_covered is None or last_covered is None:
                status, reason = NOT_AVAILABLE, "the store holds no extract"
            elif first_day > last_covered:
                status, reason = NOT_AVAILABLE, "no extract covers this month yet"
            elif Month(first_day.year, first_day.month).shift(-history).first_day < first_covered:
                status, reason = (
                    NOT_AVAILABLE,
                    (
                        f"needs {history} months of history before the month; the extracts start "
                        f"{first_covered:%B %Y}"
                        if history
                        else f"before the extracts' window ({first_covered:%B %Y})"
                    ),
                )
            elif (hole := holes[name](first_day, history) if name in holes else None) is not None:
                status, reason = NOT_AVAILABLE, hole
            elif first_day in gaps.get(name, {}):
                status, reason = NOT_AVAILABLE, gaps[name][first_day]
            value = None
            if status == OK:
                value, status, reason = _value(
                    indicator, numerator, denominator, first_day, authority
                )
            rows.append(
                {
                    "indicator": name,
                    "month": first_day,
                    "value": value,
                    "numerator": numerator if status != NOT_AVAILABLE else None,
                    "denominator": _denominator(indicator, denominator, first_day, authority)
                    if status != NOT_AVAILABLE
                    else None,
                    "records": records,
                    "status": status,
                    "reason": reason,
                }
            )
    series = pl.DataFrame(rows, schema=SERIES_SCHEMA, orient="row") if rows else _empty()
    by_team = pl.concat(teams) if teams else pl.DataFrame(schema=TEAM_SCHEMA)
    states = {(r["indicator"], r["month"]): (r["status"], r["reason"]) for r in rows}

    def state_of(indicator: str, first_day: date) -> tuple[str, str]:
        outside = (NOT_AVAILABLE, f"before the {catalogue.months} months computed")
        return states.get((indicator, first_day), outside)

    if only is not None:
        catalogue = catalogue.narrowed(only)
    return Computed(
        series,
        by_team,
        breakdowns(catalogue, collected, state_of, month),
        collected if keep_records else {},
    )


SERIES_SCHEMA: dict[str, pl.DataType] = {
    "indicator": pl.String(),
    "month": pl.Date(),
    "value": pl.Float64(),
    "numerator": pl.Float64(),
    "denominator": pl.Float64(),
    "records": pl.Int64(),
    "status": pl.String(),
    "reason": pl.String(),
}
TEAM_SCHEMA: dict[str, pl.DataType] = {
    "indicator": pl.String(),
    "month": pl.Date(),
    "team": pl.String(),
    "numerator": pl.Float64(),
    "denominator": pl.Float64(),
    "value": pl.Float64(),
}


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SERIES_SCHEMA)


def _denominator(
    indicator: Indicator, denominator: float, month: date, authority: Authority
) -> float | None:
    if indicator.unit is Unit.COUNT:
        return None
    if indicator.unit is Unit.RATE_PER_10K:
        population = population_for(month, authority)
        return population.children / 10_000 if population else None
    return denominator


def _value(
    indicator: Indicator, numerator: float, denominator: float, month: date, authority: Authority
) -> tuple[float | None, str, str]:
    if indicator.unit is Unit.COUNT:
        return numerator, OK, ""
    if indicator.unit is Unit.RATE_PER_10K:
        population = population_for(month, authority)
        if population is None:
            year = month.year if month.month >= 4 else month.year - 1
            return None, NOT_AVAILABLE, f"no mid-{year} or earlier population in authority.yaml"
        return 10_000 * numerator / population.children, OK, population.note
    if denominator == 0:
        return None, NOT_APPLICABLE, "nothing in the denominator this month"
    scale = 100.0 if indicator.unit is Unit.PERCENT else 1.0
    return scale * numerator / denominator, OK, ""


def _by_team(name: str, indicator: Indicator, frame: pl.DataFrame) -> pl.DataFrame:
    grouped = (
        frame.filter(pl.col("team").is_not_null())
        .group_by("month", "team")
        .agg(
            pl.col("numerator").cast(pl.Float64).sum(), pl.col("denominator").cast(pl.Float64).sum()
        )
    )
    value: pl.Expr
    if indicator.unit is Unit.PERCENT:
        value = pl.when(pl.col("denominator") > 0).then(
            100 * pl.col("numerator") / pl.col("denominator")
        )
    elif indicator.unit is Unit.RATIO:
        value = pl.when(pl.col("denominator") > 0).then(pl.col("numerator") / pl.col("denominator"))
    elif indicator.unit is Unit.COUNT:
        value = pl.col("numerator")
    else:  # a rate has no team population
        value = pl.lit(None, pl.Float64)
    return grouped.select(
        pl.lit(name).alias("indicator"),
        "month",
        "team",
        "numerator",
        pl.when(pl.lit(indicator.unit is Unit.COUNT))
        .then(None)
        .otherwise(pl.col("denominator"))
        .alias("denominator"),
        value.cast(pl.Float64).alias("value"),
    ).sort("month", "team")
