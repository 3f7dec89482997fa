"""Read an Ofsted Annex A workbook (.xlsx) into the monthly extract contract's tables.

One sheet per list. Sheets are matched to lists by name ("List 1", "L1 Contacts",
"Contacts"...) and, failing that, by their headings; the heading row is found among the
first rows (title rows above it are normal) and headings match the mapping's accepted
spellings after removing case, spaces and punctuation. Which list fills which table, and how
each heading maps to a column, is declared in ``pipelines/sources/annex-a.yaml``; the human
page is ``docs/formats/annex-a.md``.

The workbook is streamed (openpyxl read-only): each sheet's rows are read once, in order,
keeping only the cells of the headings the mapping reads, with the row numbers Excel shows.
Cell values become text once, as their column lists are built; everything after that is
polars. Nothing is corrected: a value the contract will not accept is passed through for the
validator to report against its sheet and row.
"""

from __future__ import annotations

import html
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain, islice
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl

from safeguard.errors import ConfigError
from safeguard.ingest.csvfile import sha256_of_file
from safeguard.ingest.report import file_issue
from safeguard.ingest.sources.base import (
    LINE,
    Converted,
    FieldMap,
    SourceMapping,
    SourceTable,
    TableMap,
    record_ids,
)
from safeguard.ingest.validate import ANNEX_A_PREFIX, normalise_code
from safeguard.periods import Month
from safeguard.schema import Severity

FORMAT = "annex-a"

ALL_LISTS = "all lists"  # a table ``source`` meaning: the common child fields of every list
SCAN_ROWS = 30  # the heading row is looked for among a sheet's first rows
# limits: far above any real Annex A return, far below what would exhaust a machine
MAX_COLUMNS = 200  # cells read per row (a list has about 30 columns; a stray cell at XFD
# would otherwise make every row 16,384 cells wide)
MAX_LIST_ROWS = 250_000  # rows of one list (a large authority's contacts for a year: ~60,000)
MAX_UNZIPPED = 512 * 2**20  # bytes the workbook's parts unpack to
BATCH_ROWS = 20_000
SNIFF_BYTES = 64 * 1024
WINDOW_LISTS = (1, 3)  # every contact and referral received in the window (others: open cases)
DEFAULT_WINDOW = 6  # months Annex A lists cover when no contact or referral gives the start
MAX_WINDOW = 12  # months: the longest Annex A window (Lists 10 and 11)
# period of a workbook refused before any date was read, when no month was given
UNKNOWN_PERIOD = Month(1900, 1)

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls, or an .xlsx with a password
ZIP_MAGIC = b"PK\x03\x04"

_LIST_NUMBER = re.compile(r"(?<![a-z0-9])(?:list|l)\s*[-_.:#]?\s*(\d{1,2})(?!\d)", re.IGNORECASE)
_SOURCE_LIST = re.compile(r"^\s*list\s+(\d{1,2})\b", re.IGNORECASE)
# words in a sheet name that name a list, tried in this order (the more specific first)
LIST_WORDS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (11, ("adopters", "adopter")),
    (10, ("adoption", "adoptions", "adopted", "adopted children")),
    (9, ("care leavers", "care leaver", "leaving care")),
    (2, ("early help", "eh")),
    (6, ("children in need", "child in need", "cin")),
    (8, ("children in care", "child in care", "looked after", "cla", "lac")),
    (7, ("child protection", "cp", "cpp", "cp plans")),
    (5, ("section 47", "section47", "s47", "s47s", "icpc", "icpcs")),
    (4, ("assessments", "assessment")),
    (3, ("referrals", "referral")),
    (1, ("contacts", "contact")),
)
# sheets of Ofsted's template that are not lists (Guidance, FAQ_and_changes, Codes_used...)
TEMPLATE_WORDS = (
    "guidance",
    "faq",
    "codes",
    "codes used",
    "notes",
    "contents",
    "cover",
    "instructions",
    "readme",
    "changes",
    "lookups",
)

