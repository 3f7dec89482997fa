"""``make bench``: how safeguard scales, from a county to a regional consortium.

For each scale (1: a county; 10: the largest authority; 100: a regional consortium) the
Demoshire simulation writes the 13 monthly extracts October 2014 - October 2015 (each holding
24 months of events), then this times, each as the median of repeated runs with the peak
memory of the process that did the work:

- ``floor``: a bare polars read of the October 2015 extract's CSV files, all columns as text,
  and the same read with polars parsing the dates;
- ``floor_write``: the floor a monthly ingest is held to (issue 16): polars reading each of the
  month's CSV files as text and writing it as parquet (``benchmarks/references.py``);
- ``history``: ingest of the 12 extracts October 2014 - September 2015 into an empty store;
- ``month``: ingest of October 2015 into that full store (the monthly cron job's ingest);
- ``indicators``: every indicator for the 24 months to October 2015, written to the store;
- ``report``: the paper in every format (PDF, DOCX, HTML, CSV/XLSX), indicators included;
- ``pipeline``: ``safeguard run`` for October 2015 on the full store: ingest, indicators, paper;
- ``two_months``: September and October 2015 ingested into an empty store, then every
  indicator for the 24 months to October 2015, written;
- ``duckdb``: its reference: DuckDB reading the same two extracts, keeping the newest version
  of each record and computing eight of the heaviest indicators in SQL
  (``benchmarks/references.py`` says which). DuckDB is the ``bench`` extra's; without it the
  reference is skipped, and said so.

Every measurement runs in a fresh child process (so its peak RSS is its own) on a fresh
hard-linked copy of the store, so runs do not warm each other. Results go to
``benchmarks/results.json``, a chart of the three scales to ``benchmarks/scaling.svg`` and the
tables to ``BENCHMARKS.md``. Generated data is kept under ``--work`` (default
``data/bench``, git-ignored) and reused by the next run.

    python benchmarks/bench.py                      # scales 1, 10, 100 (about 25 minutes)
    python benchmarks/bench.py --scales 1 --runs 3  # a quick look
    python benchmarks/bench.py --scales 1 10 --runs 1 --no-write   # a quicker one
    python benchmarks/bench.py --only floor_write duckdb   # the references alone
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import references

ROOT = Path(__file__).resolve().parents[1]
FIRST, LAST = "2014-10", "2015-10"  # the extracts written; the last is the month measured
MEASURES = (
    "floor",
    "floor_typed",
    "floor_write",
    "history",
    "month",
    "indicators",
    "report",
    "pipeline",
    "two_months",
    "duckdb",
)
REFERENCES = ("floor_write", "duckdb")  # the second command: ``--only floor_write duckdb``
LABELS = {
    "floor": "bare polars read of the month's CSV (text)",
    "floor_typed": "bare polars read, dates parsed",
    "floor_write": "floor: polars reads the month's CSV as text, writes parquet",
    "history": "ingest 12 monthly extracts into an empty store",
    "month": "ingest one monthly extract into the full store",
    "indicators": "43 indicators x 24 months, written",
    "report": "the paper in all formats (indicators included)",
    "pipeline": "safeguard run: ingest + indicators + paper",
    "two_months": "2 months' ingest into an empty store + 43 indicators x 24 months",
    "duckdb": "DuckDB: 2 extracts, newest version of each record, 8 indicators x 24 months",
}
# issue 16's targets, each a ratio measured in one run: (safeguard's, its reference's, at most)
RATIO_TARGETS = [
    ("month", "floor_write", 2.0, "seconds", (10.0, 100.0)),
    ("two_months", "duckdb", 2.0, "seconds", None),
    ("month", "floor_write", 2.0, "peak_mb", None),
]
# the targets on a 2-core, 24 GB machine: (scale, measure, seconds, peak MB)
TARGETS = [
    (1.0, "pipeline", 10.0, None),
    (10.0, "indicators", 5.0, 2048.0),
    (100.0, "month", 60.0, 8192.0),
    (100.0, "indicators", 60.0, 8192.0),
]


# --- the child: one measurement ------------------------------------------------------------


def _months() -> list[Any]:
    from safeguard.periods import Month, months_between

    return months_between(Month.parse(FIRST), Month.parse(LAST))


def _measure(what: str, scale_dir: Path, target: Path) -> float:
    """Do ``what`` once and return the seconds it took (imports and setup excluded)."""
    import polars as pl

    from safeguard.indicators.catalogue import load_authority, load_catalogue
    from safeguard.indicators.stage import write_indicators
    from safeguard.ingest.stage import ingest
    from safeguard.project import open_project
    from safeguard.report.stage import write_report
    from safeguard.run import run_month
    from safeguard.schema import load_contract

    pipelines = ROOT / "pipelines"
    contract = load_contract(pipelines)
    catalogue, authority = load_catalogue(pipelines), load_authority(pipelines)
    months = _months()
    raw = scale_dir / "raw"
    files = sorted((raw / LAST).glob("*.csv"))
    templates = [ROOT / "templates"]
    holidays = references.calendar_rows(months[-1]) if what == "duckdb" else []
    began = time.perf_counter()
    if what == "floor":
        for path in files:
            pl.read_csv(path, infer_schema=False)
    elif what == "floor_typed":
        for path in files:
            table = contract.tables[contract.table_for_file(path.name) or ""]
            kinds = {name: column.type.value for name, column in table.columns.items()}
            scanned = pl.scan_csv(path, infer_schema=False)
            scanned.with_columns(
                pl.col(n).str.to_date(strict=False)
                if kinds.get(n) == "date"
                else pl.col(n).str.to_datetime(strict=False)
                if kinds.get(n) == "datetime"
                else pl.col(n)
                for n in scanned.collect_schema().names()
            ).collect()
    elif what == "floor_write":
        references.floor(files, target / "floor")
    elif what == "two_months":
        for month in months[-2:]:
            ingest(raw / str(month), month, contract, target)
        write_indicators(target, catalogue, authority, months[-1])
    elif what == "duckdb":
        references.duckdb_indicators(
            [raw / str(m) for m in months[-2:]], months[-1].first_day, holidays
        )
    elif what == "history":
        for month in months[:-1]:
            ingest(raw / str(month), month, contract, target)
    elif what == "month":
        ingest(raw / LAST, months[-1], contract, target)
    elif what == "indicators":
        write_indicators(target, catalogue, authority, months[-1])
    elif what == "report":
        write_report(
            target, target / "reports", catalogue, authority, months[-1], template_dirs=templates
        )
    elif what == "pipeline":
        project = open_project(
            cwd=ROOT,
            environ={},
            options={"raw_dir": raw, "processed_dir": target, "reports_dir": target / "reports"},
            pipelines=pipelines,
        )
        run_month(project, month=months[-1])
    else:
        raise SystemExit(f"unknown measurement {what}")
    return time.perf_counter() - began


def peak_mb() -> float:
    """This process's peak resident memory. On Linux VmHWM, which starts afresh at exec:
    ru_maxrss is carried over from the parent across fork and exec, so a child started by a
    large parent would report the parent's peak as its own."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return kilobytes / 1024 if sys.platform != "darwin" else kilobytes / 1024 / 1024


