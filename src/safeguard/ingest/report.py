"""The validation report: every problem found, as data, with the counts the terminal and the
manifest show. Validation never raises on bad data; it returns one of these."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from safeguard.periods import Month
from safeguard.private import write_private_text
from safeguard.schema import Severity

ISSUE_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.UInt32(),
    "column": pl.String(),
    "value": pl.String(),
    "rule": pl.String(),
    "severity": pl.String(),
    # "file": the whole file is refused (or warned about); "row": one row is quarantined or warned
    "level": pl.String(),
    "message": pl.String(),
}
REPORT_COLUMNS = ["file", "line", "column", "value", "rule", "severity", "message"]
# warnings --strict lets through: a header-only table other than person.csv (``no-rows``) is
# a quiet month in a small authority, not a fault, so cron's `run --strict` still loads it
# (issue 14; its louder form ``rows-vanished`` is refused like any other warning)
STRICT_ALLOWS = frozenset({"no-rows"})


def issues_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA, orient="row") if rows else empty_issues()


def empty_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=ISSUE_SCHEMA)


def file_issue(
    file: str,
    rule: str,
    message: str,
    *,
    line: int | None = None,
    column: str | None = None,
    value: str | None = None,
    severity: Severity = Severity.ERROR,
) -> dict[str, Any]:
    return {
        "file": file,
        "line": line,
        "column": column,
        "value": value,
        "rule": rule,
        "severity": str(severity),
        "level": "file",
        "message": message,
    }


@dataclass
class TableOutcome:
    """What happened to one file of the extract."""

    table: str
    file: str
    sha256: str
    rows: int = 0
    loaded: int = 0
    quarantined: int = 0
    warnings: int = 0
    blank_lines: int = 0
    columns_present: list[str] = field(default_factory=list)
    rejected: bool = False


@dataclass
class ValidationReport:
    """Everything validation found in one extract folder."""

    extract: str
    month: Month
    tables: dict[str, TableOutcome]
    missing_tables: list[str]
    issues: pl.DataFrame
    checks_not_run: list[str] = field(default_factory=list)
    encoding: str | None = None  # as named with --encoding; None is UTF-8
    # references were also looked up in the processed store: what it held (None: not consulted)
    store: str | None = None
    # rows whose reference only the store holds (an earlier extract's record), by
    # "<file> <column>": accepted, and counted so the report says so
    found_in_store: dict[str, int] = field(default_factory=dict)
    # every child id the extract holds (its person-id columns), never written out: a value
    # equal to one is withheld on the terminal and pseudonymised in a keyed store, whatever
    # column it was found in (an id shifted into a date column)
    child_ids: pl.Series = field(default_factory=lambda: pl.Series("id", [], pl.String))
    # an SSD export's fields and objects the store has no place for (names among them), and
    # what a database read as at the month's end left out: counts only
    not_loaded: dict[str, int] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        """True when any file-level error means nothing may be written."""
        return bool(
            self.issues.filter(
                (pl.col("level") == "file") & (pl.col("severity") == str(Severity.ERROR))
            ).height
        )

    def count(self, severity: Severity, level: str | None = None) -> int:
        selected = self.issues.filter(pl.col("severity") == str(severity))
        if level is not None:
            selected = selected.filter(pl.col("level") == level)
        return selected.height

    def count_file_errors(self) -> int:
        return self.count(Severity.ERROR, level="file")

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables.values())

    @property
    def strict_problems(self) -> int:
        """The problems --strict refuses an extract for: all but ``STRICT_ALLOWS``."""
        return self.issues.filter(~pl.col("rule").is_in(sorted(STRICT_ALLOWS))).height

    def passes(self, *, strict: bool) -> bool:
        """Whether ingest may write: no file-level error; under --strict, no problem at all
        (but ``STRICT_ALLOWS``)."""
        if self.rejected:
            return False
        return not (strict and self.strict_problems)

    def summary(self) -> dict[str, Any]:
        return {
            "extract": self.extract,
            "month": str(self.month),
            "rejected": self.rejected,
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "quarantined_rows": self.quarantined,
            "missing_tables": self.missing_tables,
            "checks_not_run": self.checks_not_run,
            "references_found_only_in_store": dict(sorted(self.found_in_store.items())),
            "tables": {name: asdict(outcome) for name, outcome in sorted(self.tables.items())},
        } | ({"not_loaded": self.not_loaded} if self.not_loaded else {})

    def to_json(self, *, consulted: bool = False) -> str:
        """The report as JSON. ``consulted`` adds which store references were looked up in:
        for the user's --report-json, never the store's own copy, whose bytes must not depend
        on where the store is or what it held before (store.py's invariants)."""
        summary = self.summary()
        if consulted:
            summary["references_store"] = self.store
        head = json.dumps({"summary": summary}, indent=2, sort_keys=False, default=str)
        # the issues (one per bad row, perhaps millions) written by polars, one line each:
        # never a Python object per row
        issues = self.issues.select([*REPORT_COLUMNS, "level"])
        rows = ",\n    ".join(issues.write_ndjson().splitlines()) if issues.height else ""
        body = f"[\n    {rows}\n  ]" if rows else "[]"
        return head[: -len("\n}")] + f',\n  "issues": {body}\n}}\n'

    def to_csv(self) -> str:
        return self.issues.select([*REPORT_COLUMNS, "level"]).write_csv()

    def write(self, json_path: Path | None, csv_path: Path | None) -> None:
        # they list records (ids, values): owner-only, as the store is
        if json_path is not None:
            write_private_text(json_path, self.to_json(consulted=True))
        if csv_path is not None:
            write_private_text(csv_path, self.to_csv())
