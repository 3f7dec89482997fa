"""The Ofsted Annex A workbook reader: tiny workbooks built here, expected frames written out."""

from __future__ import annotations

import hashlib
import re
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter
from polars.testing import assert_frame_equal

from safeguard.ingest.sources import annex_a
from safeguard.ingest.sources.base import LINE, SourceMapping, load_mapping
from safeguard.ingest.validate import validate_extract
from safeguard.periods import Month
from safeguard.schema import ColumnType, Contract
from tests.conftest import PIPELINES, ROOT

DOCS = ROOT / "docs" / "formats" / "annex-a.md"


@pytest.fixture(scope="module")
def mapping() -> SourceMapping:
    return load_mapping(PIPELINES, annex_a.FORMAT)


Rows = list[list[Any]]


def write_book(path: Path, sheets: dict[str, Rows]) -> Path:
    """An .xlsx with one sheet per entry; datetime cells as Excel dates, numbers as numbers,
    True/False as Excel booleans, None as an empty cell, strings as text."""
    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, datetime):
                    sheet.write_datetime(r, c, value, date_format)
                elif isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif isinstance(value, int | float):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, value)
    book.close()
    return path


def made_id(prefix: str, *parts: str) -> str:
    """The id recipe written out: prefix and 16 hex digits of SHA-256 over the parts."""
    return f"{prefix}-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pl.DataFrame:
    schema = {c: (pl.UInt32 if c == LINE else pl.String) for c in columns}
    return pl.DataFrame(rows, schema=schema, orient="row")


def rules(problems: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(p["rule"], p["severity"]) for p in problems]


D = datetime  # Excel date cells

# --- one workbook with every list, messy -----------------------------------------------------

FULL: dict[str, Rows] = {
    "Guidance": [["Ofsted's guidance sheet: skipped without a word"]],
    "List 1 - Contacts": [
        ["Annex A - List 1: Contacts received in the last six months"],
        [],
        [
            "Child ID",
            "GENDER",
            "Ethnicity",
            "Date Of Birth",
            "Age of Child (Years)",
            "Date of  Contact",
            "Contact source",
        ],
        [12345, "a) Male", "a) WBRI", D(2010, 5, 1), 5, D(2015, 4, 20), "a) 1A"],
        ["0012", "b) Female", "b) WIRI", "01/02/2012", 3, "15/09/2015", "u) 10: Unknown"],
        [],
        ["0099", None, None, None, None, "2015-13-01", None],
    ],
    "L3 Referrals": [
        [
            "Child Unique ID",
            "Gender",
            "Ethnicity",
            "Date of Birth",
            "Date of Referral",
            "Referral Source",
            "Referral NFA",
            "Number of Referrals in Last 12 Months",
            "Allocated Team",
            "Allocated Worker",
        ],
        [
            12345,
            "a) Male",
            "a) WBRI",
            "01/05/2010",
            D(2015, 5, 2),
            "e) 2A: Schools",
            "No",
            1,
            "Team A",
            4711,
        ],
        [
            "0012",
            "b) Female",
            "b) WIRI",
            D(2012, 3, 1),
            "2015-06-07",
            "a) 1A",
            "a) Yes",
            2,
            None,
            None,
        ],
    ],
    "Assessments": [
        [
            "Child Unique ID",
            "Gender",
            "Ethnicity",
            "Date of Birth",
            "Does the child have a disability?",
            "Continuous Assessment Start Date",
            "Child Seen During Continuous Assessment",
            "Continuous Assessment Date of Authorisation",
            "Was the child assessed as requiring LA children's social care support?",
            "Allocated Team",
            "Allocated Worker",
        ],
        [
            12345,
            None,
            None,
            None,
            "a) Yes",
            D(2015, 5, 3),
            "Yes",
            D(2015, 6, 20),
            "No",
            "Team A",
            "J Smith",
        ],
        ["0012", None, None, None, "b) No", D(2015, 6, 8), True, None, "Yes", "Team B", None],
    ],
    "Sheet4": [
        [
            "CHILD UNIQUE ID",
            "Strategy discussion initiating Section 47 Enquiry Start Date",
            "Was an Initial Child Protection Conference deemed unnecessary?",
            "Date of Initial Child Protection Conference",
            "Did the Initial Child Protection Conference Result in a Child Protection Plan",
            "Allocated Team",
        ],
        ["0012", D(2015, 6, 9), "No", D(2015, 6, 25), "Yes", "Team B"],
        ["0012", D(2015, 9, 16), "Yes", None, None, "Team B"],
    ],
    "List 7": [
        [
            "Child Unique ID",
            "Child Protection Plan Start Date",
            "Initial Category of Abuse",
            "Latest Category of Abuse",
            "Date of the Last Statutory Visit",
            "Child Protection Plan End Date",
            "Number of Previous CP Plans",
        ],
        [
            "0012",
            D(2015, 6, 25),
            "a) Neglect",
            "e) Multiple/not recommended",
            D(2015, 9, 1),
            None,
            0,
        ],
    ],
    "List 8 - Children in Care": [
        ["Children in care"],
        [
            "Child Unique ID",
            "Gender",
            "Date Started to be Looked After",
            "Child's Legal Status",
            "Placement Type",
            "Date Ceased to be Looked After",
            "Reason Ceased to be Looked After",
        ],
        [
            "777",
            "c) Not stated/recorded (or unborn)",
            D(2014, 1, 10),
            "C2",
            "U1",
            D(2015, 10, 2),
            "E11",
        ],
    ],
    "List 2 Early Help": [
        ["Child Unique ID", "Assessment start date"],
        ["5", D(2015, 5, 1)],
        [],
        ["6", D(2015, 6, 1)],
    ],
    "List 9": [["Title"], ["Child Unique ID", "LA in Touch"], ["7", "Yes"]],
    "Pivot": [["Team", "Count"], ["Team A", 3]],
}


