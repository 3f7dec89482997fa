"""XmR charts by the Making Data Count rules (ecosystem.md section 2.1) and RAG (section 2.2).

Every series below is hand-built so that exactly one rule fires (or, in the contrast cases, just
fails to); the worked arithmetic is in the comments. "idx" counts points from 0.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safeguard.indicators.spc import (
    FLAG_COLUMNS,
    SpcSettings,
    SpcSummary,
    rag,
    summarise,
    xmr,
)

ALL_RULES = (*FLAG_COLUMNS, "special")


def flagged(frame: pl.DataFrame, column: str) -> list[int]:
    """The row numbers where ``column`` is true."""
    return [i for i, flag in enumerate(frame[column].to_list()) if flag]


def only(frame: pl.DataFrame, column: str, rows: list[int]) -> None:
    """``column`` is true on exactly ``rows``; every other rule is quiet; special = column."""
    assert flagged(frame, column) == rows
    assert flagged(frame, "special") == rows
    for other in FLAG_COLUMNS:
        if other != column:
            assert flagged(frame, other) == [], other


# --- limits ------------------------------------------------------------------------------------


def test_limits_by_hand() -> None:
    # mean = (1+3+2+6+3)/5 = 3; moving ranges 2, 1, 4, 3 -> mR-bar = 10/4 = 2.5
    # limits 3 +/- 2.66 * 2.5 = 3 +/- 6.65; close lines 3 +/- 2/3 * 6.65 = 3 +/- 4.4333...
    frame = xmr([1, 3, 2, 6, 3], "higher")
    assert frame.height == 5
    assert frame["moving_range"].to_list() == [None, 2, 1, 4, 3]
    row = frame.row(0, named=True)
    assert row["mean"] == pytest.approx(3)
    assert row["mean_moving_range"] == pytest.approx(2.5)
    assert row["upper"] == pytest.approx(9.65)
    assert row["lower"] == pytest.approx(-3.65)
    assert row["upper_close"] == pytest.approx(3 + 6.65 * 2 / 3)
    assert row["lower_close"] == pytest.approx(3 - 6.65 * 2 / 3)
    # whole-series columns are repeated on every row
    for column in ("mean", "upper", "lower", "upper_close", "lower_close"):
        assert frame[column].n_unique() == 1
    assert flagged(frame, "special") == []
    assert frame["point_class"].to_list() == ["common"] * 5


def test_columns_and_types() -> None:
    frame = xmr([1, 2, 3], "neutral", target=2)
    assert frame.columns == [
        "value", "moving_range", "mean", "upper", "lower", "upper_close", "lower_close",
        "mean_moving_range", "target", "baseline", "trial_limits", "astronomical", "shift",
        "trend", "two_of_three", "special", "side", "point_class",
    ]  # fmt: skip
    assert frame.schema["value"] == pl.Float64
    assert frame.schema["special"] == pl.Boolean
    assert frame.schema["point_class"] == pl.String
    assert frame["target"].to_list() == [2, 2, 2]


def test_polars_series_input() -> None:
    frame = xmr(pl.Series([1, None, 3, 2, 6, 3]), "higher")
    assert frame["value"].to_list() == [1, None, 3, 2, 6, 3]
    assert frame["mean"][0] == pytest.approx(3)


def test_baseline_points_fix_the_limits() -> None:
    # limits from the first 4 points only: mean (2+4+2+4)/4 = 3, mR-bar (2+2+2)/3 = 2
    # upper = 3 + 5.32 = 8.32, so the later 9 is astronomical although it sits in the data
    frame = xmr([2, 4, 2, 4, 9, 3], "higher", settings=SpcSettings(baseline_points=4))
    assert frame["mean"][0] == pytest.approx(3)
    assert frame["upper"][0] == pytest.approx(8.32)
    assert frame["baseline"].to_list() == [True] * 4 + [False] * 2
    only(frame, "astronomical", [4])


def test_baseline_longer_than_series_uses_all_points() -> None:
    frame = xmr([1, 3, 2, 6, 3], "higher", settings=SpcSettings(baseline_points=24))
    assert frame["mean"][0] == pytest.approx(3)
    assert frame["baseline"].all()


def test_screening_drops_a_huge_moving_range() -> None:
    # moving ranges: seven of 1 and one of 29 (11 -> 40): mR-bar = 36/8 = 4.5;
    # 29 >= 3.267 * 4.5 = 14.7 is dropped, so mR-bar becomes 7/7 = 1
    values = [10, 11, 10, 11, 10, 11, 10, 11, 40]
    mean = 124 / 9
    unscreened = xmr(values, "higher")
    assert unscreened["mean_moving_range"][0] == pytest.approx(4.5)
    assert unscreened["upper"][0] == pytest.approx(mean + 2.66 * 4.5)
    screened = xmr(values, "higher", settings=SpcSettings(screen_outliers=True))
    assert screened["mean_moving_range"][0] == pytest.approx(1)
    assert screened["mean"][0] == pytest.approx(mean)  # screening leaves the mean alone
    assert screened["upper"][0] == pytest.approx(mean + 2.66)
    # unscreened limits 13.78 +/- 11.97 = 1.81 to 25.75: only 40 is beyond them; screened limits
    # 13.78 +/- 2.66 = 11.12 to 16.44 put every 10 and 11 below the lower limit as well
    assert flagged(unscreened, "astronomical") == [8]
    assert flagged(screened, "astronomical") == list(range(9))


def test_screening_a_flat_series_keeps_zero_limits() -> None:
    frame = xmr([5] * 12, "higher", settings=SpcSettings(screen_outliers=True))
    assert frame["mean_moving_range"][0] == 0
    assert frame["upper"][0] == frame["lower"][0] == 5
    assert flagged(frame, "special") == []  # every point is on the mean


def test_single_point_has_no_limits() -> None:
    frame = xmr([7], "higher", target=5)
    assert frame["mean"][0] == 7
    assert frame["upper"][0] is None and frame["lower"][0] is None
    assert frame["point_class"].to_list() == ["common"]
    summary = summarise(frame, "higher", 5)
    assert summary == SpcSummary("common_cause", None, trial_limits=True, points=1)


def test_empty_series() -> None:
    frame = xmr([], "higher")
    assert frame.height == 0
    with pytest.raises(ValueError, match="at least one value"):
        summarise(frame, "higher")


# --- astronomical points -----------------------------------------------------------------------

# mean = (5*1 + 5*9 + 40)/11 = 90/11 = 8.18; moving ranges nine of 8 and 31 -> mR-bar = 10.3
# upper = 8.18 + 27.398 = 35.58, so 40 is astronomical; close line 8.18 + 18.27 = 26.45
SPIKE = [1, 9, 1, 9, 1, 9, 1, 9, 1, 9, 40]


def test_astronomical_point() -> None:
    frame = xmr(SPIKE, "higher")
    assert frame["mean"][0] == pytest.approx(90 / 11)
    assert frame["upper"][0] == pytest.approx(90 / 11 + 2.66 * 10.3)
    only(frame, "astronomical", [10])
    assert frame["point_class"][10] == "improvement"


def test_astronomical_low_point() -> None:
    # the mirror image: -40 below the lower limit -35.58
    only(xmr([-v for v in SPIKE], "higher"), "astronomical", [10])


def test_a_point_exactly_on_a_limit_is_not_beyond_it() -> None:
    # limits from 0 and 100: mean 50, mR-bar 100, limits 50 +/- 266 = 316 and -216
    frame = xmr([0, 100, 316, -216, 50], "higher", settings=SpcSettings(baseline_points=2))
    assert (frame["upper"][0], frame["lower"][0]) == (316, -216)
    assert flagged(frame, "special") == []


# --- shifts ------------------------------------------------------------------------------------


def test_shift_of_exactly_seven_points() -> None:
    # sum = 22 + 7*6 + 22 = 86 over 17 points: mean 5.06; the seven 6s are the only run above
    # moving ranges 6,6,6,6,4,0x6,4,6,6,6,6 = 56/16 = 3.5; close line 5.06 + 6.21: no 8 is close
    values = [2, 8, 2, 8, 2, 6, 6, 6, 6, 6, 6, 6, 2, 8, 2, 8, 2]
    frame = xmr(values, "higher")
    assert frame["mean"][0] == pytest.approx(86 / 17)
    assert frame["mean_moving_range"][0] == pytest.approx(3.5)
    only(frame, "shift", list(range(5, 12)))
    assert set(frame["point_class"][5:12]) == {"improvement"}


def test_shift_of_six_points_is_not_a_shift() -> None:
    # sum = 22 + 6*6 + 22 = 80 over 16 points: mean 5; six 6s above is one short
    values = [2, 8, 2, 8, 2, 6, 6, 6, 6, 6, 6, 2, 8, 2, 8, 2]
    frame = xmr(values, "higher")
    assert frame["mean"][0] == 5
    assert flagged(frame, "special") == []


def test_shift_below_the_mean_with_lower_is_better() -> None:
    # the negated seven-point series: seven -6s below the mean, good when lower is better
    values = [-v for v in [2, 8, 2, 8, 2, 6, 6, 6, 6, 6, 6, 6, 2, 8, 2, 8, 2]]
    frame = xmr(values, "lower")
    only(frame, "shift", list(range(5, 12)))
    assert set(frame["point_class"][5:12]) == {"improvement"}
    assert set(frame["side"][5:12]) == {"low"}


def test_a_point_on_the_mean_breaks_a_shift() -> None:
    # sum = 21 + 18 + 5 + 24 + 22 = 90 over 18 points: mean exactly 5, and idx 8 is 5
    # runs above: three 6s, then the point on the mean, then four 6s: no shift
    # moving ranges sum to 59 (mR-bar 3.47, close line 5 +/- 6.15): nothing else fires
    on_mean = [1, 8, 2, 8, 2, 6, 6, 6, 5, 6, 6, 6, 6, 2, 8, 2, 8, 2]
    frame = xmr(on_mean, "higher")
    assert frame["mean"][0] == 5
    assert flagged(frame, "special") == []
    assert frame["side"][8] is None  # on the mean, common cause: no side
    # the same series with a 6 on idx 8: mean 91/18 = 5.06 and eight 6s in a row above it
    unbroken = [*on_mean[:8], 6, *on_mean[9:]]
    only(xmr(unbroken, "higher"), "shift", list(range(5, 13)))


def test_shift_length_setting() -> None:
    values = [2, 8, 2, 8, 2, 6, 6, 6, 6, 6, 6, 2, 8, 2, 8, 2]  # the six-point run
    frame = xmr(values, "higher", settings=SpcSettings(shift_length=6))
    only(frame, "shift", list(range(5, 11)))


# --- trends ------------------------------------------------------------------------------------

# 15 points, sum 20 + 35 + 20 = 75: mean exactly 5. 9 -> 2 falls, then 2..8 rise six times
# running, then 8 -> 1 falls: a trend of 7 points, idx 4..10. The sides alternate (at most
# three in a row) and mR-bar = 68/14 = 4.86 puts the close line at 5 + 8.61, beyond every 9.
TREND = [1, 9, 1, 9, 2, 3, 4, 5, 6, 7, 8, 1, 9, 1, 9]


def test_trend_of_exactly_seven_points() -> None:
    frame = xmr(TREND, "higher")
    assert frame["mean"][0] == 5
    only(frame, "trend", list(range(4, 11)))
    # improvement or concern comes from the side of the mean, not the trend's direction;
    # idx 7 is exactly on the mean and takes the trend's direction (rising: high)
    assert frame["side"][4:11].to_list() == ["low"] * 3 + ["high"] * 4
    assert frame["point_class"][4:11].to_list() == ["concern"] * 3 + ["improvement"] * 4


def test_falling_trend() -> None:
    # reversed: 8 down to 2 falls six times running; the on-mean 5 takes "low"
    frame = xmr(TREND[::-1], "higher")
    only(frame, "trend", list(range(4, 11)))
    assert frame["side"][4:11].to_list() == ["high"] * 3 + ["low"] * 4


def test_trend_of_six_points_is_not_a_trend() -> None:
    # 14 points, sum 70, mean 5: 2,3,4,6,7,8 is only five rises
    frame = xmr([1, 9, 1, 9, 2, 3, 4, 6, 7, 8, 1, 9, 1, 9], "higher")
    assert flagged(frame, "special") == []
    # ... which is a trend when the setting asks for 6 points
    six = SpcSettings(trend_length=6)
    frame = xmr([1, 9, 1, 9, 2, 3, 4, 6, 7, 8, 1, 9, 1, 9], "higher", settings=six)
    only(frame, "trend", list(range(4, 10)))


def test_a_tie_breaks_a_trend() -> None:
    # 2,3,4,4,6,7,8: the repeated 4 splits it into two rises and three rises
    # mean = 74/15 = 4.93; sides as in TREND, so nothing else fires
    frame = xmr([1, 9, 1, 9, 2, 3, 4, 4, 6, 7, 8, 1, 9, 1, 9], "higher")
    assert flagged(frame, "special") == []


def test_trend_at_a_turning_point() -> None:
    # 1..7 rises six times and 7..1 falls six times: two trends sharing the peak
    values = [4, 1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1, 4]
    frame = xmr(values, "neutral")
    assert flagged(frame, "trend") == list(range(1, 14))


# --- two out of three --------------------------------------------------------------------------

BASE = [4, 6, 4, 6, 4, 6, 4, 6, 4, 6]  # sum 50; nine moving ranges of 2
TAIL = [4, 6, 4, 6]  # sum 20


def test_two_of_three_flags_only_the_close_points() -> None:
    # with 11, 7, 11: sum 99 over 17 points, mean 5.82; moving ranges 18 + 5+4+4+7 + 6 = 44,
    # mR-bar 2.75: close line 5.82 + 4.88 = 10.70, limit 5.82 + 7.32 = 13.14
    # the window 11, 7, 11 is all above the mean with two close points; 7 is not close
    frame = xmr([*BASE, 11, 7, 11, *TAIL], "higher")
    assert frame["upper_close"][0] == pytest.approx(99 / 17 + 2.66 * 2.75 * 2 / 3)
    only(frame, "two_of_three", [10, 12])
    assert frame["point_class"][10:13].to_list() == ["improvement", "common", "improvement"]


def test_one_close_point_in_three_is_not_enough() -> None:
    # 11, 7, 10: mean 98/17 = 5.76, mR-bar 42/16 = 2.625, close line 10.42: only 11 is close
    frame = xmr([*BASE, 11, 7, 10, *TAIL], "higher")
    assert flagged(frame, "special") == []


def test_two_close_points_but_one_below_the_mean() -> None:
    # 12, 5, 12: mean 99/17 = 5.82, mR-bar 52/16 = 3.25, close line 11.59, limit 14.47:
    # both 12s are close but 5 lies below the mean, so no window of 3 qualifies
    frame = xmr([*BASE, 12, 5, 12, *TAIL], "higher")
    assert frame["upper_close"][0] == pytest.approx(99 / 17 + 2.66 * 3.25 * 2 / 3)
    assert flagged(frame, "special") == []


def test_two_of_three_below_with_lower_is_better() -> None:
    frame = xmr([-v for v in [*BASE, 11, 7, 11, *TAIL]], "lower")
    only(frame, "two_of_three", [10, 12])
    assert frame["point_class"][10] == "improvement"
    assert frame["side"][10] == "low"


# --- polarity, summaries and assurance ---------------------------------------------------------


@pytest.mark.parametrize(
    ("polarity", "point_class", "variation"),
    [
        ("higher", "improvement", "improvement_high"),
        ("lower", "concern", "concern_high"),
        ("neutral", "neutral_high", "neutral_high"),
    ],
)
def test_polarity_of_a_high_point(polarity: str, point_class: str, variation: str) -> None:
    frame = xmr(SPIKE, polarity)  # type: ignore[arg-type]
    assert frame["point_class"][10] == point_class
    assert summarise(frame, polarity).variation == variation  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("polarity", "variation"),
    [("higher", "concern_low"), ("lower", "improvement_low"), ("neutral", "neutral_low")],
)
def test_polarity_of_a_low_point(polarity: str, variation: str) -> None:
    frame = xmr([-v for v in SPIKE], polarity)  # type: ignore[arg-type]
    assert summarise(frame, polarity).variation == variation  # type: ignore[arg-type]


def test_variation_comes_from_the_last_point() -> None:
    # the spike followed by an ordinary point: mean (90+1)/12 = 7.58, mR-bar (103+39)/11 = 12.9,
    # upper 7.58 + 34.3 = 41.9: 40 is no longer astronomical either, and the last point is common
    frame = xmr([*SPIKE, 1], "higher")
    assert summarise(frame, "higher").variation == "common_cause"


# limits of [1, 3, 2, 6, 3]: 9.65 and -3.65
@pytest.mark.parametrize(
    ("polarity", "target", "assurance"),
    [
        ("higher", 10, "consistently_fail"),  # target above the upper limit, higher is better
        ("lower", 10, "consistently_pass"),
        ("higher", -4, "consistently_pass"),  # target below the lower limit
        ("lower", -4, "consistently_fail"),
        ("higher", 5, "inconsistent"),  # between the limits
        ("lower", 9.6, "inconsistent"),
        ("higher", None, None),  # no target
        ("neutral", 10, None),  # no direction, so no pass or fail
    ],
)
def test_assurance(polarity: str, target: float | None, assurance: str | None) -> None:
    frame = xmr([1, 3, 2, 6, 3], polarity, target)  # type: ignore[arg-type]
    assert summarise(frame, polarity, target).assurance == assurance  # type: ignore[arg-type]


def test_summary_words_and_letters() -> None:
    summary = SpcSummary("improvement_high", "consistently_pass", trial_limits=False, points=24)
    assert summary.words() == "Special cause improvement (high); target consistently met"
    assert summary.letters() == "H P"
    summary = SpcSummary("concern_low", "inconsistent", trial_limits=True, points=8)
    assert summary.words().startswith("Special cause concern (low); target met only some")
    assert "trial limits" in summary.words()
    assert summary.letters() == "L ?"
    summary = SpcSummary("common_cause", None, trial_limits=False, points=24)
    assert summary.words() == "Common cause variation"
    assert summary.letters() == "-"
    summary = SpcSummary("neutral_low", "consistently_fail", trial_limits=False, points=24)
    assert summary.words() == "Special cause variation (low); target consistently missed"
    assert summary.letters() == "L F"


# --- trial limits ------------------------------------------------------------------------------


def test_fewer_than_twelve_points_give_trial_limits() -> None:
    eleven = xmr(SPIKE, "higher")
    assert eleven["trial_limits"].all()
    assert eleven["upper"][0] is not None  # still computed
    assert summarise(eleven, "higher").trial_limits
    twelve = xmr([*SPIKE, 1], "higher")
    assert not twelve["trial_limits"].any()
    assert summarise(twelve, "higher") == SpcSummary("common_cause", None, False, 12)


def test_trial_limits_count_baseline_points() -> None:
    # 20 points but limits from the first 6: trial
    values = [1, 9] * 10
    cfg = SpcSettings(baseline_points=6)
    frame = xmr(values, "higher", settings=cfg)
    assert frame["trial_limits"].all()
    assert summarise(frame, "higher", settings=cfg).trial_limits
    relaxed = SpcSettings(baseline_points=6, minimum_points=6)
    frame = xmr(values, "higher", settings=relaxed)
    assert not summarise(frame, "higher", settings=relaxed).trial_limits


# --- gaps --------------------------------------------------------------------------------------


def test_a_gap_is_left_out_of_the_limits() -> None:
    # same limits as [1, 3, 2, 6, 3]; the 3 after the gap has its moving range from the 1
    frame = xmr([1, None, 3, 2, 6, 3], "higher", target=5)
    assert frame.height == 6
    assert frame["value"].to_list() == [1, None, 3, 2, 6, 3]
    assert frame["moving_range"].to_list() == [None, None, 2, 1, 4, 3]
    assert frame["mean"].to_list() == [3] * 6  # whole-series columns fill the gap
    assert frame["upper"][1] == pytest.approx(9.65)
    gap = frame.row(1, named=True)
    for column in (*ALL_RULES, "side", "point_class"):
        assert gap[column] is None, column
    assert gap["baseline"] is False
    assert summarise(frame, "higher", 5).points == 5


def test_nan_is_a_gap_too() -> None:
    assert xmr([1, math.nan, 3, 2, 6, 3], "higher").equals(xmr([1, None, 3, 2, 6, 3], "higher"))


def test_a_gap_neither_breaks_nor_makes_a_shift() -> None:
    # the seven-point shift with a gap in the middle: still seven points, still a shift
    values: list[float | None] = [2, 8, 2, 8, 2, 6, 6, 6, None, 6, 6, 6, 6, 2, 8, 2, 8, 2]
    frame = xmr(values, "higher")
    assert flagged(frame, "shift") == [5, 6, 7, 9, 10, 11, 12]
    assert frame["shift"][8] is None
    # the six-point run with a gap is six points: no shift
    values = [2, 8, 2, 8, 2, 6, 6, 6, None, 6, 6, 6, 2, 8, 2, 8, 2]
    assert flagged(xmr(values, "higher"), "special") == []


def test_a_gap_does_not_break_a_trend() -> None:
    values: list[float | None] = [*TREND[:7], None, *TREND[7:]]
    assert flagged(xmr(values, "higher"), "trend") == [4, 5, 6, 8, 9, 10, 11]


def test_trailing_gap_takes_the_last_point() -> None:
    frame = xmr([*SPIKE, None, None], "higher")
    summary = summarise(frame, "higher")
    assert summary.variation == "improvement_high"
    assert summary.points == 11


def test_all_gaps() -> None:
    frame = xmr([None, None], "higher")
    assert frame.height == 2
    assert frame["mean"].to_list() == [None, None]
    with pytest.raises(ValueError, match="at least one value"):
        summarise(frame, "higher")


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shift_length": 1},
        {"trend_length": 1},
        {"baseline_points": 1},
        {"minimum_points": 0},
    ],
)
def test_settings_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be at least"):
        SpcSettings(**kwargs)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="polarity"):
        xmr([1, 2], "up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        xmr([1, math.inf], "higher")
    with pytest.raises(ValueError, match="target"):
        xmr([1, 2], "higher", target=math.nan)


# --- RAG ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target", "tolerance", "polarity", "expected"),
    [
        (85, 80, 5, "higher", "Green"),  # beyond the target in the good direction
        (80, 80, 5, "higher", "Green"),  # at the target
        (77, 80, 5, "higher", "Amber"),
        (75, 80, 5, "higher", "Amber"),  # exactly the tolerance short: still amber
        (74.9, 80, 5, "higher", "Red"),
        (79, 80, None, "higher", "Red"),  # no tolerance: no amber band
        (79, 80, 0, "higher", "Red"),
        (9, 10, 2, "lower", "Green"),
        (10, 10, 2, "lower", "Green"),
        (11, 10, 2, "lower", "Amber"),
        (12, 10, 2, "lower", "Amber"),
        (12.5, 10, 2, "lower", "Red"),
        (5, 10, 2, "neutral", None),  # no direction
        (None, 10, 2, "higher", None),  # no value
        (math.nan, 10, 2, "higher", None),
        (5, None, None, "higher", None),  # no target
    ],
)
def test_rag(
    value: float | None, target: float | None, tolerance: float | None, polarity: str, expected: str
) -> None:
    assert rag(value, target, tolerance, polarity) == expected  # type: ignore[arg-type]


def test_rag_tolerance_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        rag(5, 10, -1, "higher")


# --- properties --------------------------------------------------------------------------------

# Counts are integers, and integer series are what the exactness guarantee covers.
series = st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), max_size=60)
settings_strategy = st.builds(
    SpcSettings,
    shift_length=st.integers(2, 9),
    trend_length=st.integers(2, 9),
    screen_outliers=st.booleans(),
    baseline_points=st.one_of(st.none(), st.integers(2, 30)),
)
MIRROR = {"high": "low", "low": "high", "improvement": "concern", "concern": "improvement"}
MIRROR |= {"neutral_high": "neutral_low", "neutral_low": "neutral_high", "common": "common"}
ASSURANCE_MIRROR = {
    "consistently_pass": "consistently_fail",
    "consistently_fail": "consistently_pass",
    "inconsistent": "inconsistent",
    None: None,
}


def mirrored(values: list[str | None]) -> list[str | None]:
    return [None if v is None else MIRROR[v] for v in values]


@settings(deadline=None, max_examples=200)
@given(values=series, constant=st.integers(-(10**6), 10**6), cfg=settings_strategy)
def test_flags_unchanged_by_a_constant_shift(
    values: list[int | None], constant: int, cfg: SpcSettings
) -> None:
    before = xmr(values, "higher", settings=cfg)
    after = xmr([None if v is None else v + constant for v in values], "higher", settings=cfg)
    for column in (*ALL_RULES, "side", "point_class", "moving_range"):
        assert after[column].to_list() == before[column].to_list(), column


@settings(deadline=None, max_examples=200)
@given(values=series, cfg=settings_strategy, target=st.integers(-1500, 1500))
def test_flags_mirror_when_negated(values: list[int | None], cfg: SpcSettings, target: int) -> None:
    before = xmr(values, "higher", target, settings=cfg)
    negated = [None if v is None else -v for v in values]
    after = xmr(negated, "higher", -target, settings=cfg)
    for column in ALL_RULES:
        assert after[column].to_list() == before[column].to_list(), column
    assert after["side"].to_list() == mirrored(before["side"].to_list())
    assert after["point_class"].to_list() == mirrored(before["point_class"].to_list())
    # negating the series and swapping the polarity changes nothing a reader sees
    swapped = xmr(negated, "lower", -target, settings=cfg)
    assert swapped["point_class"].to_list() == before["point_class"].to_list()
    if before["value"].is_not_null().any():
        original = summarise(before, "higher", target, cfg)
        # the same polarity: every icon mirrors (improvement high <-> concern low, pass <-> fail)
        kind, _, side = original.variation.rpartition("_")
        flipped_side = original.variation if kind == "common" else f"{kind}_{MIRROR[side]}"
        fully_mirrored = "common_cause" if kind == "common" else f"{MIRROR[kind]}_{MIRROR[side]}"
        assert summarise(after, "higher", -target, cfg) == SpcSummary(
            fully_mirrored,
            ASSURANCE_MIRROR[original.assurance],
            original.trial_limits,
            original.points,
        )
        # the polarity swapped too: only the side letter changes
        assert summarise(swapped, "lower", -target, cfg) == SpcSummary(
            flipped_side, original.assurance, original.trial_limits, original.points
        )


@settings(deadline=None, max_examples=100)
@given(values=st.lists(st.integers(-50, 50), max_size=40), data=st.data())
def test_gaps_do_not_change_the_other_points(values: list[int], data: st.DataObject) -> None:
    gaps = data.draw(st.lists(st.integers(0, len(values)), max_size=5))
    padded: list[float | None] = list(values)
    for position in sorted(gaps, reverse=True):
        padded.insert(position, None)
    plain = xmr(values, "higher")
    with_gaps = xmr(padded, "higher")
    assert with_gaps.height == len(padded)
    points = with_gaps.filter(pl.col("value").is_not_null())
    for column in (*ALL_RULES, "side", "point_class", "mean", "upper", "lower"):
        assert points[column].to_list() == plain[column].to_list(), column
    assert with_gaps.filter(pl.col("value").is_null())["special"].null_count() == len(gaps)
