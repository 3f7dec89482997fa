"""Read a Children in Need census XML return (DfE) into the extract contract's tables.

The file is streamed with ``lxml.etree.iterparse`` one ``<Child>`` at a time; each child is
cleared, with its already-read siblings, once its rows are taken, so memory holds one child's
elements whatever the file's size. The mapping (``pipelines/sources/cin-xml.yaml``) names the
elements each table and column comes from; this module only follows it.

Safety: a file declaring a DOCTYPE or an ENTITY is refused before it is parsed (the census
never has one; it is how external-entity and "billion laughs" attacks are carried), and the
parser never loads a DTD, resolves an entity, reaches the network or accepts huge text nodes.

Whole-file problems (unsafe or malformed XML, not a CIN message, no usable ``<Year>``) raise
``FileProblem``; everything else is returned, unaltered, for the contract validator to judge.
The period is the census year's: ``<Year>`` Y covers April Y-1 to March Y; the ``month``
argument of ``read`` is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.etree as etree
import polars as pl

from safeguard.errors import ConfigError
from safeguard.ingest.csvfile import FileProblem, sha256_of_file
from safeguard.ingest.report import file_issue
from safeguard.ingest.sources.base import (
    LINE,
    Converted,
    IdRecipe,
    SourceMapping,
    SourceTable,
    record_ids,
)
from safeguard.periods import Month
from safeguard.schema import Severity

FORMAT = "cin-xml"

SNIFF_BYTES = 64 * 1024
BATCH_ROWS = 20_000  # rows kept as Python lists before they are packed into a polars frame

# rule codes of whole-file problems (no DfE number exists for them)
UNSAFE_XML = "unsafe-xml"
MALFORMED_XML = "malformed-xml"
NOT_CIN = "not-cin"
BAD_YEAR = "cin-year"
UNKNOWN_ELEMENT = "unknown-element"
# DfE: "An initial child protection conference is recorded at both the S47 and CIN Details
# level and it should only be recorded in one"
RECORDED_TWICE = "2884"

ROOT = "Message"
CHILDREN = "Children"
CHILD = "Child"

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w.\-:]*)")
_COLLECTION_CIN = re.compile(rb"<Collection>\s*CIN\s*</Collection>")
_YEAR = re.compile(r"\d{4}")
_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_LINK = re.compile(r"id\(\s*([a-z0-9_]+)\s*,\s*([^)]*?)\s*\)")


def sniff(path: Path) -> bool:
    """True when the file starts like a CIN census message: root ``<Message>`` and
    ``<Collection>CIN</Collection>`` within its first 64 KB. Never raises."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except (OSError, ValueError):
        return False
    body = _COMMENT.sub(b"", head)
    first = _FIRST_ELEMENT.search(body)
    return (
        first is not None
        and first.group(1) == ROOT.encode()
        and _COLLECTION_CIN.search(body) is not None
    )


def read(path: Path, mapping: SourceMapping, *, month: Month | None = None) -> list[Converted]:
    """The census in ``path`` as one ``Converted`` (a CIN message holds one collection year).

    ``month`` is ignored: the census's own ``<Year>`` says which year it covers. Raises
    ``FileProblem`` when the file cannot be used at all.
    """
    del month
    plan = _Plan.of(mapping)
    _refuse_declarations(path)
    checksum = sha256_of_file(path)
    collector = _Collector(plan)
    with path.open("rb") as handle:
        try:
            year = _stream(handle, plan, collector)
        except etree.XMLSyntaxError as exc:
            line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
            where = f" at line {line}" if line else ""
            raise FileProblem(
                MALFORMED_XML, f"is not well-formed XML{where}: {exc.msg}", line=line
            ) from None
    tables = collector.finish(path.name)
    return [
        Converted(
            format=FORMAT,
            label=f"cin-{year}",
            period=Month(year, 3),
            first=Month(year - 1, 4),
            tables=tables,
            problems=collector.problems(path.name),
            checksums={path.name: checksum},
            not_loaded=dict(collector.not_loaded),
        )
    ]


