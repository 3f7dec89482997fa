"""Charts for the paper: an XmR chart of each indicator's months, with an optional bar panel of
statistical neighbours, as SVG (HTML and PDF) and PNG (DOCX), with alt text and a data table.
A series that gets no SPC (a rolling figure, whose points overlap, or too short a history) is a
plain trend line: no mean, no limits, no special-cause markers, and the key and alt text say why.

Conventions (research note ``ecosystem.md`` sections 2.1, 2.3 and 2.4): the GOV.UK Analysis
Function palette; lines labelled directly at their right end instead of a boxed legend; special
cause shown by marker shape as well as colour, with the key written as text under the chart; text
kept as text in the SVG; the alt text follows "[chart type] of [data] where [reason]" and is
written from the same numbers as the chart.

Output is deterministic: the same inputs give byte-identical SVG and PNG (fixed size, dpi and
fonts, a fixed SVG hash salt, no dates or software versions in the metadata). Charts are drawn
with matplotlib's object API (``Figure``, never ``pyplot``); the few settings matplotlib only reads
from its global ``rcParams`` are applied under a lock, so charts may be drawn from several
threads.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal, cast, get_args
from xml.sax.saxutils import escape

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from safeguard.indicators.spc import PolarityName, SpcSettings, xmr
from safeguard.report import chart_worker
from safeguard.report.model import Chart, ChartPoint

# --- palette (GOV.UK Analysis Function) ---------------------------------------------------------

DARK_BLUE: Final = "#12436D"
TURQUOISE: Final = "#28A197"
DARK_PINK: Final = "#801650"
ORANGE: Final = "#F46A25"
DARK_GREY: Final = "#3D3D3D"
LIGHT_PURPLE: Final = "#A285D1"
FOCUS_GREY: Final = "#BFBFBF"
GRID_GREY: Final = "#E1E1E1"

UNITS: Final = ("count", "percent", "rate_per_10k", "ratio")
PNG_DPI: Final = 150
WIDTH_CM: Final = 16.0

_WIDTH_IN: Final = WIDTH_CM / 2.54
_FONT: Final = "DejaVu Sans"
_TICK_SIZE: Final = 8.5
_LABEL_SIZE: Final = 8.5
_KEY_SIZE: Final = 8.5
_HEADING_SIZE: Final = 9.0

# XmR panel layout, in inches
_LEFT_IN: Final = 0.72
_RIGHT_IN: Final = 1.38
_CAPTION_IN: Final = 0.34  # above the axes: the unit caption
_AXES_IN: Final = 2.55
_KEY_LINE_IN: Final = 0.2
_KEY_TOP_IN: Final = 0.42  # axes bottom to the first key line's centre

# neighbour panel layout, in inches
_GAP_IN: Final = 0.22
_BAR_IN: Final = 0.23
_BAR_RIGHT_IN: Final = 0.85

_RC: Final[dict[str, Any]] = {
    "svg.hashsalt": "safeguard",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": [_FONT],
    "font.size": _LABEL_SIZE,
    "axes.unicode_minus": False,
    "path.simplify": False,
    "lines.solid_capstyle": "round",
}


@dataclass(frozen=True)
class _Layout:
    """A chart's size and type sizes: the full width, or a small multiple (``small=True``)."""

    width_in: float
    left_in: float
    right_in: float
    caption_in: float
    axes_in: float
    key_line_in: float
    key_top_in: float
    gap_in: float
    bar_in: float
    bar_right_in: float
    tick_size: float
    label_size: float
    key_size: float
    heading_size: float


_FULL: Final = _Layout(
    _WIDTH_IN, _LEFT_IN, _RIGHT_IN, _CAPTION_IN, _AXES_IN, _KEY_LINE_IN, _KEY_TOP_IN, _GAP_IN,
    _BAR_IN, _BAR_RIGHT_IN, _TICK_SIZE, _LABEL_SIZE, _KEY_SIZE, _HEADING_SIZE,
)  # fmt: skip
SMALL_WIDTH_CM: Final = 8.2  # two across a portrait page, three down: six a page
_SMALL: Final = _Layout(
    SMALL_WIDTH_CM / 2.54, 0.5, 0.98, 0.26, 1.45, 0.15, 0.31, 0.16, 0.15, 0.6, 6.5, 6.5, 6.5, 7.0,
)  # fmt: skip
_LAYOUT: ContextVar[_Layout] = ContextVar("chart_layout", default=_FULL)


def _layout() -> _Layout:
    return _LAYOUT.get()


@contextmanager
def _drawn_as(layout: _Layout) -> Iterator[None]:
    """The layout the drawing helpers read (``_layout()``) while one chart is drawn."""
    token = _LAYOUT.set(layout)
    try:
        yield
    finally:
        _LAYOUT.reset(token)


_LOCK: Final = threading.Lock()

MONTH_ABBREVIATIONS: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
MONTH_NAMES: Final = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class _Style:
    """How a class of point is drawn and named: shape and colour, never colour alone."""

    marker: str
    colour: str
    size: float
    key: str  # the words in the key under the chart
    note: str  # the words in the data table and the alt text


