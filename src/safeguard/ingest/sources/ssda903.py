"""Read an SSDA903 return (the DfE looked-after children collection) from its CSV tables.

A 903 return is one CSV per table: header (one row per child), episodes (one row per episode
of care), reviews, and tables the contract has no place for (uasc, oc2, oc3, missing, ...).
A folder may hold one year, its files named ``<table>.csv``, or several years, named
``<YYYY>-<table>.csv``, ``<table>_<YYYY>.csv`` or with ``<YYYY>-<YY>`` (the financial year,
read as the year it ends). A table is recognised by its file name and by its header columns;
when both speak they must agree.

The 903 year Y runs from 1 April Y-1 to 31 March Y. Which year a set of files holds is read
from the data, because councils name returns by either end: the public sample's
``2019-episodes.csv`` holds April 2019 to March 2020, where another council's
``SSDA903_2020`` is the same year. Files are grouped by the year in their names (files named
for one year belong together); a group's year is the one in which most episode end dates
(DEC) fall: every episode a 903 return shows as ended ended in its year, so one mistyped date
cannot move it, as it could move the latest date. Without any end date it is the year of the
latest episode start, then of the latest review; without any date, the name's year. A name
year N agrees with the data when the data say N or N+1 (``2019-20`` names only one); otherwise
the data's year is used and a ``year-mismatch`` warning says so. The files named without a
year take the year of ``month`` when given (a contradiction with the data is a warning), else
the data's year, said in a warning. Two groups holding one year are refused.

The mapping to contract columns is ``pipelines/sources/ssda903.yaml``; this module only
knows what is true of every 903 return: the tables and their columns, which fields are
dates, and how files are named.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from safeguard.errors import ConfigError, DataError
from safeguard.ingest.csvfile import FileProblem, RawCsv, read_csv_bytes, sha256_of
from safeguard.ingest.report import file_issue
from safeguard.ingest.sources.base import (
    LINE,
    Converted,
    SourceMapping,
    SourceTable,
    TableMap,
    record_ids,
)
from safeguard.periods import Month
from safeguard.schema import Severity

FORMAT = "ssda903"

# every 903 table and its columns (DfE 903 specification, as data-to-insight's validator has it)
TABLES: dict[str, tuple[str, ...]] = {
    "header": ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"),
    "episodes": (
        "CHILD",
        "DECOM",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "DEC",
        "REC",
        "REASON_PLACE_CHANGE",
        "HOME_POST",
        "PL_POST",
        "URN",
    ),
    "reviews": ("CHILD", "DOB", "REVIEW", "REVIEW_CODE"),
    "uasc": ("CHILD", "SEX", "DOB", "DUC"),
    "oc2": (
        "CHILD",
        "DOB",
        "SDQ_SCORE",
        "SDQ_REASON",
        "CONVICTED",
        "HEALTH_CHECK",
        "IMMUNISATIONS",
        "TEETH_CHECK",
        "HEALTH_ASSESSMENT",
        "SUBSTANCE_MISUSE",
        "INTERVENTION_RECEIVED",
        "INTERVENTION_OFFERED",
    ),
    "oc3": ("CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"),
    "ad1": (
        "CHILD",
        "DOB",
        "DATE_INT",
        "DATE_MATCH",
        "FOSTER_CARE",
        "NB_ADOPTR",
        "SEX_ADOPTR",
        "LS_ADOPTR",
    ),
    "placed_adoption": (
        "CHILD",
        "DOB",
        "DATE_PLACED",
        "DATE_PLACED_CEASED",
        "REASON_PLACED_CEASED",
    ),
    "prev_perm": ("CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"),
    "missing": ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"),
    "sw_episodes": ("CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"),
    "dolo": ("CHILD", "DOB", "DOLO_START", "DOLO_END"),
}
# a header is recognised by the columns only one table has (all share CHILD, most DOB)
_SHARED = frozenset({"CHILD", "SEX", "DOB"})
SIGNATURES: dict[str, frozenset[str]] = {
    name: frozenset(columns) - _SHARED for name, columns in TABLES.items()
}
# file names, lower-cased with separators removed, that name a table
NAMES: dict[str, str] = {
    **{name.replace("_", ""): name for name in TABLES},
    "episode": "episodes",
    "review": "reviews",
    "placedforadoption": "placed_adoption",
    "previouspermanence": "prev_perm",
    "socialworkerepisodes": "sw_episodes",
    "dolos": "dolo",
    "deprivationofliberty": "dolo",
}
DATE_FIELDS = frozenset(
    {
        "DOB",
        "MC_DOB",
        "DECOM",
        "DEC",
        "REVIEW",
        "DUC",
        "DATE_INT",
        "DATE_MATCH",
        "DATE_PLACED",
        "DATE_PLACED_CEASED",
        "DATE_PERM",
        "MIS_START",
        "MIS_END",
        "SW_DECOM",
        "SW_DEC",
        "DOLO_START",
        "DOLO_END",
    }
)
UK_DATE = r"^\d{2}/\d{2}/\d{4}$"
_YEAR = re.compile(r"^(19|20)\d{2}$")
_SNIFF_BYTES = 65536
_SNIFF_FILE_BYTES = 4096


@dataclass
class _File:
    """One file of the folder: its name, year and table, and its records if readable."""

    name: str
    data: bytes
    year: int | None  # from the file name
    table: str | None = None
    span: bool = False  # the name gives a financial year (2019-20), not a single year
    collection: int | None = None  # the 903 year the file is read in, once decided
    raw: RawCsv | None = None
    columns: dict[str, int] = field(default_factory=dict)  # upper-cased heading -> position
    problems: list[dict[str, Any]] = field(default_factory=list)
    usable: bool = False  # read, recognised and holding every column the mapping needs
    stray: bool = False  # reported with a year it was not found to belong to
    clashed: bool = False  # its group holds the same 903 year as another group
    is_file: bool = True  # False for a folder found beside the files


# --- names, headers, dates ---------------------------------------------------------------


def collection_year(month: Month) -> int:
    """The 903 year a month falls in: April to March, named by the year it ends."""
    return month.year if month.month <= 3 else month.year + 1


class FileName(NamedTuple):
    """What a file name says: its year (None if none), the 903 table it names (None if not
    a table name) and whether the year was a financial year such as ``2019-20``."""

    year: int | None
    table: str | None
    span: bool


def parse_name(name: str) -> FileName:
    """Read a file name. ``2019-20`` and ``2019_2020`` read as 2020, the year they end."""
    tokens = [t for t in re.split(r"[^0-9A-Za-z]+", Path(name).stem) if t]
    year: int | None = None
    span = False
    rest = list(tokens)
    for i, token in enumerate(tokens):
        if not _YEAR.match(token):
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if following.isdigit() and int(following) in (int(token) + 1, (int(token) + 1) % 100):
            year, span, rest = int(token) + 1, True, tokens[:i] + tokens[i + 2 :]
        else:
            year, rest = int(token), tokens[:i] + tokens[i + 1 :]
        break
    if year is not None and any(_YEAR.match(t) for t in rest):
        year, span, rest = None, False, tokens  # two years: say neither
    stem = "".join(rest).lower()
    for prefix in ("ssda903", "903"):
        if stem.startswith(prefix) and stem != prefix:
            stem = stem[len(prefix) :]
    return FileName(year, NAMES.get(stem), span)


def recognise(columns: set[str]) -> str | None:
    """The 903 table whose own columns the (upper-cased) header holds most of, if one."""
    if "CHILD" not in columns:
        return None
    scores = {name: len(signature & columns) for name, signature in SIGNATURES.items()}
    best = max(scores.values())
    winners = [name for name, score in scores.items() if score == best]
    return winners[0] if best and len(winners) == 1 else None


def _header_names(head: bytes) -> set[str]:
    first = head.decode("utf-8-sig", errors="replace").splitlines()[0] if head.strip() else ""
    return {name.strip().upper() for name in next(csv.reader([first]), [])}


def uk_date(expr: pl.Expr) -> pl.Expr:
    """DD/MM/YYYY that is a real date as YYYY-MM-DD; anything else unchanged."""
    parsed = pl.when(expr.str.contains(UK_DATE)).then(
        expr.str.strptime(pl.Date, "%d/%m/%Y", strict=False)
    )
    return pl.when(parsed.is_not_null()).then(parsed.dt.strftime("%Y-%m-%d")).otherwise(expr)


def _as_date(expr: pl.Expr) -> pl.Expr:
    """A 903 (or ISO) date as a polars Date, null when it is neither."""
    text = uk_date(expr.str.strip_chars())
    return pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
        text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    )


def _text(expr: pl.Expr) -> pl.Expr:
    trimmed = expr.str.strip_chars()
    return pl.when(trimmed == "").then(None).otherwise(trimmed)


# --- reading the folder --------------------------------------------------------------------


def _header_only(data: bytes) -> RawCsv:
    """A table with a header and no rows (a 903 table can be empty)."""
    text = data.decode("utf-8-sig", errors="replace")
    header = next(csv.reader([text.splitlines()[0]]))
    frame = pl.DataFrame(
        schema={**{str(i): pl.String() for i in range(len(header))}, LINE: pl.UInt32()}
    )
    return RawCsv(header=header, frame=frame, sha256=sha256_of(data), blank_lines=0)


def _load(path: Path, needed: dict[str, list[list[str]]]) -> _File:
    """Read one file, recognise its table and check it has the columns the mapping reads."""
    data = path.read_bytes()
    year, named, span = parse_name(path.name)
    found = _File(name=path.name, data=data, year=year, table=named, span=span)

    def problem(rule: str, message: str, **where: Any) -> None:
        found.problems.append(file_issue(path.name, rule, f"{path.name} {message}", **where))

    if path.suffix.lower() != ".csv":
        if named is None:
            problem(
                "unknown-file",
                "is not a CSV file, so not a 903 table: it is not read",
                severity=Severity.WARNING,
            )
        else:
            problem(
                "not-csv",
                f"is not a CSV file: save the 903 {named} table as "
                "'CSV UTF-8 (Comma delimited) (*.csv)'",
            )
        return found
    try:
        found.raw = read_csv_bytes(data)
    except FileProblem as fault:
        if fault.rule != "header-only":
            problem(fault.rule, fault.message, line=fault.line, value=fault.value)
            return found
        found.raw = _header_only(data)
    header = [name.strip().lstrip("\ufeff").upper() for name in found.raw.header]
    for index, name in enumerate(header):
        if not name:  # a blank heading (a trailing comma from Excel): nothing to read
            continue
        if name in found.columns:
            problem(
                "duplicate-column",
                f"has two {name} columns (columns {found.columns[name] + 1} and {index + 1})",
                line=1,
                column=name,
            )
            return found
        found.columns[name] = index
    by_header = recognise(set(header))
    if named is not None and by_header is not None and named != by_header:
        problem(
            "table-mismatch",
            f"is named as the 903 {named} table but its columns are those of the "
            f"{by_header} table: rename the file or check it is the right one",
            line=1,
        )
        return found
    found.table = named or by_header
    if found.table is None:
        problem(
            "unknown-file",
            "is not a 903 table (neither its name nor its columns match one): it is not read; "
            "903 tables are " + ", ".join(TABLES),
            line=1,
            severity=Severity.WARNING,
        )
        return found
    wanted = needed.get(found.table, [])
    # none of the fields a table must have among the first line's: it is most likely a record
    # (the header row left out), so its fields, a child's id among them, are not echoed
    headed = any(name in found.columns for spellings in wanted for name in spellings)
    shown = (
        f"headings found: {', '.join(h.strip() for h in found.raw.header)}"
        if headed
        else "no field of the first line is a 903 heading: is the header row missing? Its "
        "fields are not shown, as they may be a child's record"
    )
    for spellings in wanted:
        if not any(name in found.columns for name in spellings):
            problem(
                "missing-column",
                f"lacks column {spellings[0]}, which the 903 {found.table} table must have "
                f"({shown})",
                line=1,
                column=spellings[0],
            )
    found.usable = not found.problems
    return found


def _needed(mapping: SourceMapping) -> dict[str, list[list[str]]]:
    """For each 903 table the mapping reads, the fields it needs (each with its spellings)."""
    needed: dict[str, list[list[str]]] = {}
    for tname, tmap in mapping.tables.items():
        if tmap.source not in TABLES:
            raise ConfigError(
                f"{FORMAT} mapping: table {tname} reads from {tmap.source!r}, which is not a "
                f"903 table ({', '.join(TABLES)})"
            )
        unsourced = [c for c, f in tmap.columns.items() if f.source is None and f.constant is None]
        if len(unsourced) != (0 if tmap.id is None else 1):
            raise ConfigError(
                f"{FORMAT} mapping: table {tname} needs exactly one column without a source "
                f"(to hold its id) when it has an id recipe, and none otherwise; it has "
                f"{', '.join(unsourced) or 'none'}"
            )
        for fmap in tmap.columns.values():
            if fmap.source is not None:
                spellings = [fmap.source] if isinstance(fmap.source, str) else fmap.source
                needed.setdefault(tmap.source, []).append([s.upper() for s in spellings])
    return needed


def _dates(found: _File, fields: tuple[str, ...]) -> pl.DataFrame:
    """Column ``d``: the latest valid date of ``fields`` on each row of ``found``."""
    assert found.raw is not None
    present = [str(found.columns[f]) for f in fields if f in found.columns]
    if not present:
        return pl.DataFrame(schema={"d": pl.Date})
    return found.raw.frame.select(
        pl.max_horizontal([_as_date(pl.col(c)) for c in present]).alias("d")
    )


LONE_YEARS = 5  # a single episode start this many years after all others is a typing error


def _year_from_dates(files: list[_File]) -> tuple[int, str] | None:
    """The 903 year of ``files`` told from their dates, and why (None: no date to tell)."""

    def dates(table: str, fields: tuple[str, ...]) -> pl.Series:
        frames = [_dates(f, fields) for f in files if f.table == table and f.raw is not None]
        return pl.concat(frames)["d"].drop_nulls() if frames else pl.Series("d", [], pl.Date)

    d = pl.col("d")
    # collection_year as an expression: April to March, named by the year it ends
    year_of = pl.when(d.dt.month() >= 4).then(d.dt.year() + 1).otherwise(d.dt.year())
    ends = dates("episodes", ("DEC",))
    if ends.len():
        counts = (
            ends.to_frame()
            .group_by(year_of)
            .len()
            # a tie goes to the earlier year: a date after a return's year is an error the
            # validator quarantines, and must not carry the return a year on
            .sort(["len", "d"], descending=[True, False])
        )
        year, count = counts.row(0)
        return int(year), f"{count} of the {ends.len()} episode end dates (DEC) fall in it"
    # only episodes place a return: reviews (and every other table) are held for whichever
    # year their episodes or name say. The latest start's year places it, unless that start
    # is alone in its year and more than LONE_YEARS after every other: one date typed years
    # ahead is an error (its row is quarantined as after the return's year), never a year.
    # (No clock is read: the library never does.)
    starts = dates("episodes", ("DECOM",))
    if starts.len():
        years = (
            starts.to_frame()
            .group_by(year_of)
            .agg(pl.len().alias("n"), d.max().alias("latest"))
            .sort("d", descending=True)
        )
        rows = years.rows()
        while len(rows) > 1 and rows[0][1] == 1 and rows[0][0] - rows[1][0] > LONE_YEARS:
            rows = rows[1:]  # a lone start years ahead of the rest: a typing error
        year, _, latest = rows[0]
        return int(year), (
            f"the latest episode start date (DECOM), {latest.isoformat()}, falls in it"
        )
    return None


# --- mapping one table ---------------------------------------------------------------------


def map_table(found: _File, tmap: TableMap) -> SourceTable:
    """A usable 903 file's rows as the contract table ``tmap`` fills: text, dates ISO."""
    assert found.raw is not None
    expressions: list[pl.Expr] = []
    sources: dict[str, str] = {}
    id_column: str | None = None
    for cname, fmap in tmap.columns.items():
        if fmap.constant is not None:
            expressions.append(pl.lit(fmap.constant, pl.String).alias(cname))
            sources[cname] = f"(constant {fmap.constant})"
            continue
        if fmap.source is None:
            id_column = cname
            continue
        spellings = [fmap.source] if isinstance(fmap.source, str) else fmap.source
        heading = next(s.upper() for s in spellings if s.upper() in found.columns)
        value = _text(pl.col(str(found.columns[heading])))
        if heading in DATE_FIELDS:
            value = uk_date(value)
        if fmap.values:
            value = value.replace(fmap.values)
        expressions.append(value.cast(pl.String).alias(cname))
        sources[cname] = heading
    frame = found.raw.frame.select(*expressions, pl.col(LINE).cast(pl.UInt32))
    if tmap.id is not None and id_column is not None:  # both or neither: see _needed
        frame = frame.with_columns(record_ids(frame, tmap.id).alias(id_column))
        sources[id_column] = "+".join(sources.get(part, part) for part in tmap.id.parts)
    return SourceTable(
        file=found.name,
        frame=frame.select(*tmap.columns, LINE),
        columns={c: sources[c] for c in tmap.columns},
    )


