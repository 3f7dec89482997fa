"""Indicator charts: deterministic SVG and PNG, alt text and data table from the same numbers,
direct labels, special-cause markers, capped axes and the neighbours panel (ecosystem.md 2.1,
2.3, 2.4)."""

from __future__ import annotations

import html
import re
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import matplotlib
import pytest

from safeguard.indicators.spc import SpcSettings
from safeguard.report.charts import (
    PNG_DPI,
    SMALL_WIDTH_CM,
    _value_range,
    element_prefix,
    format_value,
    indicator_chart,
    month_label,
)
from safeguard.report.model import Chart

TITLE = "Contacts screened the same working day"


def months_to(n: int, year: int = 2015, month: int = 10) -> list[date]:
    """``n`` consecutive first-of-month dates ending at ``year``-``month``."""
    end = year * 12 + month - 1
    return [date(k // 12, k % 12 + 1, 1) for k in range(end - n + 1, end + 1)]


def chart(values: Sequence[float | None], **kwargs: Any) -> Chart:
    """A percentage chart (higher is better, target 95) of ``values`` ending October 2015."""
    options: dict[str, Any] = {
        "indicator": "contacts_screened_same_day_pct",
        "title": TITLE,
        "months": months_to(len(values)),
        "values": list(values),
        "notes": ["" if value is not None else "not available: no extract" for value in values],
        "unit": "percent",
        "decimals": 1,
        "polarity": "higher",
        "target": 95.0,
        "spc_settings": SpcSettings(),
    }
    options.update(kwargs)
    return indicator_chart(**options)


def texts(svg: str) -> list[str]:
    """The SVG's <text> contents (svg.fonttype 'none' keeps text as text)."""
    return [html.unescape(t) for t in re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)]


def group(svg: str, gid: str) -> str:
    """The markup of the <g id="gid"> element up to its first </g>."""
    start = svg.index(f'<g id="{gid}">')
    return svg[start : svg.index("</g>", start)]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


# A shift: five months below the mean, then seven above it.
# mean = (95+96+95+96+95 + 97+98+97+98+97+98+97) / 12 = 1159/12 = 96.583 -> "96.6%"
# moving ranges: 1,1,1,1, 2, 1,1,1,1,1,1 -> mR-bar = 12/11 = 1.0909
# limits: 96.583 +/- 2.66 x 1.0909 = 96.583 +/- 2.9018 -> 93.68 to 99.49 -> "93.7%", "99.5%"
# close lines 96.583 +/- 1.9345 = 94.65 and 98.52: no value beyond them, none beyond a limit,
# no six rises or falls in a row, the first five points are a run of 5 (< 7): only the last
# seven points are special cause (shift), above the mean, so improvement (higher is better).
SHIFT = [95.0, 96.0, 95.0, 96.0, 95.0, 97.0, 98.0, 97.0, 98.0, 97.0, 98.0, 97.0]


# --- determinism --------------------------------------------------------------------------------


def test_same_inputs_give_byte_identical_svg_and_png() -> None:
    neighbours = [("Northshire", 97.0), ("Aton", 91.2), ("Bexley", 95.5), ("Carlow", 88.4)]
    first = chart(SHIFT, neighbours=neighbours, references=[("England", 92.0)])
    other = chart([90.0 + i % 3 for i in range(18)])  # something else drawn in between
    second = chart(SHIFT, neighbours=neighbours, references=[("England", 92.0)])
    assert first.svg == second.svg
    assert first.png == second.png
    assert first.alt == second.alt and first.points == second.points
    assert other.svg != first.svg


def test_no_dates_or_versions_in_the_output_and_no_global_settings_left_behind() -> None:
    before = dict(matplotlib.rcParams)
    result = chart(SHIFT)
    assert dict(matplotlib.rcParams) == before
    assert "<dc:date>" not in result.svg
    assert b"Software" not in result.png
    assert b"Matplotlib" not in result.png


def test_threads_draw_the_same_charts_as_one_thread() -> None:
    series = [[90.0 + (i * 7 + k) % 9 * 0.7 for i in range(15)] for k in range(6)]
    alone = [chart(values) for values in series]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(chart, series))
    assert [c.svg for c in together] == [c.svg for c in alone]
    assert [c.png for c in together] == [c.png for c in alone]


def test_png_is_16_cm_wide_at_150_dpi() -> None:
    width, _ = png_size(chart(SHIFT).png)
    assert PNG_DPI == 150
    assert abs(width - 16 / 2.54 * 150) <= 1