OLD_EXCEL_ADVICE = (
    "this is an old-format Excel workbook (.xls) or a password-protected one, which cannot be "
    "read: open it in Excel, remove any password, save it as 'Excel Workbook (*.xlsx)' and "
    "load the .xlsx"
)
UNREADABLE_ADVICE = (
    "check that it opens in Excel, save it again as 'Excel Workbook (*.xlsx)' and load that copy"
)


# --- the mapping, arranged by list ---------------------------------------------------------


def heading_key(text: str) -> str:
    """A heading reduced to what is compared: lower case, letters and digits only.

    The extract validator's header match ignores case and spacing; Annex A headings also vary
    in punctuation ("Referral NFA?", "Child's Legal Status", "Date_of_Contact"), so that goes too.
    """
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def spellings(field_map: FieldMap) -> list[str]:
    """A column's accepted headings, the official one first."""
    source = field_map.source
    if source is None:
        return []
    return [source] if isinstance(source, str) else list(source)


def id_column(table_map: TableMap) -> str:
    """The table's id column: the first column of its map."""
    return next(iter(table_map.columns))


def _suffix(column: str) -> str:
    """A column name without its table prefix: ``icpc_s47_enquiry_id`` -> ``s47_enquiry_id``."""
    return column.split("_", 1)[1] if "_" in column else column


@dataclass(frozen=True)
class _Plan:
    mapping: SourceMapping
    lists: dict[int, list[str]]  # list number -> tables filled from it, in the mapping's order
    common: list[str]  # tables filled from every loaded list ("all lists")
    not_loaded: dict[int, str]  # list number -> its not_loaded key

    @classmethod
    def of(cls, mapping: SourceMapping) -> _Plan:
        lists: dict[int, list[str]] = {}
        common: list[str] = []
        for name, table_map in mapping.tables.items():
            if table_map.source.strip().lower() == ALL_LISTS:
                common.append(name)
                continue
            match = _SOURCE_LIST.match(table_map.source)
            if match is None:
                raise ConfigError(
                    f"sources/{FORMAT}.yaml: tables.{name}.source: expected 'List N ...' or "
                    f"'{ALL_LISTS}', got {table_map.source!r}"
                )
            lists.setdefault(int(match.group(1)), []).append(name)
        not_loaded: dict[int, str] = {}
        for key in mapping.not_loaded:
            match = _SOURCE_LIST.match(key)
            if match is None:
                raise ConfigError(
                    f"sources/{FORMAT}.yaml: not_loaded.{key}: expected a key 'List N ...'"
                )
            not_loaded[int(match.group(1))] = key
        return cls(mapping, lists, common, not_loaded)

    def tables_of(self, number: int) -> list[str]:
        """Every table a sheet of this list feeds: its own, then the common ones."""
        return [*self.lists.get(number, []), *self.common]

    def headings_of(self, number: int) -> dict[str, list[tuple[str, str]]]:
        """Heading key -> the (table, column) pairs it fills, for a sheet of this list."""
        found: dict[str, list[tuple[str, str]]] = {}
        for table in self.tables_of(number):
            for column, field_map in self.mapping.tables[table].columns.items():
                for spelling in spellings(field_map):
                    pairs = found.setdefault(heading_key(spelling), [])
                    if (table, column) not in pairs:
                        pairs.append((table, column))
        return found

    def required_of(self, number: int) -> list[tuple[str, str]]:
        """The (table, column) pairs a sheet of this list cannot do without: the headings of
        every natural key (the child and the record's date)."""
        return [
            (table, column)
            for table in self.tables_of(number)
            for column in self.mapping.tables[table].natural_key
            if spellings(self.mapping.tables[table].columns[column])
        ]


# --- sheets ---------------------------------------------------------------------------------


def list_of_sheet(name: str) -> int | None:
    """The Annex A list a sheet's name names (1 to 11), or None."""
    match = _LIST_NUMBER.search(name)
    if match is not None:
        number = int(match.group(1))
        return number if 1 <= number <= 11 else None
    words = " " + " ".join(re.findall(r"[a-z0-9]+", name.lower())) + " "
    for number, names in LIST_WORDS:
        if any(f" {phrase} " in words for phrase in names):
            return number
    return None


