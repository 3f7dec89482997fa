"""DfE and ONS reference data on demand, as ``pipelines/reference.yaml`` declares it.

``update`` downloads each declared file (``http://``, ``https://`` or, for a council's own
mirror, ``file://``; with a mirror address the file is ``<mirror>/<file name>``), checks it and
puts it in the reference folder; ``add`` checks and registers a file a council downloaded by
hand; ``status`` says what is held. ``authority_settings`` and ``authority_yaml`` (from
``safeguard.authorities``) build a council's ``authority.yaml`` from what is held.

The check
    UTF-8, with or without a byte-order mark; the declared columns all in the header; every
    row as many fields as the header (a file cut short fails); at least one data row; for an
    EES file a ``time_period`` on every row. A web page where a CSV was expected is named as
    such.

The folder
    The files under their published names, and ``manifest.json``: for each file its sha256,
    size in bytes, data rows, the years it holds (EES ``time_period`` values, oldest first)
    and its source (the web address, or only the file name for a ``file://`` mirror or a file
    added by hand: never a folder on this machine). Every write goes to a temporary file in
    the folder first and is renamed over the old one, so a crash leaves the held copy or the
    new one, never half of either. A file that fails to download or check leaves the held
    copy in place and is reported; the other files go ahead.

Nothing here reads the clock or prints; results are typed values for the command line.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import http.client
import io
import json
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from safeguard import __version__
from safeguard.authorities import (
    NEIGHBOUR_FILES,
    POPULATION_FILE,
    authority_settings,
    authority_yaml,
)
from safeguard.errors import ConfigError, DataError
from safeguard.models import StrictModel as _Strict
from safeguard.schema import load_model

__all__ = [
    "INIT_FILES",
    "MANIFEST_FILE",
    "SPEC_FILE",
    "FileKind",
    "FileOutcome",
    "FileStatus",
    "Held",
    "HeldState",
    "ReferenceFile",
    "ReferenceSpec",
    "UpdateOutcome",
    "add",
    "authority_settings",
    "authority_yaml",
    "load_reference_spec",
    "status",
    "update",
    "years_label",
]

SPEC_FILE = "reference.yaml"
MANIFEST_FILE = "manifest.json"
INIT_FILES: tuple[str, ...] = (POPULATION_FILE, NEIGHBOUR_FILES[0][0])
"""What ``safeguard init`` needs: the population file and the newest neighbour file."""

SCHEMES = ("http", "https", "file")
MAX_BYTES = 256 * 1024 * 1024  # far above any DfE CSV (under 1 MB); stops a runaway download
CHUNK = 1 << 16
TIMEOUT = 60.0
USER_AGENT = f"safeguard/{__version__} (children's social care committee papers)"
_BOM = b"\xef\xbb\xbf"
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]*\.csv$")


# --------------------------------------------------------------------------- the spec


class FileKind(StrEnum):
    EES = "ees"  # long format: one row per geography and year, with time_period
    NEIGHBOURS = "neighbours"  # a statistical neighbour table, one row per authority


class ReferenceFile(_Strict):
    """One published file the tool needs."""

    title: str
    kind: FileKind = FileKind.EES
    url: str | None = Field(default=None, description="direct download; null: add by hand")
    page: str = Field(description="where it is published, for a person")
    columns: tuple[str, ...] = Field(min_length=1, description="the columns the code reads")
    used_for: str
    note: str = ""

    @field_validator("url", "page")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is not None and urllib.parse.urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// address")
        return value

    @model_validator(mode="after")
    def _ees_has_time_period(self) -> ReferenceFile:
        if self.kind is FileKind.EES and "time_period" not in self.columns:
            raise ValueError("an EES file's columns must include time_period")
        return self


class ReferenceSpec(_Strict):
    """``pipelines/reference.yaml``: the reference files, keyed by their published names."""

    version: int = Field(ge=1, le=1)
    files: dict[str, ReferenceFile] = Field(min_length=1)

    @field_validator("files")
    @classmethod
    def _plain_names(cls, files: dict[str, ReferenceFile]) -> dict[str, ReferenceFile]:
        bad = [name for name in files if not _FILE_NAME.match(name) or name == MANIFEST_FILE]
        if bad:
            raise ValueError(f"file names must be plain CSV file names: {bad}")
        return files


def load_reference_spec(path: Path) -> ReferenceSpec:
    """Read and check ``reference.yaml``; unknown keys are errors."""
    return load_model(path, ReferenceSpec)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Held:
    """What the manifest records of one held file."""

    name: str
    sha256: str
    size: int
    rows: int
    years: tuple[str, ...]  # EES time_period values, oldest first; () for other files
    source: str  # a web address, or the file name (file:// mirror, added by hand)

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "rows": self.rows,
            "years": list(self.years),
            "source": self.source,
        }

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> Held:
        return cls(
            name=name,
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            rows=int(data["rows"]),
            years=tuple(str(year) for year in data.get("years") or ()),
            source=str(data.get("source", "")),
        )


Result = Literal["updated", "unchanged", "failed", "skipped"]


@dataclass(frozen=True)
class FileOutcome:
    """What ``update`` did with one file."""

    name: str
    result: Result
    message: str  # one plain sentence, no folder names
    held: Held | None  # the record now held (None when nothing is)


@dataclass(frozen=True)
class UpdateOutcome:
    files: tuple[FileOutcome, ...]

    def _of(self, result: Result) -> list[FileOutcome]:
        return [file for file in self.files if file.result == result]

    @property
    def updated(self) -> list[FileOutcome]:
        return self._of("updated")

    @property
    def unchanged(self) -> list[FileOutcome]:
        return self._of("unchanged")

    @property
    def failed(self) -> list[FileOutcome]:
        return self._of("failed")

    @property
    def skipped(self) -> list[FileOutcome]:
        return self._of("skipped")

    @property
    def ok(self) -> bool:
        """No file failed (skipped files, with no address to fetch, are not failures)."""
        return not self.failed


class HeldState(StrEnum):
    OK = "ok"  # held, and its checksum is the manifest's
    CHANGED = "changed"  # held, but not the file the manifest recorded
    UNRECORDED = "unrecorded"  # held, not in the manifest (copied in by hand, never checked)
    MISSING = "missing"  # not held


@dataclass(frozen=True)
class FileStatus:
    """One declared file as ``status`` finds it."""

    name: str
    title: str
    state: HeldState
    message: str
    record: Held | None  # the manifest's record, when there is one

    @property
    def held(self) -> bool:
        return self.state is not HeldState.MISSING

    @property
    def years(self) -> str:
        return years_label(self.record.years) if self.record else ""


def years_label(years: Sequence[str]) -> str:
    """``("2013", ..., "2025")`` -> ``"2013 to 2025"``; EES spans as DfE writes them."""
    from safeguard.indicators.comparators import period_label

    if not years:
        return ""
    first, last = period_label(years[0]), period_label(years[-1])
    return first if first == last else f"{first} to {last}"


# --------------------------------------------------------------------------- checking


def _period_key(period: str) -> tuple[int, int, str]:
    digits = re.match(r"^\d{4}", period)
    return (int(digits.group(0)) if digits else -1, len(period), period)


def _check(raw: bytes, name: str, entry: ReferenceFile) -> tuple[int, tuple[str, ...]]:
    """(data rows, years) of a downloaded or added file, or DataError saying what is wrong."""
    body = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{name}: not UTF-8 (byte {error.start}); DfE publishes its CSV files as UTF-8"
        ) from None
    if not text.strip():
        raise DataError(f"{name}: the file is empty")
    if text.lstrip().startswith("<"):
        raise DataError(f"{name}: a web page, not a CSV file (is the address a download link?)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = 0
    years: set[str] = set()
    try:
        header = [cell.strip() for cell in next(reader, [])]
        missing = [column for column in entry.columns if column not in header]
        if missing:
            raise DataError(
                f"{name}: no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}: "
                "not the file declared in reference.yaml, or DfE has renamed its columns"
            )
        at = header.index("time_period") if entry.kind is FileKind.EES else None
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{name}: line {reader.line_num} has {len(row)} fields where the header "
                    f"has {len(header)}: the file is cut short or damaged"
                )
            rows += 1
            if at is not None:
                period = row[at].strip()
                if not period:
                    raise DataError(f"{name}: line {reader.line_num} has no time_period")
                years.add(period)
    except csv.Error as error:
        raise DataError(
            f"{name}: not a readable CSV file (line {reader.line_num}: {error}); cut short?"
        ) from None
    if rows == 0:
        raise DataError(f"{name}: a header but no data rows")
    return rows, tuple(sorted(years, key=_period_key))


def _record(raw: bytes, name: str, entry: ReferenceFile, source: str) -> Held:
    rows, years = _check(raw, name, entry)
    return Held(name, hashlib.sha256(raw).hexdigest(), len(raw), rows, years, source)


# --------------------------------------------------------------------------- the folder


def _write_atomic(folder: Path, name: str, data: bytes) -> None:
    """``folder/name`` replaced whole: written to a temporary file beside it, then renamed."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_manifest(folder: Path) -> dict[str, Held]:
    path = folder / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: Held.from_json(name, record) for name, record in data["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise DataError(
            f"the reference folder's {MANIFEST_FILE} is damaged: run `safeguard reference "
            "update` (or `add` each file) to write it again"
        ) from None