def _breakdown(scale_dir: Path, target: Path) -> dict[str, float]:
    """Where the monthly ingest's time goes: reading the files (checksum, structure, parse
    as text), the checks, and writing the store (the extract's files, the current views)."""
    from safeguard.ingest.csvfile import read_csv_file
    from safeguard.ingest.validate import validate_extract
    from safeguard.schema import load_contract
    from safeguard.store import merge_extract

    contract = load_contract(ROOT / "pipelines")
    month = _months()[-1]
    folder = scale_dir / "raw" / LAST
    began = time.perf_counter()
    for path in sorted(folder.glob("*.csv")):
        read_csv_file(path)
    read = time.perf_counter() - began
    began = time.perf_counter()
    result = validate_extract(folder, month, contract)
    validated = time.perf_counter() - began
    began = time.perf_counter()
    merge_extract(target, result, contract)
    merged = time.perf_counter() - began
    return {"read": read, "checks": validated - read, "store": merged}


def child(what: str, scale_dir: Path, target: Path) -> None:
    if what == "duckdb" and (why := references.duckdb_available()) is not None:
        print(json.dumps({"skipped": why}))
        return
    if what == "breakdown":
        parts = _breakdown(scale_dir, target)
        print(json.dumps({"seconds": sum(parts.values()), "peak_mb": peak_mb(), **parts}))
        return
    seconds = _measure(what, scale_dir, target)
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))


# --- the parent: data, stores, repetitions ------------------------------------------------


