"""Read a Standard Safeguarding Dataset (SSD) export as a monthly extract.

An SSD export is a folder named YYYY-MM holding one CSV per SSD object (``ssd_person.csv``,
``ssd_contacts.csv``, ...) and, beside them, the council's local tables for what the SSD has no
object for (``strategy_discussions.csv``, ``audits.csv``, ...) in the contract's own form. A file
is an SSD object by its name (``ssd_<object>.csv``) or by its header: a header holding a field
only the SSD has (``cont_contact_outcome_json``, ``clar_cla_id``, ``pers_surname``, ...) is the
SSD object with most of its fields.

The mapping to contract columns is ``pipelines/sources/ssd.yaml``. The mapped tables are handed
to the validator as if they were the extract's CSV files (same checks, quarantine and store);
the SSD's fields the mapping does not name (names, NHS numbers, ...) never leave this module:
each is counted (non-blank values) and the counts go into the store's manifest.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from safeguard.defaults import ConfigFolder
from safeguard.ingest.csvfile import LINE, FileProblem, RawCsv, read_csv_file, sha256_of_file
from safeguard.ingest.report import file_issue
from safeguard.ingest.sources.base import FieldMap, SourceMapping, TableMap, mapping_problems
from safeguard.ingest.validate import ExtractResult, StoreHeld, validate_read
from safeguard.models import StrictModel
from safeguard.periods import Month
from safeguard.schema import ColumnType, Contract, Severity, load_model

if TYPE_CHECKING:
    from safeguard.ingest.sources.database import Database

FORMAT = "ssd"

# the SSD objects this reader knows, with their fields (data-to-insight/ssd-data-model,
# data/objects/): enough to recognise a file by its header
_FIELDS: dict[str, str] = {
    "ssd_person": (
        "pers_person_id pers_forename pers_surname pers_sex pers_gender pers_ethnicity pers_dob "
        "pers_common_child_id pers_legacy_id pers_upn_unknown pers_send_flag pers_expected_dob "
        "pers_death_date pers_is_mother pers_nationality"
    ),
    "ssd_contacts": (
        "cont_contact_id cont_person_id cont_contact_date cont_contact_source_code "
        "cont_contact_source_desc cont_contact_outcome_json"
    ),
    "ssd_cin_episodes": (
        "cine_referral_id cine_person_id cine_referral_date cine_cin_primary_need_code "
        "cine_referral_source_code cine_referral_source_desc cine_referral_outcome_json "
        "cine_referral_nfa cine_close_reason cine_close_date cine_referral_team "
        "cine_referral_worker_id"
    ),
    "ssd_cin_assessments": (
        "cina_assessment_id cina_person_id cina_referral_id cina_assessment_start_date "
        "cina_assessment_child_seen cina_assessment_auth_date cina_assessment_outcome_json "
        "cina_assessment_outcome_nfa cina_assessment_team cina_assessment_worker_id"
    ),
    "ssd_s47_enquiry": (
        "s47e_s47_enquiry_id s47e_referral_id s47e_person_id s47e_s47_start_date "
        "s47e_s47_end_date s47e_s47_nfa s47e_s47_outcome_json s47e_s47_completed_by_worker_id "
        "s47e_s47_completed_by_team"
    ),
    "ssd_initial_cp_conference": (
        "icpc_icpc_id icpc_icpc_meeting_id icpc_s47_enquiry_id icpc_person_id icpc_cp_plan_id "
        "icpc_referral_id icpc_icpc_transfer_in icpc_icpc_target_date icpc_icpc_date "
        "icpc_icpc_outcome_cp_flag icpc_icpc_outcome_json icpc_icpc_team icpc_icpc_worker_id"
    ),
    "ssd_cp_plans": (
        "cppl_cp_plan_id cppl_referral_id cppl_icpc_id cppl_person_id cppl_cp_plan_start_date "
        "cppl_cp_plan_end_date cppl_cp_plan_initial_category cppl_cp_plan_ola "
        "cppl_cp_plan_latest_category"
    ),
    "ssd_cp_visits": (
        "cppv_cp_visit_id cppv_person_id cppv_cp_plan_id cppv_cp_visit_date cppv_cp_visit_seen "
        "cppv_cp_visit_seen_alone cppv_cp_visit_bedroom"
    ),
    "ssd_cp_reviews": (
        "cppr_cp_review_id cppr_person_id cppr_cp_plan_id cppr_cp_review_due cppr_cp_review_date "
        "cppr_cp_review_meeting_id cppr_cp_review_outcome_continue_cp cppr_cp_review_quorate "
        "cppr_cp_review_participation"
    ),
    "ssd_cla_episodes": (
        "clae_cla_episode_id clae_person_id clae_cla_episode_start_date "
        "clae_cla_episode_start_reason clae_cla_primary_need_code clae_cla_episode_ceased_date "
        "clae_cla_episode_ceased_reason clae_cla_id clae_referral_id clae_cla_placement_id "
        "clae_entered_care_date clae_cla_last_iro_contact_date"
    ),
    "ssd_cla_reviews": (
        "clar_cla_review_id clar_cla_id clar_cla_review_due_date clar_cla_review_date "
        "clar_cla_review_cancelled clar_cla_review_participation"
    ),
    "ssd_cla_placement": (
        "clap_cla_placement_id clap_cla_placement_start_date clap_cla_placement_type "
        "clap_cla_placement_urn clap_cla_placement_distance clap_cla_id "
        "clap_cla_placement_provider clap_cla_placement_postcode clap_cla_placement_end_date "
        "clap_cla_placement_change_reason clap_person_id"
    ),
    "ssd_professionals": (
        "prof_professional_id prof_staff_id prof_professional_name "
        "prof_social_worker_registration_no prof_professional_job_title "
        "prof_professional_caseload prof_professional_department prof_full_time_equivalency "
        "prof_agency_worker_flag"
    ),
    "ssd_involvements": (
        "invo_involvements_id invo_professional_id invo_professional_role_id "
        "invo_professional_team invo_involvement_start_date invo_involvement_end_date "
        "invo_worker_change_reason invo_person_id invo_referral_id"
    ),
    "ssd_cin_plans": (
        "cinp_cin_plan_id cinp_referral_id cinp_person_id cinp_cin_plan_start_date "
        "cinp_cin_plan_end_date cinp_cin_plan_team cinp_cin_plan_worker_id"
    ),
    "ssd_cin_visits": (
        "cinv_cin_visit_id cinv_person_id cinv_cin_visit_date cinv_cin_visit_seen "
        "cinv_cin_visit_seen_alone cinv_cin_visit_bedroom"
    ),
    "ssd_legal_status": (
        "lega_legal_status_id lega_person_id lega_legal_status lega_legal_status_start_date "
        "lega_legal_status_end_date"
    ),
    "ssd_department": "dept_team_id dept_team_name dept_team_parent_id dept_team_parent_name",
    "ssd_disability": "disa_person_id disa_table_id disa_disability_code",
}
OBJECTS: dict[str, tuple[str, ...]] = {name: tuple(f.split()) for name, f in _FIELDS.items()}

OUTCOME_RULE = "ssd-outcome-json"  # a contact outcome dictionary that cannot be read
PERIOD_RULE = "ssd-period-of-care"  # a CLA review whose period of care names no child
_FLAG_SET = ("y", "yes", "true", "1")
_DATE_TIME = r"^(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4})[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
_SNIFF_FILE_BYTES = 4096

# the reader's rules for a column no SSD field holds as it is (docs/formats/ssd.md)
Derive = Literal[
    "outcome-json",  # contacts: the outcome dictionary read into one code
    "period-of-care",  # CLA reviews: the child through ssd_cla_episodes.clae_cla_id
    "placement-type",  # CLA episodes: through ssd_cla_placement
    "team-name",  # a team id as ssd_department names it
    "registered",  # workforce: Y when a registration number is given
    "open-involvements",  # workforce: open cases at the month's end (ssd_involvements)
    "holds-cases",  # workforce: Y when that caseload is above 0
]
# the SSD object each rule joins with (beside the table's own): its checksum counts too
JOINED: dict[str, str] = {
    "period-of-care": "ssd_cla_episodes",
    "placement-type": "ssd_cla_placement",
    "team-name": "ssd_department",
    "open-involvements": "ssd_involvements",
    "holds-cases": "ssd_involvements",
}


class SsdField(FieldMap):
    derive: Derive | None = None  # a rule of this reader, for a field not held as it is


class SsdTable(TableMap):
    columns: dict[str, SsdField]  # type: ignore[assignment]


class OutcomeFlag(StrictModel):
    flag: str  # a key of cont_contact_outcome_json
    code: str  # the contract's contact outcome when it is the first flag set


class SsdMapping(SourceMapping):
    tables: dict[str, SsdTable]  # type: ignore[assignment]
    outcome_flags: list[OutcomeFlag]


def load_ssd_mapping(pipelines: ConfigFolder) -> SsdMapping:
    return load_model(pipelines / f"sources/{FORMAT}.yaml", SsdMapping)


# --- recognising the files -----------------------------------------------------------------


def _only_ssd(contract: Contract) -> dict[str, frozenset[str]]:
    """For each SSD object, its fields that no contract table has: a header holding one of
    them is the SSD's, not the contract's form of the same table."""
    contract_columns = {c for t in contract.tables.values() for c in t.columns}
    return {
        name: frozenset(f for f in fields if f not in contract_columns)
        for name, fields in OBJECTS.items()
    }


def recognise(name: str, header: set[str], contract: Contract) -> str | None:
    """The SSD object a file is, by its name (``ssd_<object>.csv``) or its header (a field
    only the SSD has); None when it is neither (a local table in the contract's form, or
    another file). A file named as a contract table that has every column the contract
    requires of it is the contract's table, whatever else it holds."""
    stem = Path(name).stem.strip().lower()
    if stem in OBJECTS:
        return stem
    table = contract.table_for_file(name)
    if table is not None and all(
        cname in header or any(a.strip().lower() in header for a in column.aliases)
        for cname, column in contract.tables[table].columns.items()
        if column.required
    ):
        return None  # the contract's own table, perhaps with extra columns (not loaded)
    only = _only_ssd(contract)
    scores = {
        obj: len(header & set(fields)) for obj, fields in OBJECTS.items() if header & only[obj]
    }
    if not scores:
        return None
    best = max(scores.values())
    winners = [obj for obj, score in scores.items() if score == best]
    return winners[0] if len(winners) == 1 else None


