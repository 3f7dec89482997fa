"""Read a Children in Need census XML return (DfE) into the extract contract's tables.

The file is streamed with ``lxml.etree.iterparse`` one ``<Child>`` at a time; each child is
cleared, with its already-read siblings, once its rows are taken, so memory holds one child's
elements whatever the file's size. The mapping (``pipelines/sources/cin-xml.yaml``) names the
elements each table and column comes from; this module only follows it.

Safety: a file declaring a DOCTYPE or an ENTITY in its prolog (all that comes before the root
element's start tag, however long) is refused before it is parsed (the census never has one; it
is how external-entity and "billion laughs" attacks are carried); one inside the root element is
refused as unsafe too when the parser stops on it. The parser never loads a DTD, resolves an
entity, reaches the network or accepts huge text nodes.

Whole-file problems (unsafe or malformed XML, not a CIN message, no usable ``<Year>``) raise
``FileProblem``; everything else is returned, unaltered, for the contract validator to judge.
The period is the census year's: ``<Year>`` Y covers April Y-1 to March Y; the ``month``
argument of ``read`` is ignored.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

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
CHUNK_BYTES = 64 * 1024  # the prolog and a refused line are scanned in chunks of this size
BATCH_ROWS = 20_000  # rows kept as Python lists before they are packed into a polars frame

# rule codes of whole-file problems (no DfE number exists for them)
UNSAFE_XML = "unsafe-xml"
MALFORMED_XML = "malformed-xml"
NOT_CIN = "not-cin"
BAD_YEAR = "cin-year"
UNKNOWN_ELEMENT = "unknown-element"
UNREADABLE = "cin-unreadable"
# DfE: "An initial child protection conference is recorded at both the S47 and CIN Details
# level and it should only be recorded in one"
RECORDED_TWICE = "2884"
REFERENCE_DATE = "100"  # DfE: "Reference Date is incorrect" (the header's 31 March)

ROOT = "Message"
CHILDREN = "Children"
CHILD = "Child"
LEA_PATH = "Header/Source/LEA"  # the LA the census is from: DfE's three-digit code

# in the decoded text: at the start of a prolog item (with at most a page of white space, which
# XML does not allow there anyway), and anywhere on a line the parser refused
_DECLARES = re.compile(r"<!\s{0,4096}(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_SPACE = re.compile(r"[ \t\r\n]*")
DECLARATION_LOOKAHEAD = 4096 + len("<!DOCTYPE")
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w.\-:]*)")
_COLLECTION_CIN = re.compile(rb"<Collection>\s*CIN\s*</Collection>")
_YEAR = re.compile(r"\d{4}")
_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_LINK = re.compile(r"id\(\s*([a-z0-9_]+)\s*,\s*([^)]*?)\s*\)")


def sniff(path: Path) -> bool:
    """True when the file starts like a CIN census message: root ``<Message>`` and
    ``<Collection>CIN</Collection>`` within its first 64 KB. Never raises."""
    if not path.is_file():  # a folder, or a pipe or device: never opened to look
        return False
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
            if line is not None and _declares_on_line(path, line, _error_column(exc)):
                raise FileProblem(
                    UNSAFE_XML,
                    f"declares a DOCTYPE or ENTITY at line {line}, inside its root element; "
                    f"{REFUSED_WHY}, so the file is refused",
                    line=line,
                ) from None
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


class HeaderCode(NamedTuple):
    code: str
    line: int


def source_authority(path: Path) -> HeaderCode | None:
    """The LA code the census names in its header (``<Header><Source><LEA>``) and its line;
    None when there is none (or the header cannot be read). Reads no further than the header.
    For a file ``read`` has accepted: the prolog's declarations are its to refuse."""
    wanted = [ROOT, *LEA_PATH.split("/")]
    opened: list[str] = []
    try:
        with path.open("rb") as handle:
            for event, element in _parser(handle):
                if event == "start":
                    opened.append(element.tag)
                    if len(opened) == 2 and element.tag != "Header":
                        return None  # past the header (<Children>)
                    continue
                if opened == wanted:
                    code = (element.text or "").strip()
                    return HeaderCode(code, element.sourceline) if code else None
                if len(opened) == 2:
                    return None  # the end of the header, with no <LEA>
                opened.pop()
    except (OSError, etree.XMLSyntaxError):
        return None
    return None


