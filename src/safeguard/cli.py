"""The ``safeguard`` command line: thin commands over the library.

Every option can also be set with a ``SAFEGUARD_*`` environment variable (shown in ``--help``).
Exit codes: 0 success, 1 data problems, 2 usage or configuration error, 3 internal error,
75 another run holds the lock.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from safeguard import __version__
from safeguard.errors import ConfigError, DataError, ExitCode, SafeguardError
from safeguard.periods import Month
from safeguard.schema import Severity

log = logging.getLogger("safeguard")


class InternalError(SafeguardError):
    exit_code = ExitCode.INTERNAL


class MonthType(click.ParamType):  # type: ignore[type-arg]
    name = "YYYY-MM"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Month:
        if isinstance(value, Month):
            return value
        try:
            return Month.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


MONTH = MonthType()


F = TypeVar("F", bound=Callable[..., Any])


def _folder(flag: str, variable: str, default: Path | None, text: str) -> Callable[[F], F]:
    """A folder option, also settable by the environment variable ``SAFEGUARD_<variable>``."""
    return click.option(
        flag,
        type=click.Path(path_type=Path, file_okay=False),
        default=default,
        envvar=f"SAFEGUARD_{variable}",
        show_envvar=True,
        help=text,
    )


PROCESSED_DIR = _folder(
    "--processed-dir", "PROCESSED_DIR", Path("data/processed"), "The processed store."
)


class SafeguardGroup(click.Group):
    """Turns any unexpected exception into one line on stderr and exit 3."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            log.error("internal error", exc_info=True)
            debug = bool(ctx.obj and ctx.obj.get("debug"))
            if debug:
                traceback.print_exc(file=sys.stderr)
            where = ctx.obj.get("log_file") if ctx.obj else None
            raise InternalError(
                f"internal error ({type(exc).__name__}); this is a bug in safeguard, not in "
                "your data. "
                + ("" if debug else "Run again with --debug to see the traceback")
                + (f"; the traceback is in {where}" if where and not debug else "")
            ) from exc


class _OwnerOnlyFileHandler(logging.FileHandler):
    """A log file created (with its folder) only when something is logged, owner-only."""

    def _open(self):  # type: ignore[no-untyped-def]
        folder = Path(self.baseFilename).parent
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stream = super()._open()
        os.chmod(self.baseFilename, 0o600)
        return stream


class _JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and the traceback, if any).
    Messages hold counts and rule codes only, never a value from a record."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, sort_keys=True)


def _setup_logging(log_file: Path | None) -> None:
    log.setLevel(logging.INFO)
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    if log_file is not None:
        handler = _OwnerOnlyFileHandler(log_file, delay=True, encoding="utf-8")
        handler.setFormatter(_JsonLines())
        log.addHandler(handler)
    log.propagate = False