def _header(path: Path) -> set[str]:
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_FILE_BYTES)
    first = head.decode("utf-8-sig", errors="replace").splitlines()[0] if head.strip() else ""
    return {h.strip().lower() for h in next(csv.reader([first]), [])}


def sniff(path: Path, contract: Contract) -> bool:
    """True when the folder ``path`` holds at least one SSD object's CSV, judged by name or
    header (reads the first 4 KB of each CSV); never raises."""
    try:
        if not path.is_dir():
            return False
        for candidate in sorted(path.iterdir()):
            if not candidate.is_file() or candidate.suffix.lower() != ".csv":
                continue
            if recognise(candidate.name, _header(candidate), contract) is not None:
                return True
    except (OSError, ValueError, csv.Error):
        return False
    return False


# --- reading the export --------------------------------------------------------------------


@dataclass
class SsdExport:
    """An SSD export read and mapped: what the validator takes, and what was not loaded."""

    raws: dict[str, tuple[str, RawCsv]]  # contract table -> (file named in the report, rows)
    files: dict[str, str]  # contract table -> file, including files refused before mapping
    problems: list[dict[str, Any]]
    not_loaded: dict[str, int] = field(default_factory=dict)  # object or object.field -> count
    # (contract table, column) -> (the SSD field it came from, the rows the reader could not
    # map [LINE, value, m: why], the rule they fail): how the report names those rows
    relabel: dict[tuple[str, str], tuple[str, pl.DataFrame, str]] = field(default_factory=dict)