_COMMON: Final = _Style("o", DARK_BLUE, 4.5, "Monthly value", "")
_STYLES: Final = {
    "improvement": _Style("^", TURQUOISE, 9.0, "Special cause improvement", "improvement"),
    "concern": _Style("s", ORANGE, 7.5, "Special cause concern", "concern"),
    "neutral_high": _Style("D", DARK_PINK, 6.5, "Special cause variation", "variation, high"),
    "neutral_low": _Style("D", DARK_PINK, 6.5, "Special cause variation", "variation, low"),
}
_STACK: Final = {"lower-limit": 0.0, "target": 1.0, "mean": 2.0, "upper-limit": 3.0}
_RULE_WORDS: Final = {
    "astronomical": "outside the process limits",
    "shift": "shift",
    "trend": "trend",
    "two_of_three": "two of three close to a limit",
}


# --- numbers and words --------------------------------------------------------------------------


def format_value(value: float, unit: str, decimals: int, *, trim: bool = False) -> str:
    """A value as printed: "97.4%", "1,234", "45.2". ``trim`` drops trailing zeros ("95%")."""
    text = f"{value:,.{decimals}f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = text[1:]  # no "-0.0"
    return f"{text}%" if unit == "percent" else text


def _statistic(value: float, unit: str, places: int) -> str:
    """A mean or limit to ``places`` (see :func:`_statistic_places`); a count limit clamped at
    zero is "0"."""
    return format_value(value, unit, places, trim=unit == "count" and value == 0)


def _statistic_places(mean: float, unit: str, decimals: int) -> int:
    """Decimal places for a chart's mean and limits: a count's with one place when the mean is
    under 100 (a mean of 2.4 contacts is not 2), else the indicator's own."""
    return 1 if unit == "count" and decimals == 0 and abs(mean) < 100 else decimals


def month_label(month: date) -> str:
    """ "Oct 2015", for the data table."""
    return f"{MONTH_ABBREVIATIONS[month.month - 1]} {month.year}"


def _tick_label(month: date) -> str:
    return f"{MONTH_ABBREVIATIONS[month.month - 1]} {month.year % 100:02d}"


def _long_month(month: date) -> str:
    return f"{MONTH_NAMES[month.month - 1]} {month.year}"


def _data_words(title: str) -> str:
    """The title as a phrase inside a sentence: the first letter lowered unless an acronym."""
    if len(title) > 1 and title[0].isupper() and not title[1].isupper():
        return title[0].lower() + title[1:]
    return title


def _runs(indices: Sequence[int]) -> list[list[int]]:
    """Consecutive runs: [1, 2, 3, 7] -> [[1, 2, 3], [7]]."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _month_span(first: date, last: date) -> str:
    """ "March 2015", "May to October 2014", "November 2014 to January 2015"."""
    if first == last:
        return _long_month(first)
    if first.year == last.year:
        return f"{MONTH_NAMES[first.month - 1]} to {_long_month(last)}"
    return f"{_long_month(first)} to {_long_month(last)}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


_STATUS_NOTE: Final = re.compile(r"^(not [a-z]+): *(.*)$", re.DOTALL)


def _unavailable(note: str) -> str:
    """ "not available (reason)" from a note such as "not available: reason" or "reason"."""
    found = _STATUS_NOTE.match(note.strip())
    status, reason = (found.group(1), found.group(2)) if found else ("not available", note.strip())
    return f"{status} ({reason})" if reason else status


# --- the series ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    """Everything drawn and written about the months, computed once."""

    months: tuple[date, ...]
    values: tuple[float | None, ...]
    notes: tuple[str, ...]
    classes: tuple[str, ...]  # "" for a gap, "common", "improvement", ...
    rules: tuple[tuple[str, ...], ...]  # the special-cause rules each point takes part in
    mean: float | None  # None with fewer than 2 values, or with no SPC
    upper: float | None
    lower: float | None
    trial: bool
    no_spc: str = ""  # why the series gets no SPC ("not applicable: ..."), "" when it does

    @property
    def present(self) -> list[int]:
        return [i for i, value in enumerate(self.values) if value is not None]

    def special(self) -> list[int]:
        return [i for i, cls in enumerate(self.classes) if cls not in ("", "common")]


def _series(
    months: Sequence[date],
    values: Sequence[float | None],
    notes: Sequence[str],
    polarity: PolarityName,
    target: float | None,
    settings: SpcSettings,
    no_spc: str = "",
) -> _Series:
    clean = tuple(
        None if value is None or not math.isfinite(float(value)) else float(value)
        for value in values
    )
    count = sum(value is not None for value in clean)
    if count < 2 or no_spc:
        classes = tuple("" if value is None else "common" for value in clean)
        return _Series(
            tuple(months), clean, tuple(notes), classes, tuple(() for _ in clean),
            None, None, None, not no_spc, no_spc,
        )  # fmt: skip
    frame = xmr(list(clean), polarity, target, settings)
    rows = frame.to_dicts()
    rules = tuple(
        tuple(rule for rule in _RULE_WORDS if row[rule]) if row["special"] else () for row in rows
    )
    first = rows[0]
    return _Series(
        months=tuple(months),
        values=clean,
        notes=tuple(notes),
        classes=tuple(row["point_class"] or "" for row in rows),
        rules=rules,
        mean=float(first["mean"]),
        upper=float(first["upper"]),
        lower=float(first["lower"]),
        trial=bool(first["trial_limits"]),
    )


def _clamp(value: float, unit: str) -> float:
    """A limit as drawn: none of the units goes below 0, and a percentage not above 100."""
    value = max(value, 0.0)
    return min(value, 100.0) if unit == "percent" else value


def _points(series: _Series, unit: str, decimals: int) -> tuple[ChartPoint, ...]:
    points = []
    for month, value, note, cls, rules in zip(
        series.months, series.values, series.notes, series.classes, series.rules, strict=True
    ):
        if value is None:
            points.append(ChartPoint(month_label(month), "", note.strip() or "not available"))
            continue
        parts = []
        if rules:
            parts.append(
                f"special cause {_STYLES[cls].note} ({', '.join(_RULE_WORDS[r] for r in rules)})"
            )
        if note.strip():
            parts.append(note.strip())
        points.append(
            ChartPoint(month_label(month), format_value(value, unit, decimals), "; ".join(parts))
        )
    return tuple(points)


# --- alt text -----------------------------------------------------------------------------------


def _month_in_sentence(month: date, last: date) -> str:
    """ "October" within the chart's last year, "December 2014" before it."""
    name = MONTH_NAMES[month.month - 1]
    return name if month.year == last.year else f"{name} {month.year}"


