"""Trend figures from a hand-built monthly series."""

from __future__ import annotations

from datetime import date

import polars as pl

from safeguard.indicators.catalogue import Indicator, Kind, Unit
from safeguard.indicators.trends import trend_figures
from safeguard.periods import Month

COUNT = Indicator(title="t", definition="d", rule="contacts", unit=Unit.COUNT, kind=Kind.FLOW)
PERCENT = Indicator(
    title="t", definition="d", rule="contacts_to_referral", unit=Unit.PERCENT, kind=Kind.SHARE
)
SNAPSHOT = Indicator(
    title="t", definition="d", rule="cp_plans_open", unit=Unit.COUNT, kind=Kind.SNAPSHOT
)
SNAPSHOT_PCT = Indicator(
    title="t", definition="d", rule="cp_open_18m_plus", unit=Unit.PERCENT, kind=Kind.SNAPSHOT
)
ROLLING = Indicator(
    title="t",
    definition="d",
    rule="cp_second_subsequent",
    unit=Unit.PERCENT,
    kind=Kind.ROLLING,
    window_months=12,
)


def series(statuses: dict[int, str] | None = None) -> pl.DataFrame:
    """November 2014 (1) to October 2015 (12): numerator = position, denominator = 10."""
    months = [Month(2014, 11).shift(i).first_day for i in range(12)]
    statuses = statuses or {}
    return pl.DataFrame({
        "month": months,
        "value": [float(i + 1) for i in range(12)],
        "numerator": [float(i + 1) for i in range(12)],
        "denominator": [10.0] * 12,
        "status": [statuses.get(i + 1, "ok") for i in range(12)],
    })  # fmt: skip


def test_count_trends() -> None:
    found = trend_figures(series(), COUNT, Month(2015, 10))
    # previous month is September (11); October 2014 is not in the series; rolling 12 is
    # 1 + ... + 12 = 78; the financial year to date is April (6) to October (12) = 63
    assert found == {"previous_value": 11.0, "last_year_value": None, "rolling_12_value": 78.0,
                     "fytd": 63.0}  # fmt: skip


def test_percent_rolling_12_is_pooled_not_averaged() -> None:
    found = trend_figures(series(), PERCENT, Month(2015, 10))
    # 78 / 120 x 100 = 65.0; a percentage has no financial-year total
    assert found["rolling_12_value"] == 65.0
    assert found["fytd"] is None


def test_a_month_not_available_breaks_the_rolling_and_year_figures() -> None:
    found = trend_figures(series({7: "not available"}), COUNT, Month(2015, 10))
    # May 2015 (position 7) is in both the rolling 12 months and the financial year
    assert found["rolling_12_value"] is None
    assert found["fytd"] is None
    assert found["previous_value"] == 11.0
    assert trend_figures(series(), COUNT, Month(2015, 10))["fytd"] == sum(range(6, 13))
    assert date(2015, 4, 1) == Month(2015, 4).first_day


def test_a_flow_keeps_its_year_to_date_and_rolling_sum() -> None:
    # the same series as above, read as contacts received each month: November 2014 (1) to
    # October 2015 (12); year to date April (6) .. October (12) = 6+7+8+9+10+11+12 = 63,
    # rolling 12 months 1 + ... + 12 = 78
    found = trend_figures(series(), COUNT, Month(2015, 10))
    assert (found["fytd"], found["rolling_12_value"]) == (63.0, 78.0)


def test_a_snapshot_has_no_year_to_date_or_rolling_sum() -> None:
    # children on a plan at each month end, 1 to 12: adding seven month-end counts (63) would
    # count the same children up to seven times, so neither sum exists: None, never 0
    found = trend_figures(series(), SNAPSHOT, Month(2015, 10))
    assert found == {"previous_value": 11.0, "last_year_value": None, "rolling_12_value": None,
                     "fytd": None}  # fmt: skip
    # a month-end share is not pooled over the year either (65.0 if it were)
    found = trend_figures(series(), SNAPSHOT_PCT, Month(2015, 10))
    assert (found["fytd"], found["rolling_12_value"]) == (None, None)


def test_a_rolling_figure_is_not_summed_again() -> None:
    # each value already covers the 12 months to its month: no year to date, no rolling 12
    found = trend_figures(series(), ROLLING, Month(2015, 10))
    assert (found["fytd"], found["rolling_12_value"]) == (None, None)
    assert found["previous_value"] == 11.0