@pytest.fixture
def full(tmp_path: Path) -> Path:
    return write_book(tmp_path / "annex_a_oct15.xlsx", FULL)


def test_reads_every_list_into_the_contract_tables(full: Path, mapping: SourceMapping) -> None:
    [got] = annex_a.read(full, mapping)
    assert got.format == "annex-a"
    assert (got.label, got.period, got.first) == (
        "annex-a-2015-10",
        Month(2015, 10),
        Month(2015, 4),
    )
    assert got.checksums == {full.name: hashlib.sha256(full.read_bytes()).hexdigest()}
    assert got.not_loaded == {"List 2 Early help": 2, "List 9 Care leavers": 1}
    assert sorted(got.tables) == [
        "assessments",
        "cla_episodes",
        "contacts",
        "cp_plans",
        "icpcs",
        "person",
        "referrals",
        "s47_enquiries",
    ]

    contacts = got.tables["contacts"]
    assert contacts.file == "annex_a_oct15.xlsx [List 1 - Contacts]"
    assert contacts.columns["cont_contact_date"] == "Date of  Contact"
    cols = [
        "cont_contact_id",
        "cont_person_id",
        "cont_contact_date",
        "cont_contact_source_code",
        "cont_contact_outcome",
        LINE,
    ]
    expected = frame(
        [
            # an id typed as a number loses ".0"; an Excel date cell is written ISO
            {
                "cont_person_id": "12345",
                "cont_contact_date": "2015-04-20",
                "cont_contact_source_code": "a) 1A",
                LINE: 4,
            },
            # a text date passes through for the validator, as does the prefixed code
            {
                "cont_person_id": "0012",
                "cont_contact_date": "15/09/2015",
                "cont_contact_source_code": "u) 10: Unknown",
                LINE: 5,
            },
            # a blank row is skipped, rows keep Excel's numbers, a bad date is not fixed
            {"cont_person_id": "0099", "cont_contact_date": "2015-13-01", LINE: 7},
        ],
        cols,
    ).with_columns(
        pl.lit("NOT_RECORDED").alias("cont_contact_outcome"),
        pl.Series(
            "cont_contact_id",
            [
                made_id("annex-a-contact", "12345", "2015-04-20", "a) 1A"),
                made_id("annex-a-contact", "0012", "15/09/2015", "u) 10: Unknown"),
                made_id("annex-a-contact", "0099", "2015-13-01", ""),
            ],
        ),
    )
    assert_frame_equal(contacts.frame, expected)

    cols = [
        "cine_referral_id",
        "cine_person_id",
        "cine_referral_date",
        "cine_referral_source_code",
        "cine_referral_nfa",
        "cine_referral_team",
        "cine_referral_worker_id",
        LINE,
    ]
    expected = frame(
        [
            [
                made_id("annex-a-referral", "12345", "2015-05-02"),
                "12345",
                "2015-05-02",
                "e) 2A: Schools",
                "N",
                "Team A",
                "4711",
                2,
            ],
            [
                made_id("annex-a-referral", "0012", "2015-06-07"),
                "0012",
                "2015-06-07",
                "a) 1A",
                "Y",
                None,
                None,
                3,
            ],
        ],
        cols,
    )
    assert_frame_equal(got.tables["referrals"].frame, expected)

    cols = [
        "cina_assessment_id",
        "cina_person_id",
        "cina_assessment_start_date",
        "cina_assessment_auth_date",
        "cina_assessment_type",
        "cina_assessment_child_seen",
        "cina_assessment_outcome_nfa",
        "cina_assessment_team",
        "cina_assessment_worker_id",
        LINE,
    ]
    expected = frame(
        [
            # "requiring support? No" is an assessment ending in no further action
            [
                made_id("annex-a-assessment", "12345", "2015-05-03"),
                "12345",
                "2015-05-03",
                "2015-06-20",
                "SINGLE",
                "Y",
                "Y",
                "Team A",
                "J Smith",
                2,
            ],
            # an Excel TRUE is a Yes
            [
                made_id("annex-a-assessment", "0012", "2015-06-08"),
                "0012",
                "2015-06-08",
                None,
                "SINGLE",
                "Y",
                "N",
                "Team B",
                None,
                3,
            ],
        ],
        cols,
    )
    assert_frame_equal(got.tables["assessments"].frame, expected)

    # "Sheet4" is List 5 by its headings
    s47_first = made_id("annex-a-s47", "0012", "2015-06-09")
    cols = [
        "s47e_s47_enquiry_id",
        "s47e_person_id",
        "s47e_s47_start_date",
        "s47e_icpc_not_required",
        "s47e_team",
        LINE,
    ]
    expected = frame(
        [
            [s47_first, "0012", "2015-06-09", "N", "Team B", 2],
            [made_id("annex-a-s47", "0012", "2015-09-16"), "0012", "2015-09-16", "Y", "Team B", 3],
        ],
        cols,
    )
    assert got.tables["s47_enquiries"].file == "annex_a_oct15.xlsx [Sheet4]"
    assert_frame_equal(got.tables["s47_enquiries"].frame, expected)
    # the conference is on the first row only; it carries that row's enquiry id
    cols = [
        "icpc_icpc_id",
        "icpc_person_id",
        "icpc_s47_enquiry_id",
        "icpc_icpc_date",
        "icpc_icpc_outcome_cp_flag",
        LINE,
    ]
    expected = frame(
        [[made_id("annex-a-icpc", "0012", "2015-06-25"), "0012", s47_first, "2015-06-25", "Y", 2]],
        cols,
    )
    assert_frame_equal(got.tables["icpcs"].frame, expected)

    cols = [
        "cppl_cp_plan_id",
        "cppl_person_id",
        "cppl_cp_plan_start_date",
        "cppl_cp_plan_end_date",
        "cppl_cp_plan_initial_category",
        "cppl_cp_plan_latest_category",
        "cppl_number_of_previous_plans",
        LINE,
    ]
    expected = frame(
        [
            [
                made_id("annex-a-cp-plan", "0012", "2015-06-25"),
                "0012",
                "2015-06-25",
                None,
                "a) Neglect",
                "e) Multiple/not recommended",
                "0",
                2,
            ]
        ],
        cols,
    )
    assert_frame_equal(got.tables["cp_plans"].frame, expected)

    cols = [
        "clae_cla_episode_id",
        "clae_person_id",
        "clae_cla_episode_start_date",
        "clae_cla_episode_start_reason",
        "clae_cla_legal_status",
        "clae_cla_placement_type",
        "clae_cla_episode_ceased_date",
        "clae_cla_episode_ceased_reason",
        LINE,
    ]
    expected = frame(
        [
            [
                made_id("annex-a-cla-episode", "777", "2014-01-10"),
                "777",
                "2014-01-10",
                "S",
                "C2",
                "U1",
                "2015-10-02",
                "E11",
                3,
            ]
        ],
        cols,
    )
    assert_frame_equal(got.tables["cla_episodes"].frame, expected)

    # one row per child, first value seen in list order; line = row in that first list
    person = got.tables["person"]
    assert person.file == (
        "annex_a_oct15.xlsx [List 1 - Contacts, L3 Referrals, Assessments, Sheet4, List 7, "
        "List 8 - Children in Care]"
    )
    cols = ["pers_person_id", "pers_sex", "pers_ethnicity", "pers_dob", "pers_disability", LINE]
    expected = frame(
        [
            ["12345", "a) Male", "a) WBRI", "2010-05-01", "Y", 4],
            ["0012", "b) Female", "b) WIRI", "01/02/2012", "N", 5],
            ["0099", None, None, None, None, 7],
            ["777", "c) Not stated/recorded (or unborn)", None, None, None, 3],
        ],
        cols,
    )
    assert_frame_equal(person.frame, expected)
    assert person.columns["pers_person_id"] == "CHILD UNIQUE ID / Child ID / Child Unique ID"

    assert rules(got.problems) == [
        ("annex-a-unknown-sheet", "warning"),
        ("annex-a-person-conflict", "warning"),
    ]
    unknown, conflict = got.problems
    assert unknown["file"] == "annex_a_oct15.xlsx [Pivot]"
    # List 1 has no outcome: the contacts carry NOT_RECORDED (a constant the mapping marks
    # as not held, so the conversion indicator is not available, never 0%)
    assert got.tables["contacts"].frame["cont_contact_outcome"].unique().to_list() == [
        "NOT_RECORDED"
    ]
    # 0012 was born 01/02/2012 in List 1 and 2012-03-01 in List 3; 12345's two spellings
    # of the same date are no conflict. The message never names the child.
    assert conflict["column"] == "pers_dob"
    assert conflict["message"].startswith("1 child has different 'Date of Birth' values")
    assert "0012" not in str(got.problems)