def _special_words(series: _Series) -> str:
    special = series.special()
    if not special:
        return "no point shows special cause"
    groups: dict[str, list[int]] = {}
    for i in special:
        groups.setdefault(_STYLES[series.classes[i]].note, []).append(i)
    clauses = []
    for word, members in groups.items():
        rules = [r for r in _RULE_WORDS if any(r in series.rules[i] for i in members)]
        verb = "shows" if len(members) == 1 else "show"
        clauses.append(
            f"{_plural(len(members), 'point', 'points')} {verb} special cause {word} "
            f"({', '.join(_RULE_WORDS[r] for r in rules)})"
        )
    return " and ".join(clauses)


def _alt_line(
    series: _Series,
    title: str,
    unit: str,
    decimals: int,
    target: float | None,
    window_months: int | None = None,
) -> str:
    months = series.months
    last = months[-1]
    data = _data_words(title)
    if window_months:
        data += f" in the {window_months} months to each month"
    head = f"Line chart of {data}, {_long_month(months[0])} to {_long_month(last)}"
    present = series.present

    def target_clause(value: float) -> str:
        if target is None:
            return ""
        shown = format_value(target, unit, decimals, trim=True)
        side = "above" if value > target else "below" if value < target else "at"
        return f" {side} the {shown} target"

    def value_words(i: int) -> str:
        value = series.values[i]
        assert value is not None
        return (
            f"the {_month_in_sentence(months[i], last)} value {format_value(value, unit, decimals)}"
        )

    lead = ""
    if series.values[-1] is None:
        lead = f"the {MONTH_NAMES[last.month - 1]} value is {_unavailable(series.notes[-1])}"
    if not present:
        return f"{head}, where no month has a value."
    latest = present[-1]
    value = series.values[latest]
    assert value is not None
    subject = value_words(latest)
    if lead:
        subject = f"{lead}; {subject}"
    gaps = [i for i, v in enumerate(series.values) if v is None]
    if series.no_spc:
        known = {i: v for i, v in enumerate(series.values) if v is not None}
        low = min(known, key=lambda i: (known[i], i))  # the earliest of equal values
        high = max(known, key=lambda i: (known[i], -i))
        sentence = f"{head}, where {subject} is the latest value"
        if target is not None:
            sentence += f",{target_clause(value)}"
        if len(known) > 1:
            sentence += (
                f"; the lowest is {_range_end(series, low, unit, decimals)} and the highest "
                f"{_range_end(series, high, unit, decimals)}"
            )
        sentence += f"; no process limits, {series.no_spc}"
        return sentence + _gap_clause(series, gaps) + "."
    if series.mean is None or series.upper is None or series.lower is None:
        clause = f"{subject} is the only value, too few for process limits"
        if target is not None:
            clause += f", and is{target_clause(value)}"
        return f"{head}, where {clause}."
    trial = "trial " if series.trial else ""
    places = _statistic_places(series.mean, unit, decimals)
    upper_text = _statistic(_clamp(series.upper, unit), unit, places)
    lower_text = _statistic(_clamp(series.lower, unit), unit, places)
    if value > series.upper:
        position = f"above the upper {trial}process limit ({upper_text})"
    elif value < series.lower:
        position = f"below the lower {trial}process limit ({lower_text})"
    else:
        position = f"within the {trial}process limits ({lower_text} to {upper_text})"
    sentence = (
        f"{head}, where {subject} is {position} around a mean of "
        f"{_statistic(series.mean, unit, places)}"
    )
    if target is not None:
        sentence += f" and{target_clause(value)}"
    sentence += f"; {_special_words(series)}"
    return sentence + _gap_clause(series, gaps) + "."


def _range_end(series: _Series, i: int, unit: str, decimals: int) -> str:
    """ "180.2 (March 2014)": a value and its month, for a trend's range."""
    value = series.values[i]
    assert value is not None
    return f"{format_value(value, unit, decimals)} ({_long_month(series.months[i])})"


