"""Read one extract CSV into an all-text polars frame, refusing anything that is not plain CSV.

Everything a file can get wrong as a whole is found here and raised as ``FileProblem``: wrong
encoding, not CSV at all, empty, header only, a record with the wrong number of fields. The
structure of the file (where each record starts, how many fields it has) is found with numpy over
the raw bytes, so every row keeps the physical line number it started on even when quoted fields
hold newlines.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

UTF8_BOM = b"\xef\xbb\xbf"
LINE = "_line"

REEXPORT_HINT = (
    "re-export it from Excel as 'CSV UTF-8 (Comma delimited) (*.csv)', "
    "or name the encoding with --encoding (for example --encoding cp1252)"
)


class FileProblem(Exception):
    """A file-level problem: the file cannot be taken at all.

    A ``header-only`` problem carries the file as read (``raw``: its header, no rows), so a
    caller that takes an empty table (an extract's complaints.csv in a month with none) can.
    """

    def __init__(
        self,
        rule: str,
        message: str,
        line: int | None = None,
        value: str | None = None,
        raw: RawCsv | None = None,
    ):
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.line = line
        self.value = value
        self.raw = raw


@dataclass(frozen=True)
class RawCsv:
    """A file's header as written and its records as text, with ``_line`` for each record."""

    header: list[str]
    frame: pl.DataFrame  # columns "0", "1", ... (header position) plus _line
    sha256: str
    blank_lines: int


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_DIGESTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="safeguard-sha256")


def _sha256_beside(data: bytes) -> Future[str]:
    """``sha256_of(data)`` in a thread, while the caller parses: hashlib lets go of the GIL
    on large buffers, so the checksum costs no wall time beside polars' parse (issue 16)."""
    return _DIGESTS.submit(sha256_of, data)


def sha256_of_file(path: Path) -> str:
    """``sha256_of`` the file's bytes, read in chunks: a large return is never held whole."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _decode(data: bytes, encoding: str | None) -> bytes:
    """Return UTF-8 bytes without a byte-order mark, or raise ``FileProblem``."""
    if encoding is not None and encoding.replace("-", "").replace("_", "").lower() not in (
        "utf8",
        "utf8sig",
    ):
        try:
            text = data.decode(encoding)
        except LookupError:
            raise FileProblem("not-utf8", f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise FileProblem(
                "not-utf8", f"cannot be read as {encoding}: byte 0x{data[exc.start]:02X}", line
            ) from None
        return text.lstrip("\ufeff").encode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem(
            "not-utf8",
            "is UTF-16 (Unicode text), not UTF-8: " + REEXPORT_HINT.replace("cp1252", "utf-16"),
        )
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileProblem(
            "not-utf8",
            f"is not UTF-8 (byte 0x{data[exc.start]:02X} on line {line}): {REEXPORT_HINT}",
            line,
            value=f"0x{data[exc.start]:02X}",
        ) from None
    return data


def _sniff_binary(data: bytes) -> None:
    if data.startswith(b"PK\x03\x04"):
        raise FileProblem(
            "not-csv",
            "is an Excel workbook (.xlsx) or another zip file, not CSV: open it in Excel and "
            "save as 'CSV UTF-8 (Comma delimited) (*.csv)'",
        )
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            "not-csv",
            "is an old Excel workbook (.xls), not CSV: save it as 'CSV UTF-8 (Comma delimited)'",
        )
    head = data[:65536]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem("not-csv", "holds binary data (NUL bytes), not CSV text")


def _structure(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Record start offsets, field counts, starting line numbers and blankness, vectorised.

    A newline or comma is structural when an even number of quote characters precede it (RFC
    4180: doubled quotes inside a quoted field keep the parity).
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 10)
    quotes = np.flatnonzero(arr == 34)
    if quotes.size % 2:
        line = int(np.searchsorted(newlines, quotes[-1])) + 1
        raise FileProblem(
            "not-csv",
            f"a quoted field opened on line {line} is never closed (the file may be truncated)",
            line,
        )
    seps = newlines[(np.searchsorted(quotes, newlines) & 1) == 0] if quotes.size else newlines
    starts = np.concatenate((np.zeros(1, dtype=np.int64), seps + 1))
    ends = np.concatenate((seps, np.array([arr.size], dtype=np.int64)))
    if starts[-1] >= arr.size:  # the file ends with a newline: no record after it
        starts, ends = starts[:-1], ends[:-1]
    commas = np.flatnonzero(arr == 44)
    if quotes.size:
        commas = commas[(np.searchsorted(quotes, commas) & 1) == 0]
    record_of_comma = np.searchsorted(starts, commas, side="right") - 1
    fields = np.bincount(record_of_comma, minlength=starts.size) + 1
    lines = np.searchsorted(newlines, starts) + 1
    length = ends - starts
    has_cr = np.zeros(starts.size, dtype=bool)
    nonempty = length > 0
    has_cr[nonempty] = arr[ends[nonempty] - 1] == 13
    blank = (length - has_cr) == fields - 1  # nothing but separators
    return starts, fields, lines, blank


def _refuse_ragged(
    records: np.ndarray, fields: np.ndarray, lines: np.ndarray, ncols: int, why: str
) -> None:
    """Raise for the first of ``records`` (indices) whose field count is not ``ncols``."""
    if not records.size:
        return
    first = int(records[0])
    count = int(fields[first])
    raise FileProblem(
        "ragged-row",
        f"line {int(lines[first])} has {count} field{'s' if count != 1 else ''} where the header "
        f"has {ncols} ({why})"
        + (f"; {records.size} such lines in all" if records.size > 1 else ""),
        int(lines[first]),
    )


def _first_bad_quote(text: str, ncols: int) -> int | None:
    """The line where strict CSV parsing first fails, found only on the error path."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if row and len(row) != ncols:
                return reader.line_num
    except csv.Error:
        return reader.line_num
    return None


