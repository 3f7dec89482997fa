"""Sentences written by rules from the numbers, the SPC state, the target and comparators.

Deterministic: the same scorecard row gives the same words. The register follows the seed
paper ("98.2% of contacts were screened by a qualified practitioner on the same working day
in October 2015, consistently strong over the last five months").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


def fmt(value: float | None, unit: str, decimals: int) -> str:
    """A value as the paper prints it."""
    if value is None:
        return "not available"
    if unit == "percent":
        return f"{value:.{decimals}f}%"
    if unit == "rate_per_10k":
        return f"{value:.{decimals}f} per 10,000"
    return f"{value:,.{decimals}f}"


def _direction(now: float, before: float, decimals: int) -> str:
    if round(now, decimals) == round(before, decimals):
        return "unchanged from"
    return "up from" if now > before else "down from"


def sentence(row: dict[str, Any], month_label: str, previous_label: str) -> str:
    """One indicator's commentary."""
    title = row["title"]
    unit, decimals = row["unit"], row["decimals"]
    if row["status"] != "ok" or row["value"] is None:
        return f"{title}: {row['status']} for {month_label} ({row['reason']})."
    parts = [f"{title}: {fmt(row['value'], unit, decimals)} in {month_label}"]
    if row.get("previous_value") is not None:
        parts[0] += (
            f", {_direction(row['value'], row['previous_value'], decimals)} "
            f"{fmt(row['previous_value'], unit, decimals)} in {previous_label}"
        )
    variation = row.get("spc_variation")
    if variation and variation != "common_cause":
        kind = (
            "improvement"
            if variation.startswith("improvement")
            else ("concern" if variation.startswith("concern") else "change")
        )
        side = "high" if variation.endswith("high") else "low"
        parts.append(f"a special cause {kind} ({side}) against the last two years' pattern")
    elif variation == "common_cause":
        parts.append("within its usual range over the last two years")
    target = row.get("target")
    if target is not None:
        better = row["polarity"]
        met = row["value"] >= target if better == "higher" else row["value"] <= target
        parts.append(
            f"{'meeting' if met else 'short of'} the target of {fmt(target, unit, decimals)}"
        )
    england = row.get("dfe_england")
    if england is not None and row.get("dfe_year"):
        parts.append(f"England {fmt(england, unit, decimals)} in {year_label(row['dfe_year'])}")
    return "; ".join(parts) + "."


def year_label(year: str) -> str:
    """DfE's reporting year 2014 is the year to 31 March 2014, written 2013-14."""
    if len(year) == 4 and year.isdigit():
        return f"{int(year) - 1}-{year[2:]}"
    return year


# What makes a year-on-year change "large": a fifth of the value a year ago and at least ten
# (counts and rates), or ten percentage points (percentages). Smaller moves are left to the SPC.
LARGE_RELATIVE = 0.2
LARGE_COUNT = 10.0
LARGE_POINTS = 10.0

Kind = Literal["positive", "challenge", "change"]


@dataclass(frozen=True)
class Finding:
    """One exception of the month: why it is one, what it says, and what members might ask."""

    indicator: str
    title: str
    kind: Kind  # positive, challenge, or a change to note (no better or worse direction)
    reasons: tuple[str, ...]
    text: str
    question: str


def _better(row: dict[str, Any], now: float, before: float) -> int:
    """+1 when ``now`` is better than ``before`` by the row's polarity, -1 worse, 0 neutral."""
    if row["polarity"] == "neutral" or now == before:
        return 0
    up = 1 if now > before else -1
    return up if row["polarity"] == "higher" else -up


def _large_change(row: dict[str, Any], now: float, before: float) -> bool:
    if row["unit"] == "percent":
        return abs(now - before) >= LARGE_POINTS
    return abs(now - before) >= LARGE_COUNT and (
        before == 0 or abs(now - before) >= LARGE_RELATIVE * abs(before)
    )


def _rag_before(row: dict[str, Any]) -> str | None:
    from safeguard.indicators.spc import rag

    previous = row.get("previous_value")
    if previous is None or row.get("target") is None:
        return None
    return rag(previous, row["target"], row.get("tolerance"), row["polarity"])