# --- the interface -------------------------------------------------------------------------


def sniff(path: Path) -> bool:
    """True when ``path`` (a folder, or one CSV file) holds a CSV whose header is a 903
    table's; reads at most 64 KB and never raises."""
    try:
        if path.is_dir():
            candidates = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv"
            )
        else:
            candidates = [path]
        budget = _SNIFF_BYTES
        for candidate in candidates:
            if budget <= 0:
                break
            with candidate.open("rb") as handle:
                head = handle.read(min(_SNIFF_FILE_BYTES, budget))
            budget -= len(head)
            if recognise(_header_names(head)) is not None:
                return True
    except (OSError, ValueError, csv.Error):
        return False
    return False


def read(path: Path, mapping: SourceMapping, *, month: Month | None = None) -> list[Converted]:
    """Every collection year in the folder (or the one file) ``path``, one ``Converted``
    each, oldest first. ``month`` names the year of files whose names give none."""
    if not path.exists():
        raise DataError(f"{path}: not found")
    paths = (
        sorted(p for p in path.iterdir() if not p.name.startswith(".")) if path.is_dir() else [path]
    )
    needed = _needed(mapping)
    files = [_load(p, needed) for p in paths if p.is_file()]
    for folder in (p for p in paths if p.is_dir()):
        year = parse_name(folder.name).year
        files.append(_File(name=folder.name, data=b"", year=year, is_file=False))
        files[-1].problems.append(
            file_issue(
                folder.name,
                "unknown-file",
                f"{folder.name} is a folder: it is not read (give each year's folder on its "
                "own, or put the years' files side by side named <YYYY>-<table>.csv)",
                severity=Severity.WARNING,
            )
        )

    # the 903 tables grouped by the year in their names (None: named without one)
    groups: dict[int | None, list[_File]] = {}
    for found in files:
        if found.table is not None:
            groups.setdefault(found.year, []).append(found)
    resolved: dict[int | None, int] = {}  # name year -> 903 year
    said: dict[int, list[dict[str, Any]]] = {}  # 903 year -> how it was decided
    for key in sorted(groups, key=_group_order):
        year, why = _group_year(key, groups[key], month, path.name)
        if year is not None:
            resolved[key] = year
            said.setdefault(year, []).extend(why)
    keys_of: dict[int, list[int | None]] = {}
    for key, year in resolved.items():
        keys_of.setdefault(year, []).append(key)
    for year, keys in keys_of.items():
        if len(keys) > 1:
            said[year].append(_clash(year, keys, groups, path.name))
            for found in (f for key in keys for f in groups[key]):
                found.usable, found.clashed = False, True

    years = sorted(keys_of)
    if not years:
        problems = [p["message"] for f in files for p in f.problems]
        if None in groups:
            problems.append(
                "cannot tell which 903 year the files belong to (only episodes, or a year in "
                "the file name, place a 903 table; review dates never do): name them "
                "<YYYY>-<table>.csv (YYYY the year the return ends on 31 March) or give "
                "--year YYYY"
            )
        raise DataError(
            f"{path}: no year of SSDA903 tables could be read"
            + (": " + "; ".join(problems) if problems else "")
        )
    for found in files:
        found.collection = resolved.get(found.year)
        if found.collection is not None:
            continue
        if found.table is not None:  # a 903 table whose year cannot be told
            found.problems.append(
                file_issue(
                    found.name,
                    "no-year",
                    f"{found.name} cannot be placed in a 903 year: name it "
                    f"<YYYY>-{found.table}.csv (YYYY the year the return ends on 31 March) "
                    "or give --year YYYY",
                )
            )
        found.usable, found.stray = False, True
        found.collection = years[-1]  # reported with the latest year's return
    return [
        _convert(
            year,
            [f for f in files if f.collection == year],
            mapping,
            path.name,
            said[year],
        )
        for year in years
    ]