def _read_plain(data: bytes, digest: Future[str] | None = None) -> RawCsv | None:
    """The common case, read at the speed of the parser alone: a UTF-8 file without a single
    double quote, whose every line has exactly the header's number of commas. Then each line
    is one record (no quoted newlines), so record ``i`` is on line ``i + 2``, and polars'
    own checks (too many fields, invalid UTF-8) leave nothing for the structure scan to find.
    Anything else returns None and takes the full path, which explains what is wrong.
    ``digest`` is the file's checksum being computed beside the parse (started here if not
    given; ``read_csv_bytes`` starts it, so the full path does not compute it again).
    """
    if b'"' in data or b"\n" not in data or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    _sniff_binary(data)
    if digest is None:
        digest = _sha256_beside(data)  # of the file as it is, byte-order mark included
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    header_end = data.index(b"\n")
    header = data[:header_end].rstrip(b"\r").decode("utf-8", errors="replace").split(",")
    ncols = len(header)
    _check_width(ncols)
    records = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if (
        ncols < 2
        or records < 2
        or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n"))  # a lone CR
        or data.count(b",") != (ncols - 1) * records
        or not any(name.strip() for name in header)
    ):
        return None
    names = [str(i) for i in range(ncols)]
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            skip_rows=1,  # safe: without quotes each line is one record
            new_columns=names,
            infer_schema=False,
            raise_if_empty=False,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError:
        return None  # invalid UTF-8, most likely: the full path names the byte and line
    if frame.height != records - 1 or frame.width != ncols:
        return None
    frame = frame.with_columns(pl.int_range(2, records + 1, dtype=pl.UInt32).alias(LINE))
    blank = pl.all_horizontal(pl.col(names).is_null() | (pl.col(names) == ""))
    blank_lines = int(frame.select(blank.sum()).item())
    if blank_lines == frame.height:
        empty = RawCsv(header, frame.clear(), digest.result(), blank_lines)
        raise FileProblem("header-only", "has a header but no rows", raw=empty)
    if blank_lines:
        frame = frame.filter(~blank)
    return RawCsv(header=header, frame=frame, sha256=digest.result(), blank_lines=blank_lines)