def test_a_small_multiple_is_8_cm_wide_with_the_same_alt_text_and_lines() -> None:
    """Six a page in the members' paper: smaller, the same words and the same labelled lines."""
    big, small = chart(SHIFT), chart(SHIFT, small=True)
    width, height = png_size(small.png)
    assert abs(width - SMALL_WIDTH_CM / 2.54 * 150) <= 1
    assert small.width_cm == pytest.approx(SMALL_WIDTH_CM)
    assert height < png_size(big.png)[1]
    assert small.alt == big.alt and small.points == big.points
    labels = [t for t in texts(small.svg) if t.startswith(("Mean", "Upper", "Lower", "Target"))]
    assert labels == [
        t for t in texts(big.svg) if t.startswith(("Mean", "Upper", "Lower", "Target"))
    ]
    assert chart(SHIFT).svg == big.svg  # the size never leaks into the next chart


# --- alt text and data table ---------------------------------------------------------------------


def test_alt_text_by_hand() -> None:
    result = chart(SHIFT)
    assert result.alt == (
        "Line chart of contacts screened the same working day, November 2014 to October 2015, "
        "where the October value 97.0% is within the process limits (93.7% to 99.5%) around a "
        "mean of 96.6% and above the 95% target; 7 points show special cause improvement "
        "(shift)."
    )
    assert f"<desc>{result.alt}</desc>" in result.svg
    assert f"<title>{TITLE}</title>" in result.svg


def test_points_carry_formatted_values_and_special_cause_notes() -> None:
    points = chart(SHIFT).points
    assert [p.month for p in points][:2] == ["Nov 2014", "Dec 2014"]
    assert points[-1].month == "Oct 2015"
    assert [p.value for p in points] == [format_value(v, "percent", 1) for v in SHIFT]
    assert [p.note for p in points[:5]] == [""] * 5
    assert [p.note for p in points[5:]] == ["special cause improvement (shift)"] * 7


def test_special_cause_marked_by_shape_in_the_svg_and_the_key() -> None:
    result = chart(SHIFT)
    prefix = element_prefix("contacts_screened_same_day_pct")
    assert f'<g id="{prefix}special-improvement">' in result.svg
    assert f'<g id="{prefix}special-concern">' not in result.svg
    words = texts(result.svg)
    assert "Special cause improvement" in words
    assert "Monthly value" in words


def test_lower_is_better_shift_is_concern() -> None:
    points = chart(SHIFT, polarity="lower", target=None).points
    assert [p.note for p in points[5:]] == ["special cause concern (shift)"] * 7
    neutral = chart(SHIFT, polarity="neutral", target=None)
    assert neutral.points[-1].note == "special cause variation, high (shift)"
    assert "no point" not in neutral.alt
    assert "7 points show special cause variation, high (shift)" in neutral.alt


def test_a_missing_month_is_a_gap_with_its_note() -> None:
    values: list[float | None] = [96.0, 97.0] * 6
    values[4] = None  # March 2015
    notes = [""] * 12
    notes[4] = "not available: the extract for March 2015 was not received"
    result = chart(values, notes=notes)
    march = result.points[4]
    assert march.month == "Mar 2015"
    assert march.value == ""
    assert march.note == "not available: the extract for March 2015 was not received"
    # the series line is broken in two at the gap: two move-to commands in its path
    series = group(result.svg, f"{element_prefix(result.indicator)}series")
    assert series.count("M ") == 2
    assert "n/a" in texts(result.svg)
    assert result.alt.endswith("; 1 month is not available (March 2015).")


def test_alt_text_when_the_last_month_is_missing() -> None:
    values: list[float | None] = [*SHIFT[:-1], None]
    notes = [""] * 11 + ["not applicable: nothing in the denominator this month"]
    result = chart(values, notes=notes)
    assert (
        "where the October value is not applicable (nothing in the denominator this month); "
        "the September value 98.0% is " in result.alt
    )
    assert result.points[-1].note == "not applicable: nothing in the denominator this month"


def test_runs_of_missing_months_are_listed_as_spans() -> None:
    values: list[float | None] = [None, None, None, *[96.0, 97.0] * 6]
    result = chart(values)
    assert "3 months are not available (August to October 2014)" in result.alt


def test_fewer_than_two_values_draw_a_note_not_limits() -> None:
    values: list[float | None] = [None] * 11 + [96.1]
    result = chart(values)
    words = texts(result.svg)
    assert "Too few values for process limits (at least 2 are needed)" in words
    assert not any(w.startswith(("Mean", "Upper limit", "Lower limit")) for w in words)
    assert "Target 95%" in words
    assert result.alt == (
        "Line chart of contacts screened the same working day, November 2014 to October 2015, "
        "where the October value 96.1% is the only value, too few for process limits, and is "
        "above the 95% target."
    )
    empty = chart([None] * 12)
    assert "No values for these months" in texts(empty.svg)
    assert empty.alt.endswith("where no month has a value.")
    assert all(p.value == "" and p.note for p in empty.points)