def _gap_clause(series: _Series, gaps: list[int]) -> str:
    """ "; 2 months are not available (March to April 2015)", or "" without gaps."""
    months = series.months
    # a point withheld from the public paper (its note "not shown: ...") is said apart
    withheld = [i for i in gaps if series.notes[i].strip().startswith("not shown")]
    text = ""
    for some, words in (
        ([i for i in gaps if i not in withheld], "not available"),
        (withheld, "withheld as small numbers"),
    ):
        if not some:
            continue
        verb = "is" if len(some) == 1 else "are"
        listed = ", ".join(_month_span(months[run[0]], months[run[-1]]) for run in _runs(some))
        text += f"; {_plural(len(some), 'month', 'months')} {verb} {words} ({listed})"
    return text


def _alt_bars(
    bars: list[tuple[str, float]],
    authority: str,
    references: Sequence[tuple[str, float]],
    title: str,
    unit: str,
    decimals: int,
    period: str,
) -> str:
    own = next(value for label, value in bars if label == authority)
    rank = 1 + sum(value > own for _, value in bars)
    lowest = all(value >= own for _, value in bars)
    total = len(bars)
    when = f" in {period}" if period else ""
    if rank == 1:
        place = f"is the highest of {total}"
    elif lowest:
        place = f"is the lowest of {total}"
    else:
        place = f"ranks {_ordinal(rank)} highest of {total}"
    others = _plural(total - 1, "statistical neighbour", "statistical neighbours")
    sentence = (
        f"Bar chart of {_data_words(title)} for {authority} and {others}{when}, where "
        f"{authority} {place} at {format_value(own, unit, decimals)}"
    )
    if references:
        sentence += "; " + ", ".join(
            f"{label} {format_value(value, unit, decimals)}" for label, value in references
        )
    return sentence + "."


# --- drawing helpers ----------------------------------------------------------------------------


@contextmanager
def _settings() -> Iterator[None]:
    with _LOCK, mpl.rc_context(cast(Any, _RC)):
        yield


def _font(size: float, weight: str = "normal") -> FontProperties:
    return FontProperties(family=_FONT, size=size, weight=weight)


def _text_width_in(renderer: RendererBase, text: str, size: float, weight: str = "normal") -> float:
    width, _, _ = renderer.get_text_width_height_descent(text, _font(size, weight), ismath=False)
    return float(width) / PNG_DPI  # the figure is drawn at PNG_DPI


def _spread(
    positions: list[float], gap: float, low: float, high: float, ties: Sequence[float] = ()
) -> list[float]:
    """Move label positions apart by at least ``gap``, keeping them within [low, high] when
    there is room; their order (bottom to top, ``ties`` ordering equal positions) never
    changes."""
    tie = list(ties) or [0.0] * len(positions)
    order = sorted(range(len(positions)), key=lambda i: (positions[i], tie[i], i))
    placed = [positions[i] for i in order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    if placed and placed[-1] > high:
        placed[-1] = high
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - gap)
    if placed and placed[0] < low:
        placed[0] = low
        for k in range(1, len(placed)):
            placed[k] = max(placed[k], placed[k - 1] + gap)
    result = [0.0] * len(positions)
    for k, i in enumerate(order):
        result[i] = placed[k]
    return result


def _value_range(numbers: Sequence[float], unit: str) -> tuple[float, float]:
    """The y-axis range: the numbers with a margin, never below 0 unless a number is, and for
    a percentage never above 100 unless a number is."""
    low, high = min(numbers), max(numbers)
    span = high - low
    pad = 0.08 * span if span > 0 else max(1.0, abs(high) * 0.1)
    bottom, top = low - pad, high + pad
    if low >= 0:
        bottom = max(bottom, 0.0)
    if unit == "percent" and high <= 100:
        top = min(top, 100.0)
    if top <= bottom:
        top = bottom + 1.0
    return bottom, top


def _ticks(bottom: float, top: float, unit: str) -> tuple[list[float], int]:
    """Tick positions within [bottom, top] and the decimal places their labels need."""
    locator = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], integer=unit == "count")
    ticks = [float(t) for t in locator.tick_values(bottom, top)]
    slack = (top - bottom) * 1e-9
    ticks = [t for t in ticks if bottom - slack <= t <= top + slack]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    places = 0
    while places < 6 and abs(step * 10**places - round(step * 10**places)) > 1e-6:
        places += 1
    return ticks, places


def _unit_caption(unit: str) -> str:
    return {
        "count": "Number",
        "percent": "Percentage",
        "rate_per_10k": "Rate per 10,000 children",
        "ratio": "Ratio",
    }[unit]


def _style_axes(ax: Axes) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(DARK_GREY)
    ax.tick_params(axis="both", colors=DARK_GREY, labelsize=_layout().tick_size, labelcolor="black")
    ax.tick_params(axis="y", length=0, pad=4)


# --- the XmR panel ------------------------------------------------------------------------------