@click.group(
    name="safeguard",
    cls=SafeguardGroup,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.version_option(__version__, "--version", prog_name="safeguard")
@click.option(
    "--pipelines",
    "pipelines",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("pipelines"),
    envvar="SAFEGUARD_PIPELINES",
    show_envvar=True,
    help="Folder of the configuration: extracts, codes, indicators, authority, monthly.",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("data/logs/safeguard.log"),
    envvar="SAFEGUARD_LOG_FILE",
    show_envvar=True,
    help="Append a log (counts and rule codes, never a child's id) to this file.",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="SAFEGUARD_DEBUG",
    show_envvar=True,
    help="Show tracebacks of internal errors.",
)
@click.pass_context
def cli(ctx: click.Context, pipelines: Path, log_file: Path | None, debug: bool) -> None:
    """Children's safeguarding performance data from monthly case-management extracts.

    \b
    safeguard demo                          try it on the synthetic Demoshire
    safeguard validate data/raw/2015-10     check an extract, write nothing
    safeguard ingest --month 2015-10        check it and load it into data/processed
    safeguard report --month 2015-10        the committee paper in reports/2015-10
    safeguard run                           all of it, for cron
    """
    _setup_logging(log_file)
    ctx.obj = {"pipelines": pipelines, "debug": debug, "log_file": log_file}


def _contract(ctx: click.Context):  # type: ignore[no-untyped-def]
    from safeguard.schema import load_contract

    return load_contract(ctx.obj["pipelines"])


def _check_options(func: Any) -> Any:
    options = [
        click.option(
            "--month",
            type=MONTH,
            default=None,
            envvar="SAFEGUARD_MONTH",
            show_envvar=True,
            help="The month the extract closes (default: the folder's name).",
        ),
        click.option(
            "--encoding",
            default=None,
            envvar="SAFEGUARD_ENCODING",
            show_envvar=True,
            help="Read files in this encoding instead of UTF-8 (for example cp1252).",
        ),
        click.option(
            "--max-quarantine",
            type=click.FloatRange(0, 1),
            default=0.01,
            envvar="SAFEGUARD_MAX_QUARANTINE",
            show_envvar=True,
            help="Refuse a file when more than this share of its rows have errors.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            envvar="SAFEGUARD_STRICT",
            show_envvar=True,
            help="Any error or warning refuses the whole extract (for cron).",
        ),
        click.option(
            "--report-json",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help="Also write the full report as JSON here.",
        ),
        click.option(
            "--report-csv",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help="Also write the full report as CSV here.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _resolve(path: Path | None, month: Month | None, raw_dir: Path) -> tuple[Path, Month]:
    """The extract folder and its month, from a path, a month, or both."""
    if path is None:
        if month is None:
            raise click.UsageError("give an extract folder, or --month YYYY-MM")
        path = raw_dir / str(month)
        if not path.is_dir():
            raise click.UsageError(f"no extract folder {path} for --month {month}")
        return path, month
    try:
        named = Month.parse(path.name)
    except ValueError:
        named = None
    if month is None:
        if named is None:
            raise click.UsageError(
                f"cannot tell the month of {path}: name the folder YYYY-MM or pass --month"
            )
        return path, named
    if named is not None and named != month:
        raise click.UsageError(f"--month {month} disagrees with the folder name {path.name}")
    return path, month


def _finish(
    report: Any,
    contract: Any,
    strict: bool,
    verdict: str,
    report_json: Path | None,
    report_csv: Path | None,
) -> None:
    from safeguard.console import console, show_report

    show_report(report, contract, console())
    report.write(report_json, report_csv)
    click.echo(verdict)
    if not report.passes(strict=strict):
        if report.rejected:
            raise DataError(
                f"{report.count_file_errors()} file-level error(s) in {report.extract}; "
                "nothing was written"
            )
        raise DataError(
            f"--strict: {report.issues.height} problem(s) in {report.extract}; nothing was written"
        )


@cli.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@_check_options
@click.pass_context
def validate(
    ctx: click.Context,
    path: Path,
    month: Month | None,
    encoding: str | None,
    max_quarantine: float,
    strict: bool,
    report_json: Path | None,
    report_csv: Path | None,
) -> None:
    """Check an extract folder (or one of its files) and write nothing to the store.

    Exits 1 when ingest would refuse the extract (a file-level error, or any problem with
    --strict).

    \b
    safeguard validate data/raw/2015-10 --report-csv problems.csv
    safeguard validate data/raw/2015-10/contacts.csv
    """
    from safeguard.ingest.sources import detect
    from safeguard.ingest.stage import validate as run_validate

    format_name = detect(path)
    if format_name is not None:  # a statutory return: checked as ingest would, nothing written
        _ingest_return(
            ctx, path, format_name, month, None, strict, max_quarantine, report_json, report_csv
        )
        return
    if path.is_file():
        _, month = _resolve(path.parent, month, path.parent.parent)
        folder = path
    else:
        folder, month = _resolve(path, month, path.parent)
    contract = _contract(ctx)
    report = run_validate(folder, month, contract, encoding=encoding, max_quarantine=max_quarantine)
    verdict = _verdict(report, strict, dry_run=True)
    _finish(report, contract, strict, verdict, report_json, report_csv)


def _verdict(report: Any, strict: bool, *, dry_run: bool, action: str = "") -> str:
    if report.rejected:
        return f"Refused: {report.extract} has file-level errors; nothing was written."
    if strict and report.issues.height:
        return f"Refused (--strict): {report.issues.height} problem(s); nothing was written."
    rows = sum(t.loaded for t in report.tables.values())
    quarantined = report.quarantined
    if dry_run:
        return (
            f"Valid: {rows:,} rows would load, {quarantined:,} would be quarantined "
            f"(validate writes nothing)."
        )
    if action == "unchanged":
        return f"Unchanged: extract {report.month} is already in the store with the same files."
    return f"Loaded {report.month}: {rows:,} rows, {quarantined:,} quarantined."


@cli.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@_check_options
@click.option(
    "--format",
    "format_name",
    type=click.Choice(["auto", "extract", "cin-xml", "ssda903", "annex-a"]),
    default="auto",
    show_default=True,
    help="What PATH is: a monthly extract folder, a CIN census XML file, a folder of SSDA903 "
    "tables or an Annex A workbook; auto decides by the content.",
)
@_folder("--raw-dir", "RAW_DIR", Path("data/raw"), "Where extract folders named YYYY-MM arrive.")
@PROCESSED_DIR
@click.pass_context
def ingest(
    ctx: click.Context,
    path: Path | None,
    month: Month | None,
    encoding: str | None,
    max_quarantine: float,
    strict: bool,
    report_json: Path | None,
    report_csv: Path | None,
    format_name: str,
    raw_dir: Path,
    processed_dir: Path,
) -> None:
    """Validate an extract, or a statutory return, and merge it into the processed store.

    Rows with errors are quarantined and the rest load (exit 0); a file-level error, a file
    with too many bad rows, or any problem under --strict writes nothing (exit 1). A record in a
    newer extract supersedes its older version; the store is replaced atomically.

    A CIN census XML file, a folder of SSDA903 tables or an Annex A workbook loads years of
    history into the same store (each collection year under its own name, e.g. cin-2022); a
    monthly extract's record supersedes a return's record of the same child and date.

    \b
    safeguard ingest data/raw/2015-10
    safeguard ingest --month 2015-10 --strict
    safeguard ingest returns/CIN_2022.xml
    safeguard ingest returns/ssda903/ --max-quarantine 0.25
    """
    from safeguard.ingest.sources import detect
    from safeguard.ingest.stage import ingest as run_ingest

    if format_name == "auto" and path is not None:
        format_name = detect(path) or "extract"
    if format_name not in ("auto", "extract"):
        assert path is not None
        _ingest_return(
            ctx,
            path,
            format_name,
            month,
            processed_dir,
            strict,
            max_quarantine,
            report_json,
            report_csv,
        )
        return
    if path is not None and path.is_file():
        raise click.UsageError(
            f"{path} is a file but not a CIN census, SSDA903 table or Annex A workbook: give "
            "a monthly extract's folder (or name the format with --format)"
        )
    folder, month = _resolve(path, month, raw_dir)
    contract = _contract(ctx)
    outcome = run_ingest(
        folder,
        month,
        contract,
        processed_dir,
        strict=strict,
        encoding=encoding,
        max_quarantine=max_quarantine,
    )
    verdict = _verdict(outcome.report, strict, dry_run=False, action=outcome.action)
    if (
        outcome.generation is not None
        and outcome.report.quarantined
        and outcome.action == "written"
    ):
        where = outcome.generation / "extracts" / str(month)
        verdict += f"\nQuarantined rows and the full report: {where}"
    _finish(outcome.report, contract, strict, verdict, report_json, report_csv)


def _ingest_return(
    ctx: click.Context,
    path: Path,
    format_name: str,
    month: Month | None,
    processed_dir: Path | None,
    strict: bool,
    max_quarantine: float,
    report_json: Path | None,
    report_csv: Path | None,
) -> None:
    """Load (or, with no ``processed_dir``, only check) each collection year of a return;
    exit 1 when any year is, or would be, refused."""
    from safeguard.console import console, show_report
    from safeguard.ingest.stage import ingest_return

    contract = _contract(ctx)
    done = ingest_return(
        path,
        contract,
        processed_dir,
        ctx.obj["pipelines"],
        format_name=format_name,
        month=month,
        strict=strict,
        max_quarantine=max_quarantine,
    )
    refused = []
    for one in done:
        report = one.outcome.report
        show_report(report, contract, console())
        if len(done) == 1:
            report.write(report_json, report_csv)
        if one.outcome.action == "refused":
            refused.append(one.label)
            click.echo(_verdict(report, strict, dry_run=False))
            continue
        if one.outcome.action == "checked":
            click.echo(f"{one.label}: " + _verdict(report, strict, dry_run=True))
            continue
        rows = sum(t.loaded for t in report.tables.values())
        span = f"{one.first.first_day:%B %Y} to {one.period.first_day:%B %Y}"
        skipped = ", ".join(f"{part} {count:,}" for part, count in one.not_loaded.items() if count)
        click.echo(
            f"Unchanged: {one.label} is already in the store with the same file."
            if one.outcome.action == "unchanged"
            else f"Loaded {one.label} ({format_name}, {span}): "
            f"{rows:,} rows, {report.quarantined:,} quarantined."
            + (f" Not loaded (no table for them): {skipped}." if skipped else "")
        )
    if refused:
        raise DataError(
            f"{', '.join(refused)}: refused; nothing of it was written"
            if processed_dir is not None
            else f"{', '.join(refused)}: ingest would refuse it"
        )


@cli.command()
@PROCESSED_DIR
def status(processed_dir: Path) -> None:
    """Show what the processed store holds: extracts, row counts, revisions.

    \b
    safeguard status --processed-dir data/processed
    """
    from safeguard.console import console, show_status
    from safeguard.store import Store

    store = Store(processed_dir)
    generation = store.generation
    show_status(
        str(processed_dir), generation.name if generation else None, store.manifest(), console()
    )


@cli.command()
@click.option(
    "--seed",
    type=int,
    default=2015,
    show_default=True,
    envvar="SAFEGUARD_DEMO_SEED",
    show_envvar=True,
    help="The same seed writes byte-identical files.",
)
@click.option(
    "--scale",
    type=click.FloatRange(0.05, 1000),
    default=1.0,
    envvar="SAFEGUARD_DEMO_SCALE",
    show_envvar=True,
    help="1 = a county; 10 = the largest authority; 100 = a regional consortium.",
)
@click.option("--start", type=MONTH, default="2013-04", help="First extract month.")
@click.option("--end", type=MONTH, default="2017-03", help="Last extract month.")
@click.option(
    "--months",
    type=click.IntRange(1, 600),
    default=None,
    help="Write this many months ending at --end (instead of --start).",
)
@_folder("--out", "RAW_DIR", Path("data/raw"), "Where the extract folders are written.")
@PROCESSED_DIR
@click.option("--ingest/--no-ingest", default=True, help="Ingest the extracts after writing.")
@_folder(
    "--reports-dir", "REPORTS_DIR", Path("reports"), "Where the month's committee paper is written."
)
@click.option("--no-report", is_flag=True, help="Stop after the indicators.")
@click.option(
    "--month", type=MONTH, default="2015-10", help="The month whose headline figures are printed."
)
@click.pass_context
def demo(
    ctx: click.Context,
    reports_dir: Path,
    no_report: bool,
    seed: int,
    scale: float,
    start: Month,
    end: Month,
    months: int | None,
    out: Path,
    processed_dir: Path,
    ingest: bool,
    month: Month,
) -> None:
    """Write the synthetic Demoshire extracts, ingest them, and produce a month's paper.

    Demoshire is a fictional county whose children's journeys are simulated; no real child is
    involved. A few data-quality problems are planted in the October 2015 extract (see the
    README) so validation and supersession can be seen working.

    \b
    safeguard demo
    safeguard demo --scale 10 --months 24 --no-ingest --out /tmp/demo-raw
    """
    from safeguard.demo.generate import generate

    if months is not None:
        start = end.shift(-(months - 1))
    if start > end:
        raise click.BadParameter(f"--start {start} is after --end {end}", param_hint="--start")
    from safeguard.demo.generate import check_demo_folder, mark_demo_folder

    contract = _contract(ctx)
    check_demo_folder(out, "extracts")
    if ingest:
        check_demo_folder(processed_dir, "a processed store")
    written = generate(out, contract, seed=seed, scale=scale, first=start, last=end)
    click.echo(
        f"Wrote {len(written)} monthly extracts of Demoshire to {out} ({start} to {end}, "
        f"seed {seed}, scale {scale:g})."
    )
    if not ingest:
        return
    from safeguard.ingest.stage import ingest as run_ingest

    mark_demo_folder(processed_dir)
    loaded = quarantined = warnings = 0
    for folder in written:
        outcome = run_ingest(folder, Month.parse(folder.name), contract, processed_dir)
        if outcome.action == "refused":
            raise DataError(f"the demo extract {folder.name} was refused; this is a bug")
        report = outcome.report
        loaded += sum(t.loaded for t in report.tables.values())
        quarantined += report.quarantined
        warnings += report.count(Severity.WARNING)
        if report.issues.height:
            rules = ", ".join(sorted(set(report.issues["rule"].to_list())))
            click.echo(
                f"  {folder.name}: {report.issues.height} problem(s) found ({rules}); "
                f"{report.quarantined} row(s) quarantined"
            )
    click.echo(
        f"Ingested into {processed_dir}: {loaded:,} rows loaded, {quarantined:,} "
        f"quarantined, {warnings:,} warnings."
    )
    if not start <= month <= end:
        return
    from safeguard.console import figure_text
    from safeguard.demo.generate import HEADLINE, demo_authority
    from safeguard.indicators.stage import write_indicators

    catalogue, authority = _indicator_config(ctx)
    authority = demo_authority(authority, scale)
    computed = write_indicators(processed_dir, catalogue, authority, month)
    population = authority.population.children_0_17.get(
        month.year if month.month >= 4 else month.year - 1
    )
    click.echo(
        f"\nDemoshire, {month.first_day:%B %Y}: headline figures (population 0-17: {population:,})"
    )
    card = {row["indicator"]: row for row in computed.scorecard.iter_rows(named=True)}
    width = max(len(card[name]["title"]) for name in HEADLINE)
    for name in HEADLINE:
        click.echo(f"  {card[name]['title']:<{width}}  {figure_text(card[name])}")
    click.echo(f"Every indicator for the 24 months: {computed.folder}")
    if no_report:
        return
    from safeguard.report.stage import FORMATS, write_report

    paper = reports_dir / str(month)
    check_demo_folder(paper, "a paper")
    narrative = ctx.obj["pipelines"].resolve().parent / "examples" / "demoshire-narrative.yaml"
    folder = write_report(
        processed_dir,
        reports_dir,
        catalogue,
        authority,
        month,
        narrative=narrative if narrative.is_file() else None,
        template_dirs=[ctx.obj["pipelines"].resolve().parent / "templates"],
        formats=FORMATS,
    )
    mark_demo_folder(folder)
    click.echo(f"The committee paper (PDF, DOCX, HTML, data): {folder}")


def _indicator_config(ctx: click.Context):  # type: ignore[no-untyped-def]
    from safeguard.indicators.catalogue import load_authority, load_catalogue

    return load_catalogue(ctx.obj["pipelines"]), load_authority(ctx.obj["pipelines"])


@cli.command()
@click.option(
    "--month",
    type=MONTH,
    required=True,
    envvar="SAFEGUARD_MONTH",
    show_envvar=True,
    help="The last month computed (the paper's month).",
)
@PROCESSED_DIR
@click.pass_context
def indicators(ctx: click.Context, month: Month, processed_dir: Path) -> None:
    """Compute every indicator for the months ending at --month.

    Writes data/processed/indicators/YYYY-MM/ (series and team breakdown, parquet and CSV).

    \b
    safeguard indicators --month 2015-10
    """
    from safeguard.indicators.stage import write_indicators

    catalogue, authority = _indicator_config(ctx)
    written = write_indicators(processed_dir, catalogue, authority, month)
    series = written.computed.series
    latest = series.filter(pl_month(month))
    counts = latest.group_by("status").len().sort("status").rows()
    click.echo(
        f"Computed {latest.height} indicators for {len(series['month'].unique())} months to "
        f"{month}: " + ", ".join(f"{n} {status}" for status, n in counts) + "."
    )
    for row in latest.filter(~pl_ok()).select("indicator", "status", "reason").iter_rows():
        click.echo(f"  {row[0]}: {row[1]} ({row[2]})")
    click.echo(f"Written to {written.folder}")


def pl_month(month: Month) -> Any:
    import polars as pl

    return pl.col("month") == month.first_day


def pl_ok() -> Any:
    import polars as pl

    return pl.col("status") == "ok"


@cli.command()
@click.argument("indicator")
@click.option(
    "--month",
    type=MONTH,
    required=True,
    envvar="SAFEGUARD_MONTH",
    show_envvar=True,
    help="The month whose figure is explained.",
)
@PROCESSED_DIR
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write every record to this CSV file.",
)
@click.option("--limit", type=click.IntRange(0), default=40, help="Records shown on screen.")
@click.pass_context
def explain(
    ctx: click.Context,
    indicator: str,
    month: Month,
    processed_dir: Path,
    csv_path: Path | None,
    limit: int,
) -> None:
    """List the records behind an indicator's figure, and why each is in or out.

    The output names children's records (ids, dates): keep it within the service.

    \b
    safeguard explain rereferrals_12m_pct --month 2015-10 --csv rereferrals.csv
    """
    from safeguard.console import console, show_explanation
    from safeguard.indicators.stage import explain as run_explain

    catalogue, authority = _indicator_config(ctx)
    if indicator not in catalogue.indicators:
        known = ", ".join(sorted(catalogue.indicators))
        raise click.BadParameter(
            f"no indicator {indicator!r}; known: {known}", param_hint="INDICATOR"
        )
    rows = run_explain(processed_dir, catalogue, authority, indicator, month)
    spec = catalogue.indicators[indicator]
    show_explanation(indicator, spec.title, spec.definition, month, rows, limit, console())
    if csv_path is not None:
        rows.write_csv(csv_path)
        click.echo(f"All {rows.height:,} records written to {csv_path}")


@cli.command()
@click.option(
    "--month",
    type=MONTH,
    required=True,
    envvar="SAFEGUARD_MONTH",
    show_envvar=True,
    help="The paper's month.",
)
@click.option(
    "--audience",
    type=click.Choice(["public", "internal"]),
    default="public",
    envvar="SAFEGUARD_AUDIENCE",
    show_envvar=True,
    help="public: no team or worker detail; internal: everything, marked on every page.",
)
@click.option(
    "--narrative",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The meeting's narrative YAML (default: reports/YYYY-MM/narrative.yaml).",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(["html", "pdf", "docx", "data"]),
    multiple=True,
    help="Only these outputs (repeatable; default: all).",
)
@_folder("--reports-dir", "REPORTS_DIR", Path("reports"), "Where the papers are written.")
@click.option(
    "--templates",
    "council_templates",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    envvar="SAFEGUARD_TEMPLATES",
    show_envvar=True,
    help="A council's own templates, used before the project's.",
)
@click.option(
    "--reference-docx",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    envvar="SAFEGUARD_REFERENCE_DOCX",
    show_envvar=True,
    help="A Word document whose styles the DOCX paper uses.",
)
@PROCESSED_DIR
@click.pass_context
def report(
    ctx: click.Context,
    month: Month,
    audience: str,
    narrative: Path | None,
    formats: tuple[str, ...],
    reports_dir: Path,
    council_templates: Path | None,
    reference_docx: Path | None,
    processed_dir: Path,
) -> None:
    """Write the committee paper for a month: PDF, DOCX, HTML and the data appendix.

    \b
    safeguard report --month 2015-10
    safeguard report --month 2015-10 --audience internal --format html
    """
    from safeguard.report.stage import FORMATS, write_report

    catalogue, authority = _indicator_config(ctx)
    project_templates = ctx.obj["pipelines"].resolve().parent / "templates"
    dirs = [d for d in (council_templates, project_templates) if d is not None]
    folder = write_report(
        processed_dir,
        reports_dir,
        catalogue,
        authority,
        month,
        audience=audience,
        narrative=narrative,
        template_dirs=dirs,
        formats=formats or FORMATS,
        reference_docx=reference_docx,
    )
    click.echo(f"The {audience} paper for {month} is in {folder}:")
    for path in sorted(folder.iterdir()):
        click.echo(f"  {path.name}")


def _pipeline(ctx: click.Context, **given: Any):  # type: ignore[no-untyped-def]
    """The pipeline settings: options (command line or SAFEGUARD_*) over monthly.yaml."""
    from safeguard.settings import load_pipeline

    base = load_pipeline(ctx.obj["pipelines"])
    chosen = {key: value for key, value in given.items() if value not in (None, ())}
    return base.model_copy(update=chosen)


@cli.command()
@click.option(
    "--month",
    type=MONTH,
    default=None,
    envvar="SAFEGUARD_MONTH",
    show_envvar=True,
    help="The paper's month (default: the latest extract).",
)
@click.option(
    "--strict/--no-strict",
    default=None,
    envvar="SAFEGUARD_STRICT",
    show_envvar=True,
    help="Any validation problem refuses the extract.",
)
@_folder("--raw-dir", "RAW_DIR", None, "Where extracts arrive.")
@_folder("--processed-dir", "PROCESSED_DIR", None, "The processed store.")
@_folder("--reports-dir", "REPORTS_DIR", None, "Where papers go.")
@click.option(
    "--audience",
    type=click.Choice(["public", "internal"]),
    default=None,
    envvar="SAFEGUARD_AUDIENCE",
    show_envvar=True,
    help="Who the paper is for.",
)
@click.option(
    "--narrative",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The meeting's narrative YAML.",
)
@click.option(
    "--run-log",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("data/logs/runs.jsonl"),
    envvar="SAFEGUARD_RUN_LOG",
    show_envvar=True,
    help="Append one JSON line per run: inputs, outputs, versions, timings, outcome.",
)
@click.pass_context
def run(
    ctx: click.Context,
    month: Month | None,
    strict: bool | None,
    raw_dir: Path | None,
    processed_dir: Path | None,
    reports_dir: Path | None,
    audience: str | None,
    narrative: Path | None,
    run_log: Path,
) -> None:
    """Ingest new extracts, compute the indicators and write the paper: the cron job.

    Settings come from pipelines/monthly.yaml unless a SAFEGUARD_* variable or an option
    says otherwise. Quiet on success when not on a terminal.

    \b
    safeguard run                     # the latest month that has an extract
    safeguard run --month 2015-10 --strict
    """
    import json
    import platform
    import sys
    import time
    from datetime import UTC, datetime

    import polars as pl

    from safeguard.run import RunOutcome, run_month
    from safeguard.schema import load_contract

    started = datetime.now(UTC)
    clock = time.perf_counter()
    pipeline = _pipeline(
        ctx,
        strict=strict,
        raw_dir=raw_dir,
        processed_dir=processed_dir,
        reports_dir=reports_dir,
        audience=audience,
    )
    record: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "command": "run",
        "settings": json.loads(pipeline.model_dump_json()),
        "versions": {
            "safeguard": __version__,
            "polars": pl.__version__,
            "python": platform.python_version(),
        },
    }
    outcome = RunOutcome()
    exit_code = 0
    bar = None
    if sys.stderr.isatty():  # progress on a terminal only; cron gets nothing on success
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("starting", total=None)

        def progress(what: str, done: int, total: int) -> None:
            assert bar is not None
            bar.update(task, description=what, completed=done - 1, total=total)

    try:
        catalogue, authority = _indicator_config(ctx)
        project = ctx.obj["pipelines"].resolve().parent
        run_month(
            pipeline,
            load_contract(ctx.obj["pipelines"]),
            catalogue,
            authority,
            month=month,
            template_dirs=[project / "templates"],
            narrative=narrative,
            outcome=outcome,
            progress=progress if bar is not None else None,
        )
    except click.ClickException as exc:
        exit_code = exc.exit_code
        record["error"] = exc.format_message()
        raise
    except Exception as exc:
        exit_code = int(ExitCode.INTERNAL)
        record["error"] = type(exc).__name__
        raise
    finally:
        if bar is not None:
            bar.stop()
        record.update(
            {
                "month": outcome.month,
                "ingested": outcome.ingested,
                "outputs": outcome.outputs,
                "cleaned": outcome.cleaned,
                "seconds": round(time.perf_counter() - clock, 3),
                "exit_code": exit_code,
                "outcome": "ok" if exit_code == 0 else "failed",
            }
        )
        run_log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(run_log, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record, sort_keys=True) + "\n")
        os.chmod(run_log, 0o600)
    if sys.stdout.isatty():
        click.echo(
            f"Ingested {len(outcome.ingested)} extract(s); the paper for {outcome.month} "
            f"is in {pipeline.reports_dir / str(outcome.month)}."
        )


