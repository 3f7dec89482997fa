"""The processed store: parquet tables built from every extract ingested, replaced atomically.

Layout under ``data/processed/``::

    CURRENT                       name of the live generation (replaced with os.replace)
    g-<hash>/                     one generation: never modified once CURRENT names it
      manifest.json               extracts, file checksums, row counts; no timestamps
      tables/<table>.parquet      the current view: each record id at its newest extract
      versions/<table>/<YYYY-MM>.parquet   every loaded row of every extract, as delivered
      extracts/<YYYY-MM>/validation.json|csv, quarantine/<table>.csv
    RETENTION                     the latest purge's cut-off (YYYY-MM): older extracts stay out

An ingest builds the next generation in a ``.tmp-*`` folder (files it does not change are
hard-linked from the live one), then swaps ``CURRENT``. A crash or a refusal before the swap
leaves the live generation untouched; leftovers are removed by the next run under the lock.
The generation's name is a hash of its manifest, and the manifest is a pure function of the
set of extracts ingested, so ingesting in any order, or twice, gives the same bytes. (What an
extract's validation quarantines can depend on the store: a reference the extract lacks is
looked up in the records the store holds, ``ingest.held``. Extracts whose references resolve
the same way in every order give the same bytes in every order; ``safeguard run`` ingests in
month order. The stored validation report leaves out where the store is.)

A 903 return (one file per table) is held by table: loading tables of a year already held adds
the tables it does not hold and replaces only those it brings (``replaced_tables`` says which, so
the caller can refuse a replacement not asked for: ``ReplaceRefused``). Between two returns
of one format for consecutive years, the later is authoritative for its year
(``_close_omitted``): an episode the earlier return leaves open at its year end and the later
one does not hold is closed on the later year's first day, or dropped when the later return
restates the child's care on that day with another episode; counted per return in the
manifest, recomputed on every rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from filelock import FileLock, Timeout
from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from safeguard.errors import ConfigError, DataError, LockedError, StoreError
from safeguard.ingest.validate import ExtractResult
from safeguard.models import StrictModel
from safeguard.periods import MONTH_PATTERN, Month
from safeguard.private import DIR_MODE, FILE_MODE, private_folder, write_private_text
from safeguard.schema import ColumnType, Contract, Table, format_validation_error

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LOCK = ".lock"
OWNER = ".lock.owner"  # who holds the lock, for the message a second run gets
_HELD: dict[str, int] = {}  # stores this process holds the lock of, with the depth
EXTRACT = "_extract"
STORE_FORMAT = 1


@dataclass(frozen=True)
class Source:
    """What is being merged: its key in the store (a monthly extract's month, or a return's
    name such as ``cin-2022``), its format, and the first and last months it covers."""

    key: str
    format: str  # "extract" (monthly), "cin-xml", "ssda903" or "annex-a"
    first: Month
    last: Month


def _month(value: object) -> Month:
    if isinstance(value, Month):
        return value
    if isinstance(value, str):
        return Month.parse(value)
    raise ValueError(f"expected a month as YYYY-MM, got {value!r}")


ManifestMonth = Annotated[Month, PlainValidator(_month), PlainSerializer(str, return_type=str)]


def _recorded() -> Any:
    """A key some entries lack (an older store's, or a count never recorded): None when
    absent, and left out of the file when None, so an entry is written back as it was read."""
    return Field(default=None, exclude_if=lambda value: value is None)


class Window(StrictModel):
    """The first and last months an extract or return covers."""

    first: ManifestMonth
    last: ManifestMonth


class FileEntry(StrictModel):
    """One file of an extract or return: its checksum and what validation did with its rows."""

    file: str
    sha256: str
    rows: int
    loaded: int
    quarantined: int
    warnings: int
    blank_lines: int
    columns_present: tuple[str, ...]
    # how this extract's rows fared in the current view; none when it loaded no row
    new: int | None = _recorded()
    revised: int | None = _recorded()
    unchanged: int | None = _recorded()
    superseded_by_newer: int | None = _recorded()


class ExtractEntry(StrictModel):
    """A monthly extract or a statutory return in the store (keyed by its month or name)."""

    source: str  # the folder or file it was read from
    format: str | None = _recorded()  # "extract", "cin-xml"...; absent before returns
    window: Window | None = _recorded()  # absent before returns: 24 months to the month
    contract: str | None = _recorded()  # the contract's fingerprint it was validated under
    encoding: str | None = None  # as named with --encoding; None (written as null) is UTF-8
    files: dict[str, FileEntry]
    missing_tables: tuple[str, ...]
    not_loaded: dict[str, int] | None = _recorded()  # a return's parts the store has no table for
    # episodes this return left open at its year end that the next year's return omits:
    # closed on the next year's first day, or superseded by the next return's own episode
    closed_by_next: dict[str, int] | None = _recorded()
    superseded_by_next: dict[str, int] | None = _recorded()

    @model_serializer(mode="wrap")
    def _as_read(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An entry written before encodings were recorded is written back without one."""
        data: dict[str, Any] = handler(self)
        if "encoding" not in self.model_fields_set:
            data.pop("encoding", None)
        return data

    def checksums(self) -> dict[str, str]:
        """Each table's file checksum, which says whether a folder holds the same files."""
        return {name: info.sha256 for name, info in self.files.items()}


class TableEntry(StrictModel):
    """A table's current view: its rows, and the extracts and returns holding a version."""

    rows: int
    extracts: tuple[str, ...]


class Manifest(StrictModel):
    """``manifest.json``: what a generation holds. No timestamps: its bytes are a function of
    the set of extracts, and name the generation."""

    format: int = STORE_FORMAT
    pseudonym_key: str | None = None  # a fingerprint of the key, never the key
    contract_version: int | None = None  # None only for an empty store
    extracts: dict[str, ExtractEntry] = Field(default_factory=dict)
    tables: dict[str, TableEntry] = Field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """The manifest at ``path``; a damaged one is ``StoreError`` naming it (the store's own
        file, not input data: exit 74, with what to do)."""
        try:
            return cls.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            cut = any(error["type"] == "json_invalid" for error in exc.errors())
            what = (
                "is damaged"
                if cut
                else "does not fit this version of safeguard (written by another version?)"
            )
            raise StoreError(
                f"the store's manifest {what}: {format_validation_error(str(path), exc)}. "
                + RESTORE
            ) from exc

    def to_json(self) -> bytes:
        """The file's bytes: sorted keys, two-space indent, a final newline."""
        data = self.model_dump(mode="json")
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


# returns delivered as one file per table, so a year can be loaded a table at a time: the
# store holds them by table. A census or an Annex A workbook is one file: a load is all of it.
BY_TABLE = frozenset({"ssda903"})


def by_table(key: str, format_name: str | None) -> bool:
    """Whether the store holds ``key`` table by table (a 903 return year)."""
    return is_return(key) and format_name in BY_TABLE


def replaced_tables(
    key: str, previous: ExtractEntry | None, checksums: dict[str, str]
) -> dict[str, FileEntry]:
    """What loading files with ``checksums`` (table -> sha256) under ``key`` would replace:
    each held table whose file differs, or which the load lacks, as held; a return held by
    table (``by_table``) loses only the tables the load brings."""
    if previous is None:
        return {}
    lacking = None if by_table(key, previous.format) else ""
    return {
        table: entry
        for table, entry in sorted(previous.files.items())
        if checksums.get(table, lacking) not in (None, entry.sha256)
    }


class ReplaceRefused(ConfigError):
    """Returns already held under their names would be replaced without ``--replace``
    (exit 2: the command must say so; the data may well be right)."""

    def __init__(self, going: dict[str, dict[str, FileEntry]]):
        self.going = going
        held = "; ".join(
            f"{key} is already in the store with other files: "
            + ", ".join(f"{t} ({e.loaded:,} rows from {e.file})" for t, e in tables.items())
            for key, tables in going.items()
        )
        super().__init__(
            f"{held}; nothing was written. To replace what the store holds with these files, "
            "load them again with --replace"
        )


@dataclass(frozen=True)
class MergeOutcome:
    action: str  # "written" or "unchanged"
    generation: Path
    manifest: Manifest


def _mkdir(path: Path) -> None:
    """Create a folder and any missing parents, each readable by the owner only."""
    private_folder(path)


def _write_bytes(path: Path, data: bytes) -> None:
    _mkdir(path.parent)
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, FILE_MODE)


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    _mkdir(path.parent)
    # rechunked, so the bytes depend on the rows alone, not on how the frame was assembled;
    # zstd's level 1 writes the store's tables in 70% of the default level's time, with files
    # within 2% of its size (measured on the scale-10 store; issue 16)
    frame.rechunk().write_parquet(path, compression="zstd", compression_level=1, statistics=True)
    os.chmod(path, FILE_MODE)