@dataclass
class _Object:
    name: str
    file: str
    raw: RawCsv
    columns: dict[str, int]  # lower-cased field -> position

    def col(self, name: str) -> pl.Expr:
        return _text(pl.col(str(self.columns[name])))

    def has(self, name: str) -> bool:
        return name in self.columns


def _text(expr: pl.Expr) -> pl.Expr:
    trimmed = expr.str.strip_chars()
    return pl.when(trimmed == "").then(None).otherwise(trimmed)


def _as_contract_form(expr: pl.Expr, kind: ColumnType) -> pl.Expr:
    """An SSD date-time written as the contract's date (its date) or date-time (no fraction of
    a second); anything else unchanged for the validator to judge."""
    if kind is ColumnType.DATE:
        return pl.when(expr.str.contains(_DATE_TIME)).then(expr.str.slice(0, 10)).otherwise(expr)
    if kind is ColumnType.DATETIME:
        return expr.str.replace(r"^(.*\d{2}:\d{2}:\d{2})\.\d+$", "$1")
    return expr


@dataclass
class _Gathered:
    """An export's tables before mapping: the SSD objects, the local tables, and what could not
    be read; from a folder of CSV files or from a database."""

    objects: dict[str, _Object] = field(default_factory=dict)
    local: dict[str, tuple[str, RawCsv]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # SSD object -> its refused file
    from_database: set[str] = field(default_factory=set)  # the names of tables read from one
    export: SsdExport = field(default_factory=lambda: SsdExport(raws={}, files={}, problems=[]))


def read_export(
    folder: Path,
    month: Month,
    contract: Contract,
    mapping: SsdMapping,
    *,
    encoding: str | None = None,
) -> SsdExport:
    """Every file of the export: SSD objects mapped to contract tables, local tables read as
    they are, anything else reported."""
    return _mapped(_gather_folder(folder, contract, encoding), month, contract, mapping)


def _gather_folder(folder: Path, contract: Contract, encoding: str | None) -> _Gathered:
    gathered = _Gathered()
    export, objects = gathered.export, gathered.objects
    local = gathered.local
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.lower() in contract.skipped_files:
            continue
        if not path.is_file():
            export.problems.append(
                file_issue(
                    path.name, "unknown-file", "a folder: it is not read", severity=Severity.WARNING
                )
            )
            continue
        table = contract.table_for_file(path.name)
        try:
            obj = (
                recognise(path.name, _header(path), contract)
                if path.suffix.lower() == ".csv"
                else None
            )
        except (OSError, csv.Error):
            obj = None
        if obj is None and table is None:
            export.problems.append(
                file_issue(
                    path.name,
                    "unknown-file",
                    "neither an SSD object (ssd_<object>.csv) nor a local table of the extract "
                    "contract: it is not loaded",
                    severity=Severity.WARNING,
                )
            )
            continue
        try:
            raw = read_csv_file(path, encoding)
        except FileProblem as problem:
            if problem.raw is not None:  # a header and no rows: judged after mapping
                raw = problem.raw
            else:
                _refuse_file(path.name, problem, obj, table, gathered)
                continue
        if obj is None:
            assert table is not None
            local[table] = (path.name, raw)
            export.files[table] = path.name
            continue
        if obj in objects:
            export.problems.append(
                file_issue(
                    path.name,
                    "duplicate-file",
                    f"{objects[obj].file} and {path.name} are both the SSD's {obj}: keep one "
                    "(this one is not read)",
                )
            )
            continue
        columns = {h.strip().lstrip("\ufeff").lower(): i for i, h in enumerate(raw.header)}
        objects[obj] = _Object(obj, path.name, raw, columns)

    return gathered


def _refuse_file(
    name: str, problem: FileProblem, obj: str | None, table: str | None, gathered: _Gathered
) -> None:
    """A file that cannot be read at all: its file-level error, and the table it would have
    given named as refused (not missing)."""
    gathered.export.problems.append(
        file_issue(
            name, problem.rule, f"{name} {problem.message}", line=problem.line, value=problem.value
        )
    )
    if obj is None and table is not None:
        gathered.export.files[table] = name
    elif obj is not None:
        gathered.unreadable[obj] = name


def _mapped(
    gathered: _Gathered, month: Month, contract: Contract, mapping: SsdMapping
) -> SsdExport:
    """The gathered objects mapped to the contract's tables, the local tables beside them, and
    what was not loaded counted."""
    export, objects = gathered.export, gathered.objects
    unreadable, local = gathered.unreadable, gathered.local
    used: dict[str, set[str]] = {}  # SSD object -> fields read
    for tname, tmap in mapping.tables.items():
        if tname not in contract.tables:
            continue  # a table pipelines/monthly.yaml leaves out: its object is not loaded
        source = objects.get(tmap.source)
        if source is None:
            if tmap.source in unreadable and tname not in export.files:
                export.files[tname] = unreadable[tmap.source]  # refused, not missing
            continue
        if tname in local or tname in export.files:
            export.problems.append(
                file_issue(
                    source.file,
                    "local-table-used",
                    f"{export.files[tname]} is given beside the SSD's {tmap.source}: the "
                    f"{tname} rows come from {export.files[tname]}, not from {source.file}",
                    severity=Severity.WARNING,
                )
            )
            continue
        missing = [
            f.source
            for f in tmap.columns.values()
            if isinstance(f.source, str)
            and f.derive not in ("open-involvements", "holds-cases", "placement-type")
            and f.derive != "team-name"
            and not source.has(f.source.lower())
            and contract.tables[tname].columns[_column_of(tmap, f)].required
        ]
        if missing:
            export.problems.append(
                file_issue(
                    source.file,
                    "missing-column",
                    f"{source.file} lacks {', '.join(missing)}, which the SSD's {tmap.source} "
                    f"must have (headings found: {', '.join(source.raw.header)})",
                    line=1,
                    column=missing[0],
                )
            )
            export.files[tname] = source.file
            continue
        raw, read = _map_table(tname, tmap, source, objects, month, contract, mapping, export)
        export.raws[tname] = (source.file, raw)
        export.files[tname] = source.file
        used.setdefault(source.name, set()).update(read)
        for fmap in tmap.columns.values():  # the objects its rules joined with are read too
            for obj, joined in _RULE_FIELDS.get(fmap.derive or "", {}).items():
                if obj in objects and obj != source.name:
                    used.setdefault(obj, set()).update(f for f in joined if objects[obj].has(f))
    for tname, pair in local.items():
        export.raws[tname] = pair

    # what is not loaded: whole objects, and each object's fields not read (non-blank values)
    for held in objects.values():
        fields = used.get(held.name)
        if fields is None:
            export.not_loaded[held.name] = held.raw.frame.height
            continue
        left = [f for f in held.columns if f not in fields]
        if left:
            counts = held.raw.frame.select(
                held.col(f).is_not_null().sum().alias(f) for f in left
            ).row(0, named=True)
            for f in left:
                export.not_loaded[f"{held.name}.{f}"] = int(counts[f])
    whole = {name for name in export.not_loaded if "." not in name}
    export.not_loaded = {  # an object not loaded at all is counted once, by its rows
        name: count
        for name, count in sorted(export.not_loaded.items())
        if "." not in name or name.split(".")[0] not in whole
    }
    return export


# --- reading the SSD from the database -----------------------------------------------------

# the fields each rule reads besides the mapped one: all a database read fetches for it
_RULE_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "period-of-care": {"ssd_cla_episodes": ("clae_cla_id", "clae_person_id")},
    "placement-type": {"ssd_cla_placement": ("clap_cla_placement_id", "clap_cla_placement_type")},
    "team-name": {"ssd_department": ("dept_team_id", "dept_team_name")},
    **{
        rule: {
            "ssd_involvements": (
                "invo_professional_id",
                "invo_person_id",
                "invo_involvement_start_date",
                "invo_involvement_end_date",
            ),
            "ssd_professionals": ("prof_professional_id", "prof_professional_caseload"),
        }
        for rule in ("open-involvements", "holds-cases")
    },
}


