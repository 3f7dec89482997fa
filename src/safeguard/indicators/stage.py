"""The indicators stage: compute the series for a month and write it beside the store."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from safeguard.errors import DataError
from safeguard.indicators.catalogue import Authority, Catalogue
from safeguard.indicators.engine import (
    NOT_AVAILABLE,
    Computed,
    compute,
)
from safeguard.indicators.scorecard import scorecard
from safeguard.periods import Month
from safeguard.private import DIR_MODE
from safeguard.store import Store, new_month_folder, recover_month_folders

OUTPUT = "indicators"
# the series as the month's latest paper printed it (report/stage.py): kept when the month's
# indicators are computed again, so the next paper's restatements compare with what members
# read, not with a later recomputation
PUBLISHED = "published-series.parquet"


@dataclass(frozen=True)
class Written:
    computed: Computed
    scorecard: pl.DataFrame
    folder: Path


def describe(catalogue: Catalogue) -> pl.DataFrame:
    """The catalogue as a table, joined onto the series for readers of the CSV."""
    return pl.DataFrame(
        [
            {
                "indicator": name,
                "title": i.title,
                "unit": str(i.unit),
                "decimals": i.decimals,
                "polarity": str(i.polarity),
                "target": i.target,
                "tolerance": i.tolerance,
                "definition": i.definition,
            }
            for name, i in catalogue.indicators.items()
        ],
        schema={
            "indicator": pl.String,
            "title": pl.String,
            "unit": pl.String,
            "decimals": pl.Int64,
            "polarity": pl.String,
            "target": pl.Float64,
            "tolerance": pl.Float64,
            "definition": pl.String,
        },
        orient="row",
    )


def write_indicators(
    processed: Path, catalogue: Catalogue, authority: Authority, month: Month
) -> Written:
    """Compute every indicator to ``month`` and replace ``processed/indicators/<month>/``
    atomically (parquet and CSV of the series, the team breakdown, the catalogue's
    breakdowns and the scorecard; the series a paper printed, ``PUBLISHED``, carried over)."""
    store = Store(processed)
    with store.locked():
        generation = store.generation
        if generation is None:
            raise DataError(f"the store {processed} is empty: ingest an extract first")
        computed = compute(store, catalogue, authority, month)
        series = computed.series.join(describe(catalogue), on="indicator", how="left")
        card = scorecard(computed.series, catalogue, authority, month)
        root = processed / OUTPUT
        recover_month_folders(root)
        root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(root, DIR_MODE)
        final = root / str(month)
        with new_month_folder(final) as tmp:
            outputs = (
                ("series", series),
                ("by_team", computed.by_team),
                ("breakdowns", computed.breakdowns),
                ("scorecard", card),
            )
            for name, frame in outputs:
                frame.write_parquet(tmp / f"{name}.parquet")
                frame.write_csv(tmp / f"{name}.csv")
            meta = {
                "month": str(month),
                "generation": generation.name,
                "months": catalogue.months,
                "indicators": len(catalogue.indicators),
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            if (final / PUBLISHED).is_file():  # a paper's figures outlive a recomputation
                shutil.copy2(final / PUBLISHED, tmp / PUBLISHED)
    return Written(computed, card, final)


@dataclass(frozen=True)
class Explanation:
    """One indicator's figure for one month as the engine computes it, and the records behind
    it. A figure that is not available has no records to show: the rule may find rows, but
    they are not a figure (a month before the extracts' window, a table not yet held)."""

    records: pl.DataFrame
    status: str  # "ok", "not applicable" or "not available", as in the series
    reason: str
    value: float | None


def explain(
    processed: Path, catalogue: Catalogue, authority: Authority, indicator: str, month: Month
) -> Explanation:
    """The records behind one indicator's figure for one month, with why each counts, and the
    figure with its status exactly as ``indicators`` and the paper have it."""
    computed = compute(
        Store(processed), catalogue, authority, month, [indicator], keep_records=True
    )
    row = computed.series.filter(pl.col("month") == month.first_day).row(0, named=True)
    frame = computed.records.get(indicator)
    if row["status"] == NOT_AVAILABLE or frame is None:
        empty = pl.DataFrame(schema={"month": pl.Date, "record": pl.String})
        return Explanation(empty, row["status"], row["reason"], None)
    records = frame.filter(pl.col("month") == month.first_day).sort(
        ["numerator", "denominator", "record"], descending=[True, True, False], nulls_last=True
    )
    return Explanation(records, row["status"], row["reason"] or "", row["value"])


def publish_series(written: Written) -> None:
    """Keep the series the month's paper printed (``PUBLISHED``) beside the month's other
    outputs: what the next month's paper restates its figures against. The month folder is
    replaced whole (``swap_folder``), never changed in place: a kill leaves it as computed,
    whose series is the same figures, or as published."""
    final = written.folder
    with new_month_folder(final) as tmp:
        for path in final.iterdir():
            shutil.copy2(path, tmp / path.name)
        shutil.copy2(final / "series.parquet", tmp / PUBLISHED)