def _run_child(what: str, scale_dir: Path, target: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", what, str(scale_dir), str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, "SAFEGUARD_LOG_FILE": str(scale_dir / "bench.log")},
    )
    if done.returncode:
        raise SystemExit(f"{what} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _fresh_copy(source: Path | None, target: Path) -> None:
    """A copy of a store that costs nothing: hard links (the store never edits a file)."""
    shutil.rmtree(target, ignore_errors=True)
    if source is not None:
        subprocess.run(["cp", "-al", str(source), str(target)], check=True)
        for name in (".lock", ".lock.owner"):  # a linked lock file would be the same lock
            (target / name).unlink(missing_ok=True)


def _generate(scale: float, scale_dir: Path) -> float | None:
    from safeguard.demo.generate import MARKER, generate

    if (scale_dir / "raw" / MARKER).is_file() and (scale_dir / "raw" / LAST).is_dir():
        return None
    from safeguard.periods import Month
    from safeguard.schema import load_contract

    began = time.perf_counter()
    generate(
        scale_dir / "raw",
        load_contract(ROOT / "pipelines"),
        scale=scale,
        first=Month.parse(FIRST),
        last=Month.parse(LAST),
    )
    return time.perf_counter() - began


def _sizes(scale_dir: Path, store: Path) -> dict[str, float]:
    import polars as pl

    month_files = sorted((scale_dir / "raw" / LAST).glob("*.csv"))
    month_rows = sum(
        pl.scan_csv(p, infer_schema=False).select(pl.len()).collect().item() for p in month_files
    )
    versions = sorted((store / "versions").rglob("*.parquet")) if store.is_dir() else []
    store_rows = sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in versions)
    return {
        "month_csv_mb": sum(p.stat().st_size for p in month_files) / 1e6,
        "month_rows": month_rows,
        "store_rows": store_rows,
        "store_mb": sum(p.stat().st_size for p in versions) / 1e6,
    }


def bench_scale(
    scale: float, work: Path, runs: int, history_runs: int, only: list[str] | None = None
) -> dict[str, Any]:
    scale_dir = work / f"scale-{scale:g}"
    scale_dir.mkdir(parents=True, exist_ok=True)
    generated = _generate(scale, scale_dir)
    scratch = scale_dir / "scratch"
    base = scale_dir / "base"  # the store after the history: 12 extracts
    full = scale_dir / "full"  # base plus October 2015
    results: dict[str, Any] = {"scale": scale, "generate_seconds": generated, "measures": {}}

    def repeat(what: str, count: int, source: Path | None, keep: Path | None = None) -> None:
        if only is not None and what not in only:
            return
        samples = []
        for _ in range(count):
            _fresh_copy(source, scratch)
            sample = _run_child(what, scale_dir, scratch)
            if "skipped" in sample:
                print(f"  scale {scale:g} {what}: skipped: {sample['skipped']}", flush=True)
                results.setdefault("skipped", {})[what] = sample["skipped"]
                return
            samples.append(sample)
            print(
                f"  scale {scale:g} {what}: {sample['seconds']:.2f} s, "
                f"{sample['peak_mb']:,.0f} MB{_against(what, sample, results)}",
                flush=True,
            )
        if keep is not None:
            shutil.rmtree(keep, ignore_errors=True)
            os.replace(scratch, keep)
        results["measures"][what] = {
            **{
                part: statistics.median(s[part] for s in samples)
                for part in ("read", "checks", "store")
                if part in samples[0]
            },
            "runs": count,
            "seconds": statistics.median(s["seconds"] for s in samples),
            "all_seconds": [round(s["seconds"], 3) for s in samples],
            "peak_mb": max(s["peak_mb"] for s in samples),
        }

    # the references first, so each safeguard figure is printed with its ratio as it comes
    repeat("floor_write", runs, None)
    repeat("duckdb", runs, None)
    repeat("floor", runs, None)
    repeat("floor_typed", runs, None)

    def needs(*measures: str) -> bool:
        return only is None or any(m in only for m in measures)

    def build(what: str, source: Path | None, keep: Path) -> None:
        """A store a measurement starts from, built without being measured (``--only``)."""
        if (keep / CURRENT_FILE).is_file():
            return
        _fresh_copy(source, scratch)
        _run_child(what, scale_dir, scratch)
        shutil.rmtree(keep, ignore_errors=True)
        os.replace(scratch, keep)

    if needs("history"):
        repeat("history", history_runs, None, keep=base)
    elif needs("month", "indicators", "report", "pipeline", "breakdown"):
        build("history", None, base)
    if needs("month"):
        repeat("month", runs, base, keep=full)
    elif needs("indicators", "report"):
        build("month", base, full)
    repeat("indicators", runs, full)
    repeat("report", runs, full)
    repeat("pipeline", runs, base)
    repeat("two_months", runs, None)
    repeat("breakdown", runs, base)
    shutil.rmtree(scratch, ignore_errors=True)
    if (base / CURRENT_FILE).is_file():
        results["sizes"] = _sizes(scale_dir, Path(base) / _live(base))
    return results