# --- safety ---------------------------------------------------------------------------------


def _refuse_declarations(path: Path) -> None:
    """Refuse a DOCTYPE or ENTITY declaration found in the first 64 KB, before any parsing.
    (One placed later, after a long prolog, is caught by ``_check_root`` instead.)"""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    found = _DECLARATION.search(head)
    if found is not None:
        line = head[: found.start()].count(b"\n") + 1
        raise FileProblem(
            UNSAFE_XML,
            f"declares a DOCTYPE or ENTITY at line {line}; a CIN census never does, and such "
            "declarations can make a parser read other files or exhaust memory, so the file "
            "is refused unread",
            line=line,
        )


# --- the mapping, compiled ------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    name: str
    described: str  # the source as the YAML writes it, for SourceTable.columns
    paths: tuple[tuple[bool, str], ...] = ()  # alternatives: (starts at <Child>, path)
    constant: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    link: tuple[str, tuple[str, ...]] | None = None  # (table, steps from the row's element)


@dataclass(frozen=True)
class _Table:
    name: str
    places: tuple[str, ...]  # where rows come from, as paths below <Child> ("." = the Child)
    select: Any  # an lxml XPath over all places, in document order
    select_each: tuple[Any, ...]  # one XPath per place, when there are several
    columns: tuple[_Column, ...]
    plain: tuple[_Column, ...]  # columns filled from the row's own elements or a constant
    links: tuple[_Column, ...]
    id_column: str | None
    recipe: IdRecipe | None
    natural_key: tuple[str, ...]


@dataclass(frozen=True)
class _Plan:
    tables: tuple[_Table, ...]
    link_targets: frozenset[str]
    known: frozenset[str]  # element paths below <Child> that the mapping reads or passes through
    not_loaded: tuple[str, ...]  # element paths below <Child> counted, not read (with subtrees)
    passed: frozenset[str]  # the same, for lookup

    @classmethod
    def of(cls, mapping: SourceMapping) -> _Plan:
        if mapping.format != FORMAT:
            raise ConfigError(f"the {FORMAT} reader was given the mapping for {mapping.format}")
        tables = tuple(_compile_table(name, spec) for name, spec in mapping.tables.items())
        by_name = {table.name: table for table in tables}
        targets: set[str] = set()
        known: set[str] = set()
        for table in tables:
            for place in table.places:
                known |= _prefixes(place)
            for column in table.columns:
                if column.link is not None:
                    target, _ = column.link
                    if target not in by_name or by_name[target].id_column is None:
                        raise ConfigError(
                            f"{FORMAT}.yaml: {table.name}.{column.name} links to {target}, "
                            "which is not a table with an id recipe"
                        )
                    targets.add(target)
                for from_child, path in column.paths:
                    for place in table.places:
                        joined = path if from_child else _join(place, path)
                        if joined is None:
                            raise ConfigError(
                                f"{FORMAT}.yaml: {table.name}.{column.name}: {path} climbs "
                                "above <Child>"
                            )
                        known |= _prefixes(joined)
        passed: list[str] = []
        for key in mapping.not_loaded:
            if not key.startswith(f"{CHILD}/"):
                raise ConfigError(f"{FORMAT}.yaml: not_loaded {key} must be a path from {CHILD}/")
            relative = _check_path(key[len(CHILD) + 1 :], f"not_loaded {key}")
            passed.append(relative)
            known |= _prefixes(relative)
        known.discard(".")
        _check_order(tables, by_name)
        return cls(tables, frozenset(targets), frozenset(known), tuple(passed), frozenset(passed))