def _is_template_sheet(name: str) -> bool:
    words = " " + " ".join(re.findall(r"[a-z0-9]+", name.lower())) + " "
    return any(f" {word} " in words for word in TEMPLATE_WORDS)


def _heading_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass
class _Heading:
    line: int  # the Excel row of the heading row (0: none found)
    texts: list[str]  # every heading as written, by column position
    positions: dict[tuple[str, str], int]  # (table, column) -> column position
    score: int  # headings of the list recognised


def _find_heading(rows: Sequence[Sequence[Any]], number: int, plan: _Plan) -> _Heading:
    """The row among ``rows`` (the sheet's first rows) that best matches list ``number``'s
    headings: most recognised headings, the first of equals."""
    known = plan.headings_of(number)
    best = _Heading(0, [], {}, 0)
    for line, row in enumerate(rows, start=1):
        texts = [_heading_text(value) for value in row]
        keys = {heading_key(text) for text in texts} & set(known)
        if len(keys) > best.score:
            best = _Heading(line, texts, {}, len(keys))
    for index, text in enumerate(best.texts):
        for pair in known.get(heading_key(text), []):
            best.positions.setdefault(pair, index)
    return best


def _widest_row(rows: Sequence[Sequence[Any]]) -> int:
    """The heading row of a list the mapping has no headings for: the first widest row."""
    widths: list[int] = [len([v for v in row if _heading_text(v)]) for row in rows]
    widest = max(widths, default=0)
    return widths.index(widest) + 1 if widest else 0


def _blank(row: Sequence[Any]) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in row)


def cell_text(value: Any) -> str | None:
    """One cell as the text the contract reads: Excel dates as YYYY-MM-DD (Annex A dates have
    no time of day), whole numbers without ".0" (ids typed as numbers), True/False as Excel
    shows them; text as written; blank as None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


@dataclass
class _Sheet:
    """One list sheet, read: the cells of the headings the mapping reads, as text."""

    name: str
    number: int
    heading: _Heading
    frame: pl.DataFrame  # "c<position>" columns (String) and LINE

    def raw(self, table: str, column: str) -> str | None:
        position = self.heading.positions.get((table, column))
        return None if position is None else f"c{position}"


class TooLarge(Exception):
    """The workbook is larger than any Annex A return: refused before (or while) it is read,
    so a junk or hostile file cannot take the machine's memory."""


def _read_rows(
    rows: Iterable[Sequence[Any]], first_line: int, positions: list[int], where: str = ""
) -> pl.DataFrame:
    """The non-blank rows from ``first_line`` on, keeping the cells at ``positions``; packed
    into polars every ``BATCH_ROWS`` rows (a Python string per cell is the memory's cost).
    More than ``MAX_LIST_ROWS`` rows is ``TooLarge``."""
    frames: list[pl.DataFrame] = []
    lines: list[int] = []
    cells: list[list[str | None]] = [[] for _ in positions]
    count = 0

    def pack() -> None:
        frames.append(
            pl.DataFrame(
                {
                    **{
                        f"c{p}": pl.Series(cells[s], dtype=pl.String)
                        for s, p in enumerate(positions)
                    },
                    LINE: pl.Series(lines, dtype=pl.UInt32),
                }
            )
        )
        lines.clear()
        for column in cells:
            column.clear()

    for line, row in enumerate(rows, start=first_line):
        if _blank(row):
            continue
        count += 1
        if count > MAX_LIST_ROWS:
            raise TooLarge(
                f"{where} has more than {MAX_LIST_ROWS:,} rows, more than any Annex A list "
                "holds: the workbook is refused unread (is a sheet filled with stray rows?)"
            )
        lines.append(line)
        width = len(row)
        for slot, position in enumerate(positions):
            cells[slot].append(cell_text(row[position]) if position < width else None)
        if len(lines) >= BATCH_ROWS:
            pack()
    pack()
    return pl.concat(frames) if len(frames) > 1 else frames[0]