def _draw_xmr(
    fig: Figure,
    renderer: RendererBase,
    rect: tuple[float, float, float, float],
    height_in: float,
    key: list[_KeyEntry],
    series: _Series,
    unit: str,
    decimals: int,
    target: float | None,
    prefix: str,
) -> None:
    ax = fig.add_axes(rect)
    _style_axes(ax)
    months = series.months
    base = months[0].year * 12 + months[0].month
    xs = [float(m.year * 12 + m.month - base) for m in months]
    ys = [math.nan if v is None else v for v in series.values]
    present = series.present
    has_limits = series.mean is not None and series.upper is not None and series.lower is not None

    # the y range: values, the drawn lines, the target
    numbers = [v for v in series.values if v is not None]
    lines: list[tuple[str, float, str, str, str]] = []  # gid, y, label, colour, style
    if has_limits:
        assert series.mean is not None and series.upper is not None and series.lower is not None
        upper, lower = _clamp(series.upper, unit), _clamp(series.lower, unit)
        places = _statistic_places(series.mean, unit, decimals)
        lines += [
            (
                "upper-limit",
                upper,
                f"Upper limit {_statistic(upper, unit, places)}",
                DARK_GREY,
                ":",
            ),
            (
                "mean",
                series.mean,
                f"Mean {_statistic(series.mean, unit, places)}",
                DARK_GREY,
                "--",
            ),
            (
                "lower-limit",
                lower,
                f"Lower limit {_statistic(lower, unit, places)}",
                DARK_GREY,
                ":",
            ),
        ]
    if target is not None:
        shown = format_value(target, unit, decimals, trim=True)
        lines.append(("target", target, f"Target {shown}", DARK_PINK, "-."))
    numbers += [y for _, y, _, _, _ in lines]
    bottom, top = _value_range(numbers or [0.0, 1.0], unit)
    ax.set_ylim(bottom, top)
    left_x, right_x = xs[0] - 0.6, xs[-1] + 0.6
    ax.set_xlim(left_x, right_x)

    ticks, places = _ticks(bottom, top, unit)
    ax.set_yticks(ticks, [format_value(t, unit, places) for t in ticks])
    ax.yaxis.grid(True, color=GRID_GREY, linewidth=0.6)
    ax.set_axisbelow(True)

    # x axis: every month ticked; as many labelled as fit, always the last
    per_month_in = rect[2] * _layout().width_in / max(xs[-1] - xs[0] + 1.2, 1.0)
    label_in = _text_width_in(renderer, "May 15", _layout().tick_size) + 0.06
    step = max(1, math.ceil(label_in / per_month_in))
    labelled = [i for i in range(len(xs)) if (len(xs) - 1 - i) % step == 0]
    ax.set_xticks([xs[i] for i in labelled], [_tick_label(months[i]) for i in labelled])
    # every month's short tick as one collection of lines, 2 points below the axis: 24 minor
    # Tick objects (each with lines and labels) cost a fifth of a chart's drawing
    below = 2 / (rect[3] * height_in * 72)
    ax.vlines(
        xs, -below, 0, transform=ax.get_xaxis_transform(), colors=DARK_GREY,
        linewidth=0.8, clip_on=False, gid=prefix + "month-ticks",
    )  # fmt: skip
    ax.tick_params(axis="x", which="major", length=4)

    # lines, labelled at their right end
    for gid, y, _, colour, style in lines:
        ax.plot(
            [xs[0], xs[-1]], [y, y], linestyle=style, color=colour,
            linewidth=1.3 if gid == "target" else 1.1, gid=prefix + gid, zorder=2,
        )  # fmt: skip
    if lines:
        gap = (_layout().label_size * 1.25 / 72.0) / height_in
        wanted = [(y - bottom) / (top - bottom) for _, y, _, _, _ in lines]
        for (_, _, label, colour, _), at in zip(
            lines,
            _spread(wanted, gap, -0.04, 1.04, [_STACK[gid] for gid, *_ in lines]),
            strict=True,
        ):
            ax.text(
                1.012, at, label, transform=ax.transAxes, ha="left", va="center",
                color=colour, fontsize=_layout().label_size, clip_on=False,
            )  # fmt: skip

    # the series: a gap breaks the line
    ax.plot(xs, ys, color=DARK_BLUE, linewidth=1.8, gid=f"{prefix}series", zorder=3, clip_on=False)
    if present:
        ax.plot(
            [xs[i] for i in present], [ys[i] for i in present], linestyle="none",
            marker=_COMMON.marker, markersize=_COMMON.size, color=DARK_BLUE,
            gid=f"{prefix}values", zorder=4, clip_on=False,
        )  # fmt: skip
    for cls in _STYLES:
        members = [i for i in series.special() if series.classes[i] == cls]
        if not members:
            continue
        look = _STYLES[cls]
        ax.plot(
            [xs[i] for i in members], [ys[i] for i in members], linestyle="none",
            marker=look.marker, markersize=look.size, markerfacecolor=look.colour,
            markeredgecolor="white", markeredgewidth=0.8, gid=f"{prefix}special-{cls}",
            zorder=5, clip_on=False,
        )  # fmt: skip

    # gaps: one "n/a" per run of missing months, where the line would have been
    gaps = [i for i, v in enumerate(series.values) if v is None]
    for run in _runs(gaps) if present else []:
        before = [ys[j] for j in present if j < run[0]][-1:]
        after = [ys[j] for j in present if j > run[-1]][:1]
        around = before + after
        y_gap = sum(around) / len(around) if around else bottom + 0.15 * (top - bottom)
        ax.text(
            (xs[run[0]] + xs[run[-1]]) / 2, y_gap, "n/a", ha="center", va="center",
            color=DARK_GREY, fontsize=_layout().key_size - 0.5, zorder=6,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5},
        )  # fmt: skip

    if not has_limits and (not present or not series.no_spc):
        message = (
            "No values for these months"
            if not present
            else "Too few values for process limits (at least 2 are needed)"
        )
        ax.text(
            0.5, 0.9 if present else 0.5, message, transform=ax.transAxes, ha="center", va="center",
            color=DARK_GREY, fontsize=_layout().heading_size,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 3},
        )  # fmt: skip
        if not present:
            ax.set_yticks([], [])

    # the unit caption above the axes
    fig.text(
        0.12 / _layout().width_in, rect[1] + rect[3] + 0.17 / height_in,
        _unit_caption(unit), ha="left", va="center", fontsize=_layout().label_size, color=DARK_GREY,
    )  # fmt: skip

    _draw_key(fig, key, rect, height_in)