CURRENT_FILE = "CURRENT"


def _against(what: str, sample: dict[str, Any], results: dict[str, Any]) -> str:
    """The ratio to a safeguard figure's reference, as it is printed during the run."""
    shown = []
    for mine, theirs, _, field, _ in RATIO_TARGETS:
        reference = results["measures"].get(theirs)
        if mine == what and reference is not None:
            unit = "time" if field == "seconds" else "memory"
            shown.append(f"{sample[field] / reference[field]:.1f}x {theirs}'s {unit}")
    return f" ({', '.join(shown)})" if shown else ""


def _live(store: Path) -> str:
    return (store / "CURRENT").read_text(encoding="utf-8").strip()


# --- the write-up --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import polars as pl

    import safeguard

    meminfo = Path("/proc/meminfo")
    memory = None
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "polars": pl.__version__,
        "safeguard": safeguard.__version__,
    }


def chart(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), dpi=100)
    ax = fig.add_subplot()
    scales = [r["scale"] for r in results]
    palette = ["#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1"]
    for colour, what in zip(
        palette, ("month", "history", "indicators", "report", "floor"), strict=False
    ):
        points = [
            (r["scale"], r["measures"][what]["seconds"]) for r in results if what in r["measures"]
        ]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", color=colour, label=LABELS[what])
        # a line of slope 1 through the first point: linear growth in rows
        ax.plot(xs, [ys[0] * x / xs[0] for x in xs], linestyle=":", color=colour, linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(scales, [f"{s:g}" for s in scales])
    ax.set_xlabel("scale (1 = a county; rows grow in proportion)")
    ax.set_ylabel("seconds (median)")
    ax.set_title("Time against scale; dotted: linear growth from scale 1")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(True, which="major", linewidth=0.3)
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)


