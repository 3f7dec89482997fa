"""Small-number suppression: hand-made series with worked answers."""

from __future__ import annotations

from datetime import date

import polars as pl

from safeguard.indicators.engine import SERIES_SCHEMA
from safeguard.report.suppress import withheld

OCT = date(2015, 10, 1)


def series(*rows: tuple[str, float | None, float | None, float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [(name, OCT, value, num, den, 1, "ok", None) for name, value, num, den in rows],
        schema=SERIES_SCHEMA,
        orient="row",
    )


UNITS = {
    "count3": "count",
    "zero": "count",
    "share": "percent",
    "small_den": "percent",
    "big": "count",
    "rate": "rate_per_10k",
    "total": "count",
    "s1": "count",
    "s2": "count",
}


def test_primary_rules() -> None:
    figures = series(
        ("count3", 3.0, 3.0, None),  # a count of 3 -> c
        ("zero", 0.0, 0.0, None),  # 0 is a true zero: shown, as DfE shows it
        ("share", 5.0, 2.0, 40.0),  # 2/40 = 5%: the percentage reveals the 2 -> c
        ("small_den", 75.0, 3.0, 4.0),  # a denominator of 4 -> c
        ("big", 140.0, 140.0, None),
        ("rate", 40.0, 180.0, 4.5),  # 180 per 45,000 children: shown
    )
    assert withheld(figures, UNITS, "public") == {
        ("count3", OCT),
        ("share", OCT),
        ("small_den", OCT),
    }


def test_internal_shows_everything() -> None:
    assert withheld(series(("count3", 3.0, 3.0, None)), UNITS, "internal") == frozenset()


def test_secondary_suppression_of_a_declared_sum() -> None:
    # complaints 20 = stage 1 17 + stage 2 3: the 3 is withheld, and so is the next smallest
    # figure of the group (17), else 20 - 17 gives it back
    figures = series(("total", 20.0, 20.0, None), ("s1", 17.0, 17.0, None), ("s2", 3.0, 3.0, None))
    assert withheld(figures, UNITS, "public", {"total": ("s1", "s2")}) == {
        ("s2", OCT),
        ("s1", OCT),
    }
    # two withheld already: nothing more to do
    figures = series(("total", 6.0, 6.0, None), ("s1", 3.0, 3.0, None), ("s2", 3.0, 3.0, None))
    assert withheld(figures, UNITS, "public", {"total": ("s1", "s2")}) == {
        ("s1", OCT),
        ("s2", OCT),
    }


def test_a_dashboard_row_prints_c_and_drops_the_arrow() -> None:
    from safeguard.periods import Month
    from safeguard.report.build import _withhold
    from safeguard.report.model import ScoreRow

    row = ScoreRow(
        indicator="count3",
        title="Count",
        value="3",
        previous="12",
        last_year="0",
        target="",
        rag="",
        spc_letters="",
        spc_words="",
        england="",
        region="",
        neighbours="",
        comparator_year="",
        footnote=1,
        direction="down",
        direction_tone="neutral",
        direction_words="Down on the previous month",
    )
    month = Month(2015, 10)
    shown = _withhold(row, frozenset({("count3", OCT)}), month)
    assert (shown.value, shown.previous, shown.last_year) == ("c", "12", "0")
    assert (shown.direction, shown.direction_words) == ("", "")
    assert _withhold(row, frozenset(), month) == row
