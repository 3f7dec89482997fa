"""``make bench``: how safeguard scales, from a county to a regional consortium.

For each scale (1: a county; 10: the largest authority; 100: a regional consortium) the
Demoshire simulation writes the 13 monthly extracts October 2014 - October 2015 (each holding
24 months of events), then this times, each as the median of repeated runs with the peak
memory of the process that did the work:

- ``floor``: a bare polars read of the October 2015 extract's CSV files, all columns as text
  (what ingest is compared with), and the same read with polars parsing the dates;
- ``history``: ingest of the 12 extracts October 2014 - September 2015 into an empty store;
- ``month``: ingest of October 2015 into that full store (the monthly cron job's ingest);
- ``indicators``: every indicator for the 24 months to October 2015, written to the store;
- ``report``: the paper in every format (PDF, DOCX, HTML, CSV/XLSX), indicators included;
- ``pipeline``: ``safeguard run`` for October 2015 on the full store: ingest, indicators, paper.

Every measurement runs in a fresh child process (so its peak RSS is its own) on a fresh
hard-linked copy of the store, so runs do not warm each other. Results go to
``benchmarks/results.json``, a chart of the three scales to ``benchmarks/scaling.svg`` and the
tables to ``BENCHMARKS.md``. Generated data is kept under ``--work`` (default
``data/bench``, git-ignored) and reused by the next run.

    python benchmarks/bench.py                      # scales 1, 10, 100 (about 25 minutes)
    python benchmarks/bench.py --scales 1 --runs 3  # a quick look
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

ROOT = Path(__file__).resolve().parents[1]
FIRST, LAST = "2014-10", "2015-10"  # the extracts written; the last is the month measured
MEASURES = ("floor", "floor_typed", "history", "month", "indicators", "report", "pipeline")
LABELS = {
    "floor": "bare polars read of the month's CSV (text)",
    "floor_typed": "bare polars read, dates parsed",
    "history": "ingest 12 monthly extracts into an empty store",
    "month": "ingest one monthly extract into the full store",
    "indicators": "43 indicators x 24 months, written",
    "report": "the paper in all formats (indicators included)",
    "pipeline": "safeguard run: ingest + indicators + paper",
}
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
    if what == "breakdown":
        parts = _breakdown(scale_dir, target)
        print(json.dumps({"seconds": sum(parts.values()), "peak_mb": peak_mb(), **parts}))
        return
    seconds = _measure(what, scale_dir, target)
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))


# --- the parent: data, stores, repetitions ------------------------------------------------


def _run_child(what: str, scale_dir: Path, target: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", what, str(scale_dir), str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, "SAFEGUARD_LOG_FILE": str(scale_dir / "bench.log")},
    )
    if done.returncode:
        raise SystemExit(f"{what} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
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


def bench_scale(scale: float, work: Path, runs: int, history_runs: int) -> dict[str, Any]:
    scale_dir = work / f"scale-{scale:g}"
    scale_dir.mkdir(parents=True, exist_ok=True)
    generated = _generate(scale, scale_dir)
    scratch = scale_dir / "scratch"
    base = scale_dir / "base"  # the store after the history: 12 extracts
    full = scale_dir / "full"  # base plus October 2015
    results: dict[str, Any] = {"scale": scale, "generate_seconds": generated, "measures": {}}

    def repeat(what: str, count: int, source: Path | None, keep: Path | None = None) -> None:
        samples = []
        for _ in range(count):
            _fresh_copy(source, scratch)
            samples.append(_run_child(what, scale_dir, scratch))
            print(f"  scale {scale:g} {what}: {samples[-1]['seconds']:.2f} s", flush=True)
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

    repeat("floor", runs, None)
    repeat("floor_typed", runs, None)
    repeat("history", history_runs, None, keep=base)
    repeat("month", runs, base, keep=full)
    repeat("indicators", runs, full)
    repeat("report", runs, full)
    repeat("pipeline", runs, base)
    repeat("breakdown", runs, base)
    shutil.rmtree(scratch, ignore_errors=True)
    results["sizes"] = _sizes(scale_dir, Path(base) / _live(base))
    return results


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


def write_up(results: list[dict[str, Any]], info: dict[str, Any], command: str) -> str:
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
        month = m["month"]["seconds"]
        lines.append(
            f"- scale {r['scale']:g}: monthly ingest {month / m['floor']['seconds']:.1f}x the "
            f"bare text read, {month / m['floor_typed']['seconds']:.1f}x the typed read"
        )
    base = results[0]
    for r in results[1:]:
        factor = r["scale"] / base["scale"]
        row_factor = r["sizes"]["store_rows"] / max(base["sizes"]["store_rows"], 1)
        parts = ", ".join(
            f"{what} {r['measures'][what]['seconds'] / base['measures'][what]['seconds']:.1f}x"
            for what in ("month", "history", "indicators", "report")
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
    for r in results:
        m = r["measures"]
        ratio = m["month"]["seconds"] / m["floor"]["seconds"]
        lines.append(
            f"- scale {r['scale']:g}, monthly ingest within 2x the bare read: {ratio:.1f}x, "
            f"**{'met' if ratio <= 2 else 'not met'}**"
        )
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
        if b:
            lines.append(
                f"| {r['scale']:g} | {b['read']:.2f} s | {b['checks']:.2f} s | "
                f"{b['store']:.2f} s | {r['measures']['floor']['seconds']:.2f} s |"
            )
    lines += ["", "![time against scale](benchmarks/scaling.svg)", ""]
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--child", nargs=3, metavar=("WHAT", "SCALE_DIR", "STORE"))
    args = parser.parse_args()
    if args.child:
        what, scale_dir, target = args.child
        child(what, Path(scale_dir), Path(target))
        return
    results = []
    for scale in args.scales:
        print(f"scale {scale:g}", flush=True)
        history_runs = args.history_runs_large if scale >= 100 else args.runs
        results.append(bench_scale(scale, args.work, args.runs, history_runs))
    info = machine()
    command = "python benchmarks/bench.py " + " ".join(sys.argv[1:])
    text = write_up(results, info, command.strip())
    print(text)
    if not args.no_write:
        (ROOT / "benchmarks" / "results.json").write_text(
            json.dumps({"machine": info, "results": results}, indent=2) + "\n"
        )
        chart(results, ROOT / "benchmarks" / "scaling.svg")
        (ROOT / "BENCHMARKS.md").write_text(text)


if __name__ == "__main__":
    main()
