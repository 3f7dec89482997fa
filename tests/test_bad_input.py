"""A corpus of malformed extracts through ``safeguard ingest``, and properties of date parsing and
working days.

Every case is ingested into a store that already holds a valid 2015-09 extract. It must give the
documented exit code and a message naming the file, the rule and (where there is one) the line;
it must never show a traceback; a refused run (exit 1) must leave the store byte-identical, and
a run that quarantines rows (exit 0) must say so.
"""

from __future__ import annotations

import csv as csv_module
import io
import json
import os
import random
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import holidays
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from safeguard.calendar import WorkingCalendar
from safeguard.cli import cli
from safeguard.demo.generate import mark_demo_folder
from safeguard.ingest.validate import ExtractResult, validate_extract
from safeguard.periods import Month
from safeguard.schema import Contract
from safeguard.store import Store
from tests.conftest import PIPELINES

ROWS = 120  # one bad row of 120 is 0.8%: under the default --max-quarantine of 1%
SEED_MONTH = "2015-09"
MONTH = "2015-10"

HEADERS = {
    "person": "pers_person_id,pers_sex,pers_dob",
    "contacts": "cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome",
    "referrals": (
        "cine_referral_id,cine_person_id,cine_referral_date,cine_referral_source_code,"
        "cine_referral_team"
    ),
    "workforce": (
        "prof_professional_id,prof_team,prof_full_time_equivalency,prof_agency_worker_flag"
    ),
}


def lines(table: str, month: str = MONTH, n: int = ROWS) -> list[str]:
    """A valid table as a list of lines: ``[header, row 1, ...]``; row k is on line k + 1."""

    def day(i: int) -> str:
        return f"{month}-{i % 28 + 1:02d}"

    rows = {
        "person": lambda i: f"P{i:04d},{'MF'[i % 2]},2010-01-{i % 28 + 1:02d}",
        "contacts": lambda i: f"C{month[5:]}{i:04d},P{i:04d},{day(i)} 09:30,NFA",
        "referrals": lambda i: f"R{month[5:]}{i:04d},P{i:04d},{day(i)},1A,North",
        "workforce": lambda i: f"W{i:04d},North,{0.5 + (i % 2) / 2},{'YN'[i % 2]}",
    }[table]
    return [HEADERS[table], *(rows(i) for i in range(1, n + 1))]


def as_csv(table_lines: list[str], newline: str = "\n") -> str:
    return newline.join(table_lines) + newline


def edited(table: str, line: int, row: str) -> str:
    """A valid table with physical ``line`` (2 is the first row) replaced by ``row``."""
    found = lines(table)
    found[line - 1] = row
    return as_csv(found)


PERSON = as_csv(lines("person"))
CONTACTS = as_csv(lines("contacts"))
TOTAL = 2 * ROWS  # person.csv plus one table of ROWS rows

Build = Callable[[Path], None]


def extract(files: dict[str, str | bytes], person: bool = True) -> Build:
    """Write ``files`` (file name -> text or bytes) and, unless told not to, a valid person.csv."""

    def build(folder: Path) -> None:
        if person:
            (folder / "person.csv").write_text(PERSON, encoding="utf-8")
        for name, content in files.items():
            path = folder / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    return build


def folder_named_contacts_csv(folder: Path) -> None:
    extract({})(folder)
    (folder / "contacts.csv").mkdir()
    (folder / "contacts.csv" / "contacts.csv").write_text(CONTACTS, encoding="utf-8")


def copy_of_the_seed(folder: Path) -> None:
    for path in (folder.parent / SEED_MONTH).iterdir():
        shutil.copyfile(path, folder / path.name)