def _key_items(
    series: _Series, minimum_points: int, window_months: int | None = None
) -> tuple[list[tuple[_Style | None, str]], list[str]]:
    """The key's entries (a marker, or none, and words) for the classes drawn, then notes."""
    has_limits = series.mean is not None
    items: list[tuple[_Style | None, str]] = []
    if series.present:
        words = f"Value for the {window_months} months to the month" if window_months else None
        items.append((_COMMON, words or _COMMON.key))
    for cls in _STYLES:
        if cls in series.classes and _STYLES[cls].key not in (words for _, words in items):
            items.append((_STYLES[cls], _STYLES[cls].key))
    if None in series.values:
        items.append((None, "n/a  not available (see the table)"))
    if has_limits and not series.special():
        items.append((None, "No point shows special cause variation"))
    notes = []
    if has_limits and series.trial:
        notes.append(f"Trial limits: fewer than {minimum_points} points, so the limits may change")
    if series.no_spc:
        notes.append(f"No process limits, {series.no_spc}")
    return items, notes


@dataclass(frozen=True)
class _KeyEntry:
    style: _Style | None
    words: str
    x_in: float  # from the figure's left edge
    line: int  # 0 for the first line under the chart
    colour: str = "black"


def _key_layout(
    renderer: RendererBase, items: list[tuple[_Style | None, str]], notes: list[str]
) -> list[_KeyEntry]:
    """The key as rows of marker-and-words wrapped to the figure's width, then one line per
    note."""
    x0, marker_in, after_marker_in, between_in = 0.12, 0.13, 0.07, 0.28
    x, line = x0, 0
    entries = []
    for style, words in items:
        width = _text_width_in(renderer, words, _layout().key_size)
        needed = (marker_in + after_marker_in if style else 0.0) + width
        if x > x0 and x + needed > _layout().width_in - 0.1:
            x, line = x0, line + 1
        entries.append(_KeyEntry(style, words, x, line))
        x += needed + between_in
    first_note = line + 1 if items else 0
    entries += [
        _KeyEntry(None, note, x0, first_note + k, DARK_GREY) for k, note in enumerate(notes)
    ]
    return entries


def _draw_key(
    fig: Figure, entries: list[_KeyEntry], rect: tuple[float, float, float, float], fig_h: float
) -> None:
    bottom_in = rect[1] * fig_h
    for entry in entries:
        y = (bottom_in - _layout().key_top_in - entry.line * _layout().key_line_in) / fig_h
        x_in = entry.x_in
        if entry.style is not None:
            fig.add_artist(_marker(fig, (x_in + 0.065) / _layout().width_in, y, entry.style))
            x_in += 0.2
        fig.text(
            x_in / _layout().width_in, y, entry.words, ha="left", va="center",
            fontsize=_layout().key_size, color=entry.colour,
        )  # fmt: skip


def _marker(fig: Figure, x: float, y: float, style: _Style) -> Line2D:
    special = style is not _COMMON
    return Line2D(
        [x], [y], linestyle="none", marker=style.marker,
        markersize=min(style.size, 8.0) if special else style.size,
        markerfacecolor=style.colour, markeredgecolor="white" if special else style.colour,
        markeredgewidth=0.8 if special else 1.0, transform=fig.transFigure,
    )  # fmt: skip


# --- the neighbours panel -----------------------------------------------------------------------


