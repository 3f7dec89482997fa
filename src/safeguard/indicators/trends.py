"""Trends for the paper's month: previous month, same month last year, rolling 12 months and
financial year to date, computed from the monthly series (pure functions of it).

The sums obey the indicator's kind: a flow (a count of events in the month) has a rolling
12-month and a financial-year-to-date total; a share (a percentage or ratio of a monthly flow)
has a pooled rolling 12-month figure (the 12 months' numerators over their denominators); a
snapshot (month-end counts: seven of them added count the same children seven times) and a
rolling figure (already over a window) have neither, None rather than 0."""

from __future__ import annotations

from datetime import date

import polars as pl

from safeguard.indicators.catalogue import Indicator, Kind, Unit
from safeguard.periods import Month


def financial_year_start(month: Month) -> date:
    return date(month.year if month.month >= 4 else month.year - 1, 4, 1)


def trend_figures(series: pl.DataFrame, indicator: Indicator, month: Month) -> dict[str, object]:
    """The trend columns for one indicator's series at ``month`` (None where not computable:
    a month not available, fewer than 12 available months for a rolling figure, or a kind
    that has no such sum)."""
    ok = series.filter(pl.col("status") == "ok")

    def value_at(first_day: date) -> float | None:
        found = ok.filter(pl.col("month") == first_day).get_column("value")
        return float(found[0]) if found.len() and found[0] is not None else None

    window = [month.shift(-i).first_day for i in range(12)]
    last_12 = series.filter(pl.col("month").is_in(pl.Series(window, dtype=pl.Date).implode()))
    complete = last_12.height == 12 and (last_12["status"] != "not available").all()
    rolling: float | None = None
    flow = indicator.kind is Kind.FLOW and indicator.unit is Unit.COUNT
    if complete and flow:
        rolling = float(last_12["numerator"].sum())
    elif complete and indicator.kind is Kind.SHARE:
        denominator = float(last_12["denominator"].sum())
        if denominator:
            scale = 100.0 if indicator.unit is Unit.PERCENT else 1.0
            rolling = scale * float(last_12["numerator"].sum()) / denominator
    fytd: float | None = None
    if flow:
        start = financial_year_start(month)
        year = series.filter(pl.col("month").is_between(start, month.first_day))
        expected = (month.year * 12 + month.month) - (start.year * 12 + start.month) + 1
        if year.height == expected and (year["status"] == "ok").all():
            fytd = float(year["numerator"].sum())
    return {
        "previous_value": value_at(month.shift(-1).first_day),
        "last_year_value": value_at(month.shift(-12).first_day),
        "rolling_12_value": rolling,
        "fytd": fytd,
    }