def xlsx_bytes() -> bytes:
    """A real (minimal) workbook: a zip holding the parts Excel writes first."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.'
            'org/package/2006/content-types"/>',
        )
        book.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData/></worksheet>")
    return buffer.getvalue()


XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
JUNK = b"\x00" + random.Random(2015).randbytes(4095)

# referrals with a team written in Windows-1252 ("Café") on line 6
CP1252_REFERRALS = edited("referrals", 6, "R100005,P0005,2015-10-06,1A,Caf\xe9").encode("cp1252")

# referrals whose third row's team holds a newline inside quotes (lines 4-5): every later row
# is one physical line further down, and row 50, a bad date, is on line 52
MULTILINE = lines("referrals")
MULTILINE[3] = 'R100003,P0003,2015-10-04,1A,"North\nEast"'
MULTILINE[50] = "R100050,P0050,2015-10-32,1A,North"

# contacts with a blank line after every tenth row: the bad row 55 is on line 61
BLANKS = lines("contacts")
BLANKS[55] = "C100055,P0055,2015-10-05 09:30,MAYBE"
for at in range(110, 0, -10):
    BLANKS.insert(at + 1, "")

THRESHOLD = lines("contacts", n=50)
for k in (3, 13, 23, 33, 43):
    THRESHOLD[k] = THRESHOLD[k].replace(",NFA", ",MAYBE")

# two quotes inside unquoted fields (a surname like O"Brien typed twice): RFC 4180 calls it
# malformed, so it should be refused as not-csv
STRAY_QUOTES = lines("referrals")
STRAY_QUOTES[3] = 'R100003,P0003,2015-10-04,1A,Team 5" North'
STRAY_QUOTES[9] = 'R100009,P0009,2015-10-10,1A,Team 6" South'


@dataclass(frozen=True)
class Case:
    id: str
    build: Build
    exit_code: int
    rule: str | None  # None: no rule code (an accepted file, or a store-level refusal)
    phrase: str  # must appear in the output (whitespace-normalised)
    file: str | None = None
    line: int | None = None
    args: tuple[str, ...] = ()
    month: str = MONTH
    quarantined: int = 0
    stored: tuple[str, str, str] | None = None  # (table, column, value) the store must hold
    xfail: str | None = None


CASES = [
    # --- encodings -------------------------------------------------------------------------
    Case(
        "cp1252-bytes",
        extract({"referrals.csv": CP1252_REFERRALS}),
        1,
        "not-utf8",
        "is not UTF-8 (byte 0xE9 on line 6): re-export it from Excel",
        "referrals.csv",
        6,
    ),
    Case(
        "cp1252-with-encoding-option",
        extract({"referrals.csv": CP1252_REFERRALS}),
        0,
        None,
        f"Loaded {MONTH}: {TOTAL} rows, 0 quarantined.",
        args=("--encoding", "cp1252"),
        stored=("referrals", "cine_referral_team", "Caf\u00e9"),
    ),
    Case(
        "utf16-with-bom",
        extract({"contacts.csv": CONTACTS.encode("utf-16")}),
        1,
        "not-utf8",
        "is UTF-16 (Unicode text), not UTF-8",
        "contacts.csv",
    ),
    Case(
        "utf8-bom-accepted",
        extract({"contacts.csv": b"\xef\xbb\xbf" + CONTACTS.encode()}),
        0,
        None,
        f"Loaded {MONTH}: {TOTAL} rows, 0 quarantined.",
    ),
    # --- not comma-separated text ----------------------------------------------------------
    Case(
        "semicolon-separated",
        extract({"contacts.csv": CONTACTS.replace(",", ";")}),
        1,
        "not-csv",
        "is separated by semicolons, not commas",
        "contacts.csv",
        1,
    ),
    Case(
        "tab-separated",
        extract({"contacts.csv": CONTACTS.replace(",", "\t")}),
        1,
        "not-csv",
        "is separated by tabs, not commas",
        "contacts.csv",
        1,
    ),
    Case(
        "binary-junk-with-nuls",
        extract({"contacts.csv": JUNK}),
        1,
        "not-csv",
        "holds binary data (NUL bytes), not CSV text",
        "contacts.csv",
    ),
    Case(
        "xlsx-renamed-csv",
        extract({"contacts.csv": xlsx_bytes()}),
        1,
        "not-csv",
        "is an Excel workbook (.xlsx) or another zip file, not CSV",
        "contacts.csv",
    ),
    Case(
        "old-xls-header",
        extract({"contacts.csv": XLS}),
        1,
        "not-csv",
        "is an old Excel workbook (.xls), not CSV",
        "contacts.csv",
    ),
    Case(
        "folder-named-contacts-csv",
        folder_named_contacts_csv,
        1,
        "not-csv",
        "contacts.csv is a folder, not a file",
        "contacts.csv",
    ),
    # --- structure ---------------------------------------------------------------------------
    Case(
        "quoted-newline-accepted-lines-right",
        extract({"referrals.csv": as_csv(MULTILINE)}),
        0,
        "invalid-date",
        "not a date: write YYYY-MM-DD or DD/MM/YYYY",
        "referrals.csv",
        52,
        quarantined=1,
        stored=("referrals", "cine_referral_team", "North\nEast"),
    ),
    # --- console markup and terminal escapes in values (issue 15 items 3, 12): text, never
    # acted on; exit 3 ("a bug") after the extract was committed, before
    Case(
        "markup-in-a-date",
        extract({"contacts.csv": edited("contacts", 6, "C100005,P0005,[/bold],NFA")}),
        0,
        "invalid-datetime",
        "[/bold]",
        "contacts.csv",
        6,
        quarantined=1,
    ),
    Case(
        "markup-as-a-code",
        extract({"contacts.csv": edited("contacts", 7, "C100006,P0006,2015-10-07 09:30,[/]")}),
        0,
        "invalid-code",
        "not a contact outcome code",
        "contacts.csv",
        7,
        quarantined=1,
    ),
    Case(
        "terminal-escape-in-a-code",
        extract(
            {
                "contacts.csv": edited(
                    "contacts", 8, "C100007,P0007,2015-10-08 09:30,\x1b[2J\x1b[31m"
                )
            }
        ),
        0,
        "invalid-code",
        "\\x1b[2J\\x1b[31m",  # shown as its escapes: the screen is not cleared
        "contacts.csv",
        8,
        quarantined=1,
    ),
    Case(
        "blank-lines-skipped-lines-right",
        extract({"contacts.csv": as_csv(BLANKS)}),
        0,
        "invalid-code",
        "not a contact outcome code",
        "contacts.csv",
        61,
        quarantined=1,
    ),
    Case(
        "crlf-line-endings-lines-right",
        extract(
            {
                "contacts.csv": as_csv(
                    edited("contacts", 30, "C100029,P0029,2015-10-02 25:00,NFA").splitlines(),
                    "\r\n",
                )
            }
        ),
        0,
        "invalid-datetime",
        "not a date-time",
        "contacts.csv",
        30,
        quarantined=1,
    ),
    Case(
        "truncated-last-line",
        extract({"contacts.csv": as_csv(lines("contacts")[:-1]) + "C100120,P0120,2015-10-0"}),
        1,
        "ragged-row",
        "line 121 has 3 fields where the header has 4 (a truncated line",
        "contacts.csv",
        121,
    ),
    Case(
        "unclosed-quote-at-end",
        extract({"contacts.csv": CONTACTS + 'C109999,P0001,2015-10-01 09:30,"NFA\n'}),
        1,
        "not-csv",
        "a quoted field opened on line 122 is never closed",
        "contacts.csv",
        122,
    ),
    Case(
        "more-fields-than-header",
        extract({"contacts.csv": edited("contacts", 8, "C100007,P0007,2015-10-08,NFA,extra")}),
        1,
        "ragged-row",
        "line 8 has 5 fields where the header has 4 (an unquoted comma",
        "contacts.csv",
        8,
    ),
    Case(
        "stray-quotes-inside-unquoted-fields",
        extract({"referrals.csv": as_csv(STRAY_QUOTES)}),
        1,
        "not-csv",
        "check the quoting",
        "referrals.csv",
    ),
    Case(
        "space-before-a-quoted-field",
        extract(
            {"referrals.csv": edited("referrals", 7, 'R100006,P0006,2015-10-07,1A, "North, East"')}
        ),
        1,
        "not-csv",
        "referrals.csv",
        "referrals.csv",
        7,
    ),
    Case(
        "text-after-a-closing-quote",
        extract(
            {"referrals.csv": edited("referrals", 8, 'R100007,P0007,2015-10-08,1A,"North"ern')}
        ),
        1,
        "not-csv",
        "referrals.csv",
        "referrals.csv",
        8,
    ),
    Case(
        "cr-only-line-endings",
        extract({"contacts.csv": CONTACTS.replace("\n", "\r")}),
        1,
        "not-csv",
        "contacts.csv",
        "contacts.csv",
    ),
    Case(
        "empty-file",
        extract({"contacts.csv": b""}),
        1,
        "empty-file",
        "contacts.csv is empty",
        "contacts.csv",
    ),
    Case(
        "only-blank-lines",
        extract({"contacts.csv": b"\n\r\n   \n\n"}),
        1,
        "empty-file",
        "contacts.csv is empty",
        "contacts.csv",
    ),
    # a header-only table loads as an empty table with a warning (issue 14): here a loud one,
    # since the seeded 2015-09 held 120 contacts; only a header-only person.csv is refused
    Case(
        "header-only",
        extract({"contacts.csv": HEADERS["contacts"] + "\n"}),
        0,
        "rows-vanished",
        "contacts.csv has a header but no rows, yet the store's previous extract 2015-09 had "
        "120 rows of it",
        "contacts.csv",
        1,
    ),
    Case(
        "header-and-blank-lines",
        extract({"contacts.csv": HEADERS["contacts"] + "\r\n\r\n,,,\r\n"}),
        0,
        "rows-vanished",
        "contacts.csv has a header but no rows",
        "contacts.csv",
        1,
    ),
    Case(
        "header-only-person",
        extract({"person.csv": HEADERS["person"] + "\n", "contacts.csv": CONTACTS}, person=False),
        1,
        "header-only",
        "person.csv has a header but no rows: an extract with no children cannot be loaded",
        "person.csv",
    ),
    # --- headers -----------------------------------------------------------------------------
    Case(
        "duplicate-column-same-name",
        extract(
            {
                "contacts.csv": as_csv(
                    [f"{h},cont_contact_date" for h in lines("contacts")[:1]]
                    + [f"{row},2015-10-01" for row in lines("contacts")[1:]]
                )
            }
        ),
        1,
        "duplicate-column",
        "two columns mean cont_contact_date: 'cont_contact_date' (column 3) and "
        "'cont_contact_date' (column 5)",
        "contacts.csv",
        1,
    ),
    Case(
        "duplicate-column-canonical-and-annex-a-alias",
        extract(
            {
                "referrals.csv": as_csv(
                    [f"{h},Date of referral" for h in lines("referrals")[:1]]
                    + [f"{row},01/10/2015" for row in lines("referrals")[1:]]
                )
            }
        ),
        1,
        "duplicate-column",
        "two columns mean cine_referral_date: 'cine_referral_date' (column 3) and "
        "'Date of referral' (column 6)",
        "referrals.csv",
        1,
    ),
    Case(
        "headerless-file",  # issue 15 item 4: the first record's child id was echoed
        extract({"contacts.csv": as_csv(lines("contacts")[1:])}),
        1,
        "missing-header",
        "the first line is not a header row: none of its 4 fields is a column of contacts",
        "contacts.csv",
        1,
    ),
    Case(
        "missing-required-column",
        extract({"contacts.csv": as_csv([row.rsplit(",", 1)[0] for row in lines("contacts")])}),
        1,
        "missing-column",
        "required column cont_contact_outcome is missing",
        "contacts.csv",
        1,
    ),
    Case(
        "unknown-extra-columns-warned",
        extract(
            {
                "contacts.csv": as_csv(
                    [f"{h},Notes,legacy_ref" for h in lines("contacts")[:1]]
                    + [f"{row},free text,L{i}" for i, row in enumerate(lines("contacts")[1:])]
                )
            }
        ),
        0,
        "unknown-column",
        "column not in the extract contract: it is not loaded",
        "contacts.csv",
        1,
    ),
    # --- values: quarantined rows ----------------------------------------------------------
    Case(
        "excel-serial-date",
        extract({"referrals.csv": edited("referrals", 11, "R100010,P0010,42278,1A,North")}),
        0,
        "invalid-date",
        "not a date: write YYYY-MM-DD or DD/MM/YYYY",
        "referrals.csv",
        11,
        quarantined=1,
    ),
    Case(
        "us-style-date",
        extract({"referrals.csv": edited("referrals", 12, "R100011,P0011,10/31/2015,1A,North")}),
        0,
        "invalid-date",
        "not a date: write YYYY-MM-DD or DD/MM/YYYY",
        "referrals.csv",
        12,
        quarantined=1,
    ),
    Case(
        "referral-after-the-extract-month",
        extract({"referrals.csv": edited("referrals", 13, "R100012,P0012,2015-11-02,1A,North")}),
        0,
        "8600",
        "dated after the end of the extract's month (2015-10-31)",
        "referrals.csv",
        13,
        quarantined=1,
    ),
    Case(
        "contact-years-in-the-future",
        extract({"contacts.csv": edited("contacts", 14, "C100013,P0013,2031-03-01 10:00,NFA")}),
        0,
        "after-extract-month",
        "dated after the end of the extract's month (2015-10-31)",
        "contacts.csv",
        14,
        quarantined=1,
    ),
    Case(
        "31-june",
        extract({"referrals.csv": edited("referrals", 15, "R100014,P0014,31/06/2015,1A,North")}),
        0,
        "invalid-date",
        "not a date: write YYYY-MM-DD or DD/MM/YYYY",
        "referrals.csv",
        15,
        quarantined=1,
    ),
    Case(
        "29-february-2015-iso",
        extract({"referrals.csv": edited("referrals", 16, "R100015,P0015,2015-02-29,1A,North")}),
        0,
        "invalid-date",
        "not a date: write YYYY-MM-DD or DD/MM/YYYY",
        "referrals.csv",
        16,
        quarantined=1,
    ),
    Case(
        "29-february-2015-uk",
        extract({"referrals.csv": edited("referrals", 17, "R100016,P0016,29/02/2015,1A,North")}),
        0,
        "invalid-date",
        "not a date: write YYYY-MM-DD or DD/MM/YYYY",
        "referrals.csv",
        17,
        quarantined=1,
    ),
    Case(
        "negative-fte",
        extract({"workforce.csv": edited("workforce", 18, "W0017,North,-0.5,N")}),
        0,
        "out-of-range",
        "must be between 0 and 1.5",
        "workforce.csv",
        18,
        quarantined=1,
    ),
    Case(
        "fte-in-words",
        extract({"workforce.csv": edited("workforce", 19, "W0018,North,one,N")}),
        0,
        "invalid-number",
        "not a number",
        "workforce.csv",
        19,
        quarantined=1,
    ),
    Case(
        "blank-child-id",
        extract({"person.csv": edited("person", 20, ",M,2010-01-20")}, person=False),
        0,
        "8500",
        "pers_person_id is blank; every row needs one",
        "person.csv",
        20,
        quarantined=1,
    ),
    Case(
        "enormous-text-field",
        extract(
            {
                "referrals.csv": edited(
                    "referrals", 2, "R100001,P0001,2015-10-02,1A," + "x" * 5_000_000
                )
            }
        ),
        0,
        None,
        f"Loaded {MONTH}: {TOTAL} rows, 0 quarantined.",
        stored=("referrals", "cine_referral_team", "x" * 5_000_000),
    ),
    Case(
        "enormous-date-field",
        extract(
            {
                "referrals.csv": edited(
                    "referrals", 3, "R100002,P0002," + "9" * 5_000_000 + ",1A,North"
                )
            }
        ),
        0,
        "invalid-date",
        "not a date: write YYYY-MM-DD or DD/MM/YYYY",
        "referrals.csv",
        3,
        quarantined=1,
    ),
    # --- options -----------------------------------------------------------------------------
    Case(
        "over-the-quarantine-threshold",
        extract({"contacts.csv": as_csv(THRESHOLD)}),
        1,
        "quarantine-threshold",
        "contacts: 5 of 50 rows (10.0%) have errors, more than the 1.0% allowed: the file is "
        "refused",
        "contacts.csv",
    ),
    Case(
        "strict-one-bad-row",
        extract({"contacts.csv": edited("contacts", 21, "C100020,P0020,2015-10-21,MAYBE")}),
        1,
        "invalid-code",
        f"--strict: 1 problem(s) in {MONTH}; nothing was written",
        "contacts.csv",
        21,
        args=("--strict",),
    ),
    # --- the folder --------------------------------------------------------------------------
    Case(
        "two-files-for-one-table",
        extract({"contacts.csv": CONTACTS, "CONTACTS.csv": CONTACTS}),
        1,
        "duplicate-file",
        "CONTACTS.csv and contacts.csv are both the contacts table",
        "contacts.csv",
    ),
    Case(
        "no-tables",
        extract({"notes.txt": "the extract failed overnight\n"}, person=False),
        1,
        "no-tables",
        "no extract tables here: expected files named like contacts.csv",
        MONTH,
    ),
    Case(
        "copy-of-2015-09-named-2015-11",
        copy_of_the_seed,
        1,
        None,
        f"every file is identical to extract {SEED_MONTH} already in the store; was "
        f"{SEED_MONTH} copied under the name 2015-11? Nothing was written.",
        month="2015-11",
    ),
]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the store (lock file aside) with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != ".lock"
    }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw folder with a valid 2015-09 extract, ingested once into ``processed``."""
    root = tmp_path_factory.mktemp("seeded")
    folder = root / "raw" / SEED_MONTH
    folder.mkdir(parents=True)
    mark_demo_folder(root / "raw")  # synthetic data in the Demoshire project: no warning
    for table in ("person", "contacts", "referrals", "workforce"):
        (folder / f"{table}.csv").write_text(as_csv(lines(table, SEED_MONTH)), encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["--pipelines", str(PIPELINES), "--log-file", str(root / "seed.log"), "ingest",
         str(folder), "--processed-dir", str(root / "processed")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Loaded {SEED_MONTH}: {4 * ROWS} rows, 0 quarantined." in result.output
    return root


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)])
        if c.xfail
        else pytest.param(c, id=c.id)
        for c in CASES
    ],
)
def test_malformed_extract(case: Case, seeded: Path, tmp_path: Path, runner: CliRunner) -> None:
    shutil.copytree(seeded / "raw", tmp_path / "raw")
    shutil.copytree(seeded / "processed", tmp_path / "processed")
    store = tmp_path / "processed"
    folder = tmp_path / "raw" / case.month
    folder.mkdir()
    case.build(folder)
    report = tmp_path / "report.json"
    before = snapshot(store)
    assert any(name.endswith("manifest.json") for name in before)

    result = runner.invoke(
        cli,
        ["--pipelines", str(PIPELINES), "ingest", str(folder), "--processed-dir", str(store),
         "--report-json", str(report), *case.args],
    )  # fmt: skip
    out = result.output

    assert "Traceback" not in out
    assert "\x1b" not in out  # no terminal escape from the data reaches the terminal
    if case.id == "headerless-file":  # the first record is not echoed: no child id shown
        assert "P0001" not in out and "C100001" not in out
    assert len(out) < 50_000  # a 5 MB cell is cut short on the terminal, never dumped
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == case.exit_code, out[:5000]
    flat = " ".join(out.split())
    assert " ".join(case.phrase.split()) in flat, out[:5000]
    if case.rule is not None:
        assert case.file is not None
        issues = json.loads(report.read_text())["issues"]
        found = [
            i
            for i in issues
            if i["rule"] == case.rule
            and i["file"] == case.file
            and (case.line is None or i["line"] == case.line)
        ]
        assert found, issues[:5]
        # the first-problems listing names the file, the line (where there is one) and the rule
        where = rf"\s+{case.line}\s+" if case.line is not None else r"\s+"
        listing = rf"^\s*{re.escape(case.file)}{where}.*\b{re.escape(case.rule)}\s+(error|warning)"
        assert re.search(listing, out, re.MULTILINE), out[:5000]
    if case.exit_code == 1:
        assert "nothing was written" in out.lower()
        assert snapshot(store) == before
    else:
        assert f"Loaded {case.month}: " in out
        if case.quarantined:
            assert f", {case.quarantined} quarantined." in out
            shown = re.search(r"^Quarantined rows and the full report: (.+)$", out, re.MULTILINE)
            assert shown, out[:5000]
            assert case.file is not None
            kept = pl.read_csv(Path(shown.group(1)) / "quarantine" / case.file, infer_schema=False)
            assert kept.height == case.quarantined
        else:
            assert ", 0 quarantined." in out
            assert "Quarantined rows" not in out
        if case.stored is not None:
            table, column, value = case.stored
            current = Store(store).scan(table)
            assert current is not None
            assert current.filter(pl.col(column) == value).collect().height == 1


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