class Store:
    """Read access to the live generation of a processed store."""

    def __init__(self, root: Path):
        self.root = root

    @property
    def generation(self) -> Path | None:
        """The live generation; None for a store with no CURRENT (nothing ingested yet, or a
        first ingest killed before it named its generation). A CURRENT that is present but
        does not name a complete generation is damage: ``StoreError``, and nothing is
        touched (a run must never take it for an empty store and delete the generations)."""
        pointer = self.root / CURRENT
        if not pointer.is_file():
            return None
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise damaged(pointer, f"cannot be read ({exc})") from None
        if not GENERATION_NAME.fullmatch(name):
            raise damaged(pointer, f"holds {name[:40]!r}, not a generation's name (g-...)")
        path = self.root / name
        if not (path / MANIFEST).is_file():
            raise damaged(pointer, f"names {name}, which is not a complete generation here")
        return path

    def manifest(self) -> Manifest:
        generation = self.generation
        return Manifest() if generation is None else Manifest.read(generation / MANIFEST)

    def table_path(self, table: str) -> Path | None:
        generation = self.generation
        path = generation / "tables" / f"{table}.parquet" if generation else None
        return path if path is not None and path.is_file() else None

    def scan(self, table: str) -> pl.LazyFrame | None:
        """The current view of a table, or None when no extract has held it."""
        path = self.table_path(table)
        return pl.scan_parquet(intact(path)) if path is not None else None

    def scan_version(self, table: str, month: str) -> pl.LazyFrame | None:
        """The rows of ``table`` exactly as the extract closing ``month`` delivered them."""
        generation = self.generation
        path = generation / "versions" / table / f"{month}.parquet" if generation else None
        return pl.scan_parquet(intact(path)) if path is not None and path.is_file() else None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock; a second process gets ``LockedError`` (exit 75) at once.

        The lock is the operating system's (flock), so a killed run's lock is released with
        its process: a stale lock file is harmless and reused. Within one process the lock is
        re-entrant, so ``safeguard run`` can hold it around the stages that also take it.
        """
        key = str(self.root.resolve())
        if _HELD.get(key):
            _HELD[key] += 1
            try:
                yield
            finally:
                _HELD[key] -= 1
            return
        _mkdir(self.root)
        lock = FileLock(self.root / LOCK, timeout=0, mode=FILE_MODE)
        owner = self.root / OWNER
        try:
            lock.acquire()
        except Timeout:
            holder = owner.read_text(encoding="utf-8").strip() if owner.is_file() else "unknown"
            raise LockedError(
                f"another safeguard run is using {self.root} ({holder}); "
                "try again when it has finished"
            ) from None
        try:
            write_private_text(owner, f"process {os.getpid()} on {socket.gethostname()}\n")
            _HELD[key] = 1
            yield
        finally:
            _HELD.pop(key, None)
            owner.unlink(missing_ok=True)
            lock.release()

    def clean_leftovers(self) -> list[str]:
        """Remove what a killed run left behind. Call with the lock held."""
        live = self.generation
        removed = []
        for path in sorted(self.root.iterdir()):
            stale_tmp = path.name.startswith(".tmp-")
            # a generation goes only when a valid CURRENT names another one
            stale_gen = path.name.startswith("g-") and live is not None and path != live
            if path.is_dir() and (stale_tmp or stale_gen):
                shutil.rmtree(path)
                removed.append(path.name)
        for path in self.root.glob(f"{CURRENT}.tmp*"):
            path.unlink()
            removed.append(path.name)
        return removed


GENERATION_NAME = re.compile(r"g-[0-9a-f]{8,64}")
RESTORE = (
    "Restore the store from a backup, or ingest the extracts in data/raw into an empty store "
    "(move data/processed aside first)"
)
PARQUET_MAGIC = b"PAR1"


def intact(path: Path) -> Path:
    """``path`` when it ends as a parquet file must (a truncated copy does not): polars'
    own error would not say which file. ``StoreError`` naming it otherwise."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size >= 12:
                handle.seek(-4, os.SEEK_END)
                if handle.read(4) == PARQUET_MAGIC:
                    return path
    except OSError as exc:
        raise StoreError(f"the store file {path} cannot be read ({exc}). {RESTORE}") from None
    raise StoreError(f"the store file {path} is damaged (cut short). {RESTORE}")