def _compile_table(name: str, spec: Any) -> _Table:
    places: list[str] = []
    for part in spec.source.split("|"):
        place = part.strip()
        if place == CHILD:
            places.append(".")
        elif place.startswith(f"{CHILD}/"):
            places.append(_check_path(place[len(CHILD) + 1 :], f"{name}.source"))
        else:
            raise ConfigError(f"{FORMAT}.yaml: {name}.source must start at {CHILD}: {place}")
    columns = tuple(_compile_column(name, column, fmap) for column, fmap in spec.columns.items())
    recipe_made = [c.name for c in columns if not c.paths and c.constant is None and not c.link]
    id_column: str | None = None
    if spec.id is not None:
        if len(recipe_made) != 1:
            raise ConfigError(
                f"{FORMAT}.yaml: {name} has an id recipe, so exactly one column (its id) must "
                f"have no source; found {recipe_made or 'none'}"
            )
        id_column = recipe_made[0]
        unknown = [part for part in spec.id.parts if part not in spec.columns]
        if unknown or id_column in spec.id.parts:
            raise ConfigError(f"{FORMAT}.yaml: {name}.id.parts names {unknown or id_column}")
    elif recipe_made:
        raise ConfigError(f"{FORMAT}.yaml: {name}: columns with no source: {recipe_made}")
    plain = tuple(c for c in columns if c.link is None and c.name != id_column)
    links = tuple(c for c in columns if c.link is not None)
    natural_key = tuple(spec.natural_key)
    if len(places) > 1:
        plain_names = {c.name for c in plain}
        if not natural_key or not set(natural_key) <= plain_names:
            raise ConfigError(
                f"{FORMAT}.yaml: {name} reads from several places, so its natural_key must "
                "name columns read from the row's own elements (it tells a record read twice)"
            )
    return _Table(
        name=name,
        places=tuple(places),
        select=etree.XPath(" | ".join(places)),
        select_each=tuple(etree.XPath(place) for place in places) if len(places) > 1 else (),
        columns=columns,
        plain=plain,
        links=links,
        id_column=id_column,
        recipe=spec.id,
        natural_key=natural_key,
    )


def _compile_column(table: str, name: str, fmap: Any) -> _Column:
    where = f"{table}.{name}"
    if fmap.source is not None and fmap.constant is not None:
        raise ConfigError(f"{FORMAT}.yaml: {where} has both a source and a constant")
    if fmap.source is None:
        described = "" if fmap.constant is None else f"constant {fmap.constant}"
        return _Column(name, described, constant=fmap.constant, values=dict(fmap.values))
    sources = [fmap.source] if isinstance(fmap.source, str) else list(fmap.source)
    described = " | ".join(sources)
    link = _LINK.fullmatch(sources[0].strip())
    if link is not None:
        if len(sources) > 1:
            raise ConfigError(f"{FORMAT}.yaml: {where}: a link has no alternatives")
        steps = tuple(_check_path(link.group(2), where).split("/"))
        return _Column(name, described, link=(link.group(1), steps))
    paths: list[tuple[bool, str]] = []
    for source in sources:
        text = source.strip()
        if text.startswith(f"{CHILD}/"):
            paths.append((True, _check_path(text[len(CHILD) + 1 :], where)))
        else:
            paths.append((False, _check_path(text, where)))
    return _Column(name, described, paths=tuple(paths), values=dict(fmap.values))


def _check_path(path: str, where: str) -> str:
    """A plain element path: names, "." and ".." joined by "/" (no predicates or axes)."""
    steps = path.strip().split("/")
    if not all(step in (".", "..") or _NAME.fullmatch(step) for step in steps):
        raise ConfigError(f"{FORMAT}.yaml: {where}: not a plain element path: {path!r}")
    return "/".join(steps)


def _join(place: str, path: str) -> str | None:
    """``path`` taken from the element at ``place`` (both below <Child>), normalised;
    None when it climbs above the <Child>."""
    steps = [] if place == "." else place.split("/")
    for step in path.split("/"):
        if step == "..":
            if not steps:
                return None
            steps.pop()
        elif step != ".":
            steps.append(step)
    return "/".join(steps) or "."


def _prefixes(path: str) -> set[str]:
    steps = path.split("/")
    return {"/".join(steps[: i + 1]) for i in range(len(steps))}


