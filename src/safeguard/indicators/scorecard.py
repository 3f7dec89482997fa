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

from safeguard.indicators.catalogue import (
    Authority,
    Catalogue,
    DfeMeasure,
    Indicator,
    Kind,
    Unit,
)
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


_DFE_MODEL = "DfE statistical neighbours"  # how ``safeguard init`` starts neighbours_source

RANK_ORDER = {
    "lower": "rank 1 and band A = lowest (lower is better)",
    "higher": "rank 1 and band A = highest (higher is better)",
    "neutral": "rank 1 and band A = highest (neither is better)",
}
"""What ``dfe_rank`` and ``dfe_quartile`` mean for each polarity."""


class Comparators:
    """DfE's published files, read once each; absent files make comparators not available.
    Notes name a missing file by its name only, never the folder (they reach public papers).

    Rates against rates, shares against shares: a count indicator is never compared (England's
    count says nothing about an authority's); a mapping with ``per_10000`` compares the count
    per 10,000 children aged 0-17 on the ONS estimate of the same geography and year.

    The statistical neighbours are those in force at the paper's month: a list in
    ``authority.neighbours`` the council chose itself; else a neighbours file of its own
    (``neighbours_file`` not one of DfE's models); else the newest DfE model held that was
    published by the month (``NEIGHBOUR_PUBLISHED``: the April 2021 groupings before May 2025,
    the 2025 model from then), the oldest held for earlier papers; else the list ``safeguard
    init`` copied from a DfE model no longer held."""

    def __init__(self, authority: Authority):
        self.authority = authority
        self.frames: dict[str, pl.DataFrame | str] = {}
        self.rates: dict[tuple[str, str, tuple[tuple[str, str], ...]], pl.DataFrame | str] = {}
        self.tables: dict[str, pl.DataFrame | None] = {}
        self.problem: str | None = None
        folder = authority.reference_dir
        if folder is None or not folder.is_dir() or not any(folder.glob("*.csv")):
            self.problem = NOT_HELD
        self.neighbours: pl.DataFrame | None = (
            _listed_neighbours(authority) if authority.neighbours else None
        )

    def _table(self, file: str) -> pl.DataFrame | None:
        if file not in self.tables:
            from safeguard.errors import DataError
            from safeguard.indicators.comparators import load_neighbours

            assert self.authority.reference_dir is not None
            path = self.authority.reference_dir / file
            self.tables[file] = None
            if path.is_file():
                with contextlib.suppress(DataError):
                    self.tables[file] = load_neighbours(path)
        return self.tables[file]

    def neighbours_at(self, month: Month) -> tuple[pl.DataFrame | None, str | None]:
        """The statistical neighbour table in force at ``month`` and where it comes from."""
        from safeguard.authorities import NEIGHBOUR_FILES, NEIGHBOUR_PUBLISHED

        authority = self.authority
        source = authority.neighbours_source or ""
        if authority.neighbours and not source.startswith(_DFE_MODEL):
            return self.neighbours, source or "listed in authority.yaml"
        own = authority.neighbours_file
        if own and own not in NEIGHBOUR_PUBLISHED and (table := self._table(own)) is not None:
            return table, own
        held = [
            (NEIGHBOUR_PUBLISHED[file], file, label)
            for file, label in NEIGHBOUR_FILES
            if self._table(file) is not None
        ]
        if held:
            published = [entry for entry in held if Month(*entry[0]) <= month]
            _, file, label = max(published) if published else min(held)
            return self._table(file), f"{label} ({file})"
        if authority.neighbours:
            return self.neighbours, source or "listed in authority.yaml"
        return None, None

    def _frame(self, file: str) -> pl.DataFrame | str:
        if file not in self.frames:
            from safeguard.errors import DataError
            from safeguard.indicators.comparators import read_ees_csv

            assert self.authority.reference_dir is not None
            path: Path = self.authority.reference_dir / file
            update = "run `safeguard reference update`"
            try:
                self.frames[file] = (
                    read_ees_csv(path) if path.is_file() else f"{file} is not held: {update}"
                )
            except DataError:
                self.frames[file] = f"{file} cannot be read: {update}"
        return self.frames[file]

    def _rates(self, dfe: DfeMeasure, frame: pl.DataFrame) -> pl.DataFrame | str:
        """The mapping's counts per 10,000 children aged 0-17 (filters applied)."""
        from safeguard.errors import ConfigError, DataError
        from safeguard.indicators.comparators import per_10000

        assert dfe.file is not None and dfe.measure is not None
        key = (dfe.file, dfe.measure, tuple(sorted(dfe.filters.items())))
        if key not in self.rates:
            people = self._frame(dfe.population_file)
            if isinstance(people, str):
                self.rates[key] = f"no rate: {people}"
            else:
                try:
                    self.rates[key] = per_10000(
                        frame, dfe.measure, people, filters=dfe.filters or None
                    )
                except (ConfigError, DataError) as error:
                    self.rates[key] = f"no rate from {dfe.file}: {error.message}"
        return self.rates[key]

    def compare(self, indicator: Indicator, month: Month) -> dict[str, Any]:
        from safeguard.indicators.comparators import comparators

        blank: dict[str, Any] = {key: None for key in COMPARATOR_COLUMNS}
        dfe = indicator.dfe
        if dfe is None:
            return blank
        if dfe.file is None or dfe.measure is None:
            return {**blank, "dfe_note": dfe.note}
        if indicator.unit is Unit.COUNT:
            return {
                **blank,
                "dfe_note": "not compared: a count is compared only as a rate per 10,000",
            }
        if self.problem is not None:
            return {**blank, "dfe_note": self.problem}
        frame = self._frame(dfe.file)
        if isinstance(frame, str):
            return {**blank, "dfe_note": frame}
        published = [
            period
            for period in frame.get_column("time_period").unique().to_list()
            if Month(int(str(period)[:4]), dfe.period_end_month).shift(dfe.published_after_months)
            <= month
        ]
        if not published:
            first = str(frame.get_column("time_period").cast(pl.String).min())
            return {**blank, "dfe_note": f"nothing published by {month} (the file starts {first})"}
        measure, filters = dfe.measure, dfe.filters or None
        if dfe.per_10000:
            rates = self._rates(dfe, frame)
            if isinstance(rates, str):
                return {**blank, "dfe_note": rates}
            frame, measure, filters = rates, f"{dfe.measure}_per_10000", None
        neighbours, model = self.neighbours_at(month)
        found = comparators(
            frame,
            measure,
            self.authority.la_code,
            neighbours,
            year=str(max(published)),
            filters=filters,
        )
        polarity = _polarity(indicator)
        return {
            "dfe_year": found.year,
            "dfe_authority": found.authority.value,
            "dfe_england": found.england.value,
            "dfe_region": found.region.value,
            "dfe_region_name": found.region_name,
            "dfe_sn_mean": found.sn_mean,
            "dfe_sn_median": found.sn_median,
            "dfe_sn_count": found.sn_count,
            "dfe_sn_model": model,
            "dfe_rank": found.rank_for(polarity),
            "dfe_rank_of": found.rank_of,
            "dfe_quartile": found.quartile_for(polarity),
            "dfe_rank_order": RANK_ORDER[polarity],
            "dfe_note": dfe.note or None,
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
    "dfe_sn_model",
    "dfe_rank",
    "dfe_rank_of",
    "dfe_quartile",
    "dfe_rank_order",
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
