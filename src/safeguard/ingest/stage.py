"""The ingest and validate stages: what the ``ingest`` and ``validate`` commands call, for
monthly extracts and for statutory returns (CIN census, SSDA903, Annex A)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from safeguard.ingest.csvfile import FileProblem
from safeguard.ingest.pseudonym import (
    fingerprint,
    key_from_environment,
    pseudonymise,
    pseudonymise_derived_ids,
)
from safeguard.ingest.report import ValidationReport, issues_frame
from safeguard.ingest.sources import read_return
from safeguard.ingest.sources.base import Converted, SourceMapping, load_mapping
from safeguard.ingest.validate import (
    ExtractResult,
    problem_issue,
    validate_extract,
    validate_tables,
)
from safeguard.periods import Month
from safeguard.schema import Contract, Severity
from safeguard.store import Source, merge_extract

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOutcome:
    """What an ingest did: ``written``, ``unchanged`` (already in the store) or ``refused``."""

    report: ValidationReport
    action: str
    generation: Path | None = None


def _log_report(stage: str, report: ValidationReport) -> None:
    # counts and rule codes only: never an id or a value from a record
    rules = report.issues.group_by("rule", "severity").len().sort("rule").rows()
    log.info(
        "%s %s: %d tables, %d rows quarantined, %d errors, %d warnings, rules %s",
        stage,
        report.month,
        len(report.tables),
        report.quarantined,
        report.count(Severity.ERROR),
        report.count(Severity.WARNING),
        ", ".join(f"{rule}({severity})x{count}" for rule, severity, count in rules) or "none",
    )


def validate(
    folder: Path,
    month: Month,
    contract: Contract,
    *,
    encoding: str | None = None,
    max_quarantine: float = 0.01,
) -> ValidationReport:
    """Run every check on an extract folder and write nothing."""
    report = validate_extract(
        folder, month, contract, encoding=encoding, max_quarantine=max_quarantine
    ).report
    _log_report("validate", report)
    return report


def ingest(
    folder: Path,
    month: Month,
    contract: Contract,
    processed: Path,
    *,
    strict: bool = False,
    encoding: str | None = None,
    max_quarantine: float = 0.01,
) -> IngestOutcome:
    """Validate an extract and, if it passes, merge it into the processed store atomically."""
    result = validate_extract(
        folder, month, contract, encoding=encoding, max_quarantine=max_quarantine
    )
    report = result.report
    _log_report("ingest", report)
    if not report.passes(strict=strict):
        log.info("ingest %s: refused, nothing written", month)
        return IngestOutcome(report, "refused")
    key = key_from_environment()
    if key is not None:
        result = pseudonymise(result, contract, key)
    merged = merge_extract(processed, result, contract, pseudonym=fingerprint(key))
    log.info("ingest %s: %s, generation %s", month, merged.action, merged.generation.name)
    return IngestOutcome(report, merged.action, merged.generation)


@dataclass(frozen=True)
class ReturnOutcome:
    """What loading one collection year of a statutory return did."""

    label: str
    format: str
    first: Month
    period: Month
    outcome: IngestOutcome
    not_loaded: dict[str, int]


def _refused_return(path: Path, format_name: str, problem: FileProblem) -> ReturnOutcome:
    """A return that could not be read at all, as a report with its one file-level error."""
    issue = problem_issue(path.name, problem)
    report = ValidationReport(
        extract=path.name,
        month=Month(1900, 1),
        tables={},
        missing_tables=[],
        checks_not_run=[],
        encoding=None,
        issues=issues_frame([issue]),
    )
    return ReturnOutcome(
        path.name, format_name, Month(1900, 1), Month(1900, 1), IngestOutcome(report, "refused"), {}
    )


def validate_converted(
    converted: Converted, contract: Contract, mapping: SourceMapping, *, max_quarantine: float
) -> ExtractResult:
    """A converted return checked exactly as an extract; a column the mapping fills with a
    placeholder (``held: false``) counts as not held, so no indicator reads it as recorded."""
    tables = {
        name: (table.file, table.frame, converted.checksums.get(table.file.split(" [")[0], ""))
        for name, table in converted.tables.items()
    }
    result = validate_tables(
        tables,
        converted.problems,
        converted.period,
        contract,
        extract=converted.label,
        max_quarantine=max_quarantine,
    )
    for name, outcome in result.report.tables.items():
        placeholders = (
            {column for column, field in mapping.tables[name].columns.items() if not field.held}
            if name in mapping.tables
            else set()
        )
        outcome.columns_present = [c for c in outcome.columns_present if c not in placeholders]
    return result


def ingest_return(
    path: Path,
    contract: Contract,
    processed: Path | None,
    pipelines: Path,
    *,
    format_name: str,
    month: Month | None = None,
    strict: bool = False,
    max_quarantine: float = 0.01,
) -> list[ReturnOutcome]:
    """Read a statutory return and validate each collection year in it as an extract; each
    that passes is merged into the store at ``processed``, keyed by its name (``cin-2022``).
    With ``processed`` None nothing is written: the action says "checked" or "refused"."""
    mapping = load_mapping(pipelines, format_name)
    try:
        converted = read_return(path, mapping, month=month)
    except FileProblem as problem:
        log.info("ingest %s: refused, %s", format_name, problem.rule)
        return [_refused_return(path, format_name, problem)]
    key = key_from_environment()
    done = []
    for one in converted:
        result = validate_converted(one, contract, mapping, max_quarantine=max_quarantine)
        report = result.report
        _log_report(f"{'validate' if processed is None else 'ingest'} {one.label}", report)
        passes = report.passes(strict=strict)
        action, generation = ("checked" if passes else "refused"), None
        if passes and processed is not None:
            if key is not None:
                result = pseudonymise(result, contract, key)
                result = pseudonymise_derived_ids(result, contract, key)
            merged = merge_extract(
                processed,
                result,
                contract,
                pseudonym=fingerprint(key),
                source=Source(one.label, one.format, one.first, one.period),
                not_loaded=one.not_loaded,
            )
            action, generation = merged.action, merged.generation
        done.append(
            ReturnOutcome(
                one.label,
                one.format,
                one.first,
                one.period,
                IngestOutcome(report, action, generation),
                dict(one.not_loaded),
            )
        )
    return done
