"""What the analyst sees on the terminal. Child identifiers are never printed."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table as RichTable

from safeguard.ingest.report import ValidationReport
from safeguard.schema import Contract
from safeguard.store import Manifest

if TYPE_CHECKING:
    from safeguard.indicators.catalogue import Indicator
    from safeguard.indicators.stage import Explanation

WITHHELD = "(child id withheld)"
SHOWN_PROBLEMS = 20


# control characters (C0 but tab and newline, DEL, C1), line and paragraph separators, and
# the bidirectional overrides and isolates that can make text read other than it is
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: each control character (an ANSI escape's ESC, a carriage
    return that would overwrite the line, a bidirectional override) written as its escape,
    ``\\x1b``, so what a file or a value holds is shown, never acted on. Console markup needs
    no escaping here: the console reads none."""
    return _UNPRINTABLE.sub(lambda found: ascii(found.group())[1:-1], text)


class _SafeConsole(Console):
    """Every string printed, in a table cell too, goes through :func:`printable`; markup and
    emoji codes are not interpreted (text from an extract, ``[/bold]``, is text)."""

    def render_str(self, text: str, **options: Any) -> Any:
        return super().render_str(printable(text), **options)


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    return _SafeConsole(
        file=stream,
        width=None if terminal else 160,
        no_color=not terminal,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
    )


def _person_columns(contract: Contract) -> set[str]:
    return {
        cname
        for table in contract.tables.values()
        for cname, column in table.columns.items()
        if column.person_id
    }


def safe_issues(report: ValidationReport, contract: Contract) -> pl.DataFrame:
    """The report's issues with every child id replaced by a marker: a value in a person-id
    column, and any value equal to a child id of the extract, in whatever column (an id
    shifted into a date or code column by a misaligned row)."""
    hidden = _person_columns(contract)
    value = pl.col("value")
    known = value.is_in(report.child_ids.implode()) if report.child_ids.len() else pl.lit(False)
    return report.issues.with_columns(
        pl.when(value.is_not_null() & (pl.col("column").is_in(sorted(hidden)) | known))
        .then(pl.lit(WITHHELD))
        .otherwise(value)
        .alias("value")
    )


