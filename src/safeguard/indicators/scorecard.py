"""The scorecard: each indicator at the paper's month with its trend, RAG, SPC and DfE
comparators, one row per indicator, built from the monthly series.

SPC runs only on series of independent points (flows, snapshots and shares) with at least the
catalogue's ``spc.minimum_points`` months with a value; a rolling figure (each point overlapping
the previous ones) and a short series get no limits, no letters and words saying why."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from safeguard.indicators.catalogue import Authority, Catalogue, Indicator, Kind
from safeguard.indicators.trends import trend_figures
from safeguard.periods import Month

if TYPE_CHECKING:
    from safeguard.indicators.spc import PolarityName, SpcSettings


def _polarity(indicator: Indicator) -> PolarityName:
    return indicator.polarity.value


def spc_settings(catalogue: Catalogue) -> SpcSettings:
    """The XmR settings of the catalogue's ``spc`` block. Limits from fewer than 12 points are
    trial limits (reached only when ``spc.minimum_points`` is set below 12)."""
    from safeguard.indicators import spc

    return spc.SpcSettings(
        shift_length=catalogue.spc.shift_length,
        trend_length=catalogue.spc.trend_length,
        screen_outliers=catalogue.spc.screen_outliers,
    )


def no_spc_reason(indicator: Indicator, points: int, minimum_points: int) -> str | None:
    """Why a series of ``points`` months with a value gets no SPC, or None when it gets SPC:
    a rolling figure's points overlap (not independent), and a short series has too little
    history for limits."""
    if indicator.kind is Kind.ROLLING:
        overlap = (indicator.window_months or 2) - 1
        months = "month" if overlap == 1 else f"{overlap} months"
        return f"not applicable: each point overlaps the previous {months}"
    if points < minimum_points:
        return f"not enough history: {points} of the {minimum_points} months SPC needs"
    return None


def window_label(indicator: Indicator, month: Month) -> str:
    """ "12 months to Oct 2015" for a rolling figure at ``month``, "" for any other."""
    if indicator.kind is not Kind.ROLLING or indicator.window_months is None:
        return ""
    return f"{indicator.window_months} months to {_MONTHS[month.month - 1]} {month.year}"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _spc(series: pl.DataFrame, indicator: Indicator, catalogue: Catalogue) -> dict[str, Any]:
    from safeguard.indicators import spc

    ok = series.filter(pl.col("status") == "ok").sort("month")
    values = ok["value"].to_list()
    empty = {
        "spc_variation": None,
        "spc_assurance": None,
        "spc_words": None,
        "spc_letters": None,
        "spc_trial": None,
        "spc_mean": None,
        "spc_lower": None,
        "spc_upper": None,
    }
    if not values and indicator.kind is not Kind.ROLLING:
        return empty  # never a value: nothing to say about its variation
    why_not = no_spc_reason(indicator, len(values), catalogue.spc.minimum_points)
    if why_not is not None:
        # spc_variation stays None: no judgement of variation is made (readers test its prefix)
        return {**empty, "spc_words": why_not, "spc_letters": ""}
    settings = spc_settings(catalogue)
    polarity = _polarity(indicator)
    frame = spc.xmr(values, polarity, indicator.target, settings)
    summary = spc.summarise(frame, polarity, indicator.target, settings)
    last = frame.row(-1, named=True)  # the limits in force at the paper's month
    return {
        "spc_variation": summary.variation,
        "spc_assurance": summary.assurance,
        "spc_words": summary.words(),
        "spc_letters": summary.letters(),
        "spc_trial": summary.trial_limits,
        "spc_mean": last["mean"],
        "spc_lower": last["lower"],
        "spc_upper": last["upper"],
    }


def _rag(value: float | None, indicator: Indicator) -> str | None:
    from safeguard.indicators import spc

    return spc.rag(value, indicator.target, indicator.tolerance, _polarity(indicator))


NOT_HELD = "No DfE comparators are held: run `safeguard reference update`."
"""The scorecard's note, and the paper's comparator legend, when no reference data is held."""


def _listed_neighbours(authority: Authority) -> pl.DataFrame:
    """``authority.neighbours`` as a ``load_neighbours`` table (closest first)."""
    count = len(authority.neighbours)
    return pl.DataFrame(
        {
            "la_code": [authority.la_code] * count,
            "la_name": [authority.name] * count,
            "position": list(range(1, count + 1)),
            "neighbour_code": list(authority.neighbours),
            "closeness": [None] * count,
        },
        schema={
            "la_code": pl.String,
            "la_name": pl.String,
            "position": pl.Int64,
            "neighbour_code": pl.String,
            "closeness": pl.String,
        },
    )


class Comparators:
    """DfE's published files, read once each; absent files make comparators not available.
    Notes name a missing file by its name only, never the folder (they reach public papers).
    The neighbours are ``authority.neighbours`` when listed, else the neighbours file's."""

    def __init__(self, authority: Authority):
        self.authority = authority
        self.frames: dict[str, pl.DataFrame | str] = {}
        self.neighbours: pl.DataFrame | None = None
        self.problem: str | None = None
        folder = authority.reference_dir
        if folder is None or not folder.is_dir() or not any(folder.glob("*.csv")):
            self.problem = NOT_HELD
        elif authority.neighbours:
            self.neighbours = _listed_neighbours(authority)
        elif authority.neighbours_file:
            from safeguard.errors import DataError
            from safeguard.indicators.comparators import load_neighbours

            path = folder / authority.neighbours_file
            with contextlib.suppress(DataError):
                self.neighbours = load_neighbours(path) if path.is_file() else None

    def compare(self, indicator: Indicator, month: Month) -> dict[str, Any]:
        from safeguard.indicators.comparators import comparators, read_ees_csv

        blank: dict[str, Any] = {key: None for key in COMPARATOR_COLUMNS}
        if indicator.dfe is None:
            return blank
        if self.problem is not None:
            return {**blank, "dfe_note": self.problem}
        assert self.authority.reference_dir is not None
        file = indicator.dfe.file
        if file not in self.frames:
            from safeguard.errors import DataError

            path: Path = self.authority.reference_dir / file
            update = "run `safeguard reference update`"
            try:
                self.frames[file] = (
                    read_ees_csv(path) if path.is_file() else f"{file} is not held: {update}"
                )
            except DataError:
                self.frames[file] = f"{file} cannot be read: {update}"
        frame = self.frames[file]
        if isinstance(frame, str):
            return {**blank, "dfe_note": frame}
        dfe = indicator.dfe
        published = [
            period
            for period in frame.get_column("time_period").unique().to_list()
            if Month(int(str(period)[:4]), dfe.period_end_month).shift(dfe.published_after_months)
            <= month
        ]
        if not published:
            first = str(frame.get_column("time_period").cast(pl.String).min())
            return {**blank, "dfe_note": f"nothing published by {month} (the file starts {first})"}
        found = comparators(
            frame,
            dfe.measure,
            self.authority.la_code,
            self.neighbours,
            year=str(max(published)),
            filters=dfe.filters or None,
        )
        return {
            "dfe_year": found.year,
            "dfe_authority": found.authority.value,
            "dfe_england": found.england.value,
            "dfe_region": found.region.value,
            "dfe_region_name": found.region_name,
            "dfe_sn_mean": found.sn_mean,
            "dfe_sn_median": found.sn_median,
            "dfe_sn_count": found.sn_count,
            "dfe_rank": found.rank,
            "dfe_rank_of": found.rank_of,
            "dfe_quartile": found.quartile,
            "dfe_note": indicator.dfe.note or None,
            "dfe_caveats": "; ".join(found.notes) or None,
            # the bars of a neighbour chart, as JSON text so the CSV can hold them
            "dfe_neighbour_values": json.dumps(
                [[found.la_name or found.la_code, found.authority.value]]
                + [
                    [n.la_name or n.la_code, n.figure.value]
                    for n in found.neighbours
                    if n.figure.value is not None
                ]
            )
            if found.authority.value is not None
            else None,
        }


