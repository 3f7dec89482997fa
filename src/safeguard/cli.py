"""The ``safeguard`` command line: thin commands over the library.

Each command finds the project (``safeguard.project``), calls one use case and prints its
outcome. Settings options default to None ("not given") so the one precedence of
``safeguard.settings`` applies: option > ``SAFEGUARD_*`` > ``pipelines/monthly.yaml`` > default.
Library errors are plain exceptions carrying an exit code; only ``SafeguardGroup`` turns them
into a message and the code (0 success, 1 data, 2 usage or configuration, 3 internal error,
75 another run holds the lock).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from safeguard import __version__
from safeguard.errors import ConfigError, DataError, InternalError, SafeguardError, StoreError
from safeguard.periods import Month

if TYPE_CHECKING:
    from safeguard.ingest.target import StatutoryReturn

log = logging.getLogger("safeguard")

F = TypeVar("F", bound=Callable[..., Any])


def echo(message: Any = None, **kwargs: Any) -> None:
    """``click.echo`` through the console's escaping: a folder's or a value's name in a line
    is shown, never acted on (an ANSI escape, a carriage return)."""
    from safeguard.console import printable

    click.echo(None if message is None else printable(str(message)), **kwargs)


class _Failure(click.ClickException):
    """A library error on its way out: ``Error: <message>`` and the error's exit code."""

    def __init__(self, error: SafeguardError):
        from safeguard.console import printable

        # a file's or a value's name in the message is shown, never acted on (an ANSI escape)
        super().__init__(printable(error.message))
        self.exit_code = int(error.exit_code)  # type: ignore[misc]


class MonthType(click.ParamType):  # type: ignore[type-arg]
    name = "YYYY-MM"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Month:
        if isinstance(value, Month):
            return value
        try:
            month = Month.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if not EARLIEST <= month <= LATEST:
            self.fail(
                f"{month} is outside {EARLIEST} to {LATEST} (the figures look back years "
                "before the month; children's social care data begins with the Children Act "
                "1989)",
                param,
                ctx,
            )
        return month


EARLIEST, LATEST = Month(1990, 1), Month(2900, 12)
MONTH = MonthType()


def setting(flag: str, name: str, text: str, **kwargs: Any) -> Callable[[F], F]:
    """An option for the setting ``name``; not given means "the next source decides"."""
    from safeguard.settings import env_name

    if kwargs.get("type") is None and name.endswith("_dir"):
        kwargs["type"] = click.Path(path_type=Path, file_okay=False)
    return click.option(
        flag,
        name,
        default=None,
        show_default=False,
        help=f"{text}  [env var: {env_name(name)}]",
        **kwargs,
    )