def write_up(
    results: list[dict[str, Any]],
    info: dict[str, Any],
    command: str,
    baseline: list[dict[str, Any]] | None = None,
    baseline_label: str = "",
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/bench.py`); do not edit by hand. Each figure is the",
        "median of the runs shown, each run in a fresh process on a fresh copy of the store;",
        "peak memory is the largest resident set of those processes (Python, polars, matplotlib",
        "and Typst included).",
        "",
        f"- Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB memory, "
        f"{info['system']}",
        f"- Versions: Python {info['python']}, polars {info['polars']}, "
        f"safeguard {info['safeguard']}",
        f"- Command: `{command}`",
        "",
        "Data: the Demoshire simulation at each scale, 13 monthly extracts October 2014 - October",
        "2015, each holding every table and 24 months of events (`safeguard demo --scale S`).",
        "",
        "| scale | October 2015 extract | rows | store after 12 extracts (rows, parquet) |",
        "|---:|---:|---:|---:|",
    ]
    for r in results:
        if "sizes" not in r:  # a run of the references alone builds no store
            continue
        s = r["sizes"]
        lines.append(
            f"| {r['scale']:g} | {s['month_csv_mb']:,.0f} MB CSV | {s['month_rows']:,} | "
            f"{s['store_rows']:,} rows, {s['store_mb']:,.0f} MB |"
        )
    lines += [
        "",
        "| measurement | " + " | ".join(f"scale {r['scale']:g}" for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for what in MEASURES:
        cells = []
        for r in results:
            m = r["measures"].get(what)
            cells.append(
                f"{m['seconds']:.2f} s, {m['peak_mb']:,.0f} MB ({m['runs']} run"
                f"{'s' if m['runs'] > 1 else ''})"
                if m
                else "-"
            )
        lines.append(f"| {LABELS[what]} | " + " | ".join(cells) + " |")
    lines += ["", "Ratios:", ""]
    for r in results:
        m = r["measures"]
        if "month" in m and "floor" in m and "floor_typed" in m:
            month = m["month"]["seconds"]
            lines.append(
                f"- scale {r['scale']:g}: monthly ingest {month / m['floor']['seconds']:.1f}x "
                f"the bare text read, {month / m['floor_typed']['seconds']:.1f}x the typed read"
            )
    base = results[0]
    growth = ("month", "history", "indicators", "report", "two_months", "floor_write", "duckdb")
    for r in results[1:]:
        if "sizes" not in r or "sizes" not in base:
            continue
        factor = r["scale"] / base["scale"]
        row_factor = r["sizes"]["store_rows"] / max(base["sizes"]["store_rows"], 1)
        parts = ", ".join(
            f"{what} {r['measures'][what]['seconds'] / base['measures'][what]['seconds']:.1f}x"
            for what in growth
            if what in r["measures"] and what in base["measures"]
        )
        lines.append(
            f"- scale {r['scale']:g} against scale {base['scale']:g} ({factor:g}x the scale, "
            f"{row_factor:.1f}x the rows): {parts}"
        )
    lines += ["", "Targets (a 2-core, 24 GB machine):", ""]
    by_scale = {r["scale"]: r["measures"] for r in results}
    for scale, what, seconds, memory in TARGETS:
        got = by_scale.get(scale, {}).get(what)
        if got is None:
            continue
        met = got["seconds"] < seconds and (memory is None or got["peak_mb"] < memory)
        limit = f"under {seconds:g} s" + (f" and {memory / 1024:g} GB" if memory else "")
        lines.append(
            f"- scale {scale:g}, {LABELS[what]}: {limit}: {got['seconds']:.1f} s, "
            f"{got['peak_mb'] / 1024:.1f} GB, **{'met' if met else 'not met'}**"
        )
    lines += references_write_up(results)
    lines += [
        "",
        "Where a monthly ingest's time goes (median of the runs; reading = checksum, structure",
        "and the parse as text; checks = every contract check; store = the extract's parquet",
        "files, the current views and the manifest):",
        "",
        "| scale | reading | checks | store | bare read |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        b = r["measures"].get("breakdown")
        floor = r["measures"].get("floor")
        bare = f"{floor['seconds']:.2f} s" if floor else "-"
        if b:
            lines.append(
                f"| {r['scale']:g} | {b['read']:.2f} s | {b['checks']:.2f} s | "
                f"{b['store']:.2f} s | {bare} |"
            )
    if baseline:
        lines += before_after(baseline, results, baseline_label)
    lines += ["", "![time against scale](benchmarks/scaling.svg)", ""]
    notes = ROOT / "benchmarks" / "notes.md"
    if notes.is_file():
        lines += ["", notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines) + "\n"


def before_after(
    baseline: list[dict[str, Any]], results: list[dict[str, Any]], label: str
) -> list[str]:
    """The figures issue 16 is about, from an earlier run (``--baseline``) and this one, each
    ratio against the references measured in its own run."""
    lines = [
        "",
        f"Before and after ({label}; each ratio against the references of its own run):",
        "",
        "| scale | run | monthly ingest | x floor (time, memory) | reading | checks | store "
        "| 2 months + indicators | x DuckDB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    before = {r["scale"]: r["measures"] for r in baseline}
    for r in results:
        for name, m in (("before", before.get(r["scale"])), ("after", r["measures"])):
            if not m:
                continue
            month, floor, b = m.get("month"), m.get("floor_write"), m.get("breakdown")
            two, duck = m.get("two_months"), m.get("duckdb")
            cells = [
                f"{month['seconds']:.2f} s, {month['peak_mb']:,.0f} MB" if month else "-",
                f"{month['seconds'] / floor['seconds']:.1f}x, "
                f"{month['peak_mb'] / floor['peak_mb']:.1f}x"
                if month and floor
                else "-",
                *(f"{b[part]:.2f} s" if b else "-" for part in ("read", "checks", "store")),
                f"{two['seconds']:.2f} s, {two['peak_mb']:,.0f} MB" if two else "-",
                f"{two['seconds'] / duck['seconds']:.1f}x" if two and duck else "-",
            ]
            lines.append(f"| {r['scale']:g} | {name} | " + " | ".join(cells) + " |")
    return lines


def references_write_up(results: list[dict[str, Any]]) -> list[str]:
    """Issue 16's comparison: each safeguard figure beside its reference, the ratio, the
    target."""
    lines = [
        "",
        "Against the references (issue 16; each ratio from figures of the same run): the floor",
        "is polars reading the month's CSV files as text and writing each as parquet; the",
        "DuckDB path reads the same two extracts, keeps the newest version of each record and",
        "computes eight of the heaviest indicators in SQL (`benchmarks/references.py`).",
        "",
        "| scale | safeguard | reference | time | memory | target |",
        "|---:|---|---|---:|---:|---|",
    ]
    for r in results:
        m = r["measures"]
        for mine, theirs in (("month", "floor_write"), ("two_months", "duckdb")):
            got, ref = m.get(mine), m.get(theirs)
            if got is None:
                continue
            if ref is None:
                why = r.get("skipped", {}).get(theirs, "not measured in this run")
                lines.append(
                    f"| {r['scale']:g} | {LABELS[mine]}: {got['seconds']:.2f} s, "
                    f"{got['peak_mb']:,.0f} MB | {why} | - | - | - |"
                )
                continue
            verdicts = []
            for a, b, limit, field, scales in RATIO_TARGETS:
                if (a, b) != (mine, theirs) or (scales and r["scale"] not in scales):
                    continue
                ratio = got[field] / ref[field]
                what = "time" if field == "seconds" else "memory"
                verdicts.append(
                    f"{what} within {limit:g}x: **{'met' if ratio <= limit else 'not met'}**"
                )
            lines.append(
                f"| {r['scale']:g} | {LABELS[mine]}: {got['seconds']:.2f} s, "
                f"{got['peak_mb']:,.0f} MB | {LABELS[theirs]}: {ref['seconds']:.2f} s, "
                f"{ref['peak_mb']:,.0f} MB | {got['seconds'] / ref['seconds']:.1f}x | "
                f"{got['peak_mb'] / ref['peak_mb']:.1f}x | {'; '.join(verdicts) or '-'} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement")
    parser.add_argument(
        "--history-runs-large",
        type=int,
        default=1,
        help="runs of the 12-extract history at scale 100 and above (each takes minutes)",
    )
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[*MEASURES, "breakdown"],
        help="measure only these (the stores they start from are built unmeasured); "
        "--only floor_write duckdb runs the two references",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="where to write the results as JSON (default benchmarks/results.json; with "
        "--only, written only when given)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="the results JSON of an earlier run (before a change): shown beside this one",
    )
    parser.add_argument(
        "--render",
        type=Path,
        help="measure nothing: write BENCHMARKS.md and the chart again from a results JSON "
        "(after editing benchmarks/notes.md, say); --command names the run it came from",
    )
    parser.add_argument("--command", help="with --render: the command the results came from")
    parser.add_argument("--child", nargs=3, metavar=("WHAT", "SCALE_DIR", "STORE"))
    args = parser.parse_args()
    if args.child:
        what, scale_dir, target = args.child
        child(what, Path(scale_dir), Path(target))
        return
    baseline, label = None, ""
    if args.baseline is not None:
        earlier = json.loads(args.baseline.read_text(encoding="utf-8"))
        baseline = earlier["results"]
        label = earlier.get("label") or args.baseline.name
    if args.render is not None:
        held = json.loads(args.render.read_text(encoding="utf-8"))
        command = args.command or held.get("command") or "python benchmarks/bench.py"
        text = write_up(held["results"], held["machine"], command, baseline, label)
        print(text)
        if not args.no_write:
            chart(held["results"], ROOT / "benchmarks" / "scaling.svg")
            (ROOT / "BENCHMARKS.md").write_text(text)
        return
    results = []
    for scale in args.scales:
        print(f"scale {scale:g}", flush=True)
        history_runs = args.history_runs_large if scale >= 100 else args.runs
        results.append(bench_scale(scale, args.work, args.runs, history_runs, args.only))
    info = machine()
    command = "python benchmarks/bench.py " + " ".join(sys.argv[1:])
    text = write_up(results, info, command.strip(), baseline, label)
    print(text)
    if args.results is not None and not args.no_write:
        args.results.write_text(
            json.dumps({"machine": info, "command": command.strip(), "results": results}, indent=2)
            + "\n"
        )
    if not args.no_write and args.only is None:  # a partial run leaves the record alone
        (args.results or ROOT / "benchmarks" / "results.json").write_text(
            json.dumps({"machine": info, "command": command.strip(), "results": results}, indent=2)
            + "\n"
        )
        chart(results, ROOT / "benchmarks" / "scaling.svg")
        (ROOT / "BENCHMARKS.md").write_text(text)


if __name__ == "__main__":
    main()
