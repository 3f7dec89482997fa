"""``safeguard run``: everything a month needs, in order, under one lock.

Finds extract folders not yet in the store (or whose files changed), ingests them in month
order, computes the indicators and renders the paper for the latest month ingested (or the
month asked for). Returns what it did; the CLI writes the run manifest and decides the exit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from safeguard.defaults import ConfigFolder
from safeguard.errors import ConfigError, DataError
from safeguard.indicators.catalogue import Catalogue
from safeguard.ingest.csvfile import sha256_of
from safeguard.ingest.sources.database import database_of
from safeguard.ingest.stage import ingest
from safeguard.periods import Month, after_today
from safeguard.project import Project
from safeguard.report.stage import write_report
from safeguard.schema import Contract
from safeguard.settings import Settings
from safeguard.store import (
    ExtractEntry,
    Store,
    is_return,
    recover_month_folders,
    retention,
    window_of,
)


@dataclass
class RunOutcome:
    ingested: list[dict[str, Any]] = field(default_factory=list)
    month: str | None = None
    outputs: list[dict[str, str]] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)


def run_record(
    outcome: RunOutcome,
    settings: Settings,
    *,
    started: str,
    seconds: float,
    exit_code: int,
    error: str | None,
    versions: dict[str, str],
) -> dict[str, Any]:
    """The run log's line for one run: inputs, outputs, versions, timings, outcome. The
    caller reads the clock and passes ``started`` and ``seconds``."""
    record: dict[str, Any] = {
        "started": started,
        "command": "run",
        "settings": json.loads(settings.model_dump_json()),
        "versions": versions,
        "month": outcome.month,
        "ingested": outcome.ingested,
        "outputs": outcome.outputs,
        "cleaned": outcome.cleaned,
        "seconds": round(seconds, 3),
        "exit_code": exit_code,
        "outcome": "ok" if exit_code == 0 else "failed",
    }
    if error is not None:
        record["error"] = error
    return record


def recorded_run(
    project: Project,
    *,
    month: Month | None,
    narrative: Path | None,
    progress: Callable[[str, int, int], None] | None,
    started: str,
    elapsed: Callable[[], float],
    today: date | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunOutcome:
    """``run_month``, and its line in the run log whatever the outcome (then re-raised).

    The caller reads the clock: ``started`` as text, ``elapsed`` giving the seconds so far."""
    import platform

    import polars as pl

    from safeguard import __version__
    from safeguard.errors import ExitCode, SafeguardError

    outcome = RunOutcome()
    exit_code, error = 0, None
    try:
        run_month(
            project,
            month=month,
            narrative=narrative,
            outcome=outcome,
            progress=progress,
            today=today,
            environ=environ,
        )
    except SafeguardError as exc:
        exit_code, error = int(exc.exit_code), exc.message
        raise
    except Exception as exc:
        exit_code, error = int(ExitCode.INTERNAL), type(exc).__name__
        raise
    finally:
        versions = {
            "safeguard": __version__,
            "polars": pl.__version__,
            "python": platform.python_version(),
        }
        record = run_record(
            outcome,
            project.settings,
            started=started,
            seconds=elapsed(),
            exit_code=exit_code,
            error=error,
            versions=versions,
        )
        append_run_record(project.settings.run_log, record)
    return outcome


def append_run_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to the run log (owner-only, created with its folder)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(record, sort_keys=True) + "\n")
    os.chmod(path, 0o600)


def latest_month(extracts: dict[str, ExtractEntry]) -> Month:
    """The month a run reports by default: the latest monthly extract's; for a store holding
    statutory returns alone, the last month they cover."""
    monthly = [key for key in extracts if not is_return(key)]
    if monthly:
        return Month.parse(max(monthly))
    return max(window_of(key, entry)[1] for key, entry in extracts.items())


def pending_extracts(
    raw: Path, store: Store, contract: Contract, pipelines: ConfigFolder | None = None
) -> list[tuple[Month, Path]]:
    """Extract folders named YYYY-MM whose files differ from what the store holds for them
    (an SSD export's tables checksummed as its ingest stores them: ``ssd.checksums``); a
    folder closing before the store's retention cut-off (``safeguard purge``) is skipped."""
    from safeguard.defaults import packaged
    from safeguard.ingest.sources import ssd

    held = store.manifest().extracts
    cut = retention(store.root)
    found = []
    for folder in sorted(raw.iterdir()) if raw.is_dir() else []:
        try:
            month = Month.parse(folder.name)
        except ValueError:
            continue
        if not folder.is_dir():
            continue
        if cut is not None and str(month) < cut:
            continue  # purged on purpose (safeguard purge): never loaded again
        if ssd.sniff(folder, contract):
            files = ssd.checksums(folder, contract, pipelines or packaged("pipelines"))
        else:
            files = {
                name: sha256_of(path.read_bytes())
                for path in folder.iterdir()
                if (name := contract.table_for_file(path.name)) is not None and path.is_file()
            }
        known = held.get(str(month))
        if (known.checksums() if known is not None else {}) != files:
            found.append((month, folder))
    return found


def narrowed(
    pipeline: Settings, contract: Contract, catalogue: Catalogue
) -> tuple[Contract, Catalogue]:
    """The contract and catalogue cut down to the tables and indicators the pipeline names."""
    for kind, chosen, known in (
        ("table", pipeline.tables, contract.tables),
        ("indicator", pipeline.indicators, catalogue.indicators),
    ):
        unknown = sorted(set(chosen or ()) - set(known))
        if unknown:
            raise ConfigError(f"monthly.yaml names unknown {kind}(s): {', '.join(unknown)}")
    if pipeline.tables is not None:
        kept = {n: t for n, t in contract.tables.items() if n in pipeline.tables}
        skipped = tuple(t.file.lower() for n, t in contract.tables.items() if n not in kept)
        contract = contract.model_copy(update={"tables": kept, "skipped_files": skipped})
    if pipeline.indicators is not None:
        catalogue = catalogue.narrowed(pipeline.indicators)
    return contract, catalogue


def _last_complete(today: date | None) -> Month:
    """The month a database is read as at when none is given: the last one ended by today."""
    if today is None:
        raise ConfigError("with a database, give the month to read it as at (--month YYYY-MM)")
    return Month(today.year, today.month).shift(-1)


def run_month(
    project: Project,
    *,
    month: Month | None,
    narrative: Path | None = None,
    outcome: RunOutcome | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    today: date | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunOutcome:
    """Ingest what is new, then compute and render ``month`` (default: the latest extract).

    With a database in the settings, the month's extract is the SSD read from it as at the
    month's end (default: the last month complete by ``today``), the password from
    ``environ``, and the raw folder of that month, if any, holds local tables.

    ``outcome`` is filled as the run goes, so a caller can record how far a failed run got.
    A raw folder for a month after ``today`` (the caller's date) refuses the run before
    anything is ingested: it would become the newest extract and outrank every real one.
    """
    pipeline = project.settings
    authority = project.authority
    template_dirs = project.template_dirs
    store = Store(pipeline.processed_dir)
    outcome = outcome if outcome is not None else RunOutcome()
    contract, catalogue = narrowed(pipeline, project.contract, project.catalogue)
    with store.locked():
        outcome.cleaned = store.clean_leftovers()
        outcome.cleaned += recover_month_folders(pipeline.reports_dir)
        database = database_of(pipeline)
        if database is not None:  # the SSD as at the month's end; raw_dir holds local tables
            month = month if month is not None else _last_complete(today)
            local = pipeline.raw_dir / str(month)
            pending: list[tuple[Month, Path | None]] = [(month, local if local.is_dir() else None)]
        else:
            pending = list(pending_extracts(pipeline.raw_dir, store, contract, project.pipelines))
        ahead = [
            str(folder.name)
            for m, folder in pending
            if folder is not None and after_today(m, today)
        ]
        if ahead:
            assert today is not None
            raise DataError(
                f"{pipeline.raw_dir}: {', '.join(ahead)} is after today ({today.isoformat()}); "
                "is the folder misnamed? Nothing was ingested: rename or remove it and run again"
            )
        for number, (extract_month, folder) in enumerate(pending, start=1):
            if progress is not None:
                progress(f"ingesting {extract_month}", number, len(pending) + 1)
            done = ingest(
                folder,
                extract_month,
                contract,
                pipeline.processed_dir,
                strict=pipeline.strict,
                authority=authority,
                encoding=pipeline.encoding,
                max_quarantine=pipeline.max_quarantine,
                pipelines=project.pipelines,  # an SSD export's mapping: sources/ssd.yaml
                today=today,
                database=database,
                environ=environ,
            )
            report = done.report
            outcome.ingested.append(
                {
                    "extract": str(extract_month),
                    "action": done.action,
                    "files": {t.file: t.sha256 for t in report.tables.values()},
                    "quarantined": report.quarantined,
                    "errors": report.count_file_errors(),
                    "issues": report.issues.height,
                }
            )
            if done.action == "refused":
                again = f"--month {extract_month}" if database is not None else str(folder)
                raise DataError(
                    f"extract {extract_month} was refused ({report.count_file_errors()} "
                    f"file-level error(s), {report.issues.height} problem(s)); run "
                    f"'safeguard validate {again}' to see them. Nothing was written."
                )
        extracts = store.manifest().extracts
        if month is None:
            if not extracts:
                raise DataError(f"no extract in {pipeline.raw_dir} or the store: nothing to report")
            month = latest_month(extracts)
        outcome.month = str(month)
        if progress is not None:
            progress(f"writing the paper for {month}", len(pending) + 1, len(pending) + 1)
        folder = write_report(
            pipeline.processed_dir,
            pipeline.reports_dir,
            catalogue,
            authority,
            month,
            audience=pipeline.audience,
            narrative=narrative,
            template_dirs=template_dirs,
            formats=pipeline.formats,
            detail=pipeline.detail,
        )
        for path in sorted(folder.iterdir()):
            outcome.outputs.append({"file": str(path), "sha256": sha256_of(path.read_bytes())})
    return outcome
