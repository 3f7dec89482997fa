"""Statistical process control: XmR charts by NHS England's "Making Data Count" (MDC) rules, and
RAG ratings against a target.

Re-implemented from the documented behaviour (research note ``ecosystem.md`` sections 2.1 and
2.2); no SPC package is used or copied.

Limits. The centre line is the mean of the baseline points (all points, or the first
``baseline_points``); the moving range of a point is its absolute difference from the previous
point; the process limits are mean +/- 2.66 x the mean moving range (mR-bar) and the "close to a
limit" lines are mean +/- 2/3 of that distance. With ``screen_outliers`` the baseline's moving
ranges of at least 3.267 x mR-bar are dropped and mR-bar recomputed once. Fewer than
``minimum_points`` baseline points give *trial* limits: still computed, and flagged. With a single
point there is no moving range, so the limits are null. Limits are not clamped at zero here:
clamping the drawn limit is the chart's business.

Rules, every point taking part in a run flagged:

* astronomical: strictly above the upper or below the lower process limit;
* shift: ``shift_length`` consecutive points strictly on one side of the mean (a point exactly on
  the mean breaks the run);
* trend: ``trend_length`` consecutive points each strictly higher (or each strictly lower) than the
  one before, i.e. ``trend_length - 1`` successive steps the same way (a tie breaks the run);
* two of three: in any 3 consecutive points, at least 2 are close to a limit on the same side
  (strictly beyond the close line but not beyond the process limit) and all 3 lie strictly on that
  side of the mean; only the close points are flagged.

A special-cause point is high or low by its side of the mean. Only a trend can flag a point lying
exactly on the mean; such a point takes the direction of its trend (at a turning point shared by
two trends, the trend arriving at it). With a polarity, high is improvement when higher is better
and concern when lower is better (and the reverse for low); a neutral polarity gives
``neutral_high`` / ``neutral_low``.

Gaps. A missing value (None or NaN) is not a point: it is left out of the limits, the moving
ranges and the run rules, which see the remaining points as consecutive. So a gap neither breaks
nor extends a run, and the first point after a gap has its moving range against the last point
before it. ``baseline_points`` and ``minimum_points`` count points, not gaps. A gap keeps its row
in the output with nulls in every per-point column (value, moving_range, the flags, special, side,
point_class) and ``baseline`` false; the whole-series columns (limits, target, trial_limits) are
repeated on it so that a chart can draw the lines straight through.

Exactness. Deviations from the mean are computed as (x - x_ref) - mean(x - x_ref), with x_ref the
first baseline point, so that for integer-valued series (counts) the flags are exactly unchanged
by adding a constant and exactly mirrored by negation, even at the boundaries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import polars as pl

PolarityName = Literal["higher", "lower", "neutral"]
Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
Signs = npt.NDArray[np.int64]

LIMIT_FACTOR: Final = 2.66  # 3 sigma in mean moving ranges
CLOSE_FACTOR: Final = LIMIT_FACTOR * 2 / 3  # 2 sigma
SCREEN_FACTOR: Final = 3.267  # upper range limit for moving ranges

FLAG_COLUMNS: Final = ("astronomical", "shift", "trend", "two_of_three")
POINT_COLUMNS: Final = ("value", "moving_range", *FLAG_COLUMNS, "special", "side", "point_class")

_VARIATION_WORDS: Final = {
    "common_cause": "Common cause variation",
    "improvement_high": "Special cause improvement (high)",
    "improvement_low": "Special cause improvement (low)",
    "concern_high": "Special cause concern (high)",
    "concern_low": "Special cause concern (low)",
    "neutral_high": "Special cause variation (high)",
    "neutral_low": "Special cause variation (low)",
}
_ASSURANCE_WORDS: Final = {
    "consistently_pass": "target consistently met",
    "consistently_fail": "target consistently missed",
    "inconsistent": "target met only some of the time",
}
VARIATION_WORDS: Final = _VARIATION_WORDS
"""The variation icon's words, by its key ("concern_high": "Special cause concern (high)")."""
ASSURANCE_WORDS: Final = _ASSURANCE_WORDS
"""The assurance icon's words, by its key ("consistently_pass": "target consistently met")."""
_ASSURANCE_LETTERS: Final = {
    "consistently_pass": "P",
    "consistently_fail": "F",
    "inconsistent": "?",
}