def _draw_neighbours(
    fig: Figure,
    renderer: RendererBase,
    top_in: float,
    fig_height_in: float,
    bars: list[tuple[str, float]],
    authority: str,
    references: Sequence[tuple[str, float]],
    unit: str,
    decimals: int,
    period: str,
    prefix: str,
) -> None:
    """Horizontal bars, highest at the top: the authority dark blue (and its name and value
    bold), its neighbours grey, reference figures (England, the neighbours' mean) as outlined
    bars with italic names, every bar labelled with its value."""
    fig_w, fig_h = _layout().width_in, fig_height_in
    heading = "Statistical neighbours" + (f", {period}" if period else "")
    fig.text(
        0.12 / fig_w, (fig_h - top_in - 0.12) / fig_h, heading, ha="left", va="center",
        fontsize=_layout().heading_size, fontweight="bold", color="black",
    )  # fmt: skip
    rows = [
        (label, value, "authority" if label == authority else "neighbour") for label, value in bars
    ]
    rows += [(label, value, "reference") for label, value in references]
    ordered = sorted(rows, key=lambda row: (-row[1], row[2] != "reference", row[0]))

    def weight(kind: str) -> Literal["bold", "normal"]:
        return "bold" if kind == "authority" else "normal"

    def slant(kind: str) -> Literal["italic", "normal"]:
        return "italic" if kind == "reference" else "normal"

    label_in = max(
        _text_width_in(renderer, label, _layout().tick_size, weight(kind))
        for label, _, kind in ordered
    )
    left_in = 0.12 + label_in + 0.12
    axes_top_in = top_in + 0.3
    axes_h_in = len(ordered) * _layout().bar_in
    rect = (
        left_in / fig_w,
        (fig_h - axes_top_in - axes_h_in) / fig_h,
        (fig_w - left_in - _layout().bar_right_in) / fig_w,
        axes_h_in / fig_h,
    )
    ax = fig.add_axes(rect, gid=f"{prefix}neighbours")
    _style_axes(ax)
    ax.spines["bottom"].set_visible(False)
    ax.spines["left"].set_visible(True)
    ax.spines["left"].set_color(DARK_GREY)
    positions = list(range(len(ordered)))[::-1]  # the highest at the top
    for row, (y, (_, value, kind)) in enumerate(zip(positions, ordered, strict=True)):
        if kind == "reference":
            ax.barh(
                y, value, height=0.62, color="white", edgecolor=DARK_GREY, linewidth=1.0,
                hatch="////", gid=f"{prefix}reference-bar-{row}",
            )  # fmt: skip
        else:
            colour = DARK_BLUE if kind == "authority" else FOCUS_GREY
            ax.barh(y, value, height=0.72, color=colour, gid=f"{prefix}{kind}-bar-{row}")
    numbers = [value for _, value, _ in ordered]
    high = max(max(numbers), 0.0)
    low = min(min(numbers), 0.0)
    ax.set_xlim(low, high if high > low else low + 1.0)
    ax.set_ylim(-0.5, len(ordered) - 0.5)
    ax.set_xticks([])
    ax.set_yticks(positions, [label for label, _, _ in ordered])
    ax.tick_params(axis="y", length=0, pad=6)
    for tick, (_, _, kind) in zip(ax.get_yticklabels(), ordered, strict=True):
        tick.set_fontweight(weight(kind))
        tick.set_fontstyle(slant(kind))
    for y, (_, value, kind) in zip(positions, ordered, strict=True):
        ax.text(
            value, y, " " + format_value(value, unit, decimals), ha="left", va="center",
            fontsize=_layout().tick_size, color="black", clip_on=False, fontweight=weight(kind),
            fontstyle=slant(kind),
        )  # fmt: skip


def _neighbours_height_in(rows: int) -> float:
    return 0.3 + rows * _layout().bar_in + 0.08


# --- the chart ----------------------------------------------------------------------------------


def _check(
    months: Sequence[date], values: Sequence[float | None], notes: Sequence[str], unit: str,
    decimals: int, polarity: str,
) -> PolarityName:  # fmt: skip
    if not months:
        raise ValueError("a chart needs at least one month")
    if not len(months) == len(values) == len(notes):
        raise ValueError(
            f"months, values and notes differ in length ({len(months)}, {len(values)}, "
            f"{len(notes)})"
        )
    numbers = [m.year * 12 + m.month for m in months]
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        raise ValueError("months must be in order, each month once")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    if not 0 <= decimals <= 6:
        raise ValueError(f"decimals must be between 0 and 6, not {decimals}")
    if polarity not in get_args(PolarityName):
        raise ValueError(f"polarity must be 'higher', 'lower' or 'neutral', not {polarity!r}")
    return cast(PolarityName, polarity)