def test_the_same_workbook_read_twice_gives_the_same_ids(
    full: Path, mapping: SourceMapping
) -> None:
    [first] = annex_a.read(full, mapping)
    [second] = annex_a.read(full, mapping, month=Month(2015, 11))
    for name, table in first.tables.items():
        assert_frame_equal(table.frame, second.tables[name].frame)
    ids = first.tables["contacts"].frame["cont_contact_id"]
    assert ids.n_unique() == ids.len()


def test_output_passes_the_extract_validator_as_expected(
    full: Path, mapping: SourceMapping, contract: Contract, tmp_path: Path
) -> None:
    """The converted tables written as an extract: the codes Annex A writes are read, the
    contacts load with NOT_RECORDED and only the one bad date fails."""
    [got] = annex_a.read(full, mapping)
    folder = tmp_path / "extract"
    folder.mkdir()
    for name, table in got.tables.items():
        table.frame.drop(LINE).write_csv(folder / contract.tables[name].file)
    result = validate_extract(folder, got.period, contract, max_quarantine=1.0)
    issues = result.report.issues.filter(pl.col("level") == "row")
    by_table = {
        (row["file"], row["column"], row["rule"])
        for row in issues.select("file", "column", "rule").to_dicts()
    }
    assert by_table == {("contacts.csv", "cont_contact_date", "invalid-datetime")}
    person = result.tables["person"].loaded  # in the CSV's order
    assert person["pers_sex"].to_list() == ["M", "F", None, "U"]
    assert person["pers_ethnicity"].to_list() == ["WBRI", "WIRI", None, None]
    assert person["pers_disability"].to_list() == [True, False, None, None]
    referrals = result.tables["referrals"].loaded
    assert referrals["cine_referral_source_code"].to_list() == ["2A", "1A"]
    plans = result.tables["cp_plans"].loaded
    assert plans["cppl_cp_plan_latest_category"].to_list() == ["MUL"]
    assert result.tables["contacts"].outcome.quarantined == 1