@dataclass(frozen=True)
class SpcSettings:
    shift_length: int = 7
    trend_length: int = 7  # points, i.e. 6 successive increases
    screen_outliers: bool = False  # MDC Excel default: no screening
    baseline_points: int | None = None  # limits from the first n points only (None: all)
    minimum_points: int = 12  # fewer: limits are "trial" (still computed, flagged)

    def __post_init__(self) -> None:
        if self.shift_length < 2:
            raise ValueError(f"shift_length must be at least 2, not {self.shift_length}")
        if self.trend_length < 2:
            raise ValueError(f"trend_length must be at least 2, not {self.trend_length}")
        if self.baseline_points is not None and self.baseline_points < 2:
            raise ValueError(f"baseline_points must be at least 2, not {self.baseline_points}")
        if self.minimum_points < 1:
            raise ValueError(f"minimum_points must be at least 1, not {self.minimum_points}")


@dataclass(frozen=True)
class SpcSummary:
    variation: str  # "common_cause", "improvement_high", ..., "neutral_low" (from the last point)
    assurance: str | None  # "consistently_pass", "consistently_fail", "inconsistent", or None
    trial_limits: bool
    points: int

    @property
    def variation_letter(self) -> str:
        """The variation letter: "H" or "L" for special cause high or low, "-" for common cause."""
        if self.variation == "common_cause":
            return "-"
        return "H" if self.variation.endswith("_high") else "L"

    @property
    def assurance_letter(self) -> str:
        """The assurance letter: "P" (pass), "F" (fail), "?" (inconsistent), "" for none."""
        return "" if self.assurance is None else _ASSURANCE_LETTERS[self.assurance]

    def words(self) -> str:
        """The status in plain words, e.g. "Special cause improvement (high); target consistently
        met"."""
        parts = [_VARIATION_WORDS[self.variation]]
        if self.assurance is not None:
            parts.append(_ASSURANCE_WORDS[self.assurance])
        if self.trial_limits:
            parts.append("trial limits (too few points for a reliable baseline)")
        return "; ".join(parts)

    def letters(self) -> str:
        """The icon letters, variation then assurance, e.g. "H P", "L ?", "- F" or "-"."""
        return " ".join(part for part in (self.variation_letter, self.assurance_letter) if part)


def _check_polarity(polarity: str) -> None:
    if polarity not in get_args(PolarityName):
        raise ValueError(f"polarity must be 'higher', 'lower' or 'neutral', not {polarity!r}")


def _improving_sign(polarity: PolarityName) -> int:
    return {"higher": 1, "lower": -1, "neutral": 0}[polarity]


def _as_array(values: Sequence[float | None] | pl.Series) -> Floats:
    if isinstance(values, pl.Series):
        array = values.cast(pl.Float64).to_numpy()
    else:
        array = np.asarray(values, dtype=np.float64)  # None becomes NaN
    array = np.array(array, dtype=np.float64)  # a writable copy
    if array.ndim != 1:
        raise ValueError("values must be a flat sequence of numbers")
    if np.isinf(array).any():
        raise ValueError("values must be finite numbers or missing (None/NaN)")
    return array