def wanted_fields(mapping: SsdMapping, contract: Contract) -> dict[str, set[str]]:
    """Per SSD object, the fields the mapping reads for the contract's tables (and those its
    rules join on): the only ones a database read fetches."""
    wanted: dict[str, set[str]] = {}
    for tname, tmap in mapping.tables.items():
        if tname not in contract.tables:
            continue
        own = wanted.setdefault(tmap.source, set())
        for fmap in tmap.columns.values():
            if isinstance(fmap.source, str):
                own.add(fmap.source.lower())
            for obj, fields in _RULE_FIELDS.get(fmap.derive or "", {}).items():
                wanted.setdefault(obj, set()).update(fields)
    return wanted


def _gather_database(
    connection: Any, schema: str | None, contract: Contract, mapping: SsdMapping
) -> _Gathered:
    """The SSD objects of the database's ``schema`` (tables or views named as the objects),
    each read with only the fields the mapping uses (the others counted in SQL, never
    fetched), and local tables in the contract's form, named as its tables (``audits``,
    ``workforce``, ...), their contract columns read (others counted, as an SSD object's);
    other tables are not looked at."""
    from safeguard.ingest.sources import database

    gathered = _Gathered()
    wanted = wanted_fields(mapping, contract)
    local_names = {
        name: tname
        for tname, table in contract.tables.items()
        for name in (tname, Path(table.file).stem.lower())
    }
    prefix = f"{schema}." if schema else ""

    def count_the_rest(lowered: str, info: Any, fields: list[str]) -> None:
        """The table's columns not fetched, counted by the database as not loaded."""
        others = [c for c in info.columns if c not in fields]
        if others:
            counted = database.count_values(connection, info, others, schema)
            for name, count in counted.items():
                gathered.export.not_loaded[f"{lowered}.{name}"] = count

    for lowered, info in database.tables(connection, schema, {*OBJECTS, *local_names}).items():
        shown = f"{prefix}{info.name}"
        if lowered in OBJECTS:
            fields = [c for c in info.columns if c in wanted.get(lowered, set())]
            if not fields:
                rows = database.count_values(connection, info, [], schema)[""]
                gathered.export.not_loaded[lowered] = rows
                continue
            count_the_rest(lowered, info, fields)
            key = OBJECTS[lowered][0]
            raw = database.read_table(
                connection, info, fields, schema, key if key in fields else None
            )
            columns = {name: i for i, name in enumerate(fields)}
            gathered.objects[lowered] = _Object(lowered, shown, raw, columns)
            gathered.from_database.add(shown)
        elif lowered in local_names:
            tname = local_names[lowered]
            if tname in gathered.local:
                continue  # both the table's name and its file's stem: the first is read
            # the contract's columns (or their aliases) only; any other is counted, not fetched
            table = contract.tables[tname]
            known = {c.lower() for c in table.columns} | {
                a.strip().lower() for c in table.columns.values() for a in c.aliases
            }
            fields = [c for c in info.columns if c in known] or list(info.columns)
            count_the_rest(lowered, info, fields)
            raw = database.read_table(connection, info, fields, schema, fields[0])
            gathered.local[tname] = (shown, raw)
            gathered.export.files[tname] = shown
            gathered.from_database.add(shown)
    return gathered