def element_prefix(indicator: str) -> str:
    """The prefix of the chart's element ids in the SVG ("contacts-mean", "contacts-series"),
    so that charts inlined in one page keep their ids apart."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", indicator).strip("-") + "-"


def _with_text_alternative(svg: str, title: str, alt: str) -> str:
    """The SVG with a <title> and <desc> first inside the root element, for screen readers."""
    start = svg.index("<svg")
    end = svg.index(">", start) + 1
    root = svg[start:end].replace("<svg", '<svg role="img"', 1)
    inserted = f"\n <title>{escape(title)}</title>\n <desc>{escape(alt)}</desc>"
    return svg[:start] + root + inserted + svg[end:]


def indicator_chart(
    indicator: str,
    title: str,
    months: list[date],
    values: list[float | None],
    notes: list[str],
    unit: str,
    decimals: int,
    polarity: str,
    target: float | None,
    spc_settings: SpcSettings,
    neighbours: list[tuple[str, float]] | None = None,
    *,
    authority: str | None = None,
    references: Sequence[tuple[str, float]] = (),
    comparator_period: str = "",
    no_spc: str = "",
    window_months: int | None = None,
    small: bool = False,
) -> Chart:
    """One indicator's chart: an XmR chart of ``months`` (a None value is a gap, ``notes`` giving
    why), and with ``neighbours`` a bar panel of (label, value) pairs that include the authority.

    ``authority`` names the authority's bar (default: the first pair); ``references`` are
    reference figures drawn as outlined bars among them, e.g. ``[("England", 12.3)]``;
    ``comparator_period`` ("2013-14") heads the bar panel. The SVG, PNG and alt text say the same
    thing, and ``points`` is the data table: one row per month.

    ``no_spc``, the reason a series gets no SPC ("not applicable: each point overlaps the
    previous 11 months"), draws a plain trend line: no mean, limits or special-cause markers,
    the reason in the key and the alt text. ``window_months`` names a rolling figure's window
    in the key ("Value for the 12 months to the month") and the alt text. ``small`` draws it as
    a small multiple (8.2 cm wide, six a page), otherwise full width (16 cm).
    """
    lay = _SMALL if small else _FULL
    checked = _check(months, values, notes, unit, decimals, polarity)
    series = _series(months, values, notes, checked, target, spc_settings, no_spc)
    bars = [
        (label, float(value))
        for label, value in (neighbours or [])
        if value is not None and math.isfinite(float(value))
    ]
    own = authority if authority is not None else (bars[0][0] if bars else "")
    if bars and own not in {label for label, _ in bars}:
        raise ValueError(f"the authority {own!r} is not among the neighbours")
    refs = [(label, float(value)) for label, value in references if math.isfinite(float(value))]

    alt = _alt_line(series, title, unit, decimals, target, window_months)
    if bars:
        alt += " " + _alt_bars(bars, own, refs, title, unit, decimals, comparator_period)

    items, key_notes = _key_items(series, spc_settings.minimum_points, window_months)
    prefix = element_prefix(indicator)
    with _settings(), _drawn_as(lay):
        fig = Figure(figsize=(lay.width_in, lay.width_in / 2), dpi=PNG_DPI, facecolor="white")
        canvas = FigureCanvasAgg(fig)
        renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
        key = _key_layout(renderer, items, key_notes)
        key_lines = 1 + max((entry.line for entry in key), default=0)
        xmr_in = lay.caption_in + lay.axes_in + lay.key_top_in + key_lines * lay.key_line_in
        height_in = xmr_in
        if bars:
            height_in += lay.gap_in + _neighbours_height_in(len(bars) + len(refs))
        fig.set_size_inches(lay.width_in, height_in)
        rect = (
            lay.left_in / lay.width_in,
            (height_in - lay.caption_in - lay.axes_in) / height_in,
            (lay.width_in - lay.left_in - lay.right_in) / lay.width_in,
            lay.axes_in / height_in,
        )
        _draw_xmr(fig, renderer, rect, height_in, key, series, unit, decimals, target, prefix)
        if bars:
            _draw_neighbours(
                fig, renderer, xmr_in + lay.gap_in, height_in, bars, own, refs, unit, decimals,
                comparator_period, prefix,
            )  # fmt: skip
        svg_buffer = io.StringIO()
        fig.savefig(svg_buffer, format="svg", metadata={"Date": None})
        png_buffer = io.BytesIO()
        fig.savefig(png_buffer, format="png", dpi=PNG_DPI, metadata={"Software": None})

    return Chart(
        indicator=indicator,
        title=title,
        svg=_with_text_alternative(svg_buffer.getvalue(), title, alt),
        png=png_buffer.getvalue(),
        alt=alt,
        points=_points(series, unit, decimals),
        width_cm=lay.width_in * 2.54,
    )


# --- many charts at once ------------------------------------------------------------------------


def indicator_charts(
    jobs: Sequence[dict[str, Any]],
    *,
    workers: int | None = None,
    started: chart_worker.Workers | None = None,
) -> list[Chart]:
    """Every chart of ``jobs`` (each :func:`indicator_chart`'s keyword arguments), in order.

    With enough charts and a spare processor, worker processes
    (``python -m safeguard.report.chart_worker``, which import nothing of the caller's) draw
    from the end of the list while this process draws from the start, until they meet, so
    neither waits for the other: ``started`` ones if given (booted ahead), else ``workers`` new
    ones (default: a processor's worth less this one, at most three). The charts are the same
    bytes whoever draws them. A worker that cannot start or dies leaves its charts here."""
    if len(jobs) < chart_worker.PARALLEL_FROM:
        return [indicator_chart(**job) for job in jobs]
    ready: list[Any] = started.take() if started is not None else []
    if started is None:
        ready = [None] * (
            chart_worker.workers() if workers is None else workers
        )  # started by serve
    if not ready:
        return [indicator_chart(**job) for job in jobs]
    queue = chart_worker.Shared(len(jobs))
    helpers = [
        threading.Thread(target=chart_worker.serve, args=(jobs, queue, worker)) for worker in ready
    ]
    for helper in helpers:
        helper.start()
    while (i := queue.take_front()) is not None:
        queue.done(i, indicator_chart(**jobs[i]))
    for helper in helpers:
        helper.join()
    # whatever a worker took and could not finish (it failed to start, or died)
    for i in queue.missing():
        queue.done(i, indicator_chart(**jobs[i]))
    return queue.charts()


__all__ = [
    "PNG_DPI",
    "UNITS",
    "element_prefix",
    "format_value",
    "indicator_chart",
    "indicator_charts",
    "month_label",
]