def _in_long_run(keys: Signs, length: int) -> Flags:
    """True where a key is non-zero and lies in a run of at least ``length`` equal keys."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.bool_)
    starts = np.concatenate(([True], keys[1:] != keys[:-1]))
    run_id = np.cumsum(starts) - 1
    run_length = np.bincount(run_id)
    return np.asarray((keys != 0) & (run_length[run_id] >= length), dtype=np.bool_)


def _two_of_three(on_side: Flags, close: Flags) -> Flags:
    """Close points in a window of 3 consecutive points, all on the side, at least 2 close."""
    if on_side.size < 3:
        return np.zeros(on_side.size, dtype=np.bool_)
    close_count = close[:-2].astype(np.int64) + close[1:-1] + close[2:]
    window = on_side[:-2] & on_side[1:-1] & on_side[2:] & (close_count >= 2)
    # full convolution: entry i counts the windows starting at i-2, i-1 and i, i.e. covering i
    covering = np.convolve(window.astype(np.int64), np.ones(3, dtype=np.int64))
    return np.asarray(close & (covering > 0), dtype=np.bool_)


@dataclass(frozen=True)
class _Limits:
    reference: float  # the first baseline point; deviations are measured from it
    centre: float  # mean of (baseline - reference)
    mean_moving_range: float  # NaN with fewer than 2 baseline points
    baseline: int  # points used

    @property
    def mean(self) -> float:
        return self.reference + self.centre


def _limits(points: Floats, settings: SpcSettings) -> _Limits:
    wanted = settings.baseline_points
    n = points.size if wanted is None else min(wanted, points.size)
    if n == 0:
        return _Limits(math.nan, math.nan, math.nan, 0)
    base = points[:n]
    reference = float(base[0])
    centre = float(np.mean(base - reference))
    ranges = np.abs(np.diff(base))
    if ranges.size == 0:
        return _Limits(reference, centre, math.nan, n)
    mr_bar = float(np.mean(ranges))
    if settings.screen_outliers and mr_bar > 0:
        mr_bar = float(np.mean(ranges[ranges < SCREEN_FACTOR * mr_bar]))
    return _Limits(reference, centre, mr_bar, n)


def xmr(
    values: Sequence[float | None] | pl.Series,
    polarity: PolarityName,
    target: float | None = None,
    settings: SpcSettings = SpcSettings(),
) -> pl.DataFrame:
    """An XmR chart of ``values``: one row per input value, in order.

    Per-point columns (null on a gap): value, moving_range, astronomical, shift, trend,
    two_of_three, special (any rule), side ("high"/"low"; null for a common-cause point exactly on
    the mean), point_class ("common", "improvement", "concern", "neutral_high", "neutral_low").
    Whole-series columns, repeated on every row: mean, upper, lower, upper_close, lower_close,
    mean_moving_range, target, trial_limits. ``baseline`` is true on the points the limits came
    from.
    """
    _check_polarity(polarity)
    if target is not None and not math.isfinite(target):
        raise ValueError("target must be a finite number or None")
    series = _as_array(values)
    present = ~np.isnan(series)
    x = series[present]
    limits = _limits(x, settings)

    z = (x - limits.reference) - limits.centre  # deviation from the mean
    sign = np.sign(z).astype(np.int64)
    shift = _in_long_run(sign, settings.shift_length)

    steps = np.sign(np.diff(x)).astype(np.int64)  # a tie is 0 and breaks a trend
    step_in_trend = _in_long_run(steps, settings.trend_length - 1)
    m = x.size  # the slices below keep an empty series empty
    arrives = np.concatenate(([False], step_in_trend))[:m]
    leaves = np.concatenate((step_in_trend, [False]))[:m]
    trend = arrives | leaves
    step_into = np.concatenate(([0], steps))[:m]
    step_out_of = np.concatenate((steps, [0]))[:m]
    trend_direction = np.where(arrives, step_into, np.where(leaves, step_out_of, 0))

    limit = LIMIT_FACTOR * limits.mean_moving_range
    close = CLOSE_FACTOR * limits.mean_moving_range
    astronomical = (z > limit) | (z < -limit)
    close_high = (z > close) & (z <= limit)
    close_low = (z < -close) & (z >= -limit)
    two_of_three = _two_of_three(sign > 0, close_high) | _two_of_three(sign < 0, close_low)

    special = astronomical | shift | trend | two_of_three
    side = np.where(sign != 0, sign, trend_direction)
    good = _improving_sign(polarity)
    if good == 0:
        special_class = np.where(side > 0, "neutral_high", "neutral_low")
    else:
        special_class = np.where(side == good, "improvement", "concern")
    point_class = np.where(special, special_class, "common")

    moving_range = np.concatenate(([math.nan], np.abs(np.diff(x))))[:m]
    baseline = np.zeros(series.size, dtype=np.bool_)
    baseline[np.flatnonzero(present)[: limits.baseline]] = True

    def spread(compact: npt.NDArray[np.generic], fill: object) -> npt.NDArray[np.generic]:
        full = np.full(series.size, fill, dtype=compact.dtype)
        full[present] = compact
        return full

    size = series.size
    frame = pl.DataFrame(
        {
            "_present": present,
            "value": pl.Series(series, nan_to_null=True),
            "moving_range": pl.Series(spread(moving_range, math.nan), nan_to_null=True),
            "mean": pl.Series(np.full(size, limits.mean), nan_to_null=True),
            "upper": pl.Series(np.full(size, limits.mean + limit), nan_to_null=True),
            "lower": pl.Series(np.full(size, limits.mean - limit), nan_to_null=True),
            "upper_close": pl.Series(np.full(size, limits.mean + close), nan_to_null=True),
            "lower_close": pl.Series(np.full(size, limits.mean - close), nan_to_null=True),
            "mean_moving_range": pl.Series(
                np.full(size, limits.mean_moving_range), nan_to_null=True
            ),
            "target": pl.Series([target] * size, dtype=pl.Float64),
            "baseline": baseline,
            "trial_limits": np.full(size, limits.baseline < settings.minimum_points),
            "astronomical": spread(astronomical, False),
            "shift": spread(shift, False),
            "trend": spread(trend, False),
            "two_of_three": spread(two_of_three, False),
            "special": spread(special, False),
            "side": spread(np.where(side > 0, "high", np.where(side < 0, "low", "")), ""),
            "point_class": spread(point_class, ""),
        },
        schema_overrides={"value": pl.Float64, "moving_range": pl.Float64},
    )
    return (
        frame.with_columns(
            pl.when(pl.col("_present")).then(pl.col(name)).alias(name) for name in POINT_COLUMNS
        )
        .with_columns(
            pl.when(pl.col("side") != "").then(pl.col("side")).alias("side"),
        )
        .drop("_present")
    )


def _assurance(
    target: float | None, upper: float | None, lower: float | None, polarity: PolarityName
) -> str | None:
    good = _improving_sign(polarity)
    if target is None or upper is None or lower is None or good == 0:
        return None
    if target > upper:
        return "consistently_fail" if good > 0 else "consistently_pass"
    if target < lower:
        return "consistently_pass" if good > 0 else "consistently_fail"
    return "inconsistent"


def summarise(
    frame: pl.DataFrame,
    polarity: PolarityName,
    target: float | None = None,
    settings: SpcSettings = SpcSettings(),
) -> SpcSummary:
    """The variation and assurance icons of an :func:`xmr` frame.

    The variation comes from the last point (trailing gaps are skipped). The assurance compares
    ``target`` with the limits; it is None without a target, without limits (a single point) or
    with a neutral polarity (no direction, so no pass or fail). ``settings.minimum_points``
    decides whether the limits are trial limits. Raises ValueError when there is no point at all.
    """
    _check_polarity(polarity)
    points = frame.filter(pl.col("value").is_not_null())
    if points.height == 0:
        raise ValueError("an SPC summary needs at least one value")
    last = points.row(-1, named=True)
    point_class: str = last["point_class"]
    if point_class == "common":
        variation = "common_cause"
    elif point_class.startswith("neutral_"):
        variation = point_class
    else:
        variation = f"{point_class}_{last['side']}"
    baseline = int(points["baseline"].sum())
    return SpcSummary(
        variation=variation,
        assurance=_assurance(target, last["upper"], last["lower"], polarity),
        trial_limits=baseline < settings.minimum_points,
        points=points.height,
    )


def rag(
    value: float | None,
    target: float | None,
    tolerance: float | None,
    polarity: PolarityName,
) -> str | None:
    """The RAG word, "Green", "Amber" or "Red", against a target; None without a value, a
    target or a direction (neutral polarity).

    Green: at the target or beyond it in the good direction. Amber: short of the target by no
    more than ``tolerance`` (in the value's own units; None means no amber band). Red: further
    short.
    """
    _check_polarity(polarity)
    if tolerance is not None and not tolerance >= 0:
        raise ValueError(f"tolerance must be zero or more, not {tolerance}")
    good = _improving_sign(polarity)
    if value is None or target is None or good == 0:
        return None
    if math.isnan(value) or math.isnan(target):
        return None
    shortfall = (target - value) * good  # how far short of the target, in the good direction
    if shortfall <= 0:
        return "Green"
    if shortfall <= (tolerance or 0.0):
        return "Amber"
    return "Red"