def as_at_month_end(export: SsdExport, month: Month, contract: Contract, read: set[str]) -> None:
    """The tables read from a database (files named in ``read``) as an extract taken at the
    month's end would have held them: rows starting after it left out, and the other dates
    after it blanked (the contract's ``starts``; future-dated and required columns stay). Each
    is counted in ``export.not_loaded``; a date that cannot be read stays for the validator.
    Each table's checksum is then that of the rows kept, so rows added after the month's end
    leave the month's extract "unchanged"."""
    from safeguard.ingest.sources import database  # SQLAlchemy: only when one is read

    end = month.last_day
    after = f"after {end.isoformat()}"
    for tname, (file, raw) in list(export.raws.items()):
        if file not in read:
            continue
        table = contract.tables[tname]
        position = {name: str(i) for i, name in enumerate(raw.header)}
        dated = {
            name: _iso(_as_contract_form(_text(pl.col(position[name])), ColumnType.DATE)) > end
            for name, column in table.columns.items()
            if name in position and column.type in (ColumnType.DATE, ColumnType.DATETIME)
        }
        starts = table.starts if table.starts in dated else None
        # a column, not a bare literal, for tables without ``starts``: every row is kept
        marked = raw.frame.with_columns(
            (dated[starts].fill_null(False) if starts else pl.lit(False)).alias("__after")
        )
        starts_after = pl.col("__after")
        blanked = [
            name
            for name, column in table.columns.items()
            if name in dated
            and name != table.starts
            and not column.future_ok
            and not column.required
        ]
        counts = marked.select(
            starts_after.sum().alias("rows"),
            *((~starts_after & dated[name].fill_null(False)).sum().alias(name) for name in blanked),
        ).row(0, named=True)
        if counts["rows"]:
            export.not_loaded[f"{file}: rows starting {after}"] = int(counts["rows"])
        for name in blanked:
            if counts[name]:
                export.not_loaded[f"{file}.{name}: dates {after}, blanked"] = int(counts[name])
        frame = (
            marked.filter(~starts_after)
            .drop("__after")
            .with_columns(
                pl.when(dated[name].fill_null(False))
                .then(None)
                .otherwise(pl.col(position[name]))
                .alias(position[name])
                for name in blanked
            )
        )
        # the checksum of what is kept: a day's new rows after the month leave it "unchanged"
        sha = database.checksum(tname, raw.header, frame)
        export.raws[tname] = (file, replace(raw, frame=frame, sha256=sha))


# the one table a folder beside the database may give although the database fills it: the
# SSD's caseloads are derived (ssd_professionals, ssd_involvements), a council's own snapshot is
# what it counts (as a local workforce.csv wins in an exported folder)
_FOLDER_MAY_REPLACE = frozenset({"workforce"})


def _beside(gathered: _Gathered, folder: _Gathered, label: str, mapping: SsdMapping) -> _Gathered:
    """The database's tables with a folder's beside them. The folder gives the tables the
    database does not fill, and its own workforce snapshot; a file for a table the database
    fills from an SSD object (a month's old contract-form contacts.csv, say) is not read, nor
    is an SSD object's file: the database has them."""
    export = gathered.export
    export.problems.extend(folder.export.problems)
    for obj in folder.objects.values():
        export.problems.append(
            file_issue(
                obj.file,
                "unknown-file",
                f"an SSD object ({obj.name}) beside --database: the SSD's objects are read from "
                f"{label}, so this file is not loaded",
                severity=Severity.WARNING,
            )
        )
    filled = {
        tname: tmap.source
        for tname, tmap in mapping.tables.items()
        if tmap.source in gathered.objects and tname not in _FOLDER_MAY_REPLACE
    }
    for tname, (file, raw) in folder.local.items():
        if tname in filled:
            export.problems.append(
                file_issue(
                    file,
                    "unknown-file",
                    f"{file} beside --database: the {tname} rows come from the database's "
                    f"{filled[tname]}, so this file is not loaded",
                    severity=Severity.WARNING,
                )
            )
            continue
        if tname in gathered.local:
            export.problems.append(
                file_issue(
                    file,
                    "local-table-used",
                    f"{gathered.local[tname][0]} is in the database too: the {tname} rows come "
                    f"from {file}, not from the database",
                    severity=Severity.WARNING,
                )
            )
        gathered.local[tname] = (file, raw)
        export.files[tname] = file
    for tname, file in folder.export.files.items():  # refused files of the tables it gives
        if tname not in filled:
            export.files.setdefault(tname, file)
    return gathered