def _group_order(key: int | None) -> tuple[int, int]:
    """Named years in order, then the files named without a year."""
    return (1, 0) if key is None else (0, key)


def _spoken(year: int) -> str:
    return f"{year - 1}/{year} (the 903 year ending 31 March {year})"


def _group_name(key: int | None, members: list[_File]) -> str:
    """How a message names a group of files: its name year and its files."""
    names = ", ".join(f.name for f in members)
    if key is None:
        return f"the files with no year in their names ({names})"
    named = f"{key - 1}-{key % 100:02d}" if all(f.span for f in members) else str(key)
    return f"the files named for {named} ({names})"


def _group_year(
    key: int | None, members: list[_File], month: Month | None, folder: str
) -> tuple[int | None, list[dict[str, Any]]]:
    """The 903 year of one group of files (None if it cannot be told), with the warnings
    that say how it was told where that is not plain."""
    told = _year_from_dates(members)
    group = _group_name(key, members)

    def warning(rule: str, message: str) -> list[dict[str, Any]]:
        return [file_issue(folder, rule, message, severity=Severity.WARNING)]

    if key is None:
        if month is not None:
            year = collection_year(month)
            if told is None or told[0] == year:
                return year, []
            return year, warning(
                "year-mismatch",
                f"{folder}: the month given, {month}, puts {group} in "
                f"{_spoken(year)}, but their dates say {_spoken(told[0])}, as {told[1]}: "
                f"read as the year the month says; check the month, or name the files "
                f"{told[0]}-<table>.csv",
            )
        if told is None:
            return None, []
        year, why = told
        return year, warning(
            "year-from-dates",
            f"{folder} has no year in its file names and no month was given: read as the 903 "
            f"year ending 31 March {year}, as {why}; name the files {year}-<table>.csv or give "
            "the month to say otherwise",
        )
    if told is None:
        return key, warning(
            "year-from-name",
            f"{folder}: {group} hold no date to tell their year by: read as "
            f"{_spoken(key)}, as the name says; a file named for the year its return starts "
            "in would be read a year early",
        )
    year, why = told
    # councils name a return by the year it ends (SSDA903_2020 for 2019/20) or the one it
    # starts (2019-episodes.csv for 2019/20): both agree; a financial year names only one
    if year == key or (year == key + 1 and not all(f.span for f in members)):
        return year, []
    return year, warning(
        "year-mismatch",
        f"{folder}: the file name says {key} but the dates say {year - 1}/{year}: {group} "
        f"are read as the 903 year ending 31 March {year}, as {why}; check they are the "
        "year you meant",
    )