def _check_size(path: Path) -> None:
    """Refuse a workbook whose parts would unpack to more than ``MAX_UNZIPPED`` bytes (read
    from the zip's directory, before anything is unpacked): a zip bomb, or junk."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # openpyxl's refusal names it (annex-a-unreadable)
    if unpacked > MAX_UNZIPPED:
        raise TooLarge(
            f"unpacks to {unpacked / 2**20:,.0f} MB, more than the {MAX_UNZIPPED / 2**20:,.0f} "
            "MB an Annex A workbook needs: refused unread"
        )


@dataclass
class _Book:
    """What reading the workbook's sheets found."""

    sheets: dict[int, _Sheet] = field(default_factory=dict)  # loaded lists, by number
    counted: dict[int, int] = field(default_factory=dict)  # not-loaded lists -> rows
    empty: set[int] = field(default_factory=set)  # loaded lists whose sheet is empty
    problems: list[dict[str, Any]] = field(default_factory=list)


def _read_book(path: Path, plan: _Plan) -> _Book:
    book = _Book()
    # an open handle, not the path: openpyxl refuses a path by its extension alone. Its
    # warnings about workbook features it does not keep (data validation, conditional
    # formatting extensions) say nothing about the lists' values.
    with path.open("rb") as handle, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        try:
            for sheet in workbook.worksheets:
                # some writers record wrong dimensions; read the rows that are there
                sheet.reset_dimensions()
                rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
                _read_sheet(path.name, sheet.title, rows, plan, book)
        finally:
            workbook.close()
    return book


def _read_sheet(
    file: str, name: str, rows: Iterator[Sequence[Any]], plan: _Plan, book: _Book
) -> None:
    where = f"{file} [{name}]"
    number = list_of_sheet(name)
    if number is None and _is_template_sheet(name):
        return
    top = list(islice(rows, SCAN_ROWS))
    if number is None:
        number = _list_by_headings(top, plan)
    if number is None:
        if not _blank_sheet(top):
            book.problems.append(
                file_issue(
                    where,
                    "annex-a-unknown-sheet",
                    f"sheet {name!r} is not an Annex A list by its name or its headings: "
                    "not read (name it 'List N', for example 'List 1 - Contacts')",
                    severity=Severity.WARNING,
                )
            )
        return
    if number in book.sheets or number in book.counted or number in book.empty:
        book.problems.append(
            file_issue(
                where,
                "annex-a-duplicate-list",
                f"sheet {name!r} is a second sheet for List {number}: not read (the first is)",
                severity=Severity.WARNING,
            )
        )
        return
    if number not in plan.lists:
        _count_sheet(number, top, rows, plan, book)
        return
    if _blank_sheet(top) and all(_blank(row) for row in rows):
        book.problems.append(
            file_issue(
                where,
                "annex-a-empty-list",
                f"sheet {name!r} (List {number}) is empty: no headings and no rows",
                severity=Severity.WARNING,
            )
        )
        book.empty.add(number)
        return
    heading = _find_heading(top, number, plan)
    problems = _heading_problems(where, name, number, heading, plan)
    if problems:
        book.problems += problems
        return
    positions = sorted(set(heading.positions.values()))
    frame = _read_rows(chain(top[heading.line :], rows), heading.line + 1, positions, where)
    book.sheets[number] = _Sheet(name, number, heading, frame)


def _blank_sheet(top: Sequence[Sequence[Any]]) -> bool:
    return all(_blank(row) for row in top)


def _list_by_headings(top: Sequence[Sequence[Any]], plan: _Plan) -> int | None:
    """The loaded list whose required headings a sheet has (most headings on a tie)."""
    best: tuple[int, int] | None = None
    for number in plan.lists:
        heading = _find_heading(top, number, plan)
        if heading.score and all(pair in heading.positions for pair in plan.required_of(number)):
            own = sum(table in plan.lists[number] for table, _ in heading.positions)
            if best is None or own > best[1]:
                best = (number, own)
    return None if best is None else best[0]