def table_sha(tmap: SsdTable, own: str, shas: dict[str, str]) -> str:
    """A mapped table's checksum: its object's, combined with those of the objects it is
    joined with, so a changed caseload (in ssd_involvements) is a changed workforce table,
    not an "unchanged" extract."""
    joined = sorted({JOINED[f.derive] for f in tmap.columns.values() if f.derive in JOINED})
    parts = [own, *(shas[o] for o in joined if o in shas)]
    return parts[0] if len(parts) == 1 else hashlib.sha256("+".join(parts).encode()).hexdigest()


def checksums(folder: Path, contract: Contract, pipelines: ConfigFolder) -> dict[str, str]:
    """Each contract table's checksum as ingesting the export would store it, from the files'
    bytes alone (nothing parsed): what ``safeguard run`` compares with the store to tell
    whether a month's export changed."""
    mapping = load_ssd_mapping(pipelines)
    shas: dict[str, str] = {}
    found: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.name.lower() in contract.skipped_files:
            continue
        table = contract.table_for_file(path.name)
        obj = (
            recognise(path.name, _header(path), contract) if path.suffix.lower() == ".csv" else None
        )
        if obj is not None:
            shas.setdefault(obj, sha256_of_file(path))
        elif table is not None:
            found[table] = sha256_of_file(path)
    for tname, tmap in mapping.tables.items():
        if tname in contract.tables and tname not in found and tmap.source in shas:
            found[tname] = table_sha(tmap, shas[tmap.source], shas)
    return found


def _column_of(tmap: SsdTable, fmap: SsdField) -> str:
    return next(c for c, f in tmap.columns.items() if f is fmap)


def _map_table(
    tname: str,
    tmap: SsdTable,
    source: _Object,
    objects: dict[str, _Object],
    month: Month,
    contract: Contract,
    mapping: SsdMapping,
    export: SsdExport,
) -> tuple[RawCsv, set[str]]:
    """One SSD object's rows as the contract table ``tname``: a RawCsv whose header is the
    contract's column names, so the validator reads it as it reads an extract's file."""
    table = contract.tables[tname]
    frame = source.raw.frame
    read: set[str] = set()
    sha = table_sha(tmap, source.raw.sha256, {o.name: o.raw.sha256 for o in objects.values()})
    columns: list[pl.Expr] = []
    for cname, fmap in tmap.columns.items():
        assert isinstance(fmap.source, str), f"{FORMAT}: {tname}.{cname} needs one source"
        name = fmap.source.lower()
        kind = table.columns[cname].type
        if fmap.derive in ("open-involvements", "holds-cases"):
            value = _caseload(source, objects, month, fmap.derive, read)
        elif not source.has(name):
            continue  # an optional field the export does not have: the column is not held
        elif fmap.derive == "outcome-json":
            value, bad = _outcome(frame, source.col(name), mapping.outcome_flags)
            flagged = frame.select(pl.col(LINE), source.col(name).alias("value"), bad.alias("m"))
            flagged = flagged.filter(pl.col("m").is_not_null())
            export.relabel[(tname, cname)] = (name, flagged, OUTCOME_RULE)
        elif fmap.derive == "period-of-care":
            value, unmatched = _period_of_care(source, name, objects)
            flagged = frame.select(pl.col(LINE), source.col(name).alias("value"), unmatched)
            flagged = flagged.filter(pl.col("m").is_not_null())
            export.relabel[(tname, cname)] = (name, flagged, PERIOD_RULE)
        elif fmap.derive == "placement-type":
            value = _placement_type(source, name, objects)
        elif fmap.derive == "team-name":
            value = _team_name(source.col(name), objects)
        elif fmap.derive == "registered":
            value = pl.when(source.col(name).is_not_null()).then(pl.lit("Y")).otherwise(pl.lit("N"))
        else:
            value = _as_contract_form(source.col(name), kind)
        read.add(name)
        if fmap.values:
            value = value.replace(fmap.values)
        columns.append(value.cast(pl.String).alias(cname))
    mapped = frame.select(*columns, pl.col(LINE).cast(pl.UInt32))
    header = [c for c in mapped.columns if c != LINE]
    raw = RawCsv(
        header=header,
        frame=mapped.select(*[pl.col(c).alias(str(i)) for i, c in enumerate(header)], pl.col(LINE)),
        sha256=sha,
        blank_lines=source.raw.blank_lines,
    )
    return raw, read


def _outcome(
    frame: pl.DataFrame, column: pl.Expr, flags: list[OutcomeFlag]
) -> tuple[pl.Expr, pl.Expr]:
    """The contract's outcome code from the SSD's outcome dictionary, and per row why it cannot
    be read (null when it can). Keys may be quoted or not (the SSD's own guidance writes them
    bare); a flag is set when its value is Y, Yes, true or 1.

    An export holds few distinct dictionaries (one per combination of flags), so they are read
    once each, by regular expressions on the distinct values, and the answers replaced back
    into every row (as the validator maps a code column's distinct values)."""
    text = pl.col("t")

    def value(flag: str) -> pl.Expr:
        pattern = rf'(?i)["\']?\b{re.escape(flag)}\b["\']?\s*:\s*["\']?\s*([A-Za-z0-9]*)'
        return text.str.extract(pattern, 1).str.to_lowercase()

    code: pl.Expr = pl.lit(None, pl.String)
    for one in reversed(flags):
        code = pl.when(value(one.flag).is_in(_FLAG_SET)).then(pl.lit(one.code)).otherwise(code)
    shaped = text.str.contains(r"^\{.*\}$")
    known = pl.any_horizontal(
        [text.str.contains(rf"(?i)\b{re.escape(one.flag)}\b[\"']?\s*:") for one in flags]
    )
    why = (
        pl.when(text.is_null())
        .then(None)
        .when(~shaped | ~known)
        .then(pl.lit('not the SSD\'s outcome dictionary ({ NEW_REFERRAL_FLAG: "Y", ... })'))
        .when(code.is_null())
        .then(pl.lit("no outcome flag is set to Y in the SSD's outcome dictionary"))
    )
    read = (
        frame.select(column.unique().alias("t"))
        .drop_nulls()
        .select("t", code.alias("code"), why.alias("why"))
    )
    codes = dict(zip(read["t"].to_list(), read["code"].to_list(), strict=True))
    whys = dict(zip(read["t"].to_list(), read["why"].to_list(), strict=True))
    problem = column.replace_strict(whys, default=None, return_dtype=pl.String)
    # a row that cannot be read keeps its text, so the validator quarantines it as no code
    outcome = pl.when(problem.is_null()).then(
        column.replace_strict(codes, default=None, return_dtype=pl.String)
    )
    return outcome.otherwise(column), problem