def _clash(
    year: int, keys: list[int | None], groups: dict[int | None, list[_File]], folder: str
) -> dict[str, Any]:
    """The error for groups of files that all hold the same 903 year."""
    named = " and ".join(_group_name(key, groups[key]) for key in keys)
    return file_issue(
        folder,
        "year-clash",
        f"{folder}: {named} all hold {_spoken(year)}, by their dates: none of them is read; "
        "keep one set of files for each year, or check that each set is the year its name says",
    )


def _convert(
    year: int,
    files: list[_File],
    mapping: SourceMapping,
    folder: str,
    said: list[dict[str, Any]],
) -> Converted:
    """One collection year's files as a ``Converted``."""
    problems = [*said, *(p for f in files for p in f.problems)]
    by_table: dict[str, list[_File]] = {}
    for found in files:
        if found.table is not None and not found.stray:
            by_table.setdefault(found.table, []).append(found)
    for table, copies in by_table.items():
        if len(copies) > 1 and not any(f.clashed for f in copies):
            names = ", ".join(f.name for f in copies)
            problems.append(
                file_issue(
                    copies[1].name,
                    "duplicate-file",
                    f"{names} all hold the 903 {table} table for {year}: keep one "
                    "(none of them is read)",
                )
            )
            for found in copies:
                found.usable = False
    usable = {f.table: f for f in files if f.usable and f.table is not None}

    tables: dict[str, SourceTable] = {}
    for tname, tmap in mapping.tables.items():
        if tmap.source in usable:
            tables[tname] = map_table(usable[tmap.source], tmap)
        elif tmap.source not in by_table:
            problems.append(
                file_issue(
                    folder,
                    "missing-table",
                    f"{folder} has no 903 {tmap.source} table for {year} (a file such as "
                    f"{year}-{tmap.source}.csv): no {tname} rows come from this return",
                    severity=Severity.WARNING,
                )
            )
    not_loaded = {
        table: found.raw.frame.height
        for table, found in usable.items()
        if found.raw is not None and table not in {t.source for t in mapping.tables.values()}
    }
    return Converted(
        format=FORMAT,
        label=f"{FORMAT}-{year}",
        period=Month(year, 3),
        first=Month(year - 1, 4),
        tables=tables,
        problems=problems,
        checksums={f.name: sha256_of(f.data) for f in files if f.is_file},
        not_loaded=dict(sorted(not_loaded.items())),
    )