def _count_sheet(
    number: int,
    top: Sequence[Sequence[Any]],
    rows: Iterator[Sequence[Any]],
    plan: _Plan,
    book: _Book,
) -> None:
    """A list with no table in the store: its non-blank rows below the headings, counted."""
    heading = _find_heading(top, number, plan)
    line = heading.line or _widest_row(top)
    count = 0
    for row in chain(top[line:], rows):
        count += not _blank(row)
        if count > MAX_LIST_ROWS:
            raise TooLarge(
                f"List {number} has more than {MAX_LIST_ROWS:,} rows, more than any Annex A "
                "list holds: the workbook is refused unread (is a sheet filled with stray rows?)"
            )
    book.counted[number] = count


def _heading_problems(
    where: str, name: str, number: int, heading: _Heading, plan: _Plan
) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    missing: list[str] = []
    for table, column in plan.required_of(number):
        if (table, column) not in heading.positions:
            official = spellings(plan.mapping.tables[table].columns[column])[0]
            if official not in missing:
                missing.append(official)
    found = ", ".join(text for text in heading.texts if text) or "none"
    for official in missing:
        problems.append(
            file_issue(
                where,
                "annex-a-missing-heading",
                f"sheet {name!r} (List {number}) has no {official!r} heading, which the list "
                f"cannot be read without (headings found: {found}); add the column with "
                "Ofsted's heading",
                line=heading.line or None,
                column=official,
            )
        )
    seen: dict[tuple[str, str], int] = {}
    known = plan.headings_of(number)
    for index, text in enumerate(heading.texts):
        for pair in known.get(heading_key(text), []):
            if pair in seen and seen[pair] != index:
                first = heading.texts[seen[pair]]
                problems.append(
                    file_issue(
                        where,
                        "annex-a-duplicate-heading",
                        f"two columns of sheet {name!r} mean {pair[1]}: {first!r} "
                        f"(column {seen[pair] + 1}) and {text!r} (column {index + 1}); "
                        "remove one",
                        line=heading.line,
                        column=pair[1],
                    )
                )
            seen.setdefault(pair, index)
    return problems


# --- tables ---------------------------------------------------------------------------------


def _value_map(series: pl.Series, values: dict[str, str]) -> dict[str, str]:
    """Each distinct raw value whose normalised form (no Annex A prefix, upper case) is a
    ``values:`` key -> its translation."""
    wanted = {normalise_code(key): code for key, code in values.items()}
    found: dict[str, str] = {}
    for value in series.drop_nulls().unique().to_list():
        code = wanted.get(normalise_code(value))
        if code is not None:
            found[value] = code
    return found


def _table_frame(sheet: _Sheet, table: str, table_map: TableMap) -> pl.DataFrame:
    """The columns of one table from a sheet: headings read (translated by ``values:``),
    constants, and blank columns for what the reader fills or Annex A lacks. A column whose
    heading the sheet does not have is left out."""
    exprs: list[pl.Expr] = []
    for column, field_map in table_map.columns.items():
        raw = sheet.raw(table, column)
        if raw is not None:
            expr = pl.col(raw)
            if field_map.values:
                mapped = _value_map(sheet.frame[raw], field_map.values)
                if mapped:
                    expr = expr.replace(mapped)
            exprs.append(expr.alias(column))
        elif field_map.constant is not None:
            exprs.append(pl.lit(field_map.constant, pl.String).alias(column))
        elif field_map.source is None:
            exprs.append(pl.lit(None, pl.String).alias(column))
    return sheet.frame.select(*exprs, pl.col(LINE))


def _with_id(frame: pl.DataFrame, table_map: TableMap) -> pl.DataFrame:
    recipe = table_map.id
    if recipe is None:
        return frame
    absent = [pl.lit(None, pl.String).alias(p) for p in recipe.parts if p not in frame.columns]
    ids = record_ids(frame.with_columns(absent), recipe)
    return frame.with_columns(ids.alias(id_column(table_map)))


def _links(table_map: TableMap, others: dict[str, TableMap]) -> dict[str, str]:
    """Blank columns of ``table_map`` that carry the id of another table read from the same
    rows (``icpc_s47_enquiry_id`` <- ``s47e_s47_enquiry_id``): column -> that table."""
    found: dict[str, str] = {}
    own_id = id_column(table_map)
    for column, field_map in table_map.columns.items():
        if column == own_id or field_map.source is not None or field_map.constant is not None:
            continue
        for other, other_map in others.items():
            if _suffix(id_column(other_map)) == _suffix(column):
                found[column] = other
    return found