def _period_of_care(
    source: _Object, name: str, objects: dict[str, _Object]
) -> tuple[pl.Expr, pl.Expr]:
    """The child of each review, through its period of care in ssd_cla_episodes; and why a
    review has none (column ``m``)."""
    episodes = objects.get("ssd_cla_episodes")
    if episodes is None or not (episodes.has("clae_cla_id") and episodes.has("clae_person_id")):
        children = pl.DataFrame(schema={"cla": pl.String, "child": pl.String, "n": pl.UInt32})
    else:
        children = (
            episodes.raw.frame.select(
                episodes.col("clae_cla_id").alias("cla"),
                episodes.col("clae_person_id").alias("child"),
            )
            .drop_nulls()
            .unique()
            .group_by("cla")
            .agg(pl.col("child").first(), pl.len().cast(pl.UInt32).alias("n"))
        )
    key = source.col(name)
    single = children.filter(pl.col("n") == 1)
    many = children.filter(pl.col("n") > 1)["cla"].implode()
    child = key.replace_strict(
        dict(zip(single["cla"].to_list(), single["child"].to_list(), strict=True)),
        default=None,
        return_dtype=pl.String,
    )
    why = (
        pl.when(key.is_null())
        .then(pl.lit("clar_cla_id is blank: the review cannot be linked to a child"))
        .when(key.is_in(many))
        .then(pl.lit("this period of care is in ssd_cla_episodes for more than one child"))
        .when(child.is_null())
        .then(pl.lit("no row of ssd_cla_episodes has this clae_cla_id (period of care)"))
        .alias("m")
    )
    return child, why


def _placement_type(source: _Object, name: str, objects: dict[str, _Object]) -> pl.Expr:
    placements = objects.get("ssd_cla_placement")
    if placements is None or not (
        placements.has("clap_cla_placement_id") and placements.has("clap_cla_placement_type")
    ):
        return pl.lit(None, pl.String)
    pairs = (
        placements.raw.frame.select(
            placements.col("clap_cla_placement_id").alias("k"),
            placements.col("clap_cla_placement_type").alias("v"),
        )
        .drop_nulls("k")
        .unique("k", keep="first")
    )
    lookup = dict(zip(pairs["k"].to_list(), pairs["v"].to_list(), strict=True))
    return source.col(name).replace_strict(lookup, default=None, return_dtype=pl.String)


def _team_name(team: pl.Expr, objects: dict[str, _Object]) -> pl.Expr:
    """A team id as ssd_department names it (the paper shows teams by name, as the local
    tables give them); the id as it is without ssd_department or when it is not there."""
    departments = objects.get("ssd_department")
    if departments is None or not (
        departments.has("dept_team_id") and departments.has("dept_team_name")
    ):
        return team
    pairs = (
        departments.raw.frame.select(
            departments.col("dept_team_id").alias("k"),
            departments.col("dept_team_name").alias("v"),
        )
        .drop_nulls()
        .unique("k", keep="first")
    )
    lookup = dict(zip(pairs["k"].to_list(), pairs["v"].to_list(), strict=True))
    return team.replace(lookup)


def _iso(text: pl.Expr) -> pl.Expr:
    """A YYYY-MM-DD or DD/MM/YYYY date as a polars Date (null when neither)."""
    return pl.coalesce(
        text.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        text.str.strptime(pl.Date, "%d/%m/%Y", strict=False),
    )


def _caseload(
    source: _Object,
    objects: dict[str, _Object],
    month: Month,
    derive: str,
    read: set[str],
) -> pl.Expr:
    """A worker's cases: distinct children with an involvement open at the month's end (from
    ssd_involvements), else the SSD's own prof_professional_caseload."""
    involvements = objects.get("ssd_involvements")
    needed = ("invo_professional_id", "invo_person_id", "invo_involvement_start_date")
    if involvements is not None and all(involvements.has(n) for n in needed):
        end = month.last_day
        start = _as_contract_form(involvements.col("invo_involvement_start_date"), ColumnType.DATE)
        ended = (
            _as_contract_form(involvements.col("invo_involvement_end_date"), ColumnType.DATE)
            if involvements.has("invo_involvement_end_date")
            else pl.lit(None, pl.String)
        )
        counts = (
            involvements.raw.frame.select(
                involvements.col("invo_professional_id").alias("w"),
                involvements.col("invo_person_id").alias("c"),
                _iso(start).alias("s"),
                _iso(ended).alias("e"),
            )
            .filter((pl.col("s") <= end) & (pl.col("e").is_null() | (pl.col("e") > end)))
            .group_by("w")
            .agg(pl.col("c").n_unique().cast(pl.String).alias("n"))
        )
        lookup = dict(zip(counts["w"].to_list(), counts["n"].to_list(), strict=True))
        worker = source.col("prof_professional_id")
        caseload = worker.replace_strict(lookup, default="0", return_dtype=pl.String)
    elif source.has("prof_professional_caseload"):
        read.add("prof_professional_caseload")
        caseload = source.col("prof_professional_caseload")
    else:
        return pl.lit(None, pl.String)
    if derive == "open-involvements":
        return caseload
    number = caseload.cast(pl.Int64, strict=False)
    return pl.when(number > 0).then(pl.lit("Y")).when(number == 0).then(pl.lit("N"))


