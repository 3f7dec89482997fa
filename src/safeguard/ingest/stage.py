"""The ingest and validate stages: what the ``ingest`` and ``validate`` commands call, for
monthly extracts and for statutory returns (CIN census, SSDA903, Annex A)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from safeguard.defaults import ConfigFolder
from safeguard.errors import DataError
from safeguard.ingest.csvfile import FileProblem
from safeguard.ingest.held import store_held
from safeguard.ingest.pseudonym import (
    fingerprint,
    key_from_environment,
    pseudonymise,
    pseudonymise_derived_ids,
)
from safeguard.ingest.report import ValidationReport, file_issue, issues_frame
from safeguard.ingest.sources import cin_xml, read_return, ssd
from safeguard.ingest.sources.base import Converted, SourceMapping, load_mapping
from safeguard.ingest.validate import (
    ExtractResult,
    StoreHeld,
    problem_issue,
    validate_extract,
    validate_tables,
)
from safeguard.periods import Month, after_today
from safeguard.schema import Contract, Severity
from safeguard.store import (
    EXTRACT,
    FileEntry,
    ReplaceRefused,
    Source,
    Store,
    merge_extract,
    replaced_tables,
    retention,
)

if TYPE_CHECKING:
    from safeguard.indicators.catalogue import Authority
    from safeguard.ingest.sources.database import Database

log = logging.getLogger(__name__)

# warnings that the data may not be this project's authority's (README's rule table)
OTHER_AUTHORITY = "other-authority"
DEMO_PROJECT = "demo-project"


@dataclass(frozen=True)
class IngestOutcome:
    """What an ingest did: ``written``, ``unchanged`` (already in the store) or ``refused``."""

    report: ValidationReport
    action: str
    generation: Path | None = None

    @property
    def not_loaded(self) -> dict[str, int]:
        """An SSD export's objects and fields the store has no place for (names among them),
        counted: "ssd_person.pers_surname" -> non-blank values (the report's)."""
        return self.report.not_loaded


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
    folder: Path | None,
    month: Month,
    contract: Contract,
    *,
    encoding: str | None = None,
    max_quarantine: float = 0.01,
    authority: Authority | None = None,
    processed: Path | None = None,
    pipelines: ConfigFolder | None = None,
    today: date | None = None,
    database: Database | None = None,
    environ: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Run every check on an extract folder and write nothing. With ``authority`` (the
    project's), also warn as ``ingest`` does when the folder is not the demo's in a demo
    project. With ``processed``, references are also looked up in that store, as ``ingest``
    does (read only: no lock is taken). An SSD export is mapped by ``pipelines``'
    sources/ssd.yaml first. With ``database``, the SSD is read from it (the password from
    ``environ``, the caller's environment), and ``folder``, if given, holds local tables."""
    refuse_future(month, today, _what(folder, database))
    # issue 14: references the extract lacks are looked up in the store (ingest.held)
    held = store_held(processed, month, contract, key_from_environment()) if processed else None
    checked = _validated(
        "validate",
        folder,
        month,
        contract,
        encoding,
        max_quarantine,
        pipelines,
        held,
        authority,
        database,
        environ,
    )
    return checked.report


def ingest(
    folder: Path | None,
    month: Month,
    contract: Contract,
    processed: Path,
    *,
    strict: bool = False,
    encoding: str | None = None,
    max_quarantine: float = 0.01,
    authority: Authority | None = None,
    pipelines: ConfigFolder | None = None,
    today: date | None = None,
    database: Database | None = None,
    environ: Mapping[str, str] | None = None,
) -> IngestOutcome:
    """Validate an extract and, if it passes, merge it into the processed store atomically.

    With ``authority`` (the project's) the report also warns when the project is the demo's
    (``demo: true``) and the folder was not written by the demo (rule ``demo-project``).

    A reference the extract does not hold is looked up in the store (``ingest.held``); the
    store's lock is held from that look-up to the merge, when there is a store to lock. An
    SSD export (a folder of ``ssd_*`` tables) is mapped by ``pipelines``' sources/ssd.yaml
    (default: the packaged one) and then goes the same way; with ``database`` the SSD's tables
    are read from that database, the password from ``environ`` (``folder``, if given, holds
    local tables beside them)."""
    refuse_future(month, today, _what(folder, database))
    refuse_purged(processed, month, _what(folder, database))
    key = key_from_environment()
    store = Store(processed)
    # issue 14: validation reads the store, so no other run may change it before the merge
    with store.locked() if store.generation is not None else contextlib.nullcontext():
        held = store_held(processed, month, contract, key)
        result = _validated(
            "ingest",
            folder,
            month,
            contract,
            encoding,
            max_quarantine,
            pipelines,
            held,
            authority,
            database,
            environ,
        )
        report = result.report
        if not report.passes(strict=strict):
            log.info("ingest %s: refused, nothing written", month)
            return IngestOutcome(report, "refused")
        if key is not None:
            result = pseudonymise(result, contract, key)
        merged = merge_extract(
            processed,
            result,
            contract,
            pseudonym=fingerprint(key),
            not_loaded=report.not_loaded or None,
        )
    log.info("ingest %s: %s, generation %s", month, merged.action, merged.generation.name)
    return IngestOutcome(report, merged.action, merged.generation)


def refuse_purged(processed: Path | None, month: Month, what: str) -> None:
    """``DataError`` for an extract or return closing before the store's retention cut-off
    (``safeguard purge``): it was removed on purpose and is not loaded again."""
    cut = retention(processed) if processed is not None else None
    if cut is not None and str(month) < cut:
        raise DataError(
            f"{what}: it closes in {month}, before the retention cut-off {cut} that "
            "`safeguard purge` set for this store; it was removed on purpose and is not "
            "loaded again. Nothing was written"
        )


def refuse_future(month: Month, today: date | None, what: str) -> None:
    """``DataError`` for an extract or return whose month starts after ``today`` (the CLI's
    date): a folder mistyped 2051-10 would otherwise become the newest extract and outrank
    every real one."""
    if after_today(month, today):
        assert today is not None
        raise DataError(
            f"{what}: its month {month} is after today ({today.isoformat()}); is the folder or "
            "file misnamed? Nothing was written"
        )


def _what(folder: Path | None, database: Database | None) -> str:
    """How messages name the extract: the database (no password), else its folder."""
    if database is not None:
        return database.label
    assert folder is not None, "an extract is a folder or a database"
    return folder.name


def _validated(
    stage: str,
    folder: Path | None,
    month: Month,
    contract: Contract,
    encoding: str | None,
    max_quarantine: float,
    pipelines: ConfigFolder | None,
    held: StoreHeld | None,
    authority: Authority | None,
    database: Database | None = None,
    environ: Mapping[str, str] | None = None,
) -> ExtractResult:
    """``_read_and_checked``'s result, its report also holding what was not loaded and the
    demo project's warning, and logged under ``stage``: what validate and ingest share."""
    result, not_loaded = _read_and_checked(
        folder, month, contract, encoding, max_quarantine, pipelines, held, database, environ
    )
    result.report.not_loaded = not_loaded
    _add_issues(result.report, demo_project_issues(folder, authority, database))
    _log_report(stage, result.report)
    return result


def _read_and_checked(
    folder: Path | None,
    month: Month,
    contract: Contract,
    encoding: str | None,
    max_quarantine: float,
    pipelines: ConfigFolder | None,
    held: StoreHeld | None = None,
    database: Database | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[ExtractResult, dict[str, int]]:
    """A monthly extract validated, and what of it was not loaded: a folder in the contract's
    form, or an SSD export (recognised by its files' names and headers), whose objects are
    mapped to the contract's tables first. Both then take the same checks and store; ``held``
    is what the store already holds, for references the extract lacks. With ``database``,
    the SSD's objects are read from it and ``folder`` (if any) holds local tables."""
    if database is not None or (
        folder is not None and folder.is_dir() and ssd.sniff(folder, contract)
    ):
        from safeguard.defaults import packaged

        return ssd.validate_export(
            folder,
            month,
            contract,
            pipelines if pipelines is not None else packaged("pipelines"),
            encoding=encoding,
            max_quarantine=max_quarantine,
            store=held,
            database=database,
            environ=environ,
        )
    assert folder is not None
    result = validate_extract(
        folder, month, contract, encoding=encoding, max_quarantine=max_quarantine, store=held
    )
    return result, {}


@dataclass(frozen=True)
class ReturnOutcome:
    """What loading one collection year of a statutory return did."""

    label: str
    format: str
    first: Month
    period: Month
    outcome: IngestOutcome
    not_loaded: dict[str, int]
    # the tables this load replaced (with --replace): table -> (file, rows), as they were held
    replaced: dict[str, tuple[str, int]] = field(default_factory=dict)


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


PART_WORDS = {"cin-xml": "element", "annex-a": "worksheet", "ssda903": "table"}


def return_part(mapping: SourceMapping, table: str) -> str:
    """The part of a return a table's rows come from, as a refusal names it: "element
    <CINdetails>" (CIN census), "worksheet List 3 Referrals" (Annex A), "table episodes"
    (SSDA903)."""
    source = mapping.tables[table].source
    word = PART_WORDS.get(mapping.format, "part")
    if mapping.format == "cin-xml":
        return f"{word} <{source.rsplit('/', 1)[-1]}>"
    return f"{word} {source}"


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
        parts={name: return_part(mapping, name) for name in tables if name in mapping.tables},
        year_start=converted.first.first_day if mapping.year_bounded else None,
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
    pipelines: ConfigFolder,
    *,
    format_name: str,
    month: Month | None = None,
    strict: bool = False,
    max_quarantine: float = 0.01,
    authority: Authority | None = None,
    replace_held: bool = False,
    today: date | None = None,
    consult: Path | None = None,
) -> list[ReturnOutcome]:
    """Read a statutory return and validate each collection year in it as an extract; each
    that passes is merged into the store at ``processed``, keyed by its name (``cin-2022``).
    With ``processed`` None nothing is written: the action says "checked" or "refused".

    With ``authority`` (the project's) the report warns when the return names another LA
    (rule ``other-authority``): the CIN census's header ``<LEA>``; SSDA903 and Annex A carry
    no LA code.

    Checking only (``processed`` None), ``consult`` is the store to compare with: a year it
    holds from other files gets a ``replace-needed`` warning, since ingest would refuse it
    without --replace."""
    mapping = load_mapping(pipelines, format_name)
    try:
        converted = read_return(path, mapping, month=month)
    except FileProblem as problem:
        log.info("ingest %s: refused, %s", format_name, problem.rule)
        return [_refused_return(path, format_name, problem)]
    for one in converted:  # a year after today is a mistyped date or name: nothing written
        refuse_future(one.first, today, f"{path.name} ({one.label})")
        refuse_purged(processed, one.period, f"{path.name} ({one.label})")
    others = other_authority_issues(path, format_name, authority)
    key = key_from_environment()
    checked = []
    for one in converted:
        if others:
            one = replace(one, problems=[*one.problems, *others])
        result = validate_converted(one, contract, mapping, max_quarantine=max_quarantine)
        _log_report(f"{'validate' if processed is None else 'ingest'} {one.label}", result.report)
        checked.append((one, result))
    going = _replacing(processed, checked, strict) if processed is not None else {}
    if going and not replace_held:
        # nothing is written when any year would replace what the store holds unasked
        raise ReplaceRefused(going)
    if processed is None and consult is not None and Store(consult).generation is not None:
        for one, result in checked:  # what ingest would refuse, said by validate
            held = _replacing(consult, [(one, result)], strict).get(one.label)
            if held:
                _add_issues(result.report, [_replace_needed(one, held)])
    done = []
    for one, result in checked:
        report = result.report
        passes = report.passes(strict=strict)
        action, generation = ("checked" if passes else "refused"), None
        replaced: dict[str, tuple[str, int]] = {}
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
                replace=replace_held,
            )
            action, generation = merged.action, merged.generation
            if action == "written":
                replaced = {t: (e.file, e.loaded) for t, e in going.get(one.label, {}).items()}
                _add_issues(report, cross_year_issues(processed, one))
        done.append(
            ReturnOutcome(
                one.label,
                one.format,
                one.first,
                one.period,
                IngestOutcome(report, action, generation),
                dict(one.not_loaded),
                replaced,
            )
        )
    return done


def _replace_needed(one: Converted, held: dict[str, FileEntry]) -> dict[str, Any]:
    tables = ", ".join(f"{t} ({e.loaded:,} rows from {e.file})" for t, e in held.items())
    return file_issue(
        one.label,
        "replace-needed",
        f"{one.label} is already in the store with other files: {tables}. `safeguard ingest` "
        "will refuse this year unless given --replace (which replaces those tables)",
        severity=Severity.WARNING,
    )


def _replacing(
    processed: Path, checked: list[tuple[Converted, ExtractResult]], strict: bool
) -> dict[str, dict[str, FileEntry]]:
    """For each year that would load, the tables it would replace in the store (as held)."""
    extracts = Store(processed).manifest().extracts
    going = {}
    for one, result in checked:
        if not result.report.passes(strict=strict):
            continue
        mine = {t.table: t.sha256 for t in result.report.tables.values()}
        tables = replaced_tables(one.label, extracts.get(one.label), mine)
        if tables:
            going[one.label] = tables
    return going


# --- across the years of a return ---------------------------------------------------------

# the 903 rule each cross-year finding is reported under; a CIN census has no rule numbers
# for them, so it gets names
_CLOSED_RULE = {"ssda903": "1010", "cin-xml": "cin-open-omitted"}
_SUPERSEDED_RULE = {"ssda903": "502", "cin-xml": "cin-open-restated"}
_WHAT = {"cla_episodes": "episode(s) of care", "referrals": "CIN episode(s)"}
_WHO = {"ssda903": "every child looked after", "cin-xml": "every child in need"}


def cross_year_issues(processed: Path, one: Converted) -> list[dict[str, Any]]:
    """Warnings on what loading ``one`` did across the years of its format: records the year
    before left open at its end that ``one`` does not hold (closed or superseded, see
    ``store._close_omitted``), the same for ``one``'s own open records and the year after,
    and 903 rule 142 (a child's episodes overlapping), counts only, never a child's id."""
    store = Store(processed)
    extracts = store.manifest().extracts
    issues = []
    for key, entry in sorted(extracts.items()):
        if entry.format != one.format:
            continue
        first, last = (entry.window.first, entry.window.last) if entry.window else (None, None)
        if last is None or first is None:
            continue
        if last.shift(1) == one.first:
            earlier, later = key, one.label
        elif first == one.period.shift(1):
            earlier, later = one.label, key
        else:
            continue
        held = extracts[earlier]
        start = (last if earlier == key else one.period).shift(1).first_day
        day = f"{start.day} {start:%B %Y}"
        for table, count in sorted((held.closed_by_next or {}).items()):
            issues.append(
                file_issue(
                    one.label,
                    _CLOSED_RULE.get(one.format, "open-omitted"),
                    f"{earlier} leaves {count:,} {_WHAT.get(table, table)} open at its year end "
                    f"that {later} does not hold, though it covers "
                    f"{_WHO.get(one.format, 'every child')} on {day}: taken as closed on {day}, "
                    "a date neither "
                    "return records, so they count at the earlier year's end and not after; "
                    "check the later return is complete",
                    column=table,
                    severity=Severity.WARNING,
                )
            )
        for table, count in sorted((held.superseded_by_next or {}).items()):
            issues.append(
                file_issue(
                    one.label,
                    _SUPERSEDED_RULE.get(one.format, "open-restated"),
                    f"{earlier} leaves {count:,} {_WHAT.get(table, table)} open at its year end "
                    f"that {later} does not hold, but {later} has another record of the same "
                    f"child starting before {day}: the earlier record is superseded "
                    "by the later return's (its start date differs between the years)",
                    column=table,
                    severity=Severity.WARNING,
                )
            )
    if one.format == "ssda903":
        overlaps = _overlapping_episodes(store, one.label)
        if overlaps:
            issues.append(
                file_issue(
                    one.label,
                    "142",
                    f"{overlaps:,} episode(s) of care held in the store from {one.label} overlap "
                    "another episode of the same child (one starts before the other has ceased, "
                    "903 rule 142), across the returns and extracts loaded: a child may be "
                    "counted twice in the periods they overlap",
                    column="cla_episodes",
                    severity=Severity.WARNING,
                )
            )
    return issues


def _overlapping_episodes(store: Store, label: str) -> int:
    """How many episodes of ``label`` in the current view overlap one of the same child."""
    scanned = store.scan("cla_episodes")
    if scanned is None:
        return 0
    person, start, end = (
        "clae_person_id",
        "clae_cla_episode_start_date",
        "clae_cla_episode_ceased_date",
    )
    e = scanned.select(person, start, end, EXTRACT).sort(person, start)
    before_end = pl.col(end).shift(1).over(person)
    same_child = pl.col(person).shift(1).over(person).is_not_null()
    clash = same_child & (before_end.is_null() | (before_end > pl.col(start)))
    e = e.with_columns(clash.alias("__clash"))
    e = e.with_columns((pl.col("__clash") | pl.col("__clash").shift(-1).over(person)).alias("__in"))
    return int(
        e.filter(pl.col("__in").fill_null(False) & (pl.col(EXTRACT) == label))
        .select(pl.len())
        .collect()
        .item()
    )


# --- the right authority ------------------------------------------------------------------


def _add_issues(report: ValidationReport, issues: list[dict[str, Any]]) -> None:
    """Add file-level rows to a report, kept in the report's order."""
    if issues:
        report.issues = pl.concat([report.issues, issues_frame(issues)]).sort(
            ["file", "line", "column", "rule"], nulls_last=False
        )


def _same_code(found: str, authority: Authority) -> bool:
    """Whether an LA code written in a return is the authority's: its old three-digit code
    (leading zeros aside) or its nine-character ONS code."""
    text = found.strip()
    codes = [authority.la_code.strip(), (authority.new_la_code or "").strip()]
    if text.isdigit() and codes[0].isdigit():
        return int(text) == int(codes[0])
    return text.upper() in {code.upper() for code in codes if code}


def _demo_advice(authority: Authority) -> str:
    return (
        f"; this project is the {authority.name} demo (pipelines/authority.yaml says demo: "
        f"true), so its rates would use {authority.name}'s population: for a council's own "
        "data make its project with `safeguard init DIR --la-code NNN`"
        if authority.demo
        else ""
    )


def other_authority_issues(
    path: Path, format_name: str, authority: Authority | None
) -> list[dict[str, Any]]:
    """A warning when a return names an LA other than the project's: the CIN census's
    ``<Header><Source><LEA>``. SSDA903 tables and Annex A workbooks carry no LA code, so
    there is nothing to compare."""
    if authority is None or format_name != cin_xml.FORMAT:
        return []
    found = cin_xml.source_authority(path)
    if found is None or _same_code(found.code, authority):
        return []
    return [
        file_issue(
            path.name,
            OTHER_AUTHORITY,
            f"the census is from LA {found.code} (<LEA> in its header), but this project is for "
            f"LA {authority.la_code} ({authority.name}, pipelines/authority.yaml): its records "
            f"would be counted as {authority.name}'s; check the file is this authority's"
            f"{_demo_advice(authority)}",
            line=found.line,
            column=cin_xml.LEA_PATH,
            value=found.code,
            severity=Severity.WARNING,
        )
    ]


def demo_project_issues(
    folder: Path | None, authority: Authority | None, database: Database | None = None
) -> list[dict[str, Any]]:
    """A warning when the project is the synthetic demo's (``demo: true``) and the extract
    folder (or the file of one) was not written by the demo, which leaves its marker file in
    the folder it writes the months into, or the extract is a database's (the demo writes
    none). A monthly extract has no LA code to compare."""
    if authority is None or not authority.demo:
        return []
    from safeguard.demo.generate import MARKER

    if database is not None:
        named, why = database.label, "this extract is read from a database"
    else:
        assert folder is not None
        extract = folder.parent if folder.is_file() else folder
        if any((place / MARKER).is_file() for place in (extract, extract.parent)):
            return []
        named, why = (
            extract.name,
            f"this extract was not written by the demo (no {MARKER} beside it)",
        )
    return [
        file_issue(
            named,
            DEMO_PROJECT,
            f"{why}, but the project "
            f"is the synthetic {authority.name} demo (demo: true in pipelines/authority.yaml): "
            "real-looking data is going into the demo project, and its rates will use "
            f"{authority.name}'s population. For a council's own data make its project with "
            "`safeguard init DIR --la-code NNN` and ingest there",
            severity=Severity.WARNING,
        )
    ]