def _same_list_links(plan: _Plan, table: str) -> dict[str, str]:
    """``_links`` among the tables read from the same list as ``table``."""
    for names in plan.lists.values():
        if table in names:
            others = {other: plan.mapping.tables[other] for other in names if other != table}
            return _links(plan.mapping.tables[table], others)
    return {}


def _list_tables(sheet: _Sheet, plan: _Plan) -> dict[str, pl.DataFrame]:
    """The tables read from one loaded list's rows, with ids and same-row links. A table after
    the first of its list keeps only the rows that give its natural key (a List 5 row without
    a conference date is an enquiry with no conference)."""
    names = plan.lists[sheet.number]
    maps = {name: plan.mapping.tables[name] for name in names}
    frames = {name: _with_id(_table_frame(sheet, name, maps[name]), maps[name]) for name in names}
    for name in names:
        links = _same_list_links(plan, name)
        if links:
            frames[name] = frames[name].with_columns(
                frames[other][id_column(maps[other])].alias(column)
                for column, other in links.items()
            )
    for name in names[1:]:
        key = [c for c in maps[name].natural_key if c in frames[name].columns]
        frames[name] = frames[name].filter(pl.all_horizontal(pl.col(c).is_not_null() for c in key))
    return frames


def _common_table(
    file: str, table: str, table_map: TableMap, sheets: list[_Sheet]
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """One row per natural key across every list, the first value seen of each column;
    columns with more than one value across the lists reported (counts, never ids)."""
    frames = [_table_frame(sheet, table, table_map) for sheet in sheets]
    combined = pl.concat(frames, how="diagonal")
    key = table_map.natural_key
    combined = combined.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in key))
    others = [c for c in combined.columns if c not in key and c != LINE]
    merged = combined.group_by(key, maintain_order=True).agg(
        pl.col(LINE).first(), *[pl.col(c).drop_nulls().first() for c in others]
    )
    merged = _with_id(merged, table_map)
    order = [c for c in table_map.columns if c in merged.columns]
    counts = combined.group_by(key).agg([_compared(c).drop_nulls().n_unique() for c in others])
    problems = []
    for column in others:
        conflicting = counts.filter(pl.col(column) > 1).height
        if conflicting:
            heading = (spellings(table_map.columns[column]) or [column])[0]
            problems.append(
                file_issue(
                    file,
                    "annex-a-person-conflict",
                    f"{conflicting} {'child has' if conflicting == 1 else 'children have'} "
                    f"different {heading!r} values in different lists; the first seen "
                    "(lists in number order) is kept",
                    column=column,
                    severity=Severity.WARNING,
                )
            )
    return merged.select(*order, LINE), problems