def _check_order(tables: tuple[_Table, ...], by_name: dict[str, _Table]) -> None:
    """Links must not go round in a circle (ids are made target first)."""
    for table in tables:
        seen = {table.name}
        frontier = [table]
        while frontier:
            current = frontier.pop()
            for column in current.links:
                assert column.link is not None
                target = column.link[0]
                if target in seen:
                    raise ConfigError(f"{FORMAT}.yaml: links between tables form a cycle")
                seen.add(target)
                frontier.append(by_name[target])


# --- streaming ------------------------------------------------------------------------------


def _stream(handle: Any, plan: _Plan, collector: _Collector) -> int:
    """Parse the file, feeding each <Child> to ``collector``; returns the census year."""
    context = etree.iterparse(
        handle,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    depth = 0
    header: Any = None
    children: Any = None
    year: int | None = None
    for event, element in context:
        if event == "start":
            depth += 1
            if depth == 1:
                _check_root(element)
            elif depth == 2 and element.tag == CHILDREN and children is None:
                year = _census_year(header, element)
                children = element
            continue
        level = depth
        depth -= 1
        if level == 2 and element.tag == "Header" and header is None:
            header = element
        elif level == 3 and children is not None and element.getparent() is children:
            if element.tag == CHILD:
                collector.add(element)
            else:
                collector.stray(element)
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del children[0]
    if year is None:  # no <Children> at all: still a census year, with no children in it
        year = _census_year(header, None)
    return year


def _check_root(element: Any) -> None:
    docinfo = element.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise FileProblem(
            UNSAFE_XML,
            f"declares a DOCTYPE before its root element (line {element.sourceline}); a CIN "
            "census never does, and such declarations can make a parser read other files or "
            "exhaust memory, so the file is refused",
            line=element.sourceline,
        )
    if element.tag != ROOT:
        raise FileProblem(
            NOT_CIN,
            f"is not a CIN census message: its root element is <{element.tag}>, not <{ROOT}>",
            line=element.sourceline,
            value=str(element.tag),
        )


def _census_year(header: Any, children: Any) -> int:
    line = children.sourceline if children is not None else None
    details = header.find("CollectionDetails") if header is not None else None
    if details is None:
        raise FileProblem(
            NOT_CIN,
            "has no <Header><CollectionDetails> before its <Children>, so it cannot be "
            "recognised as a CIN census or placed in a year",
            line=line,
        )
    collection = details.find("Collection")
    collection_text = (collection.text or "").strip() if collection is not None else ""
    if collection_text != "CIN":
        raise FileProblem(
            NOT_CIN,
            "is not a CIN census message: <Collection> is "
            + (f"{collection_text!r}" if collection is not None else "missing")
            + ", not 'CIN'",
            line=collection.sourceline if collection is not None else details.sourceline,
            value=collection_text or None,
        )
    year = details.find("Year")
    text = (year.text or "").strip() if year is not None else ""
    if _YEAR.fullmatch(text) and 1901 <= int(text) <= 2999:
        return int(text)
    raise FileProblem(
        BAD_YEAR,
        "has no census year: <Year> is "
        + (f"{text!r}, not a four-digit year" if year is not None else "missing")
        + " (the year names the census; Year 2022 covers April 2021 to March 2022)",
        line=year.sourceline if year is not None else details.sourceline,
        value=text or None,
    )


# --- rows -----------------------------------------------------------------------------------


@dataclass
class _Rows:
    """One table's rows so far: packed frames plus the Python lists still being filled."""

    table: _Table
    frames: list[pl.DataFrame] = field(default_factory=list)
    values: dict[str, list[str | None]] = field(default_factory=dict)
    targets: dict[str, list[int | None]] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)
    packed: int = 0

    def __post_init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.values = {column.name: [] for column in self.table.plain}
        self.targets = {column.name: [] for column in self.table.links}
        self.lines = []

    @property
    def count(self) -> int:
        return self.packed + len(self.lines)

    def pack(self) -> None:
        if not self.lines:
            return
        self.frames.append(self._frame())
        self.packed += len(self.lines)
        self._reset()

    def _frame(self) -> pl.DataFrame:
        data: dict[str, pl.Series] = {
            name: pl.Series(name, values, dtype=pl.String) for name, values in self.values.items()
        }
        for name, targets in self.targets.items():
            data[_target(name)] = pl.Series(_target(name), targets, dtype=pl.UInt32)
        data[LINE] = pl.Series(LINE, self.lines, dtype=pl.UInt32)
        return pl.DataFrame(data)

    def frame(self) -> pl.DataFrame:
        self.pack()
        if self.frames:
            return pl.concat(self.frames, how="vertical")
        return self._frame()