def _parser(handle: Any) -> Any:
    """An ``iterparse`` of start and end events that never loads a DTD, resolves an entity,
    reaches the network or accepts a huge text node."""
    return etree.iterparse(
        handle,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


# --- safety ---------------------------------------------------------------------------------


REFUSED_WHY = (
    "a CIN census never does, and such declarations can make a parser read other files or "
    "exhaust memory"
)


def _refuse_declarations(path: Path) -> None:
    """Refuse a DOCTYPE or ENTITY declaration anywhere in the prolog (all that comes before the
    root element's start tag, however long), before any parsing; refuse a folder or a file
    that cannot be read with a ``FileProblem`` too."""
    if path.is_dir():
        raise FileProblem(
            NOT_CIN,
            "is a folder, not a CIN census XML file: name the census file itself "
            "(e.g. returns/CIN_2022.xml)",
        )
    try:
        with path.open("rb") as handle:
            line = _prolog_declaration(_Text(handle))
    except OSError as exc:
        raise FileProblem(UNREADABLE, f"cannot be read: {exc.strerror or exc}") from None
    if line is not None:
        raise FileProblem(
            UNSAFE_XML,
            f"declares a DOCTYPE or ENTITY at line {line}; {REFUSED_WHY}, so the file is "
            "refused unread",
            line=line,
        )


def _prolog_declaration(text: _Text) -> int | None:
    """The line of the first DOCTYPE or ENTITY declaration in the prolog, or None.

    Reads the prolog's items (white space, the XML declaration, comments, processing
    instructions) up to the first thing that is none of them: the root element's start tag,
    or something that is not XML at all, which is the parser's to judge.
    """
    while True:
        text.skip_space()
        if not text.want(2):
            return None
        if text.startswith("<?"):
            if not text.skip_past("?>", start=2):
                return None
        elif text.startswith("<!--"):
            if not text.skip_past("-->", start=4):
                return None
        elif text.startswith("<!"):
            text.want(DECLARATION_LOOKAHEAD)
            return text.line if text.match(_DECLARES) else None
        else:
            return None


def _declares_on_line(path: Path, line: int, column: int | None) -> bool:
    """Whether a DOCTYPE or ENTITY declaration starts on ``line`` of the file, at or before
    ``column`` (1-based, where the parser stopped) when that is known."""
    try:
        with path.open("rb") as handle:
            text = _Text(handle)
            while text.line < line:
                if not text.skip_past("\n"):
                    return False
            offset = 0  # characters of the line already passed
            keep = len("<!DOCTYPE") - 1  # what could be a declaration cut by the chunk's edge
            text.want(CHUNK_BYTES)
            while True:
                end = text.find("\n")
                found = text.search(_DECLARED, end if end >= 0 else text.size)
                if found is not None:
                    return column is None or offset + found < column
                if end >= 0:
                    return False
                passed = max(0, text.size - keep)
                text.skip(passed)
                offset += passed
                if not text.want(text.size + 1):
                    return False
    except OSError:
        return False


def _error_column(exc: etree.XMLSyntaxError) -> int | None:
    position = getattr(exc, "position", None)
    if isinstance(position, tuple) and len(position) == 2 and isinstance(position[1], int):
        return position[1] if position[1] > 0 else None
    return None


class _Text:
    """A file's text read forward in chunks, with the line its unread part starts on.

    Only markup and line breaks matter here, so the text is decoded as UTF-16 or UTF-32 when
    the file starts like one (a byte-order mark, or ``<`` as two or four bytes) and otherwise
    as UTF-8: any encoding that writes ASCII as ASCII reads the same for markup and newlines,
    and bytes UTF-8 cannot decode become U+FFFD. Lines are counted at "\\n" only, as libxml2
    counts them.
    """

    def __init__(self, handle: Any) -> None:
        self._chunks = _decoded(handle)
        self._buffer = ""
        self._pos = 0  # the first unread character of the buffer
        self._ended = False
        self.line = 1  # the line of the first unread character

    @property
    def size(self) -> int:
        """The characters read but not yet passed."""
        return len(self._buffer) - self._pos

    def want(self, size: int) -> bool:
        """Read on until ``size`` characters are unread; False when the file ends first."""
        while self.size < size and not self._ended:
            piece = next(self._chunks, None)
            if piece is None:
                self._ended = True
            else:
                self._buffer = self._buffer[self._pos :] + piece
                self._pos = 0
        return self.size >= size

    def startswith(self, prefix: str) -> bool:
        return self.want(len(prefix)) and self._buffer.startswith(prefix, self._pos)

    def match(self, pattern: re.Pattern[str]) -> bool:
        return pattern.match(self._buffer, self._pos) is not None

    def find(self, needle: str, start: int = 0) -> int:
        """Where ``needle`` starts among the unread characters read so far, or -1."""
        found = self._buffer.find(needle, self._pos + start)
        return found - self._pos if found >= 0 else -1

    def search(self, pattern: re.Pattern[str], end: int) -> int | None:
        found = pattern.search(self._buffer, self._pos, self._pos + end)
        return found.start() - self._pos if found is not None else None

    def skip(self, count: int) -> None:
        """Pass ``count`` unread characters, counting their line breaks."""
        self.line += self._buffer.count("\n", self._pos, self._pos + count)
        self._pos += count

    def skip_space(self) -> None:
        while True:
            found = _SPACE.match(self._buffer, self._pos)
            assert found is not None  # the pattern matches the empty string
            self.skip(found.end() - self._pos)
            if self.size or not self.want(1):
                return

    def skip_past(self, end: str, *, start: int = 0) -> bool:
        """Pass everything up to and including the next ``end`` at or after ``start``; False
        when the file ends first. Memory holds one chunk, however far away ``end`` is."""
        while True:
            found = self.find(end, start)
            if found >= 0:
                self.skip(found + len(end))
                return True
            # keep what could be the start of ``end`` cut by the chunk's edge
            passed = max(start, self.size - (len(end) - 1))
            self.skip(passed)
            start = 0
            if not self.want(self.size + 1):
                return False


def _decoded(handle: Any) -> Iterator[str]:
    first: bytes = handle.read(CHUNK_BYTES)
    decoder = codecs.getincrementaldecoder(_encoding(first))(errors="replace")
    data = first
    while data:
        text = decoder.decode(data)
        if text:
            yield text
        data = handle.read(CHUNK_BYTES)
    rest = decoder.decode(b"", final=True)
    if rest:
        yield rest


def _encoding(head: bytes) -> str:
    """The encoding to scan the file in, from its first bytes (XML 1.0 appendix F)."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(b"<\x00\x00\x00"):
        return "utf-32-le"
    if head.startswith(b"\x00\x00\x00<"):
        return "utf-32-be"
    if head.startswith(b"<\x00"):
        return "utf-16-le"
    if head.startswith(b"\x00<"):
        return "utf-16-be"
    return "utf-8-sig"


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
    context = _parser(handle)
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
                collector.header += _reference_date(header, year)
                children = element
            continue
        level = depth
        depth -= 1
        if level == 2 and element.tag == "Header" and header is None:
            header = element
        elif level == 2 and element is not children:
            # beside <Header> and <Children>: counted and reported, then freed at once (kept,
            # thousands of them held the whole file in memory)
            collector.stray(element, top=True)
            element.clear(keep_tail=True)
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
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
        collector.header += _reference_date(header, year)
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


def _reference_date(header: Any, year: int) -> list[dict[str, Any]]:
    """DfE rule 100, "Reference Date is incorrect": ``<ReferenceDate>`` must be present and be
    31 March of the census year. A warning, not a refusal: the census is placed by its
    ``<Year>`` either way (DfE's own sample census carries 2022-07-21 for Year 2022)."""
    details = header.find("CollectionDetails")
    element = details.find("ReferenceDate") if details is not None else None
    text = (element.text or "").strip() if element is not None else ""
    expected = f"{year}-03-31"
    if text == expected:
        return []
    found = f"is {text!r}" if text else "is missing"
    return [
        file_issue(
            "",
            REFERENCE_DATE,
            f"Reference Date is incorrect: <ReferenceDate> {found}, not {expected} (31 March "
            f"of census year {year}, which runs from 1 April {year - 1}); the census is placed "
            "by its <Year>",
            line=(element if element is not None else details).sourceline,
            column="ReferenceDate",
            value=text or None,
            severity=Severity.WARNING,
        )
    ]


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
        self.header: list[dict[str, Any]] = []  # the header's own problems (DfE rule 100)

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

    def stray(self, element: Any, *, top: bool = False) -> None:
        """An element inside <Children> that is not a <Child>, or (``top``) one beside
        <Header> and <Children>."""
        where = ROOT if top else CHILDREN
        self._note_unknown(f"{where}/{element.tag}", element.sourceline)

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
        problems: list[dict[str, Any]] = [{**issue, "file": file} for issue in self.header]
        for path, (line, count) in self.unknown.items():
            name = path.rsplit("/", 1)[-1]
            where = (
                f"inside <{CHILDREN}>"
                if path.startswith(f"{CHILDREN}/")
                else f"inside <{ROOT}>, beside <Header> and <{CHILDREN}>"
                if path.startswith(f"{ROOT}/")
                else f"at {CHILD}/{path}"
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
