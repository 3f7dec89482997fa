"""Ingest speed: a 1,000,000-row contacts file (plus its person table) validated and stored.

Run with ``make bench``. Prints medians of repeated runs; the bare polars read of the same
files is the floor ingest is compared with. Writes nothing outside a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from safeguard.ingest.validate import validate_extract
from safeguard.periods import Month
from safeguard.schema import load_contract
from safeguard.store import merge_extract

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = np.array(["NEW_REFERRAL", "EXISTING_CASE", "EARLY_HELP", "ADVICE", "NFA", "OTHER"])
SOURCES = np.array(["1A", "1B", "2A", "3A", "3B", "5A", "5B", "5D", "6", "8", "9", "10"])


def make_extract(folder: Path, rows: int, seed: int = 2015) -> None:
    """A synthetic extract closing 2015-10: ``rows`` contacts over 24 months, vectorised."""
    rng = np.random.default_rng(seed)
    people = max(rows // 5, 1)
    folder.mkdir(parents=True, exist_ok=True)
    person_ids = np.char.add("P", np.char.zfill(np.arange(people).astype(str), 8))
    pl.DataFrame(
        {
            "pers_person_id": person_ids,
            "pers_sex": rng.choice(np.array(["M", "F"]), people),
            "pers_dob": (np.datetime64("2000-01-01") + rng.integers(0, 5800, people)).astype(str),
        }
    ).write_csv(folder / "person.csv")
    start = np.datetime64("2013-11-01T00:00")
    minutes = rng.integers(0, 730 * 24 * 60, rows)
    received = start + minutes.astype("timedelta64[m]")
    decided = received + rng.integers(5, 600, rows).astype("timedelta64[m]")
    pl.DataFrame(
        {
            "cont_contact_id": np.char.add("C", np.char.zfill(np.arange(rows).astype(str), 9)),
            "cont_person_id": person_ids[rng.integers(0, people, rows)],
            "cont_contact_date": np.datetime_as_string(received, unit="m"),
            "cont_contact_source_code": rng.choice(SOURCES, rows),
            "cont_contact_outcome": rng.choice(OUTCOMES, rows),
            "cont_decision_datetime": np.datetime_as_string(decided, unit="m"),
            "cont_decision_by_qualified": rng.choice(np.array(["Y", "N"]), rows, p=[0.97, 0.03]),
        }
    ).with_columns(
        pl.col("cont_contact_date").str.replace("T", " "),
    ).write_csv(folder / "contacts.csv")


def median_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    contract = load_contract(ROOT / "pipelines")
    month = Month(2015, 10)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "raw" / "2015-10"
        make_extract(folder, args.rows)
        files = [folder / "contacts.csv", folder / "person.csv"]
        size = sum(f.stat().st_size for f in files) / 1e6

        def bare_read() -> None:
            for f in files:
                pl.read_csv(f, infer_schema=False)

        def validate_only() -> None:
            validate_extract(folder, month, contract)

        def ingest_fresh() -> None:
            store = Path(tmp) / "processed"
            shutil.rmtree(store, ignore_errors=True)
            merge_extract(store, validate_extract(folder, month, contract), contract)

        bare = median_of(args.runs, bare_read)
        checked = median_of(args.runs, validate_only)
        ingested = median_of(args.runs, ingest_fresh)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}, polars {pl.__version__}"
    )
    print(
        f"input: {args.rows:,} contacts + {args.rows // 5:,} people, {size:.0f} MB of CSV; "
        f"median of {args.runs} runs"
    )
    print(f"{'bare polars read (all text)':<32}{bare:8.2f} s")
    print(f"{'validate (no write)':<32}{checked:8.2f} s  {checked / bare:5.1f}x the bare read")
    print(
        f"{'ingest into a fresh store':<32}{ingested:8.2f} s  {ingested / bare:5.1f}x the bare read"
    )


if __name__ == "__main__":
    main()
