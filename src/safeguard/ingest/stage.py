"""The ingest and validate stages: what the ``ingest`` and ``validate`` commands call."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from safeguard.ingest.pseudonym import fingerprint, key_from_environment, pseudonymise
from safeguard.ingest.report import ValidationReport
from safeguard.ingest.validate import validate_extract
from safeguard.periods import Month
from safeguard.schema import Contract, Severity
from safeguard.store import merge_extract

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
