"""Small-number suppression for the public paper and the public analyst outputs.

DfE's children's social care releases replace any count from 1 to 5 with ``c`` and apply
secondary suppression so a withheld count cannot be recovered from the figures shown beside it;
``0`` is a true zero and is shown (DfE shows 0). :func:`withheld` decides, once, which cells of
the computed series the public outputs must print as ``c``; the internal audience sees everything.

Rules (a cell is one indicator in one month of the series):

1. **Primary.** A cell whose value (a count), numerator or denominator is from 1 to 5 inclusive is
   withheld. So a percentage or ratio whose numerator or denominator is 1-5 is withheld with its
   numerator and denominator (the percentage reveals the count). A rate's denominator is the
   population aged 0-17 (held in tens of thousands, so checked as ``denominator * 10,000``).
   Zero is never withheld. A cell that is not ``ok`` (not available) has nothing to withhold.
2. **Secondary, declared sums.** ``sums`` maps a total indicator to the indicators whose values
   add up to it in the same month (e.g. complaints = stage 1 + stage 2). Where a group (total and
   parts) has exactly one withheld cell in a month, the smallest other shown, non-zero cell of the
   group is withheld too, so the withheld one cannot be found by subtraction. This repeats until
   no group has exactly one withheld cell.

Not handled (say so rather than pretend): differences between months of one series (the paper
blanks the direction arrow and the renderers print ``c`` for a withheld previous or last-year
month, but a rolling 12-month sum beside its monthly counts is not checked), and relations
between indicators that the catalogue does not declare in ``sums``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl

WITHHELD = "c"
KEY = "c: a count of 1 to 5 (or a figure that would reveal one) withheld to protect privacy"
CHART_NOTE = "withheld (small number)"
LOW, HIGH = 1.0, 5.0

Cell = tuple[str, date]


def _small(value: float | None) -> bool:
    return value is not None and LOW <= value <= HIGH


def withheld(
    series: pl.DataFrame,
    units: Mapping[str, str],
    audience: str,
    sums: Mapping[str, Sequence[str]] | None = None,
) -> frozenset[Cell]:
    """The (indicator, month) cells the ``audience`` must see as ``c``: none unless "public".

    ``series`` has the engine's columns (indicator, month, value, numerator, denominator,
    status); ``units`` maps each indicator to its unit ("count", "percent", "rate_per_10k",
    "ratio"). A pure function: the same figures give the same cells."""
    if audience != "public" or series.is_empty():
        return frozenset()
    hidden: set[Cell] = set()
    values: dict[Cell, float] = {}
    for row in series.filter(pl.col("status") == "ok").iter_rows(named=True):
        cell = (row["indicator"], row["month"])
        unit = units.get(row["indicator"], "count")
        denominator = row["denominator"]
        if denominator is not None and unit == "rate_per_10k":
            denominator *= 10_000
        parts = [row["numerator"], denominator]
        if unit == "count":
            parts.append(row["value"])
        if any(_small(part) for part in parts):
            hidden.add(cell)
        if row["value"] is not None:
            values[cell] = row["value"]
    for total, members in (sums or {}).items():
        group = [total, *members]
        for month in {m for name, m in values if name in group}:
            while True:
                cells = [(name, month) for name in group if (name, month) in values]
                if sum(cell in hidden for cell in cells) != 1:
                    break
                others = [c for c in cells if c not in hidden and values[c] != 0]
                if not others:
                    break
                hidden.add(min(others, key=lambda c: (values[c], c[0])))
    return frozenset(hidden)


def cell_text(text: str, hide: bool) -> str:
    """A formatted figure, or ``c`` when withheld (a blank stays blank)."""
    return WITHHELD if hide and text else text


__all__ = ["CHART_NOTE", "KEY", "WITHHELD", "cell_text", "withheld"]