def month_option(text: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(
        "--month", type=MONTH, envvar="SAFEGUARD_MONTH", show_envvar=True, help=text, **kwargs
    )


class Session:
    """What the group's options say, and the project, opened once when a command needs it."""

    def __init__(self, project: Path | None, pipelines: Path | None, log_file: Path | None):
        self.project_dir = project
        self.pipelines = pipelines
        self.log_file = log_file
        self.debug = False
        self.today: date | None = None
        self._project: Any = None

    def project(self, **options: Any) -> Any:
        """The project (exit 2 outside one), its settings given ``options`` from the command."""
        from safeguard.logs import setup_logging
        from safeguard.project import open_project

        if self._project is None:
            self._project = open_project(
                cwd=Path.cwd(),
                environ=os.environ,
                options={**options, "log_file": self.log_file},
                project=self.project_dir,
                pipelines=self.pipelines,
            )
            setup_logging(self._project.settings.log_file)
        return self._project


class SafeguardGroup(click.Group):
    """Library errors become their exit codes; any other exception one line and exit 3."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SafeguardError as exc:
            raise _Failure(exc) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # `safeguard config show | head`: the reader has gone
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None
        except OSError as exc:
            found = operational(exc)
            if found is None:
                raise _Failure(_internal(ctx, exc)) from exc
            log.error("operational error: %s", found.message)
            raise _Failure(found) from exc
        except Exception as exc:
            raise _Failure(_internal(ctx, exc)) from exc


def operational(exc: OSError) -> StoreError | None:
    """The machine's trouble, not a bug: a full disk, a read-only or forbidden folder. The
    message names the file and what to do; None for any other OSError (a bug, exit 3)."""
    import errno

    remedies = {
        errno.ENOSPC: "the disk is full: free some space, then run again",
        errno.EDQUOT: "the disk quota is used up: free some space, then run again",
        errno.EROFS: "the file system is read-only: point the setting at a writable folder",
        errno.EACCES: "permission denied: run as the folder's owner, or fix its permissions",
        errno.EPERM: "operation not permitted: run as the folder's owner, or fix its permissions",
    }
    remedy = remedies.get(exc.errno or 0)
    if remedy is None:
        return None
    where = f" writing or reading {exc.filename}" if exc.filename else ""
    return StoreError(f"{exc.strerror or type(exc).__name__}{where}: {remedy}")


def _internal(ctx: click.Context, exc: BaseException) -> InternalError:
    """A bug: one line, the traceback in the log (or on stderr with --debug)."""
    log.error("internal error", exc_info=exc)
    session = ctx.obj if isinstance(ctx.obj, Session) else None
    debug = bool(session and session.debug)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    where = None
    if session is not None and session._project is not None:
        where = session._project.settings.log_file
    return InternalError(
        f"internal error ({type(exc).__name__}); this is a bug in safeguard, not in "
        "your data. "
        + ("" if debug else "Run again with --debug to see the traceback")
        + (f"; the traceback is in {where}" if where and not debug else "")
    )


@click.group(
    name="safeguard",
    cls=SafeguardGroup,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.version_option(__version__, "--version", prog_name="safeguard")
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    envvar="SAFEGUARD_PROJECT",
    show_envvar=True,
    help="The project folder (default: this folder or the nearest above holding pipelines/).",
)
@click.option(
    "--pipelines",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    envvar="SAFEGUARD_PIPELINES",
    show_envvar=True,
    help="The configuration folder itself (the project is the folder above it).",
)
@setting(
    "--log-file",
    "log_file",
    "Append a log (counts and rule codes, never a child's id).",
    type=click.Path(path_type=Path, dir_okay=False),
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="SAFEGUARD_DEBUG",
    show_envvar=True,
    help="Show tracebacks of internal errors.",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    hidden=True,
    help="The date to take as today (tests); the machine's date otherwise.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    project: Path | None,
    pipelines: Path | None,
    log_file: Path | None,
    debug: bool,
    today: datetime | None,
) -> None:
    """Children's safeguarding performance data from monthly case-management extracts.

    \b
    safeguard init herefordshire --la-code 884   make a council's project folder
    safeguard demo                          try it on the synthetic Demoshire
    safeguard validate data/raw/2015-10     check an extract, write nothing
    safeguard ingest --month 2015-10        check it and load it into data/processed
    safeguard report --month 2015-10        the committee paper in reports/2015-10
    safeguard run                           all of it, for cron
    """
    from safeguard.logs import setup_logging

    setup_logging(None)
    ctx.obj = Session(project, pipelines, log_file)
    ctx.obj.debug = debug
    # the one reading of the clock for the library: a month after this is refused
    ctx.obj.today = (today or datetime.now(UTC).astimezone()).date()  # local date


def _session(ctx: click.Context) -> Session:
    session = ctx.find_object(Session)
    assert session is not None
    return session


class _Share(click.FloatRange):
    """A share from 0 to 1: a finite number (click's range lets ``nan`` through, and a
    threshold of nan would switch the check off)."""

    def __init__(self) -> None:
        super().__init__(0, 1)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a number from 0 to 1", param, ctx)
        return number


SHARE = _Share()


def _check_options(func: Any) -> Any:
    options = [
        month_option("The month the extract closes (default: the folder's name).", default=None),
        setting("--encoding", "encoding", "Read files in this encoding (for example cp1252)."),
        setting(
            "--max-quarantine",
            "max_quarantine",
            "Refuse a file when more than this share of its rows have errors (default 0.01).",
            type=SHARE,
        ),
        setting(
            "--strict/--no-strict",
            "strict",
            "Any error or warning (but no-rows) refuses the whole extract (for cron).",
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


def _year_option(func: Any) -> Any:
    return click.option(
        "--year",
        type=click.IntRange(1990, 2100),
        default=None,
        help="A statutory return's collection year, named by the 31 March it ends on (2020 for "
        "April 2019 to March 2020): places 903 tables whose file names give no year.",
    )(func)


@contextmanager
def _usage_errors() -> Iterator[None]:
    """A command line the library cannot read (``ConfigError``) as click's usage error."""
    try:
        yield
    except ConfigError as exc:
        raise click.UsageError(exc.message) from None


def _finish(
    report: Any,
    contract: Any,
    strict: bool,
    said: str,
    report_json: Path | None,
    report_csv: Path | None,
) -> None:
    from safeguard.console import console, show_report

    show_report(report, contract, console())
    report.write(report_json, report_csv)
    echo(said)
    if not report.passes(strict=strict):
        if report.rejected:
            raise DataError(
                f"{report.count_file_errors()} file-level error(s) in {report.extract}; "
                "nothing was written"
            )
        raise DataError(
            f"--strict: {report.strict_problems} problem(s) in {report.extract}; nothing was "
            "written"
        )


_format_option = click.option(
    "--format",
    "format_name",
    type=click.Choice(["auto", "extract", "cin-xml", "ssda903", "annex-a"]),
    default="auto",
    show_default=True,
    help="What PATH is: a monthly extract folder (in the contract's form or an SSD export), a "
    "CIN census XML file, a folder of SSDA903 tables or an Annex A workbook; auto decides by "
    "the content.",
)


def _database_options(command: F) -> F:
    command = setting(
        "--database-schema", "database_schema", "The schema holding the SSD's tables."
    )(command)
    return setting(
        "--database",
        "database",
        "Read the SSD's tables from this reporting database (a SQLAlchemy URL with no "
        "password; the password from SAFEGUARD_DATABASE_PASSWORD). PATH, or the raw folder of "
        "--month, then holds only local tables.",
        metavar="URL",
    )(command)


@cli.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@_check_options
@setting("--raw-dir", "raw_dir", "Where extract folders named YYYY-MM arrive.")
@setting("--processed-dir", "processed_dir", "The processed store (read, never written).")
@_database_options
@_year_option
@_format_option
@click.pass_context
def validate(
    ctx: click.Context,
    path: Path | None,
    month: Month | None,
    encoding: str | None,
    max_quarantine: float | None,
    strict: bool | None,
    report_json: Path | None,
    report_csv: Path | None,
    raw_dir: Path | None,
    processed_dir: Path | None,
    database: str | None,
    database_schema: str | None,
    year: int | None,
    format_name: str,
) -> None:
    """Check an extract folder (or one of its files, the raw folder of --month, or the SSD
    in a database) and write nothing to the store.

    Exits 1 when ingest would refuse the extract (a file-level error, or any problem with
    --strict). A reference the extract does not hold is looked up in the processed store,
    when there is one, as ingest does; the report says how many were found only there.

    \b
    safeguard validate data/raw/2015-10 --report-csv problems.csv
    safeguard validate --month 2015-10
    safeguard validate data/raw/2015-10/contacts.csv
    safeguard validate --database postgresql+psycopg://reporting@host/ssd --month 2015-10
    """
    from safeguard.console import verdict
    from safeguard.ingest.stage import validate as run_validate
    from safeguard.ingest.target import StatutoryReturn, resolve

    project = _session(ctx).project(
        encoding=encoding,
        max_quarantine=max_quarantine,
        strict=strict,
        raw_dir=raw_dir,
        processed_dir=processed_dir,
        database=database,
        database_schema=database_schema,
    )
    settings = project.settings
    with _usage_errors():
        target = resolve(settings, path, month, year, format_name, checking=True)
    if isinstance(target, StatutoryReturn):  # checked as ingest would, not written
        _ingest_return(
            project,
            target,
            None,
            report_json,
            report_csv,
            today=_session(ctx).today,
            consult=settings.processed_dir,  # says when ingest would need --replace
        )
        return
    contract = project.contract
    report = run_validate(
        target.folder,
        target.month,
        contract,
        encoding=settings.encoding,
        max_quarantine=settings.max_quarantine,
        authority=project.authority,
        processed=settings.processed_dir,  # issue 14: references looked up in the store too
        pipelines=project.pipelines,  # an SSD export's mapping: sources/ssd.yaml
        today=_session(ctx).today,
        database=target.database,
        environ=os.environ,  # a database's password (SAFEGUARD_DATABASE_PASSWORD)
    )
    said = verdict(report, settings.strict, dry_run=True) + _not_loaded(report)
    _finish(report, contract, settings.strict, said, report_json, report_csv)


@cli.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@_check_options
@_format_option
@setting("--raw-dir", "raw_dir", "Where extract folders named YYYY-MM arrive.")
@setting("--processed-dir", "processed_dir", "The processed store.")
@_database_options
@_year_option
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the tables of a statutory return year the store already holds under the "
    "same name (without it such a load is refused, saying what is held).",
)
@click.pass_context
def ingest(
    ctx: click.Context,
    path: Path | None,
    month: Month | None,
    encoding: str | None,
    max_quarantine: float | None,
    strict: bool | None,
    report_json: Path | None,
    report_csv: Path | None,
    format_name: str,
    raw_dir: Path | None,
    processed_dir: Path | None,
    database: str | None,
    database_schema: str | None,
    year: int | None,
    replace: bool,
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
    safeguard ingest --database mssql+pyodbc://reporting@server/ssd?driver=... --month 2015-10
    """
    from safeguard.console import verdict
    from safeguard.ingest.stage import ingest as run_ingest
    from safeguard.ingest.target import StatutoryReturn, resolve

    project = _session(ctx).project(
        encoding=encoding,
        max_quarantine=max_quarantine,
        strict=strict,
        raw_dir=raw_dir,
        processed_dir=processed_dir,
        database=database,
        database_schema=database_schema,
    )
    settings = project.settings
    with _usage_errors():
        target = resolve(settings, path, month, year, format_name, checking=False, replace=replace)
    if isinstance(target, StatutoryReturn):
        _ingest_return(
            project,
            target,
            settings.processed_dir,
            report_json,
            report_csv,
            replace=replace,
            today=_session(ctx).today,
        )
        return
    outcome = run_ingest(
        target.folder,
        target.month,
        project.contract,
        settings.processed_dir,
        strict=settings.strict,
        encoding=settings.encoding,
        max_quarantine=settings.max_quarantine,
        authority=project.authority,
        pipelines=project.pipelines,  # an SSD export's mapping: sources/ssd.yaml
        today=_session(ctx).today,
        database=target.database,
        environ=os.environ,
    )
    said = verdict(outcome.report, settings.strict, dry_run=False, action=outcome.action)
    said += _not_loaded(outcome.report)
    if (
        outcome.generation is not None
        and outcome.report.quarantined
        and outcome.action == "written"
    ):
        where = outcome.generation / "extracts" / str(target.month)
        said += f"\nQuarantined rows and the full report: {where}"
    _finish(outcome.report, project.contract, settings.strict, said, report_json, report_csv)


def _not_loaded(report: Any) -> str:
    """An SSD export's fields the store holds no place for, and what a database read as at the
    month's end left out: counts, never values."""
    if not report.not_loaded:
        return ""
    return "\nNot loaded from the SSD export (values): " + ", ".join(
        f"{part} {count:,}" for part, count in report.not_loaded.items()
    )


def _ingest_return(
    project: Any,
    target: StatutoryReturn,
    processed_dir: Path | None,
    report_json: Path | None,
    report_csv: Path | None,
    *,
    replace: bool = False,
    today: date | None = None,
    consult: Path | None = None,
) -> None:
    """Load (or, with no ``processed_dir``, only check) each collection year of a return;
    exit 1 when any year is, or would be, refused. A year the store holds under the same name
    is replaced only with ``replace``, saying what goes (exit 2 without it, nothing written).
    Checking only, ``consult`` is the store a year is compared with (``replace-needed``)."""
    from safeguard.console import console, show_returns
    from safeguard.ingest.stage import ingest_return

    settings = project.settings
    contract = project.contract
    done = ingest_return(
        target.path,
        contract,
        processed_dir,
        project.pipelines,
        format_name=target.format_name,
        month=target.month,
        strict=settings.strict,
        max_quarantine=settings.max_quarantine,
        authority=project.authority,
        replace_held=replace,
        today=today,
        consult=consult,
    )
    for one in done:  # what a --replace took out of the store: counts per table, no ids
        if one.replaced:
            going = "; ".join(
                f"{table} ({rows:,} rows loaded from {file})"
                for table, (file, rows) in one.replaced.items()
            )
            echo(f"Replaced in {one.label}: {going}.")
    refused = show_returns(
        done,
        contract,
        target.format_name,
        console(),
        strict=settings.strict,
        echo=click.echo,
        report_json=report_json,
        report_csv=report_csv,
    )
    if refused:
        raise DataError(
            f"{', '.join(refused)}: refused; nothing of it was written"
            if processed_dir is not None
            else f"{', '.join(refused)}: ingest would refuse it"
        )


@cli.command()
@setting("--processed-dir", "processed_dir", "The processed store.")
@click.pass_context
def status(ctx: click.Context, processed_dir: Path | None) -> None:
    """Show what the processed store holds: extracts, row counts, revisions.

    \b
    safeguard status
    """
    from safeguard.console import console, show_status
    from safeguard.store import Store

    project = _session(ctx).project(processed_dir=processed_dir)
    store = Store(project.settings.processed_dir)
    generation = store.generation
    shown = _shown_path(project, project.settings.processed_dir)
    show_status(shown, generation.name if generation else None, store.manifest(), console())


@cli.group("store")
def store_group() -> None:
    """Look after the processed store."""


@store_group.command("repair")
@setting("--processed-dir", "processed_dir", "The processed store.")
@click.pass_context
def store_repair(ctx: click.Context, processed_dir: Path | None) -> None:
    """Point a damaged CURRENT at the newest complete generation; deletes nothing.

    A generation is complete when its manifest reads and every table it lists is there; the
    newest holds the latest monthly extract (then the most extracts). Exits 74 when no
    generation is complete (restore a backup, or ingest data/raw again into a new store).

    \b
    safeguard store repair
    """
    from safeguard.store import Store, repair

    project = _session(ctx).project(processed_dir=processed_dir)
    root = project.settings.processed_dir
    with Store(root).locked():
        live, candidates = repair(root)
    for found in candidates:
        state = found.problem or (
            f"complete: {found.extracts} extract(s) and return(s), latest monthly "
            f"{found.latest or 'none'}"
        )
        echo(f"  {found.path.name}  {state}")
    if live is None:
        raise StoreError(
            f"no complete generation in {root}: restore the store from a backup, or ingest "
            "the extracts in data/raw into an empty store"
        )
    echo(f"CURRENT names {live.name}.")


def _shown_path(project: Any, path: Path) -> str:
    """A path as the user thinks of it: relative to the project when inside it."""
    return str(path.relative_to(project.root)) if path.is_relative_to(project.root) else str(path)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--la-code", default=None, help="DfE's three-digit LA code (884) or the E-code.")
@click.option("--la-name", default=None, help="The authority's name (Herefordshire).")
@setting("--reference-url", "reference_url", "A mirror of the DfE and ONS files.")
def init(
    directory: Path, la_code: str | None, la_name: str | None, reference_url: str | None
) -> None:
    """Make a council's project folder: its authority, settings, folders and README.

    The authority's name, codes, region, statistical neighbours and 0-17 population come
    from the DfE and ONS published files, fetched into DIRECTORY/reference (or, offline, from a
    mirror: SAFEGUARD_REFERENCE_URL). Files already in DIRECTORY are kept.

    \b
    safeguard init herefordshire --la-code 884
    safeguard init county --la-name "Herefordshire, County of"
    """
    from safeguard.init import init_project
    from safeguard.settings import from_environment

    url = reference_url or from_environment(os.environ).get("reference_url")
    outcome = init_project(
        directory,
        la_code=la_code,
        la_name=la_name,
        reference_url=url,
        run_command=_run_command(),
    )
    echo(f"The project for {outcome.authority} is in {directory}:")
    for name in outcome.created:
        echo(f"  made {name}")
    for name in outcome.kept:
        echo(f"  kept {name} (already there)")
    fetched = outcome.reference
    if fetched is not None:
        echo(
            f"Reference files: {len(fetched.updated) + len(fetched.unchanged)} held, "
            f"{len(fetched.skipped)} to download by hand, {len(fetched.failed)} failed"
            + (
                " (`safeguard reference status` lists them)"
                if not fetched.ok or fetched.skipped
                else ""
            )
            + "."
        )
    echo(
        f"Next: put a month's extract in {directory}/data/raw/YYYY-MM/ and run `safeguard run` "
        f"there. For cron:\n  {outcome.crontab}"
    )


def _stopwatch(clock: Callable[[], float]) -> Callable[[], float]:
    """Seconds since this call, by ``clock``."""
    began = clock()
    return lambda: clock() - began


def _run_command() -> str:
    """How cron should start this installation (it has a bare PATH)."""
    return f"{sys.executable} -m safeguard"


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
@setting("--out", "raw_dir", "Where the extract folders are written.")
@setting("--processed-dir", "processed_dir", "The processed store.")
@click.option("--ingest/--no-ingest", default=True, help="Ingest the extracts after writing.")
@setting("--reports-dir", "reports_dir", "Where the month's committee paper is written.")
@click.option("--no-report", is_flag=True, help="Stop after the indicators.")
@click.option(
    "--month", type=MONTH, default="2015-10", help="The month whose headline figures are printed."
)
@click.pass_context
def demo(
    ctx: click.Context,
    reports_dir: Path | None,
    no_report: bool,
    seed: int,
    scale: float,
    start: Month,
    end: Month,
    months: int | None,
    raw_dir: Path | None,
    processed_dir: Path | None,
    ingest: bool,
    month: Month,
) -> None:
    """Write the synthetic Demoshire extracts, ingest them, and produce a month's paper.

    Demoshire is a fictional county whose children's journeys are simulated; no real child is
    involved. A few data-quality problems are planted in the October 2015 extract (see the
    README) so validation and supersession can be seen working. Outside a project it makes
    its own project folder, demoshire/.

    \b
    safeguard demo
    safeguard demo --scale 10 --months 24 --no-ingest --out /tmp/demo-raw
    """
    from safeguard.console import figure_text
    from safeguard.demo.pipeline import DEMO_FOLDER, run_demo
    from safeguard.project import NotAProject

    session = _session(ctx)
    options = {"raw_dir": raw_dir, "processed_dir": processed_dir, "reports_dir": reports_dir}
    try:
        project = session.project(**options)
    except NotAProject:
        from safeguard.init import init_demo

        made = init_demo(Path.cwd() / DEMO_FOLDER)
        echo(f"Not in a project: made the demo's own, {DEMO_FOLDER}/.")
        session.project_dir = made.root
        project = session.project(**options)
    if months is not None:
        start = end.shift(-(months - 1))
    outcome = run_demo(
        project,
        seed=seed,
        scale=scale,
        first=start,
        last=end,
        month=month,
        ingest=ingest,
        report=not no_report,
    )
    settings = project.settings
    echo(
        f"Wrote {len(outcome.written)} monthly extracts of Demoshire to "
        f"{_shown_path(project, settings.raw_dir)} ({start} to {end}, seed {seed}, "
        f"scale {scale:g})."
    )
    if not ingest:
        return
    for found in outcome.problems:
        echo(
            f"  {found.extract}: {found.problems} problem(s) found ({', '.join(found.rules)}); "
            f"{found.quarantined} row(s) quarantined"
        )
    echo(
        f"Ingested into {_shown_path(project, settings.processed_dir)}: {outcome.loaded:,} rows "
        f"loaded, {outcome.quarantined:,} quarantined, {outcome.warnings:,} warnings."
    )
    if not outcome.headline:
        return
    population = f"{outcome.population:,}" if outcome.population is not None else "not held"
    echo(f"\nDemoshire, {month.first_day:%B %Y}: headline figures (population 0-17: {population})")
    width = max(len(str(row["title"])) for row in outcome.headline)
    for row in outcome.headline:
        echo(f"  {row['title']!s:<{width}}  {figure_text(row)}")
    echo(f"Every indicator for the 24 months: {outcome.indicators}")
    if outcome.paper is not None:
        echo(f"The committee paper (PDF, DOCX, HTML, data): {outcome.paper}")


@cli.command()
@month_option("The last month computed (the paper's month).", required=True)
@setting("--processed-dir", "processed_dir", "The processed store.")
@click.pass_context
def indicators(ctx: click.Context, month: Month, processed_dir: Path | None) -> None:
    """Compute every indicator for the months ending at --month.

    Writes data/processed/indicators/YYYY-MM/ (series and team breakdown, parquet and CSV).

    \b
    safeguard indicators --month 2015-10
    """
    import polars as pl

    from safeguard.indicators.stage import write_indicators

    project = _session(ctx).project(processed_dir=processed_dir)
    written = write_indicators(
        project.settings.processed_dir, project.catalogue, project.authority, month
    )
    series = written.computed.series
    latest = series.filter(pl.col("month") == month.first_day)
    counts = latest.group_by("status").len().sort("status").rows()
    echo(
        f"Computed {latest.height} indicators for {len(series['month'].unique())} months to "
        f"{month}: " + ", ".join(f"{n} {status}" for status, n in counts) + "."
    )
    for row in (
        latest.filter(pl.col("status") != "ok").select("indicator", "status", "reason").iter_rows()
    ):
        echo(f"  {row[0]}: {row[1]} ({row[2]})")
    echo(f"Written to {written.folder}")


@cli.command()
@click.argument("indicator")
@month_option("The month whose figure is explained.", required=True)
@setting("--processed-dir", "processed_dir", "The processed store.")
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
    processed_dir: Path | None,
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

    project = _session(ctx).project(processed_dir=processed_dir)
    catalogue = project.catalogue
    if indicator not in catalogue.indicators:
        known = ", ".join(sorted(catalogue.indicators))
        raise click.BadParameter(
            f"no indicator {indicator!r}; known: {known}", param_hint="INDICATOR"
        )
    found = run_explain(
        project.settings.processed_dir, catalogue, project.authority, indicator, month
    )
    spec = catalogue.indicators[indicator]
    show_explanation(indicator, spec, month, found, limit, console())
    if csv_path is not None and found.status != "not available":
        from safeguard.private import private_file

        with private_file(csv_path, "wb") as handle:  # children's records: owner-only
            found.records.write_csv(handle)
        echo(f"All {found.records.height:,} records written to {csv_path}")


@cli.command()
@month_option("The paper's month.", required=True)
@setting(
    "--audience",
    "audience",
    "public: small numbers withheld, no per-team figures but caseloads by team (teams of 5 "
    "or more workers); internal: everything, marked on every page.",
    type=click.Choice(["public", "internal"]),
)
@click.option(
    "--narrative",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The meeting's narrative YAML (default: reports/YYYY-MM/narrative.yaml).",
)
@setting(
    "--format",
    "formats",
    "Only these outputs (repeatable; default: all).",
    type=click.Choice(["html", "pdf", "docx", "data"]),
    multiple=True,
)
@setting(
    "--detail",
    "detail",
    "summary: charts as small multiples, six a page; full: a chart and its data table a page.",
    type=click.Choice(["summary", "full"]),
)
@setting("--reports-dir", "reports_dir", "Where the papers are written.")
@setting(
    "--templates",
    "templates",
    "A council's own templates, used before the project's.",
    type=click.Path(path_type=Path, file_okay=False),
)
@setting(
    "--reference-docx",
    "reference_docx",
    "A Word document whose styles the DOCX paper uses.",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
)
@setting("--processed-dir", "processed_dir", "The processed store.")
@click.pass_context
def report(
    ctx: click.Context,
    month: Month,
    audience: str | None,
    narrative: Path | None,
    formats: tuple[str, ...],
    detail: str | None,
    reports_dir: Path | None,
    templates: Path | None,
    reference_docx: Path | None,
    processed_dir: Path | None,
) -> None:
    """Write the committee paper for a month: PDF, DOCX, HTML and the data appendix.

    \b
    safeguard report --month 2015-10
    safeguard report --month 2015-10 --audience internal --format html
    """
    from safeguard.report.stage import write_report

    project = _session(ctx).project(
        audience=audience,
        formats=formats,
        detail=detail,
        reports_dir=reports_dir,
        templates=templates,
        reference_docx=reference_docx,
        processed_dir=processed_dir,
    )
    settings = project.settings
    folder = write_report(
        settings.processed_dir,
        settings.reports_dir,
        project.catalogue,
        project.authority,
        month,
        audience=settings.audience,
        narrative=narrative,
        template_dirs=project.template_dirs,
        formats=settings.formats,
        reference_docx=settings.reference_docx,
        detail=settings.detail,
    )
    echo(f"The {settings.audience} paper for {month} is in {folder}:")
    for path in sorted(folder.iterdir()):
        echo(f"  {path.name}")


@cli.command()
@month_option("The paper's month (default: the latest extract).", default=None)
@setting("--strict/--no-strict", "strict", "Any validation problem refuses the extract.")
@setting("--raw-dir", "raw_dir", "Where extracts arrive.")
@setting("--processed-dir", "processed_dir", "The processed store.")
@setting("--reports-dir", "reports_dir", "Where papers go.")
@setting(
    "--audience", "audience", "Who the paper is for.", type=click.Choice(["public", "internal"])
)
@click.option(
    "--narrative",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The meeting's narrative YAML.",
)
@setting(
    "--run-log",
    "run_log",
    "Append one JSON line per run: inputs, outputs, versions, timings, outcome.",
    type=click.Path(path_type=Path, dir_okay=False),
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
    run_log: Path | None,
) -> None:
    """Ingest new extracts, compute the indicators and write the paper: the cron job.

    Settings come from pipelines/monthly.yaml unless a SAFEGUARD_* variable or an option
    says otherwise. Quiet on success when not on a terminal.

    \b
    safeguard run                     # the latest month that has an extract
    safeguard run --month 2015-10 --strict

    With a database in the settings (database: in pipelines/monthly.yaml), the month's
    extract is the SSD read from it as at the month's end; without --month, the last month
    ended by today.
    """
    import time

    from safeguard.console import progress_bar
    from safeguard.run import recorded_run

    project = _session(ctx).project(
        strict=strict,
        raw_dir=raw_dir,
        processed_dir=processed_dir,
        reports_dir=reports_dir,
        audience=audience,
        run_log=run_log,
    )
    with progress_bar(enabled=sys.stderr.isatty()) as progress:  # cron: silent on success
        outcome = recorded_run(
            project,
            month=month,
            narrative=narrative,
            progress=progress,
            started=datetime.now(UTC).isoformat(timespec="seconds"),
            elapsed=_stopwatch(time.perf_counter),
            today=_session(ctx).today,
            environ=os.environ,  # a database's password (SAFEGUARD_DATABASE_PASSWORD)
        )
    if sys.stdout.isatty():
        echo(
            f"Ingested {len(outcome.ingested)} extract(s); the paper for {outcome.month} "
            f"is in {project.settings.reports_dir / str(outcome.month)}."
        )


@cli.command()
@click.option(
    "--before", type=MONTH, required=True, help="Remove every extract closing before this month."
)
@setting("--processed-dir", "processed_dir", "The processed store.")
@click.pass_context
def purge(ctx: click.Context, before: Month, processed_dir: Path | None) -> None:
    """Apply a retention period: remove older extracts and what derives from them.

    Records that only those extracts held leave the store; the rest is rebuilt from the
    extracts kept. The store is replaced atomically.

    \b
    safeguard purge --before 2014-04
    """
    from safeguard.store import Store, purge_before

    project = _session(ctx).project(processed_dir=processed_dir)
    folder = project.settings.processed_dir
    store = Store(folder)
    rows_before = {t: m.rows for t, m in store.manifest().tables.items()}
    gone = purge_before(folder, str(before), project.contract)
    shown = _shown_path(project, folder)
    if not gone:
        echo(f"Nothing to purge: no extract in {shown} closes before {before}.")
        return
    rows_after = {t: m.rows for t, m in store.manifest().tables.items()}
    removed = sum(rows_before.values()) - sum(rows_after.values())
    echo(
        f"Removed {len(gone)} extract(s) ({gone[0]} to {gone[-1]}) and {removed:,} "
        f"record(s) that only they held, from {shown}."
    )
    for table in sorted(rows_before):
        lost = rows_before[table] - rows_after.get(table, 0)
        if lost:
            echo(f"  {table}: {lost:,}")


@cli.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the configuration and templates without any data (for CI and after edits).

    \b
    safeguard check-config
    """
    from safeguard.configcheck import check_config as run_check

    found = run_check(_session(ctx).project())
    echo(
        f"Configuration is valid: {found.tables} extract tables, "
        f"{found.indicators} indicators, {found.mappings} return mappings, "
        f"authority {found.authority}{' (the demo)' if found.demo else ''}, "
        f"pipeline writing {', '.join(found.formats)} for a {found.audience} audience; "
        "the HTML and PDF templates render."
    )
    if found.overridden:
        echo(
            "The project's own files used instead of the packaged ones: "
            + ", ".join(found.overridden)
        )


@cli.group()
def reference() -> None:
    """DfE's and ONS's published files: the comparators, neighbours and populations."""


def _reference(ctx: click.Context, **options: Any) -> tuple[Any, Any]:
    from safeguard.reference import SPEC_FILE, load_reference_spec

    project = _session(ctx).project(**options)
    return project, load_reference_spec(project.pipelines / SPEC_FILE)


@reference.command("update")
@click.argument("names", nargs=-1)
@setting("--reference-url", "reference_url", "A mirror: file:// or http:// (base of the files).")
@click.pass_context
def reference_update(ctx: click.Context, names: tuple[str, ...], reference_url: str | None) -> None:
    """Download the files pipelines/reference.yaml declares (or only NAMES) into reference/.

    Each is checked (columns, rows) and replaced atomically, with its checksum in
    reference/manifest.json; a file that fails leaves the copy held. Exits 1 when any failed.

    \b
    safeguard reference update
    SAFEGUARD_REFERENCE_URL=file:///share/dfe safeguard reference update
    """
    from safeguard.reference import update

    project, spec = _reference(ctx, reference_url=reference_url)
    settings = project.settings
    outcome = update(settings.reference_dir, spec, settings.reference_url, names or None)
    for file in outcome.files:
        echo(f"  {file.result:<9} {file.message}")
    echo(
        f"{len(outcome.updated)} updated, {len(outcome.unchanged)} unchanged, "
        f"{len(outcome.skipped)} skipped, {len(outcome.failed)} failed."
    )
    if not outcome.ok:
        raise DataError(
            f"{len(outcome.failed)} reference file(s) could not be fetched or failed their "
            "checks; the copies held are kept"
        )


@reference.command("status")
@click.pass_context
def reference_status(ctx: click.Context) -> None:
    """List the reference files held, the years each covers, and those missing.

    \b
    safeguard reference status
    """
    from safeguard.reference import status

    project, spec = _reference(ctx)
    for entry in status(project.settings.reference_dir, spec):
        years = f" ({entry.years})" if entry.years else ""
        echo(f"  {entry.state:<10} {entry.name}{years}: {entry.message}")


@reference.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def reference_add(ctx: click.Context, path: Path) -> None:
    """Check a file downloaded by hand and hold it as the declared file it is.

    \b
    safeguard reference add ~/Downloads/cla_number_and_rate_per_10k_children.csv
    """
    from safeguard.reference import add

    project, spec = _reference(ctx)
    outcome = add(project.settings.reference_dir, spec, path)
    echo(f"Added {outcome.message}")


@cli.group()
def config() -> None:
    """Show the effective settings."""


@config.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print each setting in force and where it came from (option, SAFEGUARD_* variable,
    pipelines/monthly.yaml or the default).

    \b
    safeguard config show
    """
    project = _session(ctx).project()
    echo(f"project: {project.root}")
    for name, value, source in project.effective.rows():
        if isinstance(value, tuple):
            value = ", ".join(value)
        elif isinstance(value, Path):
            value = _shown_path(project, value)
        echo(f"{name}: {value}  ({source})")


def main() -> None:
    cli(prog_name="safeguard")


__all__ = ["cli", "main"]