@cli.command()
@click.option(
    "--before", type=MONTH, required=True, help="Remove every extract closing before this month."
)
@PROCESSED_DIR
@click.pass_context
def purge(ctx: click.Context, before: Month, processed_dir: Path) -> None:
    """Apply a retention period: remove older extracts and what derives from them.

    Records that only those extracts held leave the store; the rest is rebuilt from the
    extracts kept. The store is replaced atomically.

    \b
    safeguard purge --before 2014-04
    """
    from safeguard.schema import load_contract
    from safeguard.store import Store, purge_before

    store = Store(processed_dir)
    rows_before = {t: m["rows"] for t, m in store.manifest().get("tables", {}).items()}
    gone = purge_before(processed_dir, str(before), load_contract(ctx.obj["pipelines"]))
    if not gone:
        click.echo(f"Nothing to purge: no extract in {processed_dir} closes before {before}.")
        return
    rows_after = {t: m["rows"] for t, m in store.manifest().get("tables", {}).items()}
    removed = sum(rows_before.values()) - sum(rows_after.values())
    click.echo(
        f"Removed {len(gone)} extract(s) ({gone[0]} to {gone[-1]}) and {removed:,} "
        f"record(s) that only they held, from {processed_dir}."
    )
    for table in sorted(rows_before):
        lost = rows_before[table] - rows_after.get(table, 0)
        if lost:
            click.echo(f"  {table}: {lost:,}")