def test_trial_limits_are_said_in_the_chart_and_the_alt_text() -> None:
    values: list[float | None] = [None, None, *SHIFT[2:]]  # 10 points: fewer than 12
    result = chart(values)
    assert "within the trial process limits" in result.alt
    assert "Trial limits: fewer than 12 points, so the limits may change" in texts(result.svg)


OVERLAP = "not applicable: each point overlaps the previous 11 months"


def test_a_rolling_series_is_a_plain_trend_line() -> None:
    # SHIFT would show 7 points of special cause improvement (above); as a rolling figure it is
    # drawn with no mean, no limits and no special-cause markers, and the key and alt text say
    # why. Lowest 95.0% first in November 2014, highest 98.0% first in May 2015 (the 7th).
    result = chart(SHIFT, no_spc=OVERLAP, window_months=12)
    prefix = element_prefix(result.indicator)
    words = texts(result.svg)
    assert not any(w.startswith(("Mean", "Upper limit", "Lower limit")) for w in words)
    assert "Target 95%" in words
    assert not re.search(f'<g id="{prefix}special-', result.svg)
    assert f'<g id="{prefix}series">' in result.svg
    assert "Monthly value" not in words
    assert "Value for the 12 months to the month" in words
    assert f"No process limits, {OVERLAP}" in words
    assert "No point shows special cause variation" not in words
    assert not any(w.startswith("Too few values") for w in words)
    assert result.alt == (
        "Line chart of contacts screened the same working day in the 12 months to each month, "
        "November 2014 to October 2015, where the October value 97.0% is the latest value, "
        "above the 95% target; the lowest is 95.0% (November 2014) and the highest 98.0% "
        f"(May 2015); no process limits, {OVERLAP}."
    )
    assert [p.note for p in result.points] == [""] * 12


def test_a_short_history_is_a_trend_line_saying_so() -> None:
    values: list[float | None] = [None, None, *SHIFT[2:]]
    short = "not enough history: 10 of the 12 months SPC needs"
    result = chart(values, no_spc=short, target=None)
    words = texts(result.svg)
    assert not any(w.startswith(("Mean", "Upper limit", "Lower limit", "Trial")) for w in words)
    assert "Monthly value" in words
    assert f"No process limits, {short}" in words
    assert result.alt.endswith(
        f"is the latest value; the lowest is 95.0% (January 2015) and the highest 98.0% "
        f"(May 2015); no process limits, {short}; 2 months are not available "
        "(November to December 2014)."
    )


# --- labels and axes -----------------------------------------------------------------------------


def test_lines_are_labelled_directly_not_with_a_legend() -> None:
    result = chart(SHIFT)
    words = texts(result.svg)
    assert "Mean 96.6%" in words
    assert "Upper limit 99.5%" in words
    assert "Lower limit 93.7%" in words
    assert "Target 95%" in words
    assert "legend" not in result.svg
    prefix = element_prefix(result.indicator)
    for gid in ("mean", "upper-limit", "lower-limit", "target", "series"):
        assert f'<g id="{prefix}{gid}">' in result.svg


def test_x_labels_are_short_months_ending_with_the_last() -> None:
    words = texts(chart(SHIFT * 2).svg)
    labels = [w for w in words if re.fullmatch(r"[A-Z][a-z]{2} \d\d", w)]
    assert labels[-1] == "Oct 15"
    assert 4 <= len(labels) <= 12


def test_percent_axis_is_capped_at_100() -> None:
    # mean 588/6 = 98; moving ranges 2, 2.5, 3.5, 2, 0.5 twice and 0.5 between: 21.5/11 = 1.95
    # upper limit 98 + 2.66 x 1.95 = 103.2, drawn (and said) at 100
    values: list[float | None] = [97.0, 99.0, 96.5, 100.0, 98.0, 97.5] * 2
    result = chart(values)
    words = texts(result.svg)
    ticks = [float(w[:-1]) for w in words if re.fullmatch(r"\d+(\.\d+)?%", w)]
    assert ticks and max(ticks) == 100
    assert "Upper limit 100.0%" in words
    assert "within the process limits (" in result.alt and "to 100.0%)" in result.alt
    assert _value_range([96.0, 100.0], "percent")[1] == 100
    assert _value_range([96.0, 99.0], "percent")[1] <= 100
    assert _value_range([96.0, 102.0], "percent")[1] > 102  # a bad value is never hidden