def _write_manifest(folder: Path, held: Mapping[str, Held]) -> None:
    data = {"version": 1, "files": {name: held[name].to_json() for name in sorted(held)}}
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    _write_atomic(folder, MANIFEST_FILE, text.encode("utf-8"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- downloading


def _address(url: str) -> str:
    """How a source is written down: a web address without any user:password, or for a
    ``file://`` address only its file name (never a folder on this machine)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _shown(url: str) -> str:
    return "the mirror" if urllib.parse.urlsplit(url).scheme == "file" else _address(url)


def _mirror(base_url: str, name: str) -> str:
    return base_url.rstrip("/") + "/" + urllib.parse.quote(name)


def _check_base(base_url: str) -> None:
    scheme = urllib.parse.urlsplit(base_url).scheme
    if scheme not in SCHEMES:
        raise ConfigError(
            "the reference mirror must be an address: http://..., https://... or "
            "file:///folder (a folder on this machine)"
        )


def _reason(error: BaseException) -> str:
    """A download error as words, without the local path a file:// error carries."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}".strip()
    if isinstance(error, urllib.error.URLError):
        inner = error.reason
        return _reason(inner) if isinstance(inner, BaseException) else str(inner)
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    if isinstance(error, http.client.HTTPException):
        return "the connection broke off"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__


def _download(url: str, timeout: float) -> bytes:
    """The whole body at ``url``, or DataError; a body shorter than its Content-Length (a
    connection that broke off) is refused."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    buffer = io.BytesIO()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            while chunk := response.read(CHUNK):
                buffer.write(chunk)
                if buffer.tell() > MAX_BYTES:
                    raise DataError(f"larger than {MAX_BYTES // (1024 * 1024)} MB: not a DfE CSV")
    except DataError:
        raise
    except urllib.error.HTTPError as error:
        error.close()
        raise DataError(_reason(error)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        raise DataError(_reason(error)) from None
    received = buffer.getvalue()
    if declared and declared.strip().isdigit() and len(received) < int(declared):
        raise DataError(f"only {len(received):,} of {int(declared):,} bytes arrived")
    return received


def update(
    reference_dir: Path,
    spec: ReferenceSpec,
    base_url: str | None = None,
    names: Iterable[str] | None = None,
    *,
    timeout: float = TIMEOUT,
) -> UpdateOutcome:
    """Download, check and hold each file of ``spec`` (or just ``names``): from its ``url``,
    or from ``base_url/<file name>`` when a mirror is given. A file that fails leaves the held
    copy and is reported; a declared file with no address (and no mirror) is skipped."""
    chosen = _chosen(spec, names)
    if base_url is not None:
        _check_base(base_url)
    reference_dir.mkdir(parents=True, exist_ok=True)
    try:
        held = _read_manifest(reference_dir)
    except DataError:
        held = {}  # a damaged manifest is written again from what this run checks
    outcomes: list[FileOutcome] = []
    for name in chosen:
        entry = spec.files[name]
        previous = held.get(name) if (reference_dir / name).is_file() else None
        url = _mirror(base_url, name) if base_url is not None else entry.url
        if url is None:
            outcomes.append(
                FileOutcome(
                    name,
                    "skipped",
                    f"{name}: no download address is known; download it from {entry.page} "
                    "and run `safeguard reference add FILE`",
                    previous,
                )
            )
            continue
        kept = "; the held copy is kept" if (reference_dir / name).is_file() else ""
        try:
            raw = _download(url, timeout)
            record = _record(raw, name, entry, _address(url))
        except DataError as error:
            message = str(error.message)
            if not message.startswith(f"{name}:"):
                message = f"{name}: download from {_shown(url)} failed: {message}"
            outcomes.append(FileOutcome(name, "failed", message + kept, previous))
            continue
        if (
            previous is not None
            and previous.sha256 == record.sha256
            and _sha256(reference_dir / name) == record.sha256  # not edited since
        ):
            if previous != record:  # same file, newer description (e.g. its address)
                held[name] = record
                _write_manifest(reference_dir, held)
            outcomes.append(
                FileOutcome(name, "unchanged", f"{name}: unchanged ({_summary(record)})", record)
            )
            continue
        _write_atomic(reference_dir, name, raw)
        held[name] = record
        _write_manifest(reference_dir, held)
        outcomes.append(FileOutcome(name, "updated", f"{name}: {_summary(record)}", record))
    return UpdateOutcome(tuple(outcomes))


def _chosen(spec: ReferenceSpec, names: Iterable[str] | None) -> list[str]:
    if names is None:
        return list(spec.files)
    chosen = list(dict.fromkeys(names))
    unknown = [name for name in chosen if name not in spec.files]
    if unknown:
        raise ConfigError(
            f"not a reference file: {', '.join(unknown)}; reference.yaml declares "
            f"{', '.join(spec.files)}"
        )
    return chosen


def _summary(record: Held) -> str:
    years = years_label(record.years)
    return f"{record.rows:,} rows" + (f", {years}" if years else "")


# --------------------------------------------------------------------------- status and add


def status(reference_dir: Path, spec: ReferenceSpec) -> list[FileStatus]:
    """Each declared file: held and as recorded (its checksum verified), changed since,
    held but never checked, or missing."""
    damaged = False
    try:
        held = _read_manifest(reference_dir)
    except DataError:
        held, damaged = {}, True
    found: list[FileStatus] = []
    for name, entry in spec.files.items():
        path = reference_dir / name
        record = held.get(name)
        if not path.is_file():
            state, message = HeldState.MISSING, "not held"
        elif record is None:
            state = HeldState.UNRECORDED
            message = (
                f"held, but {MANIFEST_FILE} is damaged: run `safeguard reference update` or add it"
                if damaged
                else "held but never checked: run `safeguard reference add` on it"
            )
        elif path.stat().st_size != record.size or _sha256(path) != record.sha256:
            state = HeldState.CHANGED
            message = "not the file the manifest recorded (changed by hand?): update or add it"
        else:
            state, message = HeldState.OK, _summary(record)
        found.append(FileStatus(name, entry.title, state, message, record))
    return found


def _recognise(spec: ReferenceSpec, file_name: str, raw: bytes) -> str:
    """The declared name of a file: its own name, or the one declared file whose columns
    are all in its header (the most columns wins, for files that share identifiers)."""
    if file_name in spec.files:
        return file_name
    body = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
    first = body.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    header = {cell.strip() for cell in next(csv.reader([first]), [])}
    fits = [name for name, entry in spec.files.items() if set(entry.columns) <= header]
    if not fits:
        raise ConfigError(
            f"{file_name} is not a file reference.yaml declares (by name or by its columns); "
            f"the declared files are {', '.join(spec.files)}"
        )
    best = max(len(spec.files[name].columns) for name in fits)
    widest = [name for name in fits if len(spec.files[name].columns) == best]
    if len(widest) > 1:
        raise ConfigError(
            f"{file_name} has the columns of {' and of '.join(widest)}: rename it to the one "
            "it is and add it again"
        )
    return widest[0]


def add(reference_dir: Path, spec: ReferenceSpec, path: Path) -> FileOutcome:
    """Check a file downloaded by hand and hold it under its declared name (recognised by its
    file name or, failing that, by its columns); the manifest records it as added by hand."""
    if not path.is_file():
        raise ConfigError(f"{path.name}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path.name}: cannot read it ({error.strerror})") from None
    name = _recognise(spec, path.name, raw)
    source = path.name if path.name == name else f"{path.name}, added as {name}"
    record = _record(raw, name, spec.files[name], f"added by hand ({source})")
    reference_dir.mkdir(parents=True, exist_ok=True)
    held = _read_manifest_or_empty(reference_dir)
    target = reference_dir / name
    if not (target.is_file() and path.resolve() == target.resolve()):
        _write_atomic(reference_dir, name, raw)
    held[name] = record
    _write_manifest(reference_dir, held)
    as_name = "" if name == path.name else f" (recognised by its columns as {name})"
    return FileOutcome(name, "updated", f"{path.name}{as_name}: {_summary(record)}", record)


def _read_manifest_or_empty(folder: Path) -> dict[str, Held]:
    with contextlib.suppress(DataError):
        return _read_manifest(folder)
    return {}