def damaged(pointer: Path, what: str) -> StoreError:
    return StoreError(
        f"the store's {pointer} {what}; nothing was changed. Run `safeguard store repair` to "
        "point it at the newest complete generation (it lists what it finds first), or restore "
        "the store from a backup"
    )


@dataclass(frozen=True)
class Candidate:
    """A generation folder that ``store repair`` could make live."""

    path: Path
    extracts: int  # how many extracts and returns its manifest holds
    latest: str  # the latest monthly extract it holds ("" for returns only)
    problem: str  # why it cannot be used ("" when complete)


def generations(root: Path) -> list[Candidate]:
    """Every g-* folder of the store, newest content first, each checked for completeness (a
    manifest that reads, and every table file it lists)."""
    found = []
    for path in sorted(root.glob("g-*")):
        if not path.is_dir():
            continue
        try:
            manifest = Manifest.read(path / MANIFEST)
        except (OSError, DataError, ValueError) as exc:
            found.append(Candidate(path, 0, "", f"no readable manifest ({exc})"[:200]))
            continue
        missing = [t for t in manifest.tables if not (path / "tables" / f"{t}.parquet").is_file()]
        monthly = [key for key in manifest.extracts if not is_return(key)]
        found.append(
            Candidate(
                path,
                len(manifest.extracts),
                max(monthly, default=""),
                f"missing tables/{missing[0]}.parquet" if missing else "",
            )
        )
    return sorted(found, key=lambda c: (c.problem == "", c.latest, c.extracts), reverse=True)


def repair(root: Path) -> tuple[Path | None, list[Candidate]]:
    """Point CURRENT at the newest complete generation (the one holding the latest monthly
    extract, then the most extracts) when it is damaged; deletes nothing. Returns the
    generation now live (None when none is complete) and every one considered. Call with the
    lock held."""
    store = Store(root)
    try:
        live = store.generation
    except StoreError:
        live = None
    else:
        if live is not None:
            return live, generations(root)
    candidates = generations(root)
    complete = [c for c in candidates if not c.problem]
    if not complete:
        return None, candidates
    pointer = root / f"{CURRENT}.tmp"
    _write_bytes(pointer, (complete[0].path.name + "\n").encode())
    os.replace(pointer, root / CURRENT)
    return complete[0].path, candidates


def _checksums(result: ExtractResult) -> dict[str, str]:
    return {t.table: t.sha256 for t in result.report.tables.values()}


def is_return(key: str) -> bool:
    """A statutory return (``cin-2022``, ``ssda903-2020``...) rather than a monthly extract,
    whose key is its month."""
    return re.match(MONTH_PATTERN, key) is None


def rank(key: str) -> tuple[int, str]:
    """Precedence of the extracts and returns in the store, lowest first: every statutory
    return ranks below every monthly extract (the case-management system's own record wins),
    returns among themselves by name, monthly extracts by month."""
    return (0 if is_return(key) else 1, key)


def window_of(key: str, entry: ExtractEntry) -> tuple[Month, Month]:
    """The first and last months an extract or return in the manifest covers."""
    if entry.window is not None:
        return entry.window.first, entry.window.last
    last = Month.parse(key)  # a store written before windows were recorded: monthly extracts
    return last.shift(-23), last


_RETURN = ~pl.col(EXTRACT).str.contains(MONTH_PATTERN)  # is_return, as an expression
_ORDER = (
    pl.when(_RETURN).then(pl.lit("0") + pl.col(EXTRACT)).otherwise(pl.lit("1") + pl.col(EXTRACT))
)


def _version_parts(folder: Path) -> list[Path]:
    """A table's version files, lowest precedence first (``rank``)."""
    return sorted(folder.glob("*.parquet"), key=lambda p: rank(p.stem)) if folder.is_dir() else []


def _natural_key(table: Table) -> list[pl.Expr]:
    """The natural key's columns as ``__nk<i>``, a date-time compared by its date."""
    return [
        (pl.col(c).dt.date() if table.columns[c].type is ColumnType.DATETIME else pl.col(c)).alias(
            f"__nk{i}"
        )
        for i, c in enumerate(table.natural_key)
    ]


def _give_way(
    frame: pl.LazyFrame, claimed: pl.LazyFrame, table: Table, returns: bool
) -> pl.LazyFrame:
    """``frame`` with ``__gave_way``: true on a return's row whose natural key ``claimed`` (a
    monthly extract's rows) also holds. ``returns``: whether the store holds any return (the
    join is skipped when it does not)."""
    if not table.natural_key or not returns:
        return frame.with_columns(pl.lit(False).alias("__gave_way"))
    names = [f"__nk{i}" for i in range(len(table.natural_key))]
    keys = (
        claimed.select(_natural_key(table))
        .drop_nulls()
        .unique()
        .with_columns(pl.lit(True).alias("__claimed"))
    )
    return (
        frame.with_columns(_natural_key(table))
        .join(keys, on=names, how="left", maintain_order="left")
        .with_columns((_RETURN & pl.col("__claimed").fill_null(False)).alias("__gave_way"))
        .drop(*names, "__claimed")
    )