# --- period ----------------------------------------------------------------------------------

CONTACTS_HEADINGS = ["Child Unique ID", "Date of Contact", "Contact Source"]
REFERRALS_HEADINGS = ["Child Unique ID", "Date of referral"]


def test_period_from_the_latest_date_and_first_at_most_twelve_months_before(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    book = write_book(
        tmp_path / "a.xlsx",
        {
            "List 1": [CONTACTS_HEADINGS, ["1", D(2013, 2, 1), "a) 1A"], ["1", D(2015, 3, 31)]],
            "List 3": [REFERRALS_HEADINGS, ["1", "10/08/2015"]],
        },
    )
    [got] = annex_a.read(book, mapping)
    assert (got.period, got.first, got.label) == (Month(2015, 8), Month(2014, 9), "annex-a-2015-08")
    [given] = annex_a.read(book, mapping, month=Month(2016, 1))
    assert (given.period, given.first, given.label) == (
        Month(2016, 1),
        Month(2015, 2),
        "annex-a-2016-01",
    )


def test_first_is_six_months_back_without_contacts_or_referrals(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    book = write_book(
        tmp_path / "a.xlsx",
        {"List 7": [["Child Unique ID", "Child Protection Plan Start Date"], ["1", "03/07/2015"]]},
    )
    [got] = annex_a.read(book, mapping)
    assert (got.period, got.first) == (Month(2015, 7), Month(2015, 2))


def test_first_is_never_after_the_month_given(tmp_path: Path, mapping: SourceMapping) -> None:
    book = write_book(tmp_path / "a.xlsx", {"List 1": [CONTACTS_HEADINGS, ["1", D(2015, 9, 1)]]})
    [got] = annex_a.read(book, mapping, month=Month(2015, 6))
    assert (got.period, got.first) == (Month(2015, 6), Month(2015, 6))


def test_no_date_and_no_month_is_an_error(tmp_path: Path, mapping: SourceMapping) -> None:
    book = write_book(tmp_path / "a.xlsx", {"List 1": [CONTACTS_HEADINGS, ["1", "unknown"]]})
    [got] = annex_a.read(book, mapping)
    assert ("annex-a-no-period", "error") in rules(got.problems)
    assert got.label == "annex-a-unknown"
    [given] = annex_a.read(book, mapping, month=Month(2015, 10))
    assert "annex-a-no-period" not in str(given.problems)


# --- structure -------------------------------------------------------------------------------


def test_a_list_missing_a_required_heading_is_a_file_error(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    book = write_book(
        tmp_path / "a.xlsx",
        {
            "List 1 Contacts": [["Child Unique ID", "Contact Source"], ["1", "a) 1A"]],
            "List 3": [REFERRALS_HEADINGS, ["1", "10/08/2015"]],
        },
    )
    [got] = annex_a.read(book, mapping)
    [missing] = [p for p in got.problems if p["rule"] == "annex-a-missing-heading"]
    assert missing["severity"] == "error"
    assert missing["file"] == "a.xlsx [List 1 Contacts]"
    assert missing["column"] == "Date of Contact"
    assert missing["line"] == 1
    assert "'List 1 Contacts' (List 1) has no 'Date of Contact' heading" in missing["message"]
    assert "contacts" not in got.tables
    assert "referrals" in got.tables


def test_a_sheet_without_the_list_headings_names_them_all(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    book = write_book(tmp_path / "a.xlsx", {"List 5": [["Something"], ["x"]]})
    [got] = annex_a.read(book, mapping)
    missing = [p["column"] for p in got.problems if p["rule"] == "annex-a-missing-heading"]
    assert missing == [
        "Child Unique ID",
        "Strategy discussion initiating Section 47 Enquiry Start Date",
        "Date of Initial Child Protection Conference",
    ]


def test_two_columns_meaning_the_same_field_is_an_error(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    book = write_book(
        tmp_path / "a.xlsx",
        {"List 3": [[*REFERRALS_HEADINGS, "Referral Date"], ["1", "10/08/2015", "11/08/2015"]]},
    )
    [got] = annex_a.read(book, mapping)
    [dup] = [p for p in got.problems if p["rule"] == "annex-a-duplicate-heading"]
    assert dup["severity"] == "error"
    assert "'Date of referral' (column 2) and 'Referral Date' (column 3)" in dup["message"]
    assert "referrals" not in got.tables


def test_sheet_warnings(tmp_path: Path, mapping: SourceMapping) -> None:
    book = write_book(
        tmp_path / "a.xlsx",
        {
            "Contacts": [CONTACTS_HEADINGS, ["1", D(2015, 9, 1)]],
            "List 1 (2)": [CONTACTS_HEADINGS, ["2", D(2015, 9, 1)]],
            "CP": [],
            "Codes_used": [["a) Male"]],
            "Sheet9": [],
            "Notes from the team": [["not a list"]],
        },
    )
    [got] = annex_a.read(book, mapping)
    assert rules(got.problems) == [
        ("annex-a-duplicate-list", "warning"),
        ("annex-a-empty-list", "warning"),
        # Lists 3, 4, 5 and 8 (List 7's empty sheet is reported once, above)
        ("annex-a-missing-list", "warning"),
        ("annex-a-missing-list", "warning"),
        ("annex-a-missing-list", "warning"),
        ("annex-a-missing-list", "warning"),
    ]
    duplicate, empty, *_ = got.problems
    assert duplicate["file"] == "a.xlsx [List 1 (2)]"
    assert empty["file"] == "a.xlsx [CP]"
    assert got.tables["contacts"].frame["cont_person_id"].to_list() == ["1"]


def test_a_workbook_with_no_list_is_an_error(tmp_path: Path, mapping: SourceMapping) -> None:
    book = write_book(tmp_path / "a.xlsx", {"Sheet1": [["Team", "Count"], ["A", 1]]})
    [got] = annex_a.read(book, mapping, month=Month(2015, 10))
    assert rules(got.problems) == [
        ("annex-a-unknown-sheet", "warning"),
        ("annex-a-no-lists", "error"),
    ]
    assert got.tables == {}


def test_heading_row_below_titles_and_a_blank_column(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    """The heading row is the one with the most recognised headings, not the first text."""
    book = write_book(
        tmp_path / "a.xlsx",
        {
            "List 3 Referrals": [
                ["Child Unique ID: the authority's id; Date of referral: DD/MM/YYYY"],
                ["Referrals"],
                [None, "child_unique_id", None, "DATE OF REFERRAL:", "Referral Source"],
                [None, "1", None, "10/08/2015", "a) 1A"],
            ]
        },
    )
    [got] = annex_a.read(book, mapping)
    table = got.tables["referrals"]
    assert table.frame.select("cine_person_id", "cine_referral_date", LINE).rows() == [
        ("1", "10/08/2015", 4)
    ]
    assert table.columns["cine_referral_date"] == "DATE OF REFERRAL:"


def test_a_file_named_otherwise_is_still_read(tmp_path: Path, mapping: SourceMapping) -> None:
    book = write_book(tmp_path / "a.xlsx", {"List 3": [REFERRALS_HEADINGS, ["1", "10/08/2015"]]})
    renamed = book.rename(tmp_path / "annex a export")
    [got] = annex_a.read(renamed, mapping)
    assert got.tables["referrals"].frame.height == 1


def test_openpyxl_warnings_about_unkept_features_are_not_raised(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    """Councils' workbooks carry data-validation extensions openpyxl warns it drops (and the
    tests turn warnings into errors): the lists' values do not depend on them."""
    plain = write_book(
        tmp_path / "plain.xlsx", {"List 3": [REFERRALS_HEADINGS, ["1", "10/08/2015"]]}
    )
    book = tmp_path / "extended.xlsx"
    extension = (
        b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" xmlns:x14='
        b'"http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        b'<x14:dataValidations count="0"/></ext></extLst></worksheet>'
    )
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(book, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</worksheet>", extension)
            target.writestr(item, data)
    [got] = annex_a.read(book, mapping)
    assert got.tables["referrals"].frame["cine_referral_date"].to_list() == ["10/08/2015"]


@pytest.mark.parametrize(
    ("content", "rule", "advice"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "annex-a-old-excel", "save it as"),
        (b"PK\x03\x04 this is no zip at all", "annex-a-unreadable", "save it again as"),
        (b"Child Unique ID,Date of Contact\n1,01/01/2015\n", "annex-a-unreadable", ".xlsx"),
        (b"", "annex-a-unreadable", ".xlsx"),
    ],
    ids=["xls", "corrupt", "csv", "empty"],
)
def test_unreadable_files_are_file_errors_with_advice(
    tmp_path: Path, mapping: SourceMapping, content: bytes, rule: str, advice: str
) -> None:
    path = tmp_path / "annex_a.xlsx"
    path.write_bytes(content)
    [got] = annex_a.read(path, mapping)
    [problem] = got.problems
    assert (problem["rule"], problem["severity"], problem["level"]) == (rule, "error", "file")
    assert advice in problem["message"]
    assert got.tables == {}
    assert got.checksums == {"annex_a.xlsx": hashlib.sha256(content).hexdigest()}
    [given] = annex_a.read(path, mapping, month=Month(2015, 10))
    assert (given.period, given.label) == (Month(2015, 10), "annex-a-2015-10")


def test_a_zip_that_is_no_workbook_is_a_file_error(tmp_path: Path, mapping: SourceMapping) -> None:
    path = tmp_path / "annex_a.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    [got] = annex_a.read(path, mapping)
    assert rules(got.problems) == [("annex-a-unreadable", "error")]


def test_a_missing_file_is_a_file_error(tmp_path: Path, mapping: SourceMapping) -> None:
    [got] = annex_a.read(tmp_path / "nowhere.xlsx", mapping)
    assert rules(got.problems) == [("annex-a-unreadable", "error")]
    assert got.checksums == {}


# --- small parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        (" 0012 ", " 0012 "),
        (12345.0, "12345"),
        (12345, "12345"),
        (1.5, "1.5"),
        (True, "TRUE"),
        (False, "FALSE"),
        (datetime(2015, 6, 1), "2015-06-01"),  # noqa: DTZ001 - Excel dates are naive
        (datetime(2015, 6, 1, 14, 30), "2015-06-01"),  # noqa: DTZ001
        (date(2015, 6, 1), "2015-06-01"),
        (time(9, 30), "09:30:00"),
    ],
)
def test_cell_text(value: Any, text: str | None) -> None:
    assert annex_a.cell_text(value) == text


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("List 1", 1),
        ("List 1 - Contacts", 1),
        ("L1 Contacts", 1),
        ("List_3", 3),
        ("list10", 10),
        ("Annex A List 11", 11),
        ("Contacts", 1),
        ("Referrals", 3),
        ("Early help assessments", 2),
        ("S47 and ICPC", 5),
        ("Section 47", 5),
        ("Children in Need", 6),
        ("CP plans", 7),
        ("Children in Care", 8),
        ("Looked After", 8),
        ("Care Leavers", 9),
        ("Adoption", 10),
        ("Adopters", 11),
        ("List 12", None),
        ("Level 2", None),
        ("Sheet1", None),
        ("Pivot", None),
    ],
)
def test_list_of_sheet(name: str, number: int | None) -> None:
    assert annex_a.list_of_sheet(name) == number


def test_heading_key_ignores_case_spacing_and_punctuation() -> None:
    same = [
        "Date of Contact",
        "Date Of Contact",
        "DATE OF CONTACT:",
        "date_of_contact",
        " Date\nof  Contact ",
    ]
    assert {annex_a.heading_key(text) for text in same} == {"dateofcontact"}


def test_sniff(tmp_path: Path, full: Path) -> None:
    assert annex_a.sniff(full)
    one = write_book(tmp_path / "one.xlsx", {"L3 Referrals": [["x"]]})
    assert annex_a.sniff(one)
    words = write_book(tmp_path / "words.xlsx", {"Contacts": [["x"]], "Referrals": [["x"]]})
    assert annex_a.sniff(words)
    other = write_book(tmp_path / "other.xlsx", {"Sheet1": [["x"]], "Contacts": [["x"]]})
    assert not annex_a.sniff(other)
    xls = tmp_path / "Annex A.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    assert annex_a.sniff(xls)
    budget = tmp_path / "budget.xls"
    budget.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    assert not annex_a.sniff(budget)
    csv = tmp_path / "contacts.csv"
    csv.write_text("cont_contact_id\n1\n", encoding="utf-8")
    assert not annex_a.sniff(csv)
    (tmp_path / "empty.xlsx").write_bytes(b"")
    assert not annex_a.sniff(tmp_path / "empty.xlsx")
    assert not annex_a.sniff(tmp_path / "missing.xlsx")
    assert not annex_a.sniff(tmp_path)


# --- the mapping against the contract and the docs --------------------------------------------


def test_mapping_names_only_contract_tables_and_columns(
    mapping: SourceMapping, contract: Contract
) -> None:
    assert mapping.format == annex_a.FORMAT
    for name, table_map in mapping.tables.items():
        assert name in contract.tables, name
        table = contract.tables[name]
        assert set(table_map.columns) <= set(table.columns), name
        # the first column is the table's id; made by the recipe when the return has none
        assert annex_a.id_column(table_map) == table.id, name
        if table_map.id is not None:
            assert table_map.columns[table.id].source is None, name
            assert set(table_map.id.parts) <= set(table_map.columns), name
        assert table_map.natural_key, name
        assert set(table_map.natural_key) <= set(table_map.columns), name
        for column in table_map.natural_key:
            assert table_map.columns[column].source is not None, (name, column)
        for column, field_map in table_map.columns.items():
            assert field_map.note.strip(), (name, column)
            kind = table.columns[column]
            if field_map.constant is not None and kind.codes is not None:
                assert field_map.constant in contract.codes[kind.codes].codes, (name, column)
            if field_map.values and kind.type is ColumnType.FLAG:
                assert set(field_map.values.values()) <= {"Y", "N"}, (name, column)
            keys = [annex_a.heading_key(s) for s in annex_a.spellings(field_map)]
            assert len(keys) == len(set(keys)), (name, column)
            # the extract contract's Annex A aliases are accepted here too
            for alias in kind.aliases:
                if field_map.source is not None:
                    assert annex_a.heading_key(alias) in keys, (name, column, alias)
        # no heading means two columns of one table
        every = [
            annex_a.heading_key(s) for f in table_map.columns.values() for s in annex_a.spellings(f)
        ]
        assert len(every) == len(set(every)), name


def test_same_row_links_follow_the_contract_references(
    mapping: SourceMapping, contract: Contract
) -> None:
    plan = annex_a._Plan.of(mapping)
    found = {}
    for names in plan.lists.values():
        for name in names:
            for column, target in annex_a._same_list_links(plan, name).items():
                assert contract.tables[name].columns[column].references == target
                found[f"{name}.{column}"] = target
    assert found == {"icpcs.icpc_s47_enquiry_id": "s47_enquiries"}


def test_lists_read_and_not_loaded_cover_all_eleven(mapping: SourceMapping) -> None:
    plan = annex_a._Plan.of(mapping)
    assert sorted(plan.lists) == [1, 3, 4, 5, 7, 8]
    assert sorted(plan.not_loaded) == [2, 6, 9, 10, 11]
    assert plan.common == ["person"]


def test_docs_page_names_every_heading_list_and_rule(mapping: SourceMapping) -> None:
    page = " ".join(DOCS.read_text(encoding="utf-8").split())  # lines wrapped anywhere
    for name, table_map in mapping.tables.items():
        for column, field_map in table_map.columns.items():
            assert f"`{column}`" in page, (name, column)
            for spelling in annex_a.spellings(field_map):
                assert spelling in page, (name, column, spelling)
    for key in mapping.not_loaded:
        assert key.split(" ", 2)[2] in page, key
    source = Path(annex_a.__file__).read_text(encoding="utf-8")
    for rule in sorted(set(re.findall(r'"(annex-a-[a-z-]+)"', source))):
        assert f"`{rule}`" in page, rule
    assert "no real Annex A workbook" in page


def test_a_workbook_larger_than_any_return_is_refused_without_exhausting_memory(
    tmp_path: Path, mapping: SourceMapping, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15 item 7: a 10 MB workbook of 2 million junk rows reached 17 GB. Limits far
    above a real return refuse it (here lowered, to keep the test small)."""
    monkeypatch.setattr(annex_a, "MAX_LIST_ROWS", 50)
    monkeypatch.setattr(annex_a, "BATCH_ROWS", 7)  # packed in batches along the way
    row = ["1", D(2015, 9, 1), "a) 1A"]
    path = write_book(tmp_path / "a.xlsx", {"List 1 - Contacts": [CONTACTS_HEADINGS, *[row] * 51]})
    [converted] = annex_a.read(path, mapping)
    [problem] = [p for p in converted.problems if p["rule"] == "annex-a-too-large"]
    assert "more than 50 rows" in problem["message"] and problem["severity"] == "error"
    assert converted.tables == {}
    monkeypatch.setattr(annex_a, "MAX_LIST_ROWS", 250_000)
    monkeypatch.setattr(annex_a, "MAX_UNZIPPED", 1000)  # the parts unpack to more than this
    [converted] = annex_a.read(path, mapping)
    [problem] = [p for p in converted.problems if p["rule"] == "annex-a-too-large"]
    assert "refused unread" in problem["message"]


def test_rows_are_packed_in_batches_and_kept_whole(
    tmp_path: Path, mapping: SourceMapping, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(annex_a, "BATCH_ROWS", 3)
    rows = [[str(k), D(2015, 9, k), "a) 1A"] for k in range(1, 11)]  # 10 rows, batches of 3
    path = write_book(tmp_path / "a.xlsx", {"List 1": [CONTACTS_HEADINGS, *rows]})
    [got] = annex_a.read(path, mapping)
    contacts = got.tables["contacts"].frame
    assert contacts.height == 10 and contacts["_line"].to_list() == list(range(2, 12))
