"""The tables behind the figures (the catalogue's ``breakdowns``): the records an indicator
counted, broken down as members ask (contacts by source, plans by category, caseloads by
team, staff starting and leaving).

One tidy frame for every breakdown (``SCHEMA``): a row per period, group and measure. A period
is the month, the same month a year earlier, or the 12 months to the month; ``month`` is its
last month. A period the indicator cannot cover has a single row, measure ``not available``,
with the reason: never a 0 in its place. Unrounded and unsuppressed, like the series; the
report withholds small numbers for the public.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

import polars as pl

from safeguard.indicators.catalogue import Breakdown, Catalogue, Kind, Statistic
from safeguard.periods import Month

MONTH, YEAR_EARLIER, TWELVE_MONTHS = "month", "year_earlier", "12_months"
NOT_AVAILABLE = "not available"
NOT_RECORDED, OTHER, TOTAL, ALL_TEAMS = "Not recorded", "Other", "Total", "All teams"
IN_POST, AGENCY, RATIO, STARTERS, LEAVERS = (
    "Social workers in post",
    "of whom agency",
    "Permanent : agency",
    "Starters",
    "Leavers",
)

SCHEMA: dict[str, pl.DataType] = {
    "breakdown": pl.String(),
    "period": pl.String(),
    "month": pl.Date(),
    "position": pl.Int64(),
    "group": pl.String(),
    "measure": pl.String(),
    "value": pl.Float64(),
    "reason": pl.String(),
}

Row = tuple[str, str, date, int, str | None, str, float | None, str]
Status = Callable[[str, date], tuple[str, str]]  # (indicator, month) -> (status, reason)


def periods(table: Breakdown, kind: Kind) -> tuple[str, ...]:
    """The periods a breakdown shows: a flow's month and 12 months; a snapshot's month end and
    the same month a year earlier; a caseload the month only; stability all three."""
    if table.statistic is Statistic.CASELOAD:
        return (MONTH,)
    if table.statistic is Statistic.STABILITY:
        return (MONTH, YEAR_EARLIER, TWELVE_MONTHS)
    return (MONTH, TWELVE_MONTHS) if kind is Kind.FLOW else (MONTH, YEAR_EARLIER)


def period_months(period: str, month: Month) -> list[date]:
    """The months (first days) a period covers, oldest first."""
    if period == MONTH:
        return [month.first_day]
    if period == YEAR_EARLIER:
        return [month.shift(-12).first_day]
    return [month.shift(-k).first_day for k in range(11, -1, -1)]


def breakdowns(
    catalogue: Catalogue,
    records: dict[str, pl.DataFrame],
    status: Status,
    month: Month,
) -> pl.DataFrame:
    """Every breakdown of the catalogue whose indicator was computed (``records`` holds the
    records each indicator's rule found), for the periods ending at ``month``."""
    rows: list[Row] = []
    for name, table in catalogue.breakdowns.items():
        spec = catalogue.indicators[table.indicator]
        frame = records.get(table.indicator)
        for period in periods(table, spec.kind):
            months = period_months(period, month)
            end = months[-1]
            # starters and leavers compare each month with the one before
            looked_at = (
                [Month(months[0].year, months[0].month).shift(-1).first_day, *months]
                if table.statistic is Statistic.STABILITY
                else months
            )
            why = _why_not(table, frame, looked_at, status)
            if why is not None:
                rows.append((name, period, end, 0, None, NOT_AVAILABLE, None, why))
                continue
            assert frame is not None
            found = frame.filter(pl.col("month").is_in(months))
            if table.statistic is Statistic.COUNT:
                made = _counts(table, found)
            elif table.statistic is Statistic.CASELOAD:
                made = _caseloads(found)
            else:
                made = _stability(frame, period, months)
            rows.extend(
                (name, period, end, position, group, measure, value, "")
                for position, group, measure, value in made
            )
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def _why_not(
    table: Breakdown,
    frame: pl.DataFrame | None,
    months: list[date],
    status: Status,
) -> str | None:
    """Why the breakdown cannot cover ``months``, or None: a month its indicator has as not
    available, the indicator not computed, or the column it breaks down by never held."""
    for first_day in months:
        state, reason = status(table.indicator, first_day)
        if state == NOT_AVAILABLE:
            return f"{first_day:%B %Y}: {reason}"
    if frame is None:
        return "the indicator was not computed"
    if table.by is not None and table.by not in frame.columns:
        return f"no extract has held the column it is broken down by ({table.by})"
    return None


Made = list[tuple[int, str, str, float | None]]  # position, group, measure, value


def _share(part: float, total: float) -> float | None:
    return 100 * part / total if total else None


def _counts(table: Breakdown, found: pl.DataFrame) -> Made:
    """Each group's count of records and its share of the total, then the total."""
    assert table.by is not None
    value = pl.col(table.by).cast(pl.String)
    if table.groups:
        codes = {code: label for label, members in table.groups.items() for code in members}
        label = (
            pl.when(value.is_null())
            .then(pl.lit(NOT_RECORDED))
            .otherwise(value.replace_strict(codes, default=OTHER, return_dtype=pl.String))
        )
    else:
        label = value.fill_null(NOT_RECORDED)
    summed = found.group_by(label.alias("group")).agg(pl.col("numerator").cast(pl.Float64).sum())
    counts = dict(summed.iter_rows())
    total = float(sum(counts.values()))
    if table.groups:
        # every declared group, a zero included (the records are there: none fell in it)
        order = [*table.groups, *(g for g in (OTHER, NOT_RECORDED) if counts.get(g))]
    else:
        order = sorted(counts, key=lambda g: (g == NOT_RECORDED, -counts[g], g))
    made: Made = []
    for position, group in enumerate(order, start=1):
        count = float(counts.get(group, 0.0))
        made += [
            (position, group, "count", count),
            (position, group, "percent", _share(count, total)),
        ]
    last = len(order) + 1
    return [
        *made,
        (last, TOTAL, "count", total),
        (last, TOTAL, "percent", 100.0 if total else None),
    ]


def _caseloads(found: pl.DataFrame) -> Made:
    """Per team (and all teams): case-holding workers, their FTE, cases per FTE (as the
    indicator is), and the lowest and highest caseload held."""
    team = pl.col("team").fill_null(NOT_RECORDED)
    stats = (
        pl.len().cast(pl.Float64).alias("workers"),
        pl.col("denominator").cast(pl.Float64).sum().alias("fte"),
        pl.col("numerator").cast(pl.Float64).sum().alias("cases"),
        pl.col("caseload").cast(pl.Float64).min().alias("lowest"),
        pl.col("caseload").cast(pl.Float64).max().alias("highest"),
    )
    teams = found.group_by(team.alias("group")).agg(*stats).sort("group")
    every = found.select(*stats).with_columns(pl.lit(ALL_TEAMS).alias("group"))
    made: Made = []
    for position, row in enumerate(pl.concat([teams, every], how="diagonal").iter_rows(named=True)):
        mean = row["cases"] / row["fte"] if row["fte"] else None
        made += [
            (position + 1, row["group"], "workers", row["workers"]),
            (position + 1, row["group"], "fte", row["fte"]),
            (position + 1, row["group"], "mean", mean),
            (position + 1, row["group"], "lowest", row["lowest"]),
            (position + 1, row["group"], "highest", row["highest"]),
        ]
    return made


def _moves(frame: pl.DataFrame, months: Iterable[date]) -> tuple[float, float]:
    """Starters (in post at a month's end, not at the previous month's) and leavers (the
    reverse), summed over ``months``."""
    held = frame.select("month", "record").unique()
    after = held.with_columns(pl.col("month").dt.offset_by("1mo"))  # as of the next month
    wanted = pl.col("month").is_in(list(months))
    starters = held.join(after, on=["month", "record"], how="anti").filter(wanted).height
    leavers = after.join(held, on=["month", "record"], how="anti").filter(wanted).height
    return float(starters), float(leavers)


def _stability(frame: pl.DataFrame, period: str, months: list[date]) -> Made:
    """Staff in post and of whom agency (headcount and FTE), permanent : agency as shares of
    FTE, for a month; starters and leavers for every period."""
    made: Made = []
    if period != TWELVE_MONTHS:
        found = frame.filter(pl.col("month") == months[-1])
        fte = float(found.get_column("denominator").cast(pl.Float64).sum())
        agency = float(found.get_column("numerator").cast(pl.Float64).sum())
        agency_heads = float(found.filter(pl.col("reason") == "agency").height)
        made += [
            (1, IN_POST, "headcount", float(found.height)),
            (1, IN_POST, "fte", fte),
            (2, AGENCY, "headcount", agency_heads),
            (2, AGENCY, "fte", agency),
            (3, RATIO, "permanent_percent", _share(fte - agency, fte)),
            (3, RATIO, "agency_percent", _share(agency, fte)),
        ]
    starters, leavers = _moves(frame, months)
    return [*made, (4, STARTERS, "count", starters), (5, LEAVERS, "count", leavers)]


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)
