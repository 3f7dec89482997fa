"""Indicators speed: 24 months of every indicator over demo data at a given scale.

Run with ``make bench`` (scale 10: the largest authority). Writes the demo extracts and
store under a temporary folder (or --work), ingests 12 monthly extracts (whose windows cover
the 24 months), then times ``compute`` as the median of repeated runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from safeguard.demo.generate import generate
from safeguard.indicators.catalogue import load_authority, load_catalogue
from safeguard.indicators.engine import compute
from safeguard.ingest.stage import ingest
from safeguard.periods import Month
from safeguard.schema import load_contract
from safeguard.store import Store

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="reuse this folder")
    args = parser.parse_args()
    pipelines = ROOT / "pipelines"
    contract = load_contract(pipelines)
    catalogue, authority = load_catalogue(pipelines), load_authority(pipelines)
    month = Month(2015, 10)
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        store = work / "processed"
        if Store(store).generation is None:
            began = time.perf_counter()
            folders = generate(
                work / "raw", contract, scale=args.scale, first=month.shift(-11), last=month
            )
            written = time.perf_counter()
            for folder in folders:
                ingest(folder, Month.parse(folder.name), contract, store)
            print(
                f"scale {args.scale:g}: wrote 12 extracts in {written - began:.1f} s, "
                f"ingested them in {time.perf_counter() - written:.1f} s (single runs)"
            )
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            computed = compute(Store(store), catalogue, authority, month)
            times.append(time.perf_counter() - began)
        ok = computed.series.filter(computed.series["status"] == "ok").height
        print(
            f"indicators: {len(catalogue.indicators)} x {catalogue.months} months "
            f"({ok} figures ok) in {statistics.median(times):.2f} s, median of {args.runs}"
        )


if __name__ == "__main__":
    main()
