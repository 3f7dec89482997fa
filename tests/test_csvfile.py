"""File-level problems: each gives one clear message, rule code and (where it has one) line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safeguard.ingest.csvfile import FileProblem, RawCsv, _read_plain, read_csv_bytes

HEADER = b"a,b,c\n"


def problem(data: bytes, encoding: str | None = None) -> FileProblem:
    with pytest.raises(FileProblem) as caught:
        read_csv_bytes(data, encoding)
    return caught.value


def test_records_keep_their_physical_line_numbers() -> None:
    # line 1 header; line 2 a record; line 3 blank (skipped, counted); line 4 a record whose
    # quoted field spans lines 4-5; line 6 a record; CRLF endings throughout the second half.
    data = b'a,b,c\n1,2,3\n\n4,"x\ny",6\r\n7,"say ""hi""",9\r\n'
    raw = read_csv_bytes(data)
    assert raw.header == ["a", "b", "c"]
    assert raw.frame["_line"].to_list() == [2, 4, 6]
    assert raw.frame["1"].to_list() == ["2", "x\ny", 'say "hi"']
    assert raw.blank_lines == 1


def test_ids_stay_text_with_leading_zeros() -> None:
    raw = read_csv_bytes(b"id,n\n007,0.50\n")
    assert raw.frame["0"].to_list() == ["007"]
    assert raw.frame["1"].to_list() == ["0.50"]


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    raw = read_csv_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
    assert raw.header == ["a", "b"]


def test_windows_1252_is_refused_with_the_line_and_how_to_re_export() -> None:
    found = problem(HEADER + b"1,2,3\n4,Ren\xe9e,6\n")
    assert (found.rule, found.line, found.value) == ("not-utf8", 3, "0xE9")
    assert found.message == (
        "is not UTF-8 (byte 0xE9 on line 3): re-export it from Excel as 'CSV UTF-8 (Comma "
        "delimited) (*.csv)', or name the encoding with --encoding (for example --encoding cp1252)"
    )


def test_a_named_encoding_is_honoured() -> None:
    raw = read_csv_bytes(HEADER + b"1,Ren\xe9e,3\n", encoding="cp1252")
    assert raw.frame["1"].to_list() == ["Renée"]


def test_utf16_is_refused() -> None:
    found = problem("a,b\n1,2\n".encode("utf-16"))
    assert (found.rule, found.message.split(":")[0]) == (
        "not-utf8",
        "is UTF-16 (Unicode text), not UTF-8",
    )


@pytest.mark.parametrize(
    ("data", "rule", "start"),
    [
        (b"", "empty-file", "is empty"),
        (b"\n\n  \n", "empty-file", "is empty"),
        (b"a,b,c\n", "header-only", "has a header but no rows"),
        (b"a,b,c\n\n\n", "header-only", "has a header but no rows"),
        (b"PK\x03\x04\x14\x00rest", "not-csv", "is an Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1", "not-csv", "is an old Excel workbook (.xls)"),
        (b"a,b\x00\x01\x02,c\n", "not-csv", "holds binary data"),
        (b"a;b;c\n1;2;3\n", "not-csv", "is separated by semicolons"),
        (b"a\tb\tc\n1\t2\t3\n", "not-csv", "is separated by tabs"),
    ],
    ids=[
        "empty",
        "only-blank-lines",
        "header-only",
        "header-and-blank-lines",
        "xlsx",
        "xls",
        "binary",
        "semicolons",
        "tabs",
    ],
)
def test_unreadable_files(data: bytes, rule: str, start: str) -> None:
    found = problem(data)
    assert found.rule == rule
    assert found.message.startswith(start), found.message


def test_a_row_with_too_many_fields_names_its_line() -> None:
    found = problem(HEADER + b"1,2,3\n4,5,6,7\n8,9,10,11\n")
    assert (found.rule, found.line) == ("ragged-row", 3)
    assert found.message == (
        "line 3 has 4 fields where the header has 3 (an unquoted comma, or a different "
        "separator); 2 such lines in all"
    )


def test_a_truncated_last_line_is_refused() -> None:
    found = problem(HEADER + b"1,2,3\n4,5")
    assert (found.rule, found.line) == ("ragged-row", 3)
    assert found.message == (
        "line 3 has 2 fields where the header has 3 (a truncated line, or a different separator)"
    )


def test_an_unclosed_quote_is_refused() -> None:
    found = problem(HEADER + b'1,2,3\n4,"5,6\n7,8,9\n')
    assert (found.rule, found.line) == ("not-csv", 3)
    assert "never closed" in found.message


# --- the fast path for quote-free files must read exactly what the full path reads ----------


_CELL = st.sampled_from(["", "1", "x", " ", "é", "a b", "2015-10-01", "0", ";"])
_ENDING = st.sampled_from([b"\n", b"\r\n"])


@st.composite
def _plain_files(draw: st.DrawFn) -> bytes:
    """Quote-free CSV bytes: sometimes ragged, blank, empty-lined, BOM'd or unterminated."""
    ncols = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(_CELL, min_size=ncols, max_size=ncols), max_size=6))
    ending = draw(_ENDING)
    lines = [",".join(f"h{i}" for i in range(ncols))]
    for row in rows:
        ragged = draw(st.sampled_from(["no"] * 8 + ["short", "long", "empty"]))
        row = {"no": row, "short": row[1:], "long": [*row, "1"], "empty": []}[ragged]
        lines.append(",".join(row))
    body = ending.join(line.encode() for line in lines)
    if draw(st.booleans()):
        body += ending
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + body


def _outcome(raw: RawCsv | None) -> object:
    return None if raw is None else (raw.header, raw.frame.rows(), raw.blank_lines, raw.sha256)


def _read(read: Callable[[], RawCsv | None]) -> object:
    try:
        return _outcome(read())
    except FileProblem as exc:
        return ("problem", exc.rule)


@settings(max_examples=300, deadline=None)
@given(_plain_files())
def test_fast_path_agrees_with_the_full_path(data: bytes) -> None:
    # where the fast path answers at all, its header, rows (with line numbers), blank-line
    # count and checksum - or its refusal - are the full path's; where it declines, the full
    # path runs (encoding="utf-8" forces the full path)
    fast = _read(lambda: _read_plain(data))
    if fast is not None:
        assert fast == _read(lambda: read_csv_bytes(data, "utf-8"))


def test_fast_path_takes_the_common_file_and_declines_quotes() -> None:
    assert _read_plain(b"a,b\n1,2\n3,4\n") is not None
    assert _read_plain(b'a,b\n1,"2"\n') is None
    assert _read_plain(b"a,b\n1,2\n3\n") is None  # a short row: the full path names its line
    assert _read_plain(b"a,b\n1,\xff\n") is None  # bad UTF-8: the full path names the byte