@cli.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the configuration and templates without any data (for CI and after edits).

    \b
    safeguard check-config
    """
    import tempfile

    from safeguard.ingest.sources import FORMATS
    from safeguard.ingest.sources.base import load_mapping, mapping_problems
    from safeguard.report.html import render_html
    from safeguard.report.pdf import render_pdf
    from safeguard.report.sample import sample_model
    from safeguard.schema import load_contract

    contract = load_contract(ctx.obj["pipelines"])
    catalogue, authority = _indicator_config(ctx)
    pipeline = _pipeline(ctx)
    problems = [
        problem
        for name in FORMATS
        for problem in mapping_problems(load_mapping(ctx.obj["pipelines"], name), contract)
    ]
    if problems:
        raise ConfigError("pipelines/sources: " + "; ".join(problems))
    templates = ctx.obj["pipelines"].resolve().parent / "templates"
    with tempfile.TemporaryDirectory() as scratch:
        model = sample_model(3)
        try:
            render_html(model, Path(scratch) / "p.html", template_dirs=[templates])
        except Exception as exc:
            raise ConfigError(f"templates/paper.html.j2 does not render: {exc}") from exc
        render_pdf(model, Path(scratch) / "p.pdf", template_dir=templates)
    click.echo(
        f"Configuration is valid: {len(contract.tables)} extract tables, "
        f"{len(catalogue.indicators)} indicators, {len(FORMATS)} return mappings, "
        f"authority {authority.name}, "
        f"pipeline writing {', '.join(pipeline.formats)} for a {pipeline.audience} audience; "
        "the HTML and PDF templates render."
    )


@cli.group()
def config() -> None:
    """Show the effective settings."""


@config.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective pipeline settings (environment over monthly.yaml over defaults).

    \b
    safeguard config show
    """
    import os as _os

    pipeline = _pipeline(
        ctx,
        **{
            key: _os.environ.get(f"SAFEGUARD_{key.upper()}")
            for key in ("raw_dir", "processed_dir", "reports_dir", "audience")
        },
    )
    for key, value in pipeline.model_dump().items():
        shown = ", ".join(value) if isinstance(value, tuple) else value
        click.echo(f"{key}: {shown}")


def main() -> None:
    cli(prog_name="safeguard")


__all__ = ["ConfigError", "cli", "main"]