def _compared(column: str) -> pl.Expr:
    """A value as compared across lists: a date in either form as its ISO text, anything else
    without its Annex A letter prefix, spacing or case ("01/05/2010" = "2010-05-01",
    "a) Male" = "MALE")."""
    text = (
        pl.col(column)
        .str.replace(ANNEX_A_PREFIX, "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .str.to_uppercase()
    )
    return pl.coalesce(_as_dates(column).cast(pl.String), text).alias(column)


def _described(
    table: str, plan: _Plan, frame: pl.DataFrame, sheets: list[_Sheet]
) -> dict[str, str]:
    """Contract column -> where its values came from, for the report."""
    table_map = plan.mapping.tables[table]
    links = _same_list_links(plan, table)
    described: dict[str, str] = {}
    for column, field_map in table_map.columns.items():
        if column not in frame.columns:
            continue
        headings = sorted(
            {
                sheet.heading.texts[sheet.heading.positions[(table, column)]]
                for sheet in sheets
                if (table, column) in sheet.heading.positions
            }
        )
        if headings:
            described[column] = " / ".join(headings)
        elif field_map.constant is not None:
            described[column] = f"(constant {field_map.constant})"
        elif column == id_column(table_map) and table_map.id is not None:
            described[column] = f"(made from {', '.join(table_map.id.parts)})"
        elif column in links:
            described[column] = f"(the {links[column]} id of the same row)"
    return described


# --- the period ------------------------------------------------------------------------------


def _as_dates(column: str) -> pl.Expr:
    text = pl.col(column)
    return pl.coalesce(
        text.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        text.str.strptime(pl.Date, "%d/%m/%Y", strict=False),
    )


def _date_range(frames: Iterable[tuple[pl.DataFrame, list[str]]]) -> tuple[date | None, ...]:
    lows: list[date] = []
    highs: list[date] = []
    for frame, columns in frames:
        present = [c for c in columns if c in frame.columns]
        if not present or not frame.height:
            continue
        found = frame.select(
            pl.min_horizontal(_as_dates(c).min() for c in present).alias("low"),
            pl.max_horizontal(_as_dates(c).max() for c in present).alias("high"),
        )
        low, high = found["low"][0], found["high"][0]
        if low is not None:
            lows.append(low)
        if high is not None:
            highs.append(high)
    return (min(lows) if lows else None, max(highs) if highs else None)


def _period(
    tables: dict[str, pl.DataFrame], plan: _Plan, month: Month | None
) -> tuple[Month | None, Month | None]:
    """``period``: ``month`` if given, else the month of the latest date in the lists' tables
    (not ``person``: an unborn child's date of birth may be ahead). ``first``: the month of
    the earliest contact or referral date, at most 12 months before ``period``."""
    every = [
        (frame, [c for c in frame.columns if c != LINE])
        for names in plan.lists.values()
        for name in names
        if (frame := tables.get(name)) is not None
    ]
    period = month
    if period is None:
        latest = _date_range(every)[1]
        if latest is None:
            return None, None
        period = Month(latest.year, latest.month)
    window = [
        (tables[name], plan.mapping.tables[name].natural_key)
        for number in WINDOW_LISTS
        for name in plan.lists.get(number, [])
        if name in tables
    ]
    earliest = _date_range(window)[0]
    if earliest is None:
        return period, period.shift(-(DEFAULT_WINDOW - 1))
    first = Month(earliest.year, earliest.month)
    return period, min(max(first, period.shift(-(MAX_WINDOW - 1))), period)


# --- the reader --------------------------------------------------------------------------------


def _refused(
    path: Path, rule: str, message: str, checksums: dict[str, str], month: Month | None
) -> list[Converted]:
    period = month or UNKNOWN_PERIOD
    return [
        Converted(
            format=FORMAT,
            label=f"{FORMAT}-{period}" if month else f"{FORMAT}-unknown",
            period=period,
            first=period,
            tables={},
            problems=[file_issue(path.name, rule, message)],
            checksums=checksums,
        )
    ]


def sniff(path: Path) -> bool:
    """True for an .xlsx whose sheet names name Annex A lists (two lists, or one 'List N'),
    and for an old .xls that looks like one (so reading it can say how to convert it)."""
    if not path.is_file():  # a folder, or a pipe or device: never opened to look
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
        if head.startswith(OLE2_MAGIC):
            named = re.compile(r"List ?(?:[1-9]|1[01])\b")
            return (
                "annex" in path.name.lower()
                or named.search(head.decode("latin-1")) is not None
                or named.search(head.decode("utf-16-le", errors="replace")) is not None
            )
        if not head.startswith(ZIP_MAGIC):
            return False
        with zipfile.ZipFile(path) as archive, archive.open("xl/workbook.xml") as member:
            text = member.read(SNIFF_BYTES).decode("utf-8", errors="replace")
        names = [
            html.unescape(n)
            for n in re.findall(r"<(?:\w+:)?sheet\b[^>]*?\bname=\"([^\"]*)\"", text)
        ]
        numbers = {list_of_sheet(name) for name in names} - {None}
        return len(numbers) >= 2 or any(_LIST_NUMBER.search(name) for name in names)
    except Exception:  # a sniff never raises: any file that cannot be looked into is not ours
        return False


def read(path: Path, mapping: SourceMapping, *, month: Month | None = None) -> list[Converted]:
    """Read one Annex A workbook: one ``Converted`` (a workbook is one return)."""
    plan = _Plan.of(mapping)
    try:
        checksums = {path.name: sha256_of_file(path)}
        with path.open("rb") as handle:
            magic = handle.read(8)
    except OSError as exc:
        return _refused(path, "annex-a-unreadable", f"cannot be read: {exc.strerror}", {}, month)
    if magic.startswith(OLE2_MAGIC):
        return _refused(path, "annex-a-old-excel", OLD_EXCEL_ADVICE, checksums, month)
    try:
        _check_size(path)
        book = _read_book(path, plan)
    except TooLarge as exc:
        return _refused(path, "annex-a-too-large", str(exc), checksums, month)
    except Exception as exc:  # openpyxl raises many kinds of error on a damaged file
        return _refused(
            path,
            "annex-a-unreadable",
            f"not a readable Excel workbook ({type(exc).__name__}): {UNREADABLE_ADVICE}",
            checksums,
            month,
        )
    return [_convert(path, plan, book, checksums, month)]


def _convert(
    path: Path, plan: _Plan, book: _Book, checksums: dict[str, str], month: Month | None
) -> Converted:
    problems = list(book.problems)
    tables: dict[str, SourceTable] = {}
    frames: dict[str, pl.DataFrame] = {}
    if not book.sheets and not book.counted and not any(p["severity"] == "error" for p in problems):
        problems.append(
            file_issue(
                path.name,
                "annex-a-no-lists",
                "no sheet of the workbook is an Annex A list: name each list's sheet "
                "'List N' (for example 'List 1 - Contacts') with Ofsted's headings",
            )
        )
    for number in sorted(plan.lists):
        sheet = book.sheets.get(number)
        if sheet is None:
            if book.sheets and number not in book.empty:
                problems.append(
                    file_issue(
                        path.name,
                        "annex-a-missing-list",
                        f"the workbook has no sheet for List {number}: "
                        f"{', '.join(plan.lists[number])} get no rows from it",
                        severity=Severity.WARNING,
                    )
                )
            continue
        where = f"{path.name} [{sheet.name}]"
        for name, frame in _list_tables(sheet, plan).items():
            frames[name] = frame
            table_map = plan.mapping.tables[name]
            tables[name] = SourceTable(where, frame, _described(name, plan, frame, [sheet]))
            problems += _not_in_return(where, name, plan, frame)
    sheets = [book.sheets[number] for number in sorted(book.sheets)]
    if sheets:
        where = f"{path.name} [{', '.join(sheet.name for sheet in sheets)}]"
        for name in plan.common:
            table_map = plan.mapping.tables[name]
            frame, conflicts = _common_table(path.name, name, table_map, sheets)
            tables[name] = SourceTable(where, frame, _described(name, plan, frame, sheets))
            problems += conflicts
    period, first = _period(frames, plan, month)
    if period is None or first is None:
        problems.append(
            file_issue(
                path.name,
                "annex-a-no-period",
                "no list gives a date to tell which month the workbook closes: give the "
                "month to file it under (--month YYYY-MM)",
            )
        )
    return Converted(
        format=FORMAT,
        label=f"{FORMAT}-{period}" if period else f"{FORMAT}-unknown",
        period=period or UNKNOWN_PERIOD,
        first=first or UNKNOWN_PERIOD,
        tables=tables,
        problems=problems,
        checksums=checksums,
        not_loaded={plan.not_loaded[n]: count for n, count in sorted(book.counted.items())},
    )


def _not_in_return(
    where: str, table: str, plan: _Plan, frame: pl.DataFrame
) -> list[dict[str, Any]]:
    """One warning per column Annex A has nothing for (blank in every row), with its note."""
    if not frame.height:
        return []
    table_map = plan.mapping.tables[table]
    filled = {id_column(table_map), *_same_list_links(plan, table)}
    return [
        file_issue(
            where,
            "annex-a-not-in-return",
            f"Annex A has no value for {column}: left blank. {field_map.note.strip()}",
            column=column,
            severity=Severity.WARNING,
        )
        for column, field_map in table_map.columns.items()
        if field_map.source is None and field_map.constant is None and column not in filled
    ]