def _target(column: str) -> str:
    return f"\x00row of {column}"


class _Collector:
    """Takes rows out of each <Child> and keeps the return's own problems and counts."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.rows = {table.name: _Rows(table) for table in plan.tables}
        self.not_loaded: dict[str, int] = {f"{CHILD}/{path}": 0 for path in plan.not_loaded}
        self.unknown: dict[str, list[int]] = {}  # path -> [first line, count]
        self.twice: list[dict[str, Any]] = []

    def add(self, child: Any) -> None:
        self._walk(child, "")
        found: list[tuple[_Table, list[Any], list[list[str | None]]]] = []
        owners: dict[str, dict[Any, int]] = {}
        for table in self.plan.tables:
            records = list(table.select(child))
            values = [[_value(c, record, child) for c in table.plain] for record in records]
            if table.select_each:
                records, values = self._once(table, child, records, values)
            if table.name in self.plan.link_targets:
                base = self.rows[table.name].count
                owners[table.name] = {record: base + i for i, record in enumerate(records)}
            found.append((table, records, values))
        for table, records, values in found:
            rows = self.rows[table.name]
            for record, row in zip(records, values, strict=True):
                for column, value in zip(table.plain, row, strict=True):
                    rows.values[column.name].append(value)
                for column in table.links:
                    assert column.link is not None
                    target, steps = column.link
                    element = _step(record, steps)
                    rows.targets[column.name].append(
                        None if element is None else owners[target].get(element)
                    )
                rows.lines.append(record.sourceline)
            if len(rows.lines) >= BATCH_ROWS:
                rows.pack()

    def _once(
        self, table: _Table, child: Any, records: list[Any], values: list[list[str | None]]
    ) -> tuple[list[Any], list[list[str | None]]]:
        """Of rows read from several places, drop one whose natural key repeats a row read from
        an earlier place (the same record recorded twice), reporting it."""
        place_of: dict[Any, int] = {}
        for index, select in enumerate(table.select_each):
            for record in select(child):
                place_of.setdefault(record, index)
        names = [column.name for column in table.plain]
        positions = [names.index(name) for name in table.natural_key]
        first: dict[tuple[str | None, ...], tuple[int, Any]] = {}
        for record, row in zip(records, values, strict=True):
            key = tuple(row[i] for i in positions)
            place = place_of[record]
            if key not in first or place < first[key][0]:
                first[key] = (place, record)
        keep_records: list[Any] = []
        keep_values: list[list[str | None]] = []
        for record, row in zip(records, values, strict=True):
            key = tuple(row[i] for i in positions)
            place, kept = first[key]
            if place_of[record] > place:
                self.twice.append(
                    {
                        "table": table.name,
                        "line": record.sourceline,
                        "kept_line": kept.sourceline,
                        "dropped": table.places[place_of[record]],
                        "kept": table.places[place],
                    }
                )
                continue
            keep_records.append(record)
            keep_values.append(row)
        return keep_records, keep_values

    def stray(self, element: Any) -> None:
        self._note_unknown(f"{CHILDREN}/{element.tag}", element.sourceline)

    def _walk(self, element: Any, prefix: str) -> None:
        for sub in element:
            tag = sub.tag
            if not isinstance(tag, str):
                continue
            path = f"{prefix}{tag}"
            if path in self.plan.passed:
                self.not_loaded[f"{CHILD}/{path}"] += 1
            elif path in self.plan.known:
                self._walk(sub, f"{path}/")
            else:
                self._note_unknown(path, sub.sourceline)

    def _note_unknown(self, path: str, line: int) -> None:
        seen = self.unknown.get(path)
        if seen is None:
            self.unknown[path] = [line, 1]
        else:
            seen[1] += 1

    def problems(self, file: str) -> list[dict[str, Any]]:
        problems: list[dict[str, Any]] = []
        for path, (line, count) in self.unknown.items():
            name = path.rsplit("/", 1)[-1]
            where = (
                f"inside <{CHILDREN}>" if path.startswith(f"{CHILDREN}/") else f"at {CHILD}/{path}"
            )
            times = "once" if count == 1 else f"{count} times"
            problems.append(
                file_issue(
                    file,
                    UNKNOWN_ELEMENT,
                    f"element <{name}> {where} is not part of the CIN census as this reader "
                    f"knows it; found {times} (first at line {line}) and not read",
                    line=line,
                    severity=Severity.WARNING,
                )
            )
        for twice in self.twice:
            problems.append(
                file_issue(
                    file,
                    RECORDED_TWICE,
                    f"{twice['table']}: the record at {CHILD}/{twice['dropped']} repeats the "
                    f"one at {CHILD}/{twice['kept']} (line {twice['kept_line']}) for the same "
                    "child and date; read once, from the latter",
                    line=twice["line"],
                    severity=Severity.WARNING,
                )
            )
        return problems

    def finish(self, file: str) -> dict[str, SourceTable]:
        done: dict[str, pl.DataFrame] = {}
        by_name = {table.name: table for table in self.plan.tables}

        def build(name: str) -> pl.DataFrame:
            if name in done:
                return done[name]
            table = by_name[name]
            frame = self.rows[name].frame()
            for column in table.links:
                assert column.link is not None
                target = by_name[column.link[0]]
                assert target.id_column is not None
                ids = build(target.name)[target.id_column]
                frame = frame.with_columns(
                    ids.gather(frame[_target(column.name)]).alias(column.name)
                )
            for column in table.plain:
                if column.constant is not None:
                    frame = frame.with_columns(
                        pl.lit(column.constant, dtype=pl.String).alias(column.name)
                    )
            if table.recipe is not None and table.id_column is not None:
                frame = frame.with_columns(record_ids(frame, table.recipe).alias(table.id_column))
            done[name] = frame.select([*(c.name for c in table.columns), LINE])
            return done[name]

        tables: dict[str, SourceTable] = {}
        for table in self.plan.tables:
            described = {
                c.name: c.described
                or (f"id recipe {table.recipe.prefix}" if table.recipe is not None else "")
                for c in table.columns
            }
            tables[table.name] = SourceTable(file=file, frame=build(table.name), columns=described)
        return tables


def _value(column: _Column, record: Any, child: Any) -> str | None:
    if column.constant is not None:
        return None  # filled in once per table
    found: list[str] = []
    for from_child, path in column.paths:
        found = _texts(child if from_child else record, path)
        if found:
            break
    if not found:
        return None
    if len(found) == 1:
        return column.values.get(found[0], found[0])
    mapped = [column.values.get(text, text) for text in found]
    distinct = list(dict.fromkeys(mapped))
    if len(distinct) == 1:
        return distinct[0]
    if all(text in column.values for text in found) and set(distinct) <= {"Y", "N"}:
        return "Y"
    return "; ".join(dict.fromkeys(found))


def _texts(base: Any, path: str) -> list[str]:
    """The trimmed, non-blank texts of the elements at ``path``, in document order."""
    texts = []
    for element in base.findall(path):
        text = (element.text or "").strip()
        if text:
            texts.append(text)
    return texts


def _step(element: Any, steps: tuple[str, ...]) -> Any:
    for step in steps:
        if element is None:
            return None
        if step == "..":
            element = element.getparent()
        elif step != ".":
            element = element.find(step)
    return element