def finding(row: dict[str, Any], month_label: str, last_year_label: str) -> Finding | None:
    """The row as an exception of the month, or None when nothing about it is exceptional.

    Exceptions: a special cause (any polarity); a large change on the same month last year
    (any polarity, volumes included); Red or Amber against the target; a target newly met or
    newly missed; a target consistently met. An improvement is never a challenge: a row that
    improved but is still short of its target is a positive with that caveat.
    """
    if row["status"] != "ok" or row["value"] is None:
        return None
    title, unit, decimals = row["title"], row["unit"], row["decimals"]
    value = row["value"]
    shown = fmt(value, unit, decimals)
    good = bad = 0
    reasons: list[str] = []
    words: list[str] = []
    variation = row.get("spc_variation") or ""
    side = "high" if variation.endswith("_high") else "low"
    if variation.startswith("improvement"):
        good += 1
        reasons.append("special cause improvement")
        words.append(f"a special cause improvement ({side}) against the last two years' pattern")
    elif variation.startswith("concern"):
        bad += 1
        reasons.append("special cause concern")
        words.append(f"a special cause concern ({side}) against the last two years' pattern")
    elif variation.startswith("neutral"):
        reasons.append("special cause variation")
        words.append(f"unusually {side} against the last two years' pattern")
    last_year = row.get("last_year_value")
    if last_year is not None and _large_change(row, value, last_year):
        direction = _better(row, value, last_year)
        good, bad = good + (direction > 0), bad + (direction < 0)
        reasons.append("large change on last year")
        change = (
            f"{value - last_year:+.{decimals}f} percentage points"
            if unit == "percent"
            else f"{(value - last_year) / abs(last_year):+.0%}"
            if last_year
            else "up from none"
        )
        words.append(f"{change} on {last_year_label} ({fmt(last_year, unit, decimals)})")
    rag_now, rag_then = row.get("rag"), _rag_before(row)
    target = row.get("target")
    if rag_now in ("Red", "Amber"):
        bad += 1
        reasons.append(f"RAG {rag_now}")
        gap = "within its tolerance of" if rag_now == "Amber" else "short of"
        words.append(f"{gap} the target of {fmt(target, unit, decimals)} ({rag_now})")
        if rag_then == "Green":
            reasons.append("target newly missed")
    elif rag_now == "Green" and rag_then in ("Red", "Amber"):
        good += 1
        reasons.append("target newly met")
        words.append(f"meeting the target of {fmt(target, unit, decimals)} again")
    elif rag_now == "Green" and row.get("spc_assurance") == "consistently_pass":
        good += 1
        reasons.append("target consistently met")
        words.append(f"consistently meeting the target of {fmt(target, unit, decimals)}")
    if not reasons:
        return None
    if "special cause improvement" in reasons or (good and good >= bad):
        kind: Kind = "positive"  # an improvement is never a challenge
    else:
        kind = "challenge" if bad else "change"
    text = f"{title}: {shown} in {month_label}; " + "; ".join(words) + "."
    return Finding(
        indicator=str(row.get("indicator", title)),
        title=title,
        kind=kind,
        reasons=tuple(reasons),
        text=text,
        question=_question(kind, reasons, title, side),
    )


def _question(kind: Kind, reasons: list[str], title: str, side: str) -> str:
    """One suggested question for members, by what made the row an exception."""
    subject = title[0].lower() + title[1:]
    if kind == "positive":
        if reasons == ["target consistently met"]:
            return f"What keeps {subject} consistently on target, and is it at risk?"
        if reasons == ["target newly met"]:
            return f"What brought {subject} back to target, and will it hold?"
        return f"What has driven the improvement in {subject}, and can it be sustained?"
    if kind == "challenge":
        if any(reason.startswith("RAG") for reason in reasons):
            return f"What is the plan to bring {subject} back to target, and by when?"
        return f"What lies behind the deterioration in {subject}, and what is being done?"
    if side == "high" or "large change on last year" in reasons:
        return f"What is driving the change in {subject}, and can the service meet the demand?"
    return f"Is the fall in {subject} expected, or is need going unmet?"


def exceptions(rows: list[dict[str, Any]], month_label: str, last_year_label: str) -> list[Finding]:
    """The month's exceptions in the rows' order."""
    found = (finding(row, month_label, last_year_label) for row in rows)
    return [one for one in found if one is not None]


def positives_and_challenges(
    rows: list[dict[str, Any]], month_label: str, last_year_label: str
) -> tuple[list[str], list[str]]:
    """The cover report's lists: positive findings; challenges and changes to note."""
    found = exceptions(rows, month_label, last_year_label)
    return (
        [one.text for one in found if one.kind == "positive"],
        [one.text for one in found if one.kind != "positive"],
    )