def read_csv_bytes(data: bytes, encoding: str | None = None) -> RawCsv:
    """Parse a whole CSV file's bytes; raise ``FileProblem`` for anything file-level."""
    pending = _sha256_beside(data)  # of the file as it is, byte-order mark included
    if encoding is None:
        plain = _read_plain(data, pending)
        if plain is not None:
            return plain
    digest = pending.result()  # once, whichever path reads the file
    if re.search(rb"[^\s\xef\xbb\xbf]", data) is None:
        raise FileProblem("empty-file", "is empty")
    _sniff_binary(data)
    data = _decode(data, encoding)
    if b"\n" not in data and b"\r" in data.rstrip(b"\r"):
        raise FileProblem(
            "not-csv",
            "ends its lines with carriage returns alone (an old Mac export): save it as "
            "'CSV UTF-8 (Comma delimited)'",
            1,
        )
    starts, fields, lines, blank = _structure(data)
    header_end = int(starts[1]) - 1 if starts.size > 1 else len(data)
    header_text = data[:header_end].decode("utf-8").rstrip("\r\n")
    try:
        header = next(csv.reader([header_text]))
    except csv.Error as exc:
        raise FileProblem("not-csv", f"has a header that is not valid CSV ({exc})", 1) from None
    if not any(name.strip() for name in header):
        raise FileProblem("empty-file", "has no header row (the first line is blank)", 1)
    if len(header) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if sep in header[0]:
                raise FileProblem(
                    "not-csv",
                    f"is separated by {name}, not commas: save it as 'CSV UTF-8 (Comma delimited)'",
                    1,
                )
    ncols = len(header)
    _check_width(ncols)
    _refuse_ragged(
        np.flatnonzero(fields[1:] > ncols) + 1,
        fields,
        lines,
        ncols,
        "an unquoted comma, or a different separator",
    )
    _refuse_ragged(
        np.flatnonzero((fields[1:] < ncols) & ~blank[1:]) + 1,
        fields,
        lines,
        ncols,
        "a truncated line, or a different separator",
    )
    names = [str(i) for i in range(ncols)]
    if not (~blank[1:]).any():
        schema = {**{name: pl.String() for name in names}, LINE: pl.UInt32()}
        empty = RawCsv(header, pl.DataFrame(schema=schema), digest, int(blank[1:].sum()))
        raise FileProblem("header-only", "has a header but no rows", raw=empty)

    # polars takes the column count from the first line, so give it a header of our own
    body = (",".join(names) + "\n").encode() + data[header_end + 1 :]
    try:
        frame = pl.read_csv(
            body,
            has_header=True,
            infer_schema=False,
            raise_if_empty=False,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError:
        # quotes the structure scan and the parser read differently: a stray quote in an
        # unquoted field, a space before an opening quote, text after a closing quote
        line = _first_bad_quote(data.decode("utf-8"), ncols)
        where = f"line {line}: " if line else ""
        raise FileProblem(
            "not-csv",
            f"could not be read as CSV: {where}a field has stray or misplaced double quotes (a "
            "quote inside an unquoted field, a space before an opening quote, or text after a "
            "closing quote); check the quoting: quote the whole field and double any quote "
            "inside it",
            line,
        ) from None
    if frame.height != starts.size - 1:
        raise FileProblem(
            "not-csv",
            f"could not be split into rows consistently ({frame.height} rows parsed, "
            f"{starts.size - 1} records found): check the quoting",
        )
    keep = ~blank[1:]
    frame = frame.with_columns(pl.Series(LINE, lines[1:], dtype=pl.UInt32))
    blank_lines = int(blank[1:].sum())
    if blank_lines:
        frame = frame.filter(pl.Series(keep))
    return RawCsv(header=header, frame=frame, sha256=digest, blank_lines=blank_lines)


MAX_COLUMNS = 1_000
"""Columns a header may have: an extract table has about 20. A million-column header made the
parser abort the process (exit 134)."""


def _check_width(ncols: int) -> None:
    if ncols > MAX_COLUMNS:
        raise FileProblem(
            "too-many-columns",
            f"has {ncols:,} columns in its header, more than the {MAX_COLUMNS:,} any extract "
            "table needs: refused unread (is the first line a whole file joined up?)",
            1,
        )


def regular_file(path: Path) -> None:
    """Refuse what is not a regular file without opening it: a folder, and a named pipe,
    device or socket, whose reading would wait forever (holding the store's lock) or never
    end."""
    try:
        kind = path.stat().st_mode
    except OSError as exc:
        raise FileProblem("unreadable", f"cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(kind):
        raise FileProblem("not-csv", "is a folder, not a file")
    if not stat.S_ISREG(kind):
        what = (
            "a named pipe"
            if stat.S_ISFIFO(kind)
            else "a socket"
            if stat.S_ISSOCK(kind)
            else "a device"
        )
        raise FileProblem("not-a-file", f"is {what}, not a file: not read")


def read_csv_file(path: Path, encoding: str | None = None) -> RawCsv:
    regular_file(path)
    return read_csv_bytes(path.read_bytes(), encoding)
