"""Sentences written by rules from the numbers, the SPC state, the target and comparators.

Deterministic: the same scorecard row gives the same words. The register follows the seed
paper ("98.2% of contacts were screened by a qualified practitioner on the same working day
in October 2015, consistently strong over the last five months").
"""

from __future__ import annotations

from typing import Any


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


def positives_and_challenges(
    rows: list[dict[str, Any]], month_label: str, previous_label: str
) -> tuple[list[str], list[str]]:
    """Positives: on target or a special-cause improvement; challenges: red, or a concern."""
    positives, challenges = [], []
    for row in rows:
        if row["status"] != "ok":
            continue
        variation = row.get("spc_variation") or ""
        text = sentence(row, month_label, previous_label)
        if row.get("rag") == "Red" or variation.startswith("concern"):
            challenges.append(text)
        elif row.get("rag") == "Green" or variation.startswith("improvement"):
            positives.append(text)
    return positives, challenges