def _table_stats(
    versions: pl.LazyFrame, table: Table, returns: bool = True
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The current view (newest extract per id, a return's record giving way to a monthly
    extract's with the same natural key) and per-extract supersession counts."""
    id_column = table.id
    content = pl.all().exclude(EXTRACT, "_line", "__order")
    flagged = (
        versions.with_columns(_ORDER.alias("__order"))
        .sort([id_column, "__order"])
        .with_columns(
            (pl.col("__order") == pl.col("__order").max().over(id_column)).alias("__latest"),
            (pl.col("__order") > pl.col("__order").min().over(id_column)).alias("__has_older"),
            pl.struct(content).hash(seed=0).alias("__hash"),
        )
    )
    flagged = flagged.with_columns(
        (
            pl.col("__has_older") & (pl.col("__hash") != pl.col("__hash").shift(1).over(id_column))
        ).alias("__revised")
    )
    latest = flagged.filter("__latest")
    latest = _give_way(latest, latest.filter(~_RETURN), table, returns)
    work = ["__order", "__latest", "__has_older", "__hash", "__revised", "__gave_way"]
    current = latest.filter(~pl.col("__gave_way")).drop(work)
    gave_way = latest.group_by(EXTRACT).agg(pl.col("__gave_way").sum().alias("__gave"))
    stats = (
        flagged.group_by(EXTRACT)
        .agg(
            (~pl.col("__has_older")).sum().alias("new"),
            pl.col("__revised").sum().alias("revised"),
            (pl.col("__has_older") & ~pl.col("__revised")).sum().alias("unchanged"),
            (~pl.col("__latest")).sum().alias("superseded_by_newer"),
        )
        .join(gave_way, on=EXTRACT, how="left")
        .with_columns(
            (pl.col("superseded_by_newer") + pl.col("__gave").fill_null(0)).alias(
                "superseded_by_newer"
            )
        )
        .drop("__gave")
        .sort(EXTRACT)
    )
    return current, stats


def _advance(
    current: pl.LazyFrame, newest: pl.LazyFrame, table: Table, returns: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The current view after a monthly extract newer than every other: what ``_table_stats``
    gives for all versions, computed from the old current view alone.

    Returns the new current view (sorted by id, as the full rebuild sorts it), the newest
    extract's counts, and how many current rows of each older extract it supersedes (by id,
    or a return's row by natural key).

    Without returns in the store (nothing gives way by natural key), the two sides are merged
    in id order when each holds an id once (``_advance_sorted``: a linear pass, no hash join);
    the joins below are the general case, and the two agree row for row.
    """
    if not returns:
        held = _sorted_by(current.collect(), table.id)
        fresh = _sorted_by(newest.collect(), table.id)
        if held.schema == fresh.schema and _ids_once(held, table.id) and _ids_once(fresh, table.id):
            return _advance_sorted(held, fresh, table)
        current, newest = held.lazy(), fresh.lazy()
    id_column = table.id
    content = pl.all().exclude(EXTRACT, "_line")
    old = current.select(
        pl.col(id_column),
        pl.col(EXTRACT).alias("__old_extract"),
        pl.struct(content).hash(seed=0).alias("__old_hash"),
    )
    matched = newest.with_columns(pl.struct(content).hash(seed=0).alias("__hash")).join(
        old, on=id_column, how="left"
    )
    stats = matched.select(
        pl.col(EXTRACT).first(),
        pl.col("__old_hash").is_null().sum().alias("new"),
        (pl.col("__old_hash") != pl.col("__hash")).sum().alias("revised"),
        (pl.col("__old_hash") == pl.col("__hash")).sum().alias("unchanged"),
        pl.lit(0, pl.UInt32).alias("superseded_by_newer"),
    )
    kept = _give_way(
        current.join(newest.select(id_column), on=id_column, how="anti"), newest, table, returns
    )
    superseded = (
        pl.concat(
            [
                matched.filter(pl.col("__old_extract").is_not_null()).select(
                    pl.col("__old_extract")
                ),
                kept.filter("__gave_way").select(pl.col(EXTRACT).alias("__old_extract")),
            ]
        )
        .group_by("__old_extract")
        .len()
        .sort("__old_extract")
    )
    merged = pl.concat(
        [kept.filter(~pl.col("__gave_way")).drop("__gave_way"), newest], how="vertical"
    ).sort(id_column)
    frame, stats_frame, superseded_frame = pl.collect_all([merged, stats, superseded])
    return frame, stats_frame, superseded_frame


def _sorted_by(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` in ``column`` order (ids are unique, so the order is the same however it is
    reached); sorted only when it is not already, as the current view and most extracts are."""
    return frame if frame.get_column(column).is_sorted() else frame.sort(column)


def _same_as_next(ids: pl.Series) -> pl.Series:
    """For each of sorted ``ids`` but the last, whether the next one is the same (a linear
    comparison of neighbours, no hashing)."""
    return ids.slice(1) == ids.slice(0, max(ids.len() - 1, 0))


def _ids_once(frame: pl.DataFrame, column: str) -> bool:
    """Whether ``frame``, sorted by ``column``, holds each id once and no blank one."""
    ids = frame.get_column(column)
    if ids.null_count():
        return False
    return not _same_as_next(ids).any()


def _advance_sorted(
    current: pl.DataFrame, newest: pl.DataFrame, table: Table
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``_advance`` for a store without returns: the old current view and the newest extract,
    each sorted by id and holding an id once, no blank one (``_ids_once``; the current view by
    construction, an extract because a repeated id is quarantined).

    Their ids and content hashes (the hashes ``_advance`` compares) are merged in id order, so
    an id both hold is on two adjacent rows: the newest row of such a pair supersedes the old
    one, and the two hashes say whether it was revised. The current view out is the old rows
    not superseded merged with the newest rows, in id order: sorted by id, as the rebuild
    sorts it. Only the ids and hashes are merged to find the pairs; the whole rows once.
    """
    id_column = table.id
    content = pl.all().exclude(EXTRACT, "_line")

    def keys(frame: pl.DataFrame, new: bool) -> pl.LazyFrame:
        return frame.lazy().select(
            pl.col(id_column),
            pl.col(EXTRACT),
            pl.struct(content).hash(seed=0).alias("__hash"),
            pl.lit(new).alias("__new"),
        )

    held, fresh = pl.collect_all([keys(current, False), keys(newest, True)])
    merged = held.merge_sorted(fresh, key=id_column)
    # neighbours compared once, eagerly (as expressions, each query of three recomputed them)
    ids, hashes = merged.get_column(id_column), merged.get_column("__hash")
    same = _same_as_next(ids)
    with_previous = pl.concat([pl.Series([False]), same]).head(ids.len())
    with_next = pl.concat([same, pl.Series([False])]).head(ids.len())
    pairs = merged.with_columns(
        (with_previous | with_next).alias("__paired"),
        pl.when(with_previous)
        .then(hashes.shift(1))
        .when(with_next)
        .then(hashes.shift(-1))
        .alias("__other_hash"),
    ).lazy()
    stats = pairs.filter("__new").select(
        pl.col(EXTRACT).first(),
        (~pl.col("__paired")).sum().alias("new"),
        (pl.col("__other_hash") != pl.col("__hash")).sum().alias("revised"),
        (pl.col("__other_hash") == pl.col("__hash")).sum().alias("unchanged"),
        pl.lit(0, pl.UInt32).alias("superseded_by_newer"),
    )
    old = pairs.filter(~pl.col("__new"))  # the current view's rows, in its order
    superseded = (
        old.filter("__paired")
        .select(pl.col(EXTRACT).alias("__old_extract"))
        .group_by("__old_extract")
        .len()
        .sort("__old_extract")
    )
    stats_frame, superseded_frame, kept = pl.collect_all(
        [stats, superseded, old.select(~pl.col("__paired"))]
    )
    frame = (
        current.filter(kept.to_series()).lazy().merge_sorted(newest.lazy(), key=id_column).collect()
    )
    return frame, stats_frame, superseded_frame


# tables whose open records a later return closes: (child, start, end) columns
CLOSED_BY_NEXT: dict[str, tuple[str, str, str]] = {
    "cla_episodes": (
        "clae_person_id",
        "clae_cla_episode_start_date",
        "clae_cla_episode_ceased_date",
    ),
    "referrals": ("cine_person_id", "cine_referral_date", "cine_close_date"),
}


# the annual returns that hold everyone in care (903) or in need (census) at any time in their
# year; an Annex A list is a six-month snapshot of other things, so it closes nothing
CLOSING_FORMATS = frozenset({"ssda903", "cin-xml"})


def next_returns(extracts: dict[str, ExtractEntry], table: str) -> dict[str, str]:
    """Each annual return holding ``table`` -> the return of the same format holding it whose
    year starts the month after this one's ends (``ssda903-2019`` -> ``ssda903-2020``)."""
    holding = {
        key: (entry.format, *window_of(key, entry))
        for key, entry in extracts.items()
        if is_return(key) and entry.format in CLOSING_FORMATS and table in entry.files
    }
    starts = {(fmt, first): key for key, (fmt, first, _) in holding.items()}
    return {
        key: starts[(fmt, last.shift(1))]
        for key, (fmt, _, last) in holding.items()
        if (fmt, last.shift(1)) in starts
    }


def _close_omitted(
    frame: pl.DataFrame,
    table: Table,
    name: str,
    extracts: dict[str, ExtractEntry],
    parts: list[Path],
) -> tuple[pl.DataFrame, dict[str, int], dict[str, int]]:
    """The current view of ``table`` with what each later return implies for the records an
    earlier return of its format left open at its year end and the later return does not hold
    (903 rules 502 and 1010; CIN episodes alike). The later return covers everyone in care (or
    in need) at any time in its year, so such a record was not open on its first day:

    - when the later return holds another record of the same child starting before its first
      day, it restates the child's care on that day: the earlier record is superseded (dropped
      from the current view; its version stays);
    - otherwise the record is closed on the later year's first day (1 April), its end reason
      left blank: the one day on which both returns hold (open at 31 March by the earlier,
      not open on 1 April by the later, a record counting as open on the days before its end).

    What is omitted is decided from the two returns' versions (``parts``) alone, so it does
    not depend on monthly extracts or the order of loading; it applies to the records still
    at the earlier return in the current view. Returns the frame and, per earlier return, how
    many records were closed and superseded.
    """
    spec = CLOSED_BY_NEXT.get(name)
    files = {p.stem: p for p in parts}
    following = {
        key: later
        for key, later in (next_returns(extracts, name) if spec is not None else {}).items()
        if key in files and later in files
    }
    if spec is None or not following:
        return frame, {}, {}
    person, start, end = spec
    decided = []
    for key, later in sorted(following.items()):
        first_day = window_of(later, extracts[later])[0].first_day
        held = pl.scan_parquet(files[later]).select(table.id, person, start)
        restating = (
            held.filter(pl.col(start) < first_day)
            .select(person)
            .unique()
            .with_columns(pl.lit(True).alias("__restated"))
        )
        decided.append(
            pl.scan_parquet(files[key])
            .filter(pl.col(end).is_null())
            .select(table.id, person)
            .join(held.select(table.id), on=table.id, how="anti")
            .join(restating, on=person, how="left")
            .select(
                table.id,
                pl.lit(key).alias(EXTRACT),
                pl.col("__restated").fill_null(False),
                pl.lit(first_day, pl.Date).alias("__close"),
            )
        )
    decisions = pl.concat(decided).collect()
    if decisions.is_empty():
        return frame, {}, {}
    result = (
        frame.join(decisions, on=[table.id, EXTRACT], how="left", maintain_order="left")
        .filter(~pl.col("__restated").fill_null(False))
        .with_columns(
            pl.when(pl.col("__close").is_not_null() & pl.col(end).is_null())
            .then(pl.col("__close"))
            .otherwise(pl.col(end))
            .cast(frame.schema[end])
            .alias(end)
        )
        .select(frame.columns)
    )

    def per_return(restated: bool) -> dict[str, int]:
        rows = decisions.filter(pl.col("__restated") == restated)
        return {k: int(n) for k, n in rows.group_by(EXTRACT).len().sort(EXTRACT).iter_rows()}

    return result, per_return(False), per_return(True)


def _record_closures(
    extracts: dict[str, ExtractEntry],
    table: str,
    closed: dict[str, int],
    superseded: dict[str, int],
) -> None:
    """Set every return's closed and superseded counts for ``table`` (absent when none)."""
    for key, entry in list(extracts.items()):
        update: dict[str, Any] = {}
        for field, counts in (("closed_by_next", closed), ("superseded_by_next", superseded)):
            held = {k: v for k, v in (getattr(entry, field) or {}).items() if k != table}
            if counts.get(key):
                held[table] = counts[key]
            if held != (getattr(entry, field) or {}):
                update[field] = dict(sorted(held.items())) or None
        if update:
            extracts[key] = entry.model_copy(update=update)


def swap_folder(tmp: Path, final: Path) -> None:
    """Show ``tmp``'s content at ``final`` in one atomic step.

    ``final`` is a symbolic link to a hidden versioned folder beside it (``.v-<name>-*``);
    the link is replaced with ``os.replace``, so a reader (or a kill) sees the old folder or
    the new one, never neither. ``tmp`` must be a ``.tmp-<name>-*`` folder in the same place.
    """
    root = final.parent
    target = root / (".v-" + tmp.name.removeprefix(".tmp-"))
    os.replace(tmp, target)
    link = root / f".link-{final.name}"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(target.name, link)
    if final.is_dir() and not final.is_symlink():  # a real folder from before links
        os.replace(final, root / f".old-{final.name}")
    os.replace(link, final)
    _drop_other_versions(root, final)


@contextlib.contextmanager
def new_month_folder(final: Path) -> Iterator[Path]:
    """A ``.tmp-<name>-*`` folder beside ``final`` for the caller to fill; then its files made
    owner-only and the whole folder shown at ``final`` (``swap_folder``). On any error or kill
    before the swap, ``final`` is as it was (the folder is removed, or left for
    ``recover_month_folders``)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    os.chmod(tmp, DIR_MODE)
    try:
        yield tmp
        for path in tmp.iterdir():
            os.chmod(path, FILE_MODE)
        swap_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _drop_other_versions(root: Path, final: Path) -> list[str]:
    live = final.resolve() if final.is_symlink() else None
    dropped = []
    for other in sorted(root.glob(f".v-{final.name}-*")):
        if live is None or other.resolve() != live:
            shutil.rmtree(other, ignore_errors=True)
            dropped.append(other.name)
    old = root / f".old-{final.name}"
    if old.exists() and final.exists():
        shutil.rmtree(old, ignore_errors=True)
        dropped.append(old.name)
    return dropped


def recover_month_folders(root: Path) -> list[str]:
    """Tidy what a killed write of ``root/<month>`` folders left: unfinished ``.tmp-*`` and
    ``.link-*``, versions no link shows, and a ``.old-<month>`` (put back if its month
    folder is missing). Returns what was done, for the log."""
    done: list[str] = []
    if not root.is_dir():
        return done
    for path in sorted(root.iterdir()):
        if path.name.startswith(".tmp-") and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            done.append(f"removed {path.name}")
        elif path.name.startswith(".link-"):
            path.unlink(missing_ok=True)
            done.append(f"removed {path.name}")
    for path in sorted(root.iterdir()):
        if path.name.startswith(".old-"):
            final = root / path.name[len(".old-") :]
            if not final.exists():
                if final.is_symlink():
                    final.unlink()
                os.replace(path, final)
                done.append(f"restored {final.name}")
    months = {p.name.removeprefix(".v-").rsplit("-", 1)[0] for p in root.glob(".v-*")}
    for month in sorted(months):
        done += [f"removed {name}" for name in _drop_other_versions(root, root / month)]
    return done


def _current_view(
    parts: list[Path],
    target: Path,
    table: Table,
    name: str = "",
    extracts: dict[str, ExtractEntry] | None = None,
) -> tuple[int, pl.DataFrame]:
    """Write a table's current view from all its versions; its row count and the counts per
    extract. A table one extract holds links that extract's file, as it is. With ``extracts``
    (which are updated), records a later return omits are closed (``_close_omitted``)."""
    if len(parts) == 1:
        _link_or_copy(parts[0], target)
        rows = int(pl.scan_parquet(intact(parts[0])).select(pl.len()).collect().item())
        stats = pl.DataFrame(
            {
                EXTRACT: [parts[0].stem],
                "new": [rows],
                "revised": [0],
                "unchanged": [0],
                "superseded_by_newer": [0],
            }
        )
        return rows, stats
    returns = any(is_return(p.stem) for p in parts)
    current, counts = _table_stats(pl.scan_parquet([intact(p) for p in parts]), table, returns)
    frame, stats = pl.collect_all([current, counts])
    if extracts is not None and returns:
        frame = _closed(frame, table, name, extracts, parts)
    _write_parquet(frame, target)
    return frame.height, stats


def _closed(
    frame: pl.DataFrame,
    table: Table,
    name: str,
    extracts: dict[str, ExtractEntry],
    parts: list[Path],
) -> pl.DataFrame:
    """``_close_omitted``, its counts recorded in ``extracts``."""
    if name not in CLOSED_BY_NEXT:
        return frame
    frame, closed, superseded = _close_omitted(frame, table, name, extracts, parts)
    _record_closures(extracts, name, closed, superseded)
    return frame


def _set_counts(
    extracts: dict[str, ExtractEntry], key: str, table: str, counts: dict[str, int]
) -> None:
    """Replace ``extracts[key]`` by a copy whose entry for ``table`` has ``counts``."""
    entry = extracts.get(key)
    held = entry.files.get(table) if entry is not None else None
    if entry is not None and held is not None:
        files = {**entry.files, table: held.model_copy(update=counts)}
        extracts[key] = entry.model_copy(update={"files": files})


def _record_counts(extracts: dict[str, ExtractEntry], table: str, stats: pl.DataFrame) -> None:
    """Copy per-extract counts into the manifest's entries for ``table``."""
    for row in stats.iter_rows(named=True):
        counts = {k: int(row[k]) for k in ("new", "revised", "unchanged", "superseded_by_newer")}
        _set_counts(extracts, row[EXTRACT], table, counts)


def _link_or_copy(source: Path, target: Path) -> None:
    _mkdir(target.parent)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def merge_extract(
    root: Path,
    result: ExtractResult,
    contract: Contract,
    *,
    pseudonym: str | None = None,
    before_swap: Any = None,
    source: Source | None = None,
    not_loaded: dict[str, int] | None = None,
    replace: bool = True,
) -> MergeOutcome:
    """Merge a validated extract into the store at ``root``, atomically.

    A statutory return's tables already held under its name with other content are replaced
    only with ``replace``; otherwise ``ReplaceRefused`` says what is held and nothing is
    written. Its tables not held are added beside those held (a return is held by table).

    ``source`` says what a statutory return is (its key in the store, format and the months it
    covers); a monthly extract's key is its month and it covers the 24 months to it.
    ``before_swap`` is a test hook called just before the new generation goes live.
    """
    store = Store(root)
    report = result.report
    if source is None:
        source = Source(str(report.month), "extract", report.month.shift(-23), report.month)
    month = source.key
    with store.locked():
        store.clean_leftovers()
        live = store.generation
        manifest = store.manifest()
        extracts = manifest.extracts
        if extracts and manifest.pseudonym_key != pseudonym:
            held = manifest.pseudonym_key
            raise ConfigError(
                "the store's child ids were pseudonymised with another key; set the same "
                "SAFEGUARD_PSEUDONYM_KEY as before"
                if held and pseudonym
                else "the store holds pseudonymised child ids: set SAFEGUARD_PSEUDONYM_KEY"
                if held
                else "SAFEGUARD_PSEUDONYM_KEY is set but the store holds real child ids: ingest "
                "into a new store to pseudonymise"
            )
        previous = extracts.get(month)
        mine = _checksums(result)
        sums = previous.checksums() if previous is not None else {}
        if (
            previous is not None
            and (sums == mine or (by_table(month, source.format) and sums.items() >= mine.items()))
            and (previous.contract, previous.encoding) == (contract.fingerprint(), report.encoding)
        ):
            assert live is not None
            return MergeOutcome("unchanged", live, manifest)
        going = replaced_tables(month, previous, mine)
        if going and not replace:
            raise ReplaceRefused({month: going})
        for other, info in sorted(extracts.items()):
            if other != month and info.checksums() == mine:
                raise DataError(
                    f"{report.extract}: every file is identical to extract {other} already in the "
                    f"store; was {other} copied under the name {month}? Nothing was written."
                )

        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        os.chmod(tmp, DIR_MODE)
        try:
            name, written = _build_generation(
                tmp, live, extracts, source, result, contract, pseudonym, not_loaded
            )
            if before_swap is not None:
                before_swap(tmp)
            final = _publish(root, tmp, name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if live is not None and live != final:
            shutil.rmtree(live, ignore_errors=True)
        return MergeOutcome("written", final, written)


def _publish(root: Path, tmp: Path, name: str) -> Path:
    """Move a finished generation into place and point CURRENT at it (the atomic step)."""
    final = root / name
    if final.exists():  # the same content is already there
        shutil.rmtree(tmp)
    else:
        os.replace(tmp, final)
    pointer = root / f"{CURRENT}.tmp"
    _write_bytes(pointer, (final.name + "\n").encode())
    os.replace(pointer, root / CURRENT)
    return final


def _manifest_file(
    tmp: Path,
    extracts: dict[str, ExtractEntry],
    tables: dict[str, TableEntry],
    contract: Contract,
    pseudonym: str | None = None,
) -> tuple[str, Manifest]:
    """Write the generation's manifest; the generation's name (a hash of it), and it."""
    manifest = Manifest(
        format=STORE_FORMAT,
        pseudonym_key=pseudonym,
        contract_version=contract.version,
        extracts=dict(sorted(extracts.items())),
        tables=dict(sorted(tables.items())),
    )
    data = manifest.to_json()
    _write_bytes(tmp / MANIFEST, data)
    return "g-" + hashlib.sha256(data).hexdigest()[:16], manifest


RETENTION = "RETENTION"  # the latest purge's cut-off (YYYY-MM): older extracts stay out


def retention(root: Path) -> str | None:
    """The store's retention cut-off: extracts (and returns) closing before it were purged on
    purpose and are not loaded again. None when no purge has set one."""
    path = root / RETENTION
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8").strip()
    if re.fullmatch(r"\d{4}-\d{2}", text) is None:
        raise StoreError(f"the store's {path} holds {text[:20]!r}, not a month (YYYY-MM)")
    return text


def record_retention(root: Path, before: str) -> None:
    """Keep the latest cut-off (a purge to an earlier month changes nothing), atomically."""
    held = retention(root)
    if held is not None and held >= before:
        return
    pointer = root / f"{RETENTION}.tmp"
    _write_bytes(pointer, (before + "\n").encode())
    os.replace(pointer, root / RETENTION)


def purge_before(root: Path, before: str, contract: Contract) -> list[str]:
    """Remove every extract closing before ``before`` (YYYY-MM), and every statutory return
    whose last month is before it, with all that derives from them, atomically; records only
    those held leave the store. Returns the extracts and returns removed."""
    store = Store(root)
    with store.locked():
        store.clean_leftovers()
        live = store.generation
        if live is None:
            return []
        manifest = store.manifest()
        extracts = manifest.extracts
        gone = sorted(key for key in extracts if str(window_of(key, extracts[key])[1]) < before)
        if not gone:
            return []
        kept = {key: info for key, info in extracts.items() if key not in gone}
        # the cut-off first: a purge killed before the swap leaves it set (older extracts then
        # refused, though still held: safe), never a purged store that re-ingests them
        record_retention(root, before)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        os.chmod(tmp, DIR_MODE)
        try:
            for source in sorted(live.rglob("*")):
                relative = source.relative_to(live)
                top = relative.parts
                if not source.is_file() or source.name == MANIFEST or top[0] == "tables":
                    continue
                if (top[0] == "versions" and source.stem in gone) or (
                    top[0] == "extracts" and top[1] in gone
                ):
                    continue
                _link_or_copy(source, tmp / relative)
            tables: dict[str, TableEntry] = {}
            for name in CLOSED_BY_NEXT:  # recounted below for the tables still held
                _record_closures(kept, name, {}, {})
            for name in sorted(contract.tables):
                folder = tmp / "versions" / name
                parts = _version_parts(folder)
                if not parts:
                    continue
                rows, stats_frame = _current_view(
                    parts, tmp / "tables" / f"{name}.parquet", contract.tables[name], name, kept
                )
                _record_counts(kept, name, stats_frame)
                tables[name] = TableEntry(rows=rows, extracts=tuple(p.stem for p in parts))
            generation, _ = _manifest_file(tmp, kept, tables, contract, manifest.pseudonym_key)
            final = _publish(root, tmp, generation)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if live != final:
            shutil.rmtree(live, ignore_errors=True)
        return gone


def _merged_reports(held: Path, loaded: str, kept_files: set[str]) -> tuple[str, str]:
    """A return year's validation report (JSON, CSV) when a load adds tables to those held:
    the load's report with the held report's issues and table outcomes for the files kept, so
    the quality annex still lists the kept tables' quarantined rows."""
    payload = json.loads(loaded)
    if held.is_file():
        before = json.loads(held.read_text(encoding="utf-8"))
        payload["issues"] = [
            *(i for i in before.get("issues", []) if i.get("file") in kept_files),
            *payload["issues"],
        ]
        tables = before.get("summary", {}).get("tables", {})
        kept = {t: o for t, o in tables.items() if o.get("file") in kept_files}
        payload["summary"]["tables"] = dict(
            sorted({**kept, **payload["summary"]["tables"]}.items())
        )
    columns = ["file", "line", "column", "value", "rule", "severity", "message", "level"]
    frame = pl.DataFrame(
        [{c: i.get(c) for c in columns} for i in payload["issues"]],
        schema={c: pl.Int64 if c == "line" else pl.String for c in columns},
    )
    return json.dumps(payload, indent=2, default=str) + "\n", frame.write_csv()


def _old_tables(live: Path | None) -> dict[str, TableEntry]:
    return {} if live is None else Manifest.read(live / MANIFEST).tables


def _build_generation(
    tmp: Path,
    live: Path | None,
    extracts: dict[str, ExtractEntry],
    origin: Source,
    result: ExtractResult,
    contract: Contract,
    pseudonym: str | None = None,
    not_loaded: dict[str, int] | None = None,
) -> tuple[str, Manifest]:
    report = result.report
    month = origin.key
    previous = extracts.get(month)
    previous_tables = set(previous.files) if previous is not None else set()
    # a statutory return is held by table: the tables this load does not bring are kept
    kept = previous_tables - set(result.tables) if by_table(month, origin.format) else set()
    affected = sorted(previous_tables | set(result.tables))

    # 1. carry over every file this extract does not change
    if live is not None:
        for source in sorted(live.rglob("*")):
            if not source.is_file() or source.name == MANIFEST:
                continue
            relative = source.relative_to(live)
            top = relative.parts
            if top[0] == "tables" and source.stem in affected:
                continue
            if top[0] == "versions" and source.stem == month and top[1] not in kept:
                continue
            kept_quarantine = top[2:3] == ("quarantine",) and source.stem in kept
            if top[0] == "extracts" and top[1] == month and not kept_quarantine:
                continue
            _link_or_copy(source, tmp / relative)

    # 2. this extract's rows, reports and quarantine
    for name, table_result in sorted(result.tables.items()):
        versions = table_result.loaded.with_columns(pl.lit(month).alias(EXTRACT))
        _write_parquet(versions, tmp / "versions" / name / f"{month}.parquet")
        if table_result.quarantine.height:
            _write_bytes(
                tmp / "extracts" / month / "quarantine" / f"{name}.csv",
                table_result.quarantine.write_csv().encode("utf-8"),
            )
    report_json, report_csv = report.to_json(), report.to_csv()
    if kept and previous is not None and live is not None:
        report_json, report_csv = _merged_reports(
            live / "extracts" / month / "validation.json",
            report_json,
            {previous.files[t].file for t in kept},
        )
    _write_bytes(tmp / "extracts" / month / "validation.json", report_json.encode("utf-8"))
    _write_bytes(tmp / "extracts" / month / "validation.csv", report_csv.encode("utf-8"))

    # 3. rebuild the current view of every affected table from all its versions
    files = {
        name: FileEntry(
            file=outcome.file,
            sha256=outcome.sha256,
            rows=outcome.rows,
            loaded=outcome.loaded,
            quarantined=outcome.quarantined,
            warnings=outcome.warnings,
            blank_lines=outcome.blank_lines,
            columns_present=tuple(outcome.columns_present),
        )
        for name, outcome in sorted(report.tables.items())
    }
    new_extracts = {k: v for k, v in extracts.items() if k != month}
    missing, skipped = tuple(report.missing_tables), not_loaded or {}
    if kept and previous is not None:  # tables of the same return loaded before: merged
        files = {**{t: previous.files[t] for t in kept}, **files}
        missing = tuple(sorted(set(missing) & set(previous.missing_tables)))
        skipped = {**(previous.not_loaded or {}), **skipped}
    new_extracts[month] = ExtractEntry(
        source=report.extract,
        format=origin.format,
        window=Window(first=origin.first, last=origin.last),
        contract=contract.fingerprint(),
        encoding=report.encoding,
        files=files,
        missing_tables=missing,
        # parts of a return with no table in the store: counted, never dropped
        not_loaded=dict(sorted(skipped.items())) if skipped else None,
        closed_by_next=previous.closed_by_next if previous is not None else None,
        superseded_by_next=previous.superseded_by_next if previous is not None else None,
    )
    tables_meta: dict[str, TableEntry] = {
        name: meta for name, meta in _old_tables(live).items() if name not in affected
    }
    for name in affected:
        version_dir = tmp / "versions" / name
        parts = _version_parts(version_dir)
        if not parts:  # the only extract that held this table no longer does
            continue
        target = tmp / "tables" / f"{name}.parquet"
        if (
            len(parts) > 1
            and parts[-1].stem == month
            and name not in previous_tables
            and live is not None
            and (live / "tables" / f"{name}.parquet").is_file()
            # a return's load rebuilds a table whose open records returns close; a monthly
            # extract only takes records away from the returns, whose closures stand
            and not (name in CLOSED_BY_NEXT and is_return(month))
        ):  # the newest extract, new to the store: update the current view, no rebuild
            # the newest rows as just written to parts[-1], from memory: not read back
            newest = (
                result.tables[name].loaded.lazy().with_columns(pl.lit(month).alias(EXTRACT))
                if name in result.tables
                else pl.scan_parquet(intact(parts[-1]))
            )
            current_frame, stats_frame, superseded = _advance(
                pl.scan_parquet(intact(live / "tables" / f"{name}.parquet")),
                newest,
                contract.tables[name],
                returns=any(is_return(p.stem) for p in parts),
            )
            _write_parquet(current_frame, target)
            current_rows = current_frame.height
            for older, count in superseded.iter_rows():
                earlier = new_extracts[older].files[name].superseded_by_newer or 0
                _set_counts(
                    new_extracts, older, name, {"superseded_by_newer": earlier + int(count)}
                )
        else:
            if name in CLOSED_BY_NEXT:
                _record_closures(new_extracts, name, {}, {})  # recounted from the versions
            current_rows, stats_frame = _current_view(
                parts, target, contract.tables[name], name, new_extracts
            )
        _record_counts(new_extracts, name, stats_frame)
        tables_meta[name] = TableEntry(rows=current_rows, extracts=tuple(p.stem for p in parts))

    return _manifest_file(tmp, new_extracts, tables_meta, contract, pseudonym)