COMPARATOR_COLUMNS = [
    "dfe_year",
    "dfe_authority",
    "dfe_england",
    "dfe_region",
    "dfe_region_name",
    "dfe_sn_mean",
    "dfe_sn_median",
    "dfe_sn_count",
    "dfe_rank",
    "dfe_rank_of",
    "dfe_quartile",
    "dfe_note",
    "dfe_caveats",
    "dfe_neighbour_values",
]


def scorecard(
    series: pl.DataFrame, catalogue: Catalogue, authority: Authority, month: Month
) -> pl.DataFrame:
    """One row per indicator at ``month``: the figure, its trend, RAG, SPC and comparators."""
    published = Comparators(authority)
    rows = []
    for name, indicator in catalogue.indicators.items():
        own = series.filter(pl.col("indicator") == name)
        if own.is_empty():
            continue
        now = own.filter(pl.col("month") == month.first_day).row(0, named=True)
        rows.append(
            {
                "indicator": name,
                "title": indicator.title,
                "unit": str(indicator.unit),
                "kind": str(indicator.kind),
                "window_label": window_label(indicator, month),
                "decimals": indicator.decimals,
                "polarity": str(indicator.polarity),
                "month": month.first_day,
                "value": now["value"],
                "numerator": now["numerator"],
                "denominator": now["denominator"],
                "status": now["status"],
                "reason": now["reason"],
                **trend_figures(own, indicator, month),
                "target": indicator.target,
                "tolerance": indicator.tolerance,
                "rag": _rag(now["value"], indicator),
                **_spc(own, indicator, catalogue),
                **published.compare(indicator, month),
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)