def show_report(report: ValidationReport, contract: Contract, out: Console) -> None:
    """Per-file counts, problems by rule, and the first problems with file, line and value."""
    files = RichTable(
        title=f"Extract {report.month} ({report.extract})",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for heading in ("table", "file", "rows", "loaded", "quarantined", "warnings", "status"):
        files.add_column(
            heading,
            justify="right" if heading in ("rows", "loaded", "quarantined", "warnings") else "left",
        )
    file_errors = set(
        report.issues.filter((pl.col("level") == "file") & (pl.col("severity") == "error"))
        .get_column("file")
        .to_list()
    )
    for name, t in sorted(report.tables.items()):
        status = "refused" if t.rejected or t.file in file_errors else "ok"
        files.add_row(
            name,
            t.file,
            f"{t.rows:,}",
            f"{t.loaded:,}",
            f"{t.quarantined:,}",
            f"{t.warnings:,}",
            status,
        )
    out.print(files)
    if report.missing_tables:
        out.print(f"Not in this extract: {', '.join(report.missing_tables)}")
    if report.checks_not_run:
        # their other table missing, or (issue 14) a pseudonymised store without its key
        out.print(f"Checks not run ({len(report.checks_not_run)}):")
        for line in report.checks_not_run:
            out.print(f"  {line}")
    if report.store is not None:  # references also looked up in the processed store
        found = sum(report.found_in_store.values())
        out.print(
            f"References looked up in this extract and the store ({report.store}): "
            f"{found:,} row{' refers' if found == 1 else 's refer'} to a record only the "
            "store holds" + (":" if found else ".")
        )
        for where, rows in sorted(report.found_in_store.items()):
            out.print(f"  {where}: {rows:,}")
    if report.issues.height == 0:
        out.print("No problems found.")
        return
    by_rule = (
        report.issues.group_by("rule", "severity", "file", "column")
        .agg(
            pl.len().alias("count"),
            pl.col("line").min().alias("first_line"),
            pl.col("message").first(),
        )
        .sort("severity", "file", "rule", "column")
    )
    rules = RichTable(title="Problems by rule", box=box.SIMPLE_HEAD, title_justify="left")
    for heading in ("rule", "severity", "file", "column", "count", "first line", "message"):
        rules.add_column(heading, justify="right" if heading in ("count", "first line") else "left")
    for row in by_rule.iter_rows(named=True):
        rules.add_row(
            row["rule"],
            row["severity"],
            row["file"],
            row["column"] or "",
            f"{row['count']:,}",
            "" if row["first_line"] is None else str(row["first_line"]),
            row["message"],
        )
    out.print(rules)
    shown = safe_issues(report, contract).head(SHOWN_PROBLEMS)
    listing = RichTable(
        title=f"First {shown.height} of {report.issues.height} problems",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for heading in ("file", "line", "column", "value", "rule", "severity"):
        listing.add_column(heading)
    for row in shown.iter_rows(named=True):
        listing.add_row(
            row["file"],
            "" if row["line"] is None else str(row["line"]),
            row["column"] or "",
            row["value"] or "",
            row["rule"],
            row["severity"],
        )
    out.print(listing)


def show_status(root: str, generation: str | None, manifest: Manifest, out: Console) -> None:
    """What the store holds: each extract's counts, and each table's current rows."""
    if generation is None:
        out.print(f"The store {root} is empty: ingest an extract first.")
        return
    extracts = RichTable(
        title=f"Store {root} (generation {generation})", box=box.SIMPLE_HEAD, title_justify="left"
    )
    headings = (
        "extract",
        "files",
        "rows",
        "loaded",
        "quarantined",
        "new",
        "revised",
        "unchanged",
        "superseded later",
    )
    for heading in headings:
        extracts.add_column(heading, justify="left" if heading == "extract" else "right")
    keys = ("rows", "loaded", "quarantined", "new", "revised", "unchanged", "superseded_by_newer")
    for month, info in manifest.extracts.items():
        files = info.files.values()
        totals = [sum(getattr(f, key) or 0 for f in files) for key in keys]
        extracts.add_row(month, str(len(info.files)), *(f"{n:,}" for n in totals))
    out.print(extracts)
    for key, info in manifest.extracts.items():  # what the next year's return implied
        for table, count in (info.closed_by_next or {}).items():
            out.print(
                f"{key}: {count:,} {table} open at its year end, absent from the next year's "
                "return: closed on that year's first day"
            )
        for table, count in (info.superseded_by_next or {}).items():
            out.print(
                f"{key}: {count:,} {table} open at its year end, restated by the next year's "
                "return with another start: superseded"
            )
    tables = RichTable(title="Current view", box=box.SIMPLE_HEAD, title_justify="left")
    for heading in ("table", "records", "from extracts"):
        tables.add_column(heading, justify="right" if heading == "records" else "left")
    for name, meta in manifest.tables.items():
        tables.add_row(name, f"{meta.rows:,}", ", ".join(meta.extracts))
    out.print(tables)


def show_explanation(
    indicator: str,
    spec: Indicator,
    month: Any,
    found: Explanation,
    limit: int,
    out: Console,
) -> None:
    """The figure as the indicators have it, then the records behind it: counts first, then
    the records themselves. A figure that is not available says so and why, and no counts."""
    rows = found.records
    out.print(f"{spec.title} ({indicator}), {month}")
    out.print(spec.definition)
    if found.status == "not available":
        out.print(f"Not available: {found.reason}.")
        return
    numerator = rows.get_column("numerator").cast(pl.Float64).sum() if rows.height else 0
    has_denominator = rows.height and rows.get_column("denominator").null_count() < rows.height
    denominator = rows.get_column("denominator").cast(pl.Float64).sum() if has_denominator else None
    figure = (
        f"Figure {found.value:,.{spec.decimals}f}"
        if found.value is not None
        else f"Figure {found.status}"
    )
    summary = f"{figure}: numerator {numerator:,.6g}"
    if denominator is not None:
        summary += f", denominator {denominator:,.6g}"
    out.print(summary + f"; {rows.height:,} record(s).")
    if found.reason:  # a stand-in population estimate, or why nothing is in the denominator
        out.print(f"Note: {found.reason}.")
    reasons = rows.group_by("reason").len().sort("len", descending=True)
    for reason, count in reasons.iter_rows():
        out.print(f"  {count:>6,}  {reason}")
    if not rows.height or limit == 0:
        return
    table = RichTable(
        title=f"Records (first {min(limit, rows.height)} of {rows.height:,})",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    shown = rows.drop("month").head(limit)
    for column in shown.columns:
        table.add_column(column)
    for row in shown.iter_rows():
        table.add_row(*("" if value is None else str(value) for value in row))
    out.print(table)


def figure_text(row: dict[str, Any]) -> str:
    """A scorecard row's figure in words: value with its unit, and its counts."""
    if row["status"] != "ok" or row["value"] is None:
        return f"{row['status']} ({row['reason']})"
    value, decimals = row["value"], row["decimals"]
    if row["unit"] == "percent":
        return f"{value:.{decimals}f}% ({row['numerator']:,.0f} of {row['denominator']:,.0f})"
    if row["unit"] == "rate_per_10k":
        return f"{value:.{decimals}f} per 10,000 ({row['numerator']:,.0f})"
    return f"{value:,.{decimals}f}"


@contextlib.contextmanager
def progress_bar(*, enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A transient progress bar on stderr, as a ``progress(what, done, total)`` callback;
    None when not ``enabled`` (not a terminal: cron gets nothing on success)."""
    if not enabled:
        yield None
        return
    from rich.progress import Progress

    bar = Progress(transient=True)
    bar.start()
    task = bar.add_task("starting", total=None)

    def progress(what: str, done: int, total: int) -> None:
        bar.update(task, description=what, completed=done - 1, total=total)

    try:
        yield progress
    finally:
        bar.stop()


def verdict(report: Any, strict: bool, *, dry_run: bool, action: str = "") -> str:
    if report.rejected:
        return f"Refused: {report.extract} has file-level errors; nothing was written."
    if strict and report.strict_problems:
        return f"Refused (--strict): {report.strict_problems} problem(s); nothing was written."
    rows = sum(t.loaded for t in report.tables.values())
    quarantined = report.quarantined
    # the louder header-only warning (issue 14) is repeated under the verdict
    vanished = sorted(set(report.issues.filter(pl.col("rule") == "rows-vanished")["file"]))
    louder = (
        f"\nCheck before the paper goes out: {', '.join(vanished)} "
        f"{'has' if len(vanished) == 1 else 'have'} no rows, though the previous extract had "
        "many (rows-vanished): re-extract if that is wrong."
        if vanished
        else ""
    )
    if dry_run:
        return (
            f"Valid: {rows:,} rows would load, {quarantined:,} would be quarantined "
            f"(validate writes nothing).{louder}"
        )
    if action == "unchanged":
        return f"Unchanged: extract {report.month} is already in the store with the same files."
    return f"Loaded {report.month}: {rows:,} rows, {quarantined:,} quarantined.{louder}"


def show_returns(
    done: list[Any],
    contract: Contract,
    format_name: str,
    out: Console,
    *,
    strict: bool,
    echo: Callable[[str], None],
    report_json: Any = None,
    report_csv: Any = None,
) -> list[str]:
    """Each collection year of a return as loaded (or checked); the labels of those refused."""
    refused = []
    for one in done:
        report = one.outcome.report
        show_report(report, contract, out)
        if len(done) == 1:
            report.write(report_json, report_csv)
        if one.outcome.action == "refused":
            refused.append(one.label)
            echo(verdict(report, strict, dry_run=False))
            continue
        if one.outcome.action == "checked":
            echo(f"{one.label}: " + verdict(report, strict, dry_run=True))
            continue
        rows = sum(t.loaded for t in report.tables.values())
        span = f"{one.first.first_day:%B %Y} to {one.period.first_day:%B %Y}"
        skipped = ", ".join(f"{part} {count:,}" for part, count in one.not_loaded.items() if count)
        echo(
            f"Unchanged: {one.label} is already in the store with the same file."
            if one.outcome.action == "unchanged"
            else f"Loaded {one.label} ({format_name}, {span}): "
            f"{rows:,} rows, {report.quarantined:,} quarantined."
            + (f" Not loaded (no table for them): {skipped}." if skipped else "")
        )
    return refused