def test_counts_clamp_the_lower_limit_at_zero_with_thousands_separators() -> None:
    small = chart(
        [0.0, 2, 1, 3, 0, 1, 5, 2, 1, 0, 2, 1],
        unit="count", decimals=0, polarity="lower", target=None,
    )  # fmt: skip
    words = texts(small.svg)
    assert "Lower limit 0" in words
    assert "Number" in words
    assert all(not w.startswith("-") for w in words)
    assert _value_range([0.0, 5.0], "count")[0] == 0
    big = chart(
        [1234.0, 1310, 1190, 1405, 1288, 1350, 1420, 1302, 1299, 1350, 1302, 1345],
        unit="count", decimals=0, polarity="neutral", target=None,
    )  # fmt: skip
    assert big.points[0].value == "1,234"
    assert "the October value 1,345 is" in big.alt
    assert any(re.fullmatch(r"1,\d{3}", w) for w in texts(big.svg))


def test_rates_are_per_10000() -> None:
    rates: list[float | None] = [52.1, 52.4, 52.9, 52.3, 52.8, 53.0, 52.6, 53.1, 52.5, 53.0, 52.7]
    result = chart(
        rates, title="Children looked after per 10,000", unit="rate_per_10k", polarity="neutral",
        target=None,
    )  # fmt: skip
    assert "Rate per 10,000 children" in texts(result.svg)
    assert result.points[0].value == "52.1"


def test_formatting_helpers() -> None:
    assert format_value(97.44, "percent", 1) == "97.4%"
    assert format_value(95.0, "percent", 1, trim=True) == "95%"
    assert format_value(1234.0, "count", 0) == "1,234"
    assert format_value(-0.04, "ratio", 1) == "0.0"
    assert month_label(date(2015, 10, 1)) == "Oct 2015"
    assert element_prefix("contacts screened/x") == "contacts-screened-x-"


# --- neighbours ----------------------------------------------------------------------------------


NEIGHBOURS = [
    ("Northshire", 97.4),
    ("Aton", 91.2),
    ("Bexley-on-Sea", 95.0),
    ("Carlow", 88.4),
    ("Dunmore and Eastley", 99.1),
]


def test_neighbours_panel_when_given() -> None:
    without = chart(SHIFT)
    result = chart(
        SHIFT, neighbours=NEIGHBOURS, references=[("England", 92.0)], comparator_period="2013-14"
    )
    prefix = element_prefix(result.indicator)
    assert f'id="{prefix}neighbours"' not in without.svg
    assert f'id="{prefix}neighbours"' in result.svg
    words = texts(result.svg)
    assert "Statistical neighbours, 2013-14" in words
    for label, value in NEIGHBOURS:
        assert label in words
        assert format_value(value, "percent", 1) in [w.strip() for w in words]
    assert "England" in words
    # the authority's bar is dark blue, the others focus grey, the reference outlined
    authority = [
        g for g in re.findall(rf'<g id="{prefix}authority-bar-\d+">.*?</g>', result.svg, re.S)
    ]
    assert len(authority) == 1 and "#12436d" in authority[0].lower()
    others = re.findall(rf'<g id="{prefix}neighbour-bar-\d+">.*?</g>', result.svg, re.S)
    assert len(others) == 4 and all("#bfbfbf" in g.lower() for g in others)
    # sorted by value: Dunmore (99.1) above Northshire (97.4) above Bexley (95.0) ...
    assert f'<g id="{prefix}neighbour-bar-0">' in result.svg  # Dunmore, the top row
    assert f'<g id="{prefix}authority-bar-1">' in result.svg
    assert result.alt.endswith(
        " Bar chart of contacts screened the same working day for Northshire and 4 statistical "
        "neighbours in 2013-14, where Northshire ranks 2nd highest of 5 at 97.4%; England 92.0%."
    )
    assert png_size(result.png)[1] > png_size(without.png)[1]
    assert result.points == without.points


def test_neighbours_authority_named_and_extremes() -> None:
    top = chart(SHIFT, neighbours=[("Aton", 91.2), ("Northshire", 97.4)], authority="Northshire")
    assert "where Northshire is the highest of 2 at 97.4%." in top.alt
    bottom = chart(SHIFT, neighbours=[("Carlow", 88.4), ("Aton", 91.2)])
    assert "where Carlow is the lowest of 2 at 88.4%." in bottom.alt
    with pytest.raises(ValueError, match="not among the neighbours"):
        chart(SHIFT, neighbours=[("Aton", 91.2)], authority="Northshire")


# --- checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"notes": [""] * 3}, "differ in length"),
        ({"unit": "furlongs"}, "unit must be one of"),
        ({"polarity": "up"}, "polarity must be"),
        ({"months": months_to(12)[::-1]}, "in order"),
    ],
)
def test_bad_inputs_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chart(SHIFT, **change)