# --- properties ----------------------------------------------------------------------------

ASCII_FORMS = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}/[0-9]{2}/[0-9]{4})$")
FAR_MONTH = Month(2040, 12)  # nothing between 1990 and 2040 is after this extract's month


def validate_referral_dates(values: list[str], contract: Contract) -> ExtractResult:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / str(FAR_MONTH)
        folder.mkdir()
        body = "".join(f"R{i},P1,{value}\n" for i, value in enumerate(values))
        (folder / "referrals.csv").write_text(
            "cine_referral_id,cine_person_id,cine_referral_date\n" + body, encoding="utf-8"
        )
        return validate_extract(folder, FAR_MONTH, contract, max_quarantine=1.0)


@settings(max_examples=40, deadline=None)
@given(days=st.lists(st.dates(date(1990, 1, 1), date(2040, 12, 31)), min_size=1, max_size=15))
def test_valid_dates_load_as_exactly_that_date(days: list[date], contract: Contract) -> None:
    values = [text for d in days for text in (d.isoformat(), d.strftime("%d/%m/%Y"))]
    result = validate_referral_dates(values, contract)
    assert result.report.issues.height == 0, result.report.issues.to_dicts()
    loaded = result.tables["referrals"].loaded.sort("_line")
    assert loaded["cine_referral_date"].to_list() == [d for d in days for _ in range(2)]