def relabel_issues(issues: pl.DataFrame, export: SsdExport, files: dict[str, str]) -> pl.DataFrame:
    """The rows the reader flagged (an outcome dictionary it cannot read, a review with no
    child) as the report shows them: the SSD's field, its value and why, not the contract
    column the validator saw."""
    for (tname, cname), (field_name, flagged, rule) in export.relabel.items():
        if flagged.is_empty():
            continue
        mine = (
            (pl.col("file") == files[tname])
            & (pl.col("column") == cname)
            & (pl.col("rule") == rule)
        )
        joined = issues.join(
            flagged.rename({LINE: "line", "value": "__v", "m": "__m"}).with_columns(
                pl.col("line").cast(issues.schema["line"])
            ),
            on="line",
            how="left",
            maintain_order="left",
        )
        issues = joined.with_columns(
            pl.when(mine).then(pl.lit(field_name)).otherwise(pl.col("column")).alias("column"),
            pl.when(mine).then(pl.col("__v")).otherwise(pl.col("value")).alias("value"),
            pl.when(mine & pl.col("__m").is_not_null())
            .then(pl.concat_str(pl.lit(f"{field_name}: "), pl.col("__m")))
            .otherwise(pl.col("message"))
            .alias("message"),
        ).drop("__v", "__m")
    return issues


def _contract_for_ssd(contract: Contract) -> Contract:
    """The contract with the reader's own rule codes for the checks its derived columns fail:
    an outcome dictionary it cannot read, a review whose period of care names no child."""
    renamed = {
        ("contacts", "cont_contact_outcome"): {"invalid-code": OUTCOME_RULE},
        ("cla_reviews", "clar_person_id"): {"required-value": PERIOD_RULE},
    }
    tables = dict(contract.tables)
    for (tname, cname), rules in renamed.items():
        table = tables.get(tname)
        if table is None or cname not in table.columns:
            continue
        column = table.columns[cname]
        columns = {
            **table.columns,
            cname: column.model_copy(update={"rules": {**column.rules, **rules}}),
        }
        tables[tname] = table.model_copy(update={"columns": columns})
    return contract.model_copy(update={"tables": tables})


def validate_export(
    folder: Path | None,
    month: Month,
    contract: Contract,
    pipelines: ConfigFolder,
    *,
    encoding: str | None = None,
    max_quarantine: float = 0.01,
    store: StoreHeld | None = None,
    database: Database | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[ExtractResult, dict[str, int]]:
    """An SSD export validated as the extract closing ``month``, and what was not loaded;
    with ``store``, references the export lacks are looked up in what the store holds.

    The export is the folder's files or, with ``database``, the SSD's tables read from it
    (the password from ``environ``), with the folder, if any, giving local tables beside."""
    mapping = load_ssd_mapping(pipelines)
    if database is None:
        assert folder is not None, "an SSD export is a folder or a database"
        gathered = _gather_folder(folder, contract, encoding)
        extract = folder.name
    else:
        from safeguard.ingest.sources.database import connected

        with connected(database, environ if environ is not None else {}) as connection:
            gathered = _gather_database(connection, database.schema, contract, mapping)
        if folder is not None:
            gathered = _beside(
                gathered, _gather_folder(folder, contract, encoding), database.label, mapping
            )
        extract = database.label
    export = _mapped(gathered, month, contract, mapping)
    as_at_month_end(export, month, contract, gathered.from_database)
    result = validate_read(
        export.raws,
        export.problems,
        export.files,
        month,
        _contract_for_ssd(contract),
        extract=extract,
        max_quarantine=max_quarantine,
        missing_tables=sorted(set(contract.tables) - set(export.files)),
        encoding=encoding,
        store=store,
    )
    result.report.issues = relabel_issues(result.report.issues, export, export.files)
    for table in result.tables.values():
        table.issues = relabel_issues(table.issues, export, export.files)
    return result, export.not_loaded


def ssd_mapping_problems(mapping: SsdMapping, contract: Contract) -> list[str]:
    """What in the SSD mapping does not fit: the returns' checks (tables and columns of the
    contract), plus objects and fields the SSD does not have and outcome codes the contract
    does not know."""
    problems = mapping_problems(mapping, contract)
    for tname, tmap in mapping.tables.items():
        fields = OBJECTS.get(tmap.source)
        if fields is None:
            problems.append(f"{FORMAT}: {tname} reads {tmap.source}, which is not an SSD object")
            continue
        for cname, fmap in tmap.columns.items():
            if not isinstance(fmap.source, str) or fmap.source.lower() not in fields:
                problems.append(
                    f"{FORMAT}: {tname}.{cname} reads {fmap.source!r}, not a field of {tmap.source}"
                )
    codes = contract.codes["contact_outcome"].codes if "contact_outcome" in contract.codes else {}
    for one in mapping.outcome_flags:
        if one.code not in codes:
            problems.append(f"{FORMAT}: outcome flag {one.flag} gives {one.code}, not a code")
    return problems