# text a CSV cell can hold unquoted, with no leading or trailing blank (values are trimmed)
CELL = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=',"\r\n\x00'),
    min_size=1,
    max_size=12,
)
NEAR_MISSES = st.from_regex(r"\A[0-9]{1,5}[-/. ]?[0-9]{1,3}[-/. ]?[0-9]{0,5}\Z")
NOT_A_DATE = st.one_of(CELL, NEAR_MISSES).filter(
    lambda s: s == s.strip() and s != "" and not ASCII_FORMS.match(s)
)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(NOT_A_DATE, min_size=1, max_size=10))
def test_anything_else_is_an_invalid_date_never_a_guess(
    values: list[str], contract: Contract
) -> None:
    result = validate_referral_dates(values, contract)
    assert result.tables["referrals"].loaded.height == 0
    issues = result.report.issues.sort("line")
    assert issues.select("line", "rule").rows() == [
        (line, "invalid-date") for line in range(2, len(values) + 2)
    ], issues.to_dicts()


CAL_FIRST, CAL_LAST = date(2014, 1, 1), date(2017, 12, 31)
BANK_HOLIDAYS = set(holidays.country_holidays("GB", subdiv="ENG", years=range(2014, 2018)))


def working_days_after(a: date, b: date, closed: set[date]) -> int:
    """The slow reference: days d with a < d <= b, Monday to Friday, not a holiday."""
    every = (a + timedelta(days=k) for k in range(1, (b - a).days + 1))
    return sum(1 for d in every if d.weekday() < 5 and d not in closed)


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.dates(CAL_FIRST, CAL_LAST), st.dates(CAL_FIRST, CAL_LAST)),
        min_size=1,
        max_size=20,
    ),
    closures=st.sets(st.dates(CAL_FIRST, CAL_LAST), max_size=5),
)
def test_elapsed_counts_working_days_after_a_up_to_b(
    pairs: list[tuple[date, date]], closures: set[date]
) -> None:
    calendar = WorkingCalendar(2014, 2017, closures)
    closed = BANK_HOLIDAYS | closures
    starts = np.array([a for a, _ in pairs], dtype="datetime64[D]")
    ends = np.array([b for _, b in pairs], dtype="datetime64[D]")
    expected = [
        working_days_after(a, b, closed) if a <= b else -working_days_after(b, a, closed)
        for a, b in pairs
    ]
    assert calendar.elapsed(starts, ends).tolist() == expected


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_without_being_read(tmp_path: Path, runner: CliRunner) -> None:
    """Issue 15 item 7: a named pipe called compliments.csv blocked run forever while it held
    the store's lock, so every later cron run exited 75."""
    folder = tmp_path / "raw" / MONTH
    folder.mkdir(parents=True)
    mark_demo_folder(tmp_path / "raw")
    extract({"contacts.csv": CONTACTS})(folder)
    os.mkfifo(folder / "compliments.csv")  # nothing ever writes to it: reading would block
    result = runner.invoke(
        cli,
        ["--pipelines", str(PIPELINES), "ingest", str(folder), "--processed-dir",
         str(tmp_path / "processed")],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "is a named pipe, not a file: not read" in " ".join(result.output.split())


def test_a_header_of_a_million_columns_is_refused_before_parsing(
    tmp_path: Path, runner: CliRunner
) -> None:
    """Issue 15 item 7: a million-column header aborted polars (exit 134, a Rust backtrace)."""
    folder = tmp_path / "raw" / MONTH
    folder.mkdir(parents=True)
    mark_demo_folder(tmp_path / "raw")
    wide = ",".join(f"c{i}" for i in range(1_000_000))
    extract({"contacts.csv": wide + "\n" + ",".join("x" * 1_000_000) + "\n"})(folder)
    result = runner.invoke(
        cli,
        ["--pipelines", str(PIPELINES), "ingest", str(folder), "--processed-dir",
         str(tmp_path / "processed")],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "has 1,000,000 columns in its header, more than the 1,000" in flat


# --- a property: whatever a field or heading holds, a clean exit and nothing acted on ------

FIELD_TEXT = st.one_of(
    st.text(max_size=40),  # any code points, control characters included
    st.sampled_from(["[/bold]", "[/]", "[red]x[/red]", "\x1b[2J", "=1+1", "\r", "\x00", "\ufeff"]),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


@settings(max_examples=30, deadline=None)
@given(
    line=st.integers(min_value=1, max_value=ROWS + 1),  # 1: the header
    column=st.integers(min_value=0, max_value=3),
    text=FIELD_TEXT,
)
def test_any_field_or_heading_gives_a_clean_exit(line: int, column: int, text: str) -> None:
    """Issue 15: random text and markup in any field or heading of contacts.csv: exit 0 or 1,
    never a traceback, never a terminal escape, never a child's id on the terminal."""
    fields = lines("contacts")
    cells = next(csv_module.reader([fields[line - 1]]))
    cells[column] = text
    buffer = io.StringIO()
    csv_module.writer(buffer, lineterminator="").writerow(cells)
    fields[line - 1] = buffer.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "raw" / MONTH
        folder.mkdir(parents=True)
        mark_demo_folder(Path(tmp) / "raw")
        extract({"contacts.csv": as_csv(fields)})(folder)
        result = CliRunner().invoke(
            cli, ["--pipelines", str(PIPELINES), "validate", str(folder)], catch_exceptions=True
        )
    out = result.output
    assert result.exit_code in (0, 1), (result.exit_code, out[-2000:], result.exception)
    assert "Traceback" not in out and "\x1b" not in out
    shown = re.findall(r"\bP0\d{3}\b", out)
    assert not [found for found in shown if found not in text], out[-2000:]


def test_a_child_id_shifted_into_another_column_is_never_shown_or_stored_raw(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15 item 4: a child id shifted into a date column was printed unmasked, and under
    SAFEGUARD_PSEUDONYM_KEY reached the store's validation report and quarantine files raw.
    Row 6 of contacts.csv lost its person id's comma: the id P0005 sits in the date column."""
    folder = tmp_path / "raw" / MONTH
    folder.mkdir(parents=True)
    mark_demo_folder(tmp_path / "raw")
    extract({"contacts.csv": edited("contacts", 6, "C100005,,P0005,NFA")})(folder)
    monkeypatch.setenv("SAFEGUARD_PSEUDONYM_KEY", "a-test-key-of-enough-length-0123456789")
    store = tmp_path / "processed"
    result = runner.invoke(
        cli,
        ["--pipelines", str(PIPELINES), "ingest", str(folder), "--processed-dir", str(store)],
    )
    assert result.exit_code == 0, result.output
    assert ", 1 quarantined." in result.output
    assert "P0005" not in result.output  # withheld on the terminal
    stored = [p for p in store.rglob("*") if p.is_file()]
    assert any(p.name == "contacts.csv" and "quarantine" in p.parts for p in stored)
    assert not [p for p in stored if b"P0005" in p.read_bytes()]
