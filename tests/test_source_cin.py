"""The CIN census XML reader: tiny hand-written census files with their expected tables written
out, the awkward cases, unsafe and broken files, the real synthetic sample, and the mapping
checked against the contract and the format's documentation page."""

from __future__ import annotations

import hashlib
import os
import re
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from safeguard.ingest.csvfile import FileProblem, sha256_of
from safeguard.ingest.sources import cin_xml
from safeguard.ingest.sources.base import LINE, Converted, SourceMapping, load_mapping
from safeguard.ingest.validate import validate_extract
from safeguard.periods import Month
from safeguard.schema import ColumnType, Contract
from tests.conftest import PIPELINES, ROOT, SHARED

SAMPLE = SHARED / "reference" / "samples" / "cin" / "fake_CIN_data.xml"
DOC = ROOT / "docs" / "formats" / "cin-xml.md"

# Nine lines, so the first <Child> of every test file starts on line 10.
HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails>
      <Collection>CIN</Collection>
      <Year>{year}</Year><ReferenceDate>{year}-03-31</ReferenceDate>
    </CollectionDetails>
  </Header>
  <Children>
"""
TAIL = "  </Children>\n</Message>\n"


@pytest.fixture(scope="module")
def mapping() -> SourceMapping:
    return load_mapping(PIPELINES, cin_xml.FORMAT)


def census(folder: Path, children: str, *, year: str = "2022", name: str = "cin.xml") -> Path:
    """A census file whose <Children> hold ``children`` (dedented), starting on line 10."""
    path = folder / name
    body = textwrap.dedent(children).strip("\n") + "\n"
    path.write_text(HEAD.format(year=year) + body + TAIL, encoding="utf-8")
    return path


def read_one(path: Path, mapping: SourceMapping) -> Converted:
    [converted] = cin_xml.read(path, mapping)
    return converted


def made_id(prefix: str, *parts: str) -> str:
    """The id recipe, worked independently of record_ids."""
    return f"{prefix}-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pl.DataFrame:
    schema: dict[str, Any] = {name: pl.String for name in columns}
    schema[LINE] = pl.UInt32
    return pl.DataFrame(rows, schema=schema, orient="row")


def refused(path: Path, mapping: SourceMapping) -> FileProblem:
    with pytest.raises(FileProblem) as caught:
        cin_xml.read(path, mapping)
    return caught.value


PERSON = [
    "pers_person_id",
    "pers_sex",
    "pers_ethnicity",
    "pers_dob",
    "pers_expected_dob",
    "pers_death_date",
    "pers_disability",
]
REFERRALS = [
    "cine_referral_id",
    "cine_person_id",
    "cine_referral_date",
    "cine_referral_source_code",
    "cine_referral_nfa",
    "cine_cin_primary_need_code",
    "cine_close_date",
    "cine_close_reason",
]

TWO_REFERRALS = """
    <Child>
      <ChildIdentifiers>
        <LAchildID>000123</LAchildID>
        <UPN>A123456789012</UPN>
        <PersonBirthDate>2015-06-01</PersonBirthDate>
        <GenderCurrent>2</GenderCurrent>
      </ChildIdentifiers>
      <ChildCharacteristics>
        <Ethnicity>WBRI</Ethnicity>
        <Disabilities><Disability>NONE</Disability></Disabilities>
      </ChildCharacteristics>
      <CINdetails>
        <CINreferralDate>2020-05-04</CINreferralDate>
        <ReferralSource>1A</ReferralSource>
        <PrimaryNeedCode>N1</PrimaryNeedCode>
        <CINclosureDate>2020-09-30</CINclosureDate>
        <ReasonForClosure>RC8</ReasonForClosure>
        <ReferralNFA>false</ReferralNFA>
      </CINdetails>
      <CINdetails>
        <CINreferralDate>2021-11-15</CINreferralDate>
        <ReferralSource>ZZ</ReferralSource>
        <PrimaryNeedCode>N2</PrimaryNeedCode>
        <ReferralNFA>1</ReferralNFA>
      </CINdetails>
    </Child>
"""

FULL_CHILD = """
    <Child>
      <ChildIdentifiers>
        <LAchildID>C7</LAchildID>
        <PersonBirthDate>2012-03-04</PersonBirthDate>
        <Sex>M</Sex>
      </ChildIdentifiers>
      <ChildCharacteristics>
        <Ethnicity>AIND</Ethnicity>
      </ChildCharacteristics>
      <CINdetails>
        <CINreferralDate>2021-06-01</CINreferralDate>
        <ReferralSource>5A</ReferralSource>
        <PrimaryNeedCode>N1</PrimaryNeedCode>
        <Assessments>
          <AssessmentActualStartDate>2021-06-02</AssessmentActualStartDate>
          <AssessmentAuthorisationDate>2021-07-20</AssessmentAuthorisationDate>
        </Assessments>
        <Section47>
          <S47ActualStartDate>2021-06-03</S47ActualStartDate>
          <InitialCPCtarget>2021-06-24</InitialCPCtarget>
          <DateOfInitialCPC>2021-06-22</DateOfInitialCPC>
          <ICPCnotRequired>false</ICPCnotRequired>
        </Section47>
        <ReferralNFA>0</ReferralNFA>
        <ChildProtectionPlans>
          <CPPstartDate>2021-06-22</CPPstartDate>
          <InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>
          <LatestCategoryOfAbuse>EMO</LatestCategoryOfAbuse>
          <NumberOfPreviousCPP>1</NumberOfPreviousCPP>
          <Reviews>
            <CPPreviewDate>2021-09-14</CPPreviewDate>
            <CPPreviewDate>2022-03-01</CPPreviewDate>
          </Reviews>
        </ChildProtectionPlans>
      </CINdetails>
    </Child>
"""


# --------------------------------------------------------------------------- tables


def test_a_child_with_two_referrals(tmp_path: Path, mapping: SourceMapping) -> None:
    converted = read_one(census(tmp_path, TWO_REFERRALS), mapping)
    assert_frame_equal(
        converted.tables["person"].frame,
        frame([("000123", "F", "WBRI", "2015-06-01", None, None, "N", 10)], PERSON),
    )
    first = made_id("cin-referral", "000123", "2020-05-04")
    second = made_id("cin-referral", "000123", "2021-11-15")
    assert_frame_equal(
        converted.tables["referrals"].frame,
        frame(
            [
                # closure date and reason given; NFA false -> N
                (first, "000123", "2020-05-04", "1A", "N", "N1", "2020-09-30", "RC8", 21),
                # still open: no closure date or reason; NFA 1 -> Y; ZZ is no code: as written
                (second, "000123", "2021-11-15", "ZZ", "Y", "N2", None, None, 29),
            ],
            REFERRALS,
        ),
    )
    for name in ("assessments", "s47_enquiries", "icpcs", "cp_plans", "cp_reviews"):
        assert converted.tables[name].frame.height == 0
    assert converted.problems == []
    assert converted.tables["referrals"].file == "cin.xml"
    assert converted.tables["referrals"].columns["cine_referral_date"] == "CINreferralDate"


def test_a_child_with_an_assessment_s47_conference_plan_and_two_reviews(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    converted = read_one(census(tmp_path, FULL_CHILD), mapping)
    tables = {name: table.frame for name, table in converted.tables.items()}
    referral = made_id("cin-referral", "C7", "2021-06-01")
    s47 = made_id("cin-s47", "C7", "2021-06-03")
    plan = made_id("cin-cp-plan", "C7", "2021-06-22")
    assert_frame_equal(
        tables["person"], frame([("C7", "M", "AIND", "2012-03-04", None, None, None, 10)], PERSON)
    )
    assert tables["referrals"]["cine_referral_id"].to_list() == [referral]
    assert tables["referrals"]["cine_referral_nfa"].to_list() == ["N"]
    assert_frame_equal(
        tables["assessments"],
        frame(
            [
                (
                    made_id("cin-assessment", "C7", "2021-06-02"),
                    "C7",
                    referral,
                    "2021-06-02",
                    "2021-07-20",
                    "SINGLE",
                    23,
                )
            ],
            [
                "cina_assessment_id",
                "cina_person_id",
                "cina_referral_id",
                "cina_assessment_start_date",
                "cina_assessment_auth_date",
                "cina_assessment_type",
            ],
        ),
    )
    assert_frame_equal(
        tables["s47_enquiries"],
        frame(
            [(s47, "C7", referral, "2021-06-03", "N", 27)],
            [
                "s47e_s47_enquiry_id",
                "s47e_person_id",
                "s47e_referral_id",
                "s47e_s47_start_date",
                "s47e_icpc_not_required",
            ],
        ),
    )
    assert_frame_equal(
        tables["icpcs"],
        frame(
            [(made_id("cin-icpc", "C7", "2021-06-22"), "C7", s47, "2021-06-22", 30)],
            ["icpc_icpc_id", "icpc_person_id", "icpc_s47_enquiry_id", "icpc_icpc_date"],
        ),
    )
    assert_frame_equal(
        tables["cp_plans"],
        frame(
            [(plan, "C7", "2021-06-22", None, "NEG", "EMO", "1", 34)],
            [
                "cppl_cp_plan_id",
                "cppl_person_id",
                "cppl_cp_plan_start_date",
                "cppl_cp_plan_end_date",
                "cppl_cp_plan_initial_category",
                "cppl_cp_plan_latest_category",
                "cppl_number_of_previous_plans",
            ],
        ),
    )
    assert_frame_equal(
        tables["cp_reviews"],
        frame(
            [
                (made_id("cin-cp-review", "C7", "2021-09-14"), "C7", plan, "2021-09-14", 40),
                (made_id("cin-cp-review", "C7", "2022-03-01"), "C7", plan, "2022-03-01", 41),
            ],
            ["cppr_cp_review_id", "cppr_person_id", "cppr_cp_plan_id", "cppr_cp_review_date"],
        ),
    )
    assert converted.not_loaded["Child/CINdetails/Section47/InitialCPCtarget"] == 1
    assert converted.problems == []


def test_the_full_child_passes_the_contract_validator_untouched(
    tmp_path: Path, mapping: SourceMapping, contract: Contract
) -> None:
    converted = read_one(census(tmp_path, FULL_CHILD + TWO_REFERRALS), mapping)
    folder = tmp_path / "as-extract"
    folder.mkdir()
    for name, table in converted.tables.items():
        table.frame.drop(LINE).write_csv(folder / contract.tables[name].file)
    report = validate_extract(folder, converted.period, contract, max_quarantine=1.0).report
    # the only problem is the one planted: referral source ZZ (DfE rule 8866)
    assert report.issues.select("file", "line", "rule", "value").rows() == [
        ("referrals.csv", 4, "8866", "ZZ")
    ]


def test_ids_and_links_are_the_same_on_every_read(tmp_path: Path, mapping: SourceMapping) -> None:
    first = read_one(census(tmp_path, FULL_CHILD + TWO_REFERRALS, name="a.xml"), mapping)
    again = read_one(census(tmp_path, FULL_CHILD + TWO_REFERRALS, name="b.xml"), mapping)
    for name, table in first.tables.items():
        assert_frame_equal(table.frame, again.tables[name].frame)
    assert first.tables["cp_reviews"].frame["cppr_cp_plan_id"].to_list() == (
        first.tables["cp_plans"].frame["cppl_cp_plan_id"].to_list() * 2
    )


def test_rows_packed_in_batches_keep_their_links(
    tmp_path: Path, mapping: SourceMapping, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = census(tmp_path, TWO_REFERRALS + FULL_CHILD + FULL_CHILD.replace("C7", "C8"))
    whole = read_one(path, mapping)
    monkeypatch.setattr(cin_xml, "BATCH_ROWS", 1)
    batched = read_one(path, mapping)
    for name, table in whole.tables.items():
        assert_frame_equal(table.frame, batched.tables[name].frame)
    reviews = batched.tables["cp_reviews"].frame
    plans = batched.tables["cp_plans"].frame
    assert reviews["cppr_cp_plan_id"].to_list() == [
        plans["cppl_cp_plan_id"][0],
        plans["cppl_cp_plan_id"][0],
        plans["cppl_cp_plan_id"][1],
        plans["cppl_cp_plan_id"][1],
    ]


def test_a_file_on_one_line_links_the_same_way(tmp_path: Path, mapping: SourceMapping) -> None:
    lines = census(tmp_path, FULL_CHILD + FULL_CHILD.replace("C7", "C8"), name="a.xml")
    flat = tmp_path / "flat.xml"
    flat.write_text(re.sub(r">\s+<", "><", lines.read_text(encoding="utf-8")), encoding="utf-8")
    by_lines = read_one(lines, mapping)
    on_one = read_one(flat, mapping)
    for name, table in by_lines.tables.items():
        assert_frame_equal(table.frame.drop(LINE), on_one.tables[name].frame.drop(LINE))
        assert set(on_one.tables[name].frame[LINE].to_list()) <= {1}


def test_a_conference_recorded_on_the_episode_and_on_its_s47_is_read_once(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    path = census(
        tmp_path,
        """
        <Child>
          <ChildIdentifiers>
            <LAchildID>C9</LAchildID>
          </ChildIdentifiers>
          <ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>
          <CINdetails>
            <CINreferralDate>2021-04-10</CINreferralDate>
            <ReferralSource>6</ReferralSource>
            <DateOfInitialCPC>2021-05-05</DateOfInitialCPC>
            <Section47>
              <S47ActualStartDate>2021-04-20</S47ActualStartDate>
              <DateOfInitialCPC>2021-05-05</DateOfInitialCPC>
              <ICPCnotRequired>0</ICPCnotRequired>
            </Section47>
            <ReferralNFA>false</ReferralNFA>
          </CINdetails>
          <CINdetails>
            <CINreferralDate>2021-09-01</CINreferralDate>
            <ReferralSource>6</ReferralSource>
            <DateOfInitialCPC>2021-09-20</DateOfInitialCPC>
            <ReferralNFA>false</ReferralNFA>
          </CINdetails>
        </Child>
        """,
    )
    converted = read_one(path, mapping)
    s47 = made_id("cin-s47", "C9", "2021-04-20")
    assert_frame_equal(
        converted.tables["icpcs"].frame,
        frame(
            [
                # the repeat on line 18 is dropped in favour of the S47's own record
                (made_id("cin-icpc", "C9", "2021-05-05"), "C9", s47, "2021-05-05", 21),
                # a conference on the episode alone (e.g. a transfer-in): no enquiry to link
                (made_id("cin-icpc", "C9", "2021-09-20"), "C9", None, "2021-09-20", 29),
            ],
            ["icpc_icpc_id", "icpc_person_id", "icpc_s47_enquiry_id", "icpc_icpc_date"],
        ),
    )
    [warning] = converted.problems
    assert (warning["rule"], warning["line"], warning["severity"], warning["level"]) == (
        "2884",
        18,
        "warning",
        "file",
    )
    assert "C9" not in warning["message"]


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("true", "Y"),
        ("false", "N"),
        ("1", "Y"),
        ("0", "N"),
        ("  true  ", "Y"),
        ("Yes", "Yes"),  # not the census's form: passed on for the validator to judge
        ("", None),
    ],
)
def test_flags_become_y_or_n(
    tmp_path: Path, mapping: SourceMapping, written: str, stored: str | None
) -> None:
    path = census(
        tmp_path,
        f"""
        <Child>
          <ChildIdentifiers><LAchildID>F1</LAchildID></ChildIdentifiers>
          <CINdetails>
            <CINreferralDate>2021-05-01</CINreferralDate>
            <Section47>
              <S47ActualStartDate>2021-05-02</S47ActualStartDate>
              <ICPCnotRequired>{written}</ICPCnotRequired>
            </Section47>
            <ReferralNFA>{written}</ReferralNFA>
          </CINdetails>
        </Child>
        """,
    )
    converted = read_one(path, mapping)
    assert converted.tables["referrals"].frame["cine_referral_nfa"].to_list() == [stored]
    assert converted.tables["s47_enquiries"].frame["s47e_icpc_not_required"].to_list() == [stored]


@pytest.mark.parametrize(
    ("element", "stored"),
    [
        ("<GenderCurrent>1</GenderCurrent>", "M"),
        ("<GenderCurrent>2</GenderCurrent>", "F"),
        ("<GenderCurrent>0</GenderCurrent>", "U"),
        ("<GenderCurrent>9</GenderCurrent>", "U"),
        ("<GenderCurrent>7</GenderCurrent>", "7"),
        ("<Sex>F</Sex>", "F"),
        ("<GenderCurrent/>", None),
        ("", None),
    ],
)
def test_sex(tmp_path: Path, mapping: SourceMapping, element: str, stored: str | None) -> None:
    path = census(
        tmp_path,
        f"<Child><ChildIdentifiers><LAchildID>S1</LAchildID>{element}</ChildIdentifiers></Child>",
    )
    assert read_one(path, mapping).tables["person"].frame["pers_sex"].to_list() == [stored]


@pytest.mark.parametrize(
    ("codes", "stored"),
    [
        ([], None),
        (["NONE"], "N"),
        (["MOB"], "Y"),
        (["MOB", "AUT"], "Y"),
        (["NONE", "LD"], "Y"),
        (["XYZ"], "XYZ"),
        (["MOB", "XYZ"], "MOB; XYZ"),
    ],
)
def test_disability_codes_become_one_flag(
    tmp_path: Path, mapping: SourceMapping, codes: list[str], stored: str | None
) -> None:
    disabilities = "".join(f"<Disability>{code}</Disability>" for code in codes)
    block = f"<Disabilities>{disabilities}</Disabilities>" if codes else ""
    path = census(
        tmp_path,
        f"""
        <Child>
          <ChildIdentifiers><LAchildID>D1</LAchildID></ChildIdentifiers>
          <ChildCharacteristics><Ethnicity>WBRI</Ethnicity>{block}</ChildCharacteristics>
        </Child>
        """,
    )
    person = read_one(path, mapping).tables["person"].frame
    assert person["pers_disability"].to_list() == [stored]


def test_values_are_trimmed_and_otherwise_passed_on_as_written(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    path = census(
        tmp_path,
        """
        <Child>
          <ChildIdentifiers>
            <LAchildID>  0042  </LAchildID>
            <ExpectedPersonBirthDate>2022-05-01</ExpectedPersonBirthDate>
            <PersonDeathDate></PersonDeathDate>
          </ChildIdentifiers>
          <CINdetails>
            <CINreferralDate>13/07/2021</CINreferralDate>
            <PrimaryNeedCode>n3</PrimaryNeedCode>
            <CINclosureDate/>
          </CINdetails>
        </Child>
        """,
    )
    converted = read_one(path, mapping)
    person = converted.tables["person"].frame
    assert person.select("pers_person_id", "pers_expected_dob", "pers_death_date").rows() == [
        ("0042", "2022-05-01", None)
    ]
    referrals = converted.tables["referrals"].frame
    assert referrals.select(
        "cine_referral_date", "cine_cin_primary_need_code", "cine_close_date", "cine_referral_nfa"
    ).rows() == [("13/07/2021", "n3", None, None)]
    assert referrals["cine_referral_id"].to_list() == [
        made_id("cin-referral", "0042", "13/07/2021")
    ]


def test_unknown_elements_are_warned_about_once_each_with_a_count(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    path = census(
        tmp_path,
        """
        <Child>
          <ChildIdentifiers>
            <LAchildID>A1</LAchildID>
            <FavouriteColour>blue</FavouriteColour>
          </ChildIdentifiers>
          <CINdetails>
            <CINreferralDate>2021-04-10</CINreferralDate>
            <Sibling>x</Sibling>
          </CINdetails>
        </Child>
        <Child>
          <ChildIdentifiers>
            <LAchildID>A2</LAchildID>
            <FavouriteColour>red</FavouriteColour>
          </ChildIdentifiers>
        </Child>
        <Stray/>
        """,
    )
    converted = read_one(path, mapping)
    found = [(p["rule"], p["line"], p["severity"], p["message"]) for p in converted.problems]
    assert found == [
        (
            "unknown-element",
            13,
            "warning",
            "element <FavouriteColour> at Child/ChildIdentifiers/FavouriteColour is not part of "
            "the CIN census as this reader knows it; found 2 times (first at line 13) and not "
            "read",
        ),
        (
            "unknown-element",
            17,
            "warning",
            "element <Sibling> at Child/CINdetails/Sibling is not part of the CIN census as this "
            "reader knows it; found once (first at line 17) and not read",
        ),
        (
            "unknown-element",
            26,
            "warning",
            "element <Stray> inside <Children> is not part of the CIN census as this reader "
            "knows it; found once (first at line 26) and not read",
        ),
    ]
    assert converted.tables["person"].frame["pers_person_id"].to_list() == ["A1", "A2"]


def test_parts_of_the_census_with_no_table_are_counted(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    path = census(
        tmp_path,
        """
        <Child>
          <ChildIdentifiers><LAchildID>P1</LAchildID><UPN>A123456789012</UPN></ChildIdentifiers>
          <CINdetails>
            <CINreferralDate>2021-04-10</CINreferralDate>
            <Assessments>
              <AssessmentActualStartDate>2021-04-11</AssessmentActualStartDate>
              <FactorsIdentifiedAtAssessment>
                <AssessmentFactors>2A</AssessmentFactors>
                <AssessmentFactors>4B</AssessmentFactors>
              </FactorsIdentifiedAtAssessment>
            </Assessments>
            <CINPlanDates><CINPlanStartDate>2021-05-01</CINPlanStartDate></CINPlanDates>
            <CINPlanDates>
              <CINPlanStartDate>2021-06-01</CINPlanStartDate>
              <CINPlanEndDate>2021-08-01</CINPlanEndDate>
            </CINPlanDates>
          </CINdetails>
        </Child>
        """,
    )
    converted = read_one(path, mapping)
    assert converted.not_loaded == {
        "Child/CINdetails/CINPlanDates": 2,
        "Child/CINdetails/Assessments/FactorsIdentifiedAtAssessment/AssessmentFactors": 2,
        "Child/CINdetails/Assessments/AssessmentInternalReviewDate": 0,
        "Child/CINdetails/Section47/InitialCPCtarget": 0,
        "Child/ChildIdentifiers/UPN": 1,
        "Child/ChildIdentifiers/FormerUPN": 0,
        "Child/ChildIdentifiers/UPNunknown": 0,
    }
    assert converted.problems == []


# --------------------------------------------------------------------------- period and identity


def test_the_census_year_sets_the_period_and_the_month_argument_is_ignored(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    path = census(tmp_path, TWO_REFERRALS, year="2016")
    [converted] = cin_xml.read(path, mapping, month=Month(2015, 10))
    assert (converted.format, converted.label) == ("cin-xml", "cin-2016")
    assert (converted.period, converted.first) == (Month(2016, 3), Month(2015, 4))
    assert converted.checksums == {"cin.xml": sha256_of(path.read_bytes())}


@pytest.mark.parametrize(
    ("year", "value"),
    [("22", "22"), ("twenty", "twenty"), ("", None), ("2022-23", "2022-23")],
)
def test_a_census_without_a_usable_year_is_refused(
    tmp_path: Path, mapping: SourceMapping, year: str, value: str | None
) -> None:
    found = refused(census(tmp_path, TWO_REFERRALS, year=year), mapping)
    assert (found.rule, found.line, found.value) == ("cin-year", 6, value)
    assert "Year 2022 covers April 2021 to March 2022" in found.message


def test_a_census_with_no_year_element_is_refused(tmp_path: Path, mapping: SourceMapping) -> None:
    path = census(tmp_path, TWO_REFERRALS)
    text = path.read_text().replace(
        "<Year>2022</Year><ReferenceDate>2022-03-31</ReferenceDate>", ""
    )
    path.write_text(text.replace("      \n", ""), encoding="utf-8")
    found = refused(path, mapping)
    assert (found.rule, found.line) == ("cin-year", 4)
    assert "<Year> is missing" in found.message


def test_sniff_knows_a_census(tmp_path: Path) -> None:
    assert cin_xml.sniff(census(tmp_path, TWO_REFERRALS))


@pytest.mark.parametrize(
    ("content", "rule", "line"),
    [
        (b"<?xml version='1.0'?>\n<Returns><Children/></Returns>\n", "not-cin", 2),
        (
            b"<Message>\n<Header><CollectionDetails><Collection>SC</Collection>"
            b"<Year>2022</Year></CollectionDetails></Header>\n<Children/></Message>\n",
            "not-cin",
            2,
        ),
        (b"<Message>\n  <Children>\n  </Children>\n</Message>\n", "not-cin", 2),
    ],
)
def test_other_xml_is_not_a_census(
    tmp_path: Path, mapping: SourceMapping, content: bytes, rule: str, line: int
) -> None:
    path = tmp_path / "other.xml"
    path.write_bytes(content)
    assert not cin_xml.sniff(path)
    found = refused(path, mapping)
    assert (found.rule, found.line) == (rule, line)
    assert found.message.startswith(("is not a CIN census message", "has no <Header>"))


def test_sniff_never_raises(tmp_path: Path) -> None:
    csv = tmp_path / "referrals.csv"
    csv.write_text("cine_referral_id,cine_person_id\n1,2\n", encoding="utf-8")
    binary = tmp_path / "image.png"
    binary.write_bytes(bytes(range(256)) * 10)
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    commented = tmp_path / "commented.xml"
    commented.write_text("<!-- <Message> -->\n<Other><Collection>CIN</Collection></Other>\n")
    for path in (csv, binary, empty, commented, tmp_path, tmp_path / "missing.xml"):
        assert not cin_xml.sniff(path)


# --------------------------------------------------------------------------- unsafe and broken


def test_an_external_entity_file_is_refused_without_reading_the_target(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    path = tmp_path / "xxe.xml"
    path.write_text(
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        "<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2022</Year>"
        "</CollectionDetails></Header><Children><Child><ChildIdentifiers>"
        "<LAchildID>&xxe;</LAchildID></ChildIdentifiers></Child></Children></Message>\n",
        encoding="utf-8",
    )
    assert cin_xml.sniff(path)  # recognised, so that it is refused with a reason
    found = refused(path, mapping)
    assert (found.rule, found.line) == ("unsafe-xml", 2)
    assert "root:" not in found.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("scan", [True, False], ids=["scanned", "parser-only"])
def test_an_external_entity_is_never_opened(
    tmp_path: Path, mapping: SourceMapping, monkeypatch: pytest.MonkeyPatch, scan: bool
) -> None:
    # Opening a named pipe with no writer blocks: a reader that followed the entity would hang.
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    if not scan:  # the prolog scan switched off, so the parser's own settings are tested
        monkeypatch.setattr(cin_xml, "_refuse_declarations", lambda path: None)
    for prolog in (
        f'<!DOCTYPE Message [<!ENTITY xxe SYSTEM "{pipe.as_uri()}">]>',
        f'<!DOCTYPE Message [<!ENTITY % p SYSTEM "{pipe.as_uri()}"> %p;]>',
        f'<!DOCTYPE Message SYSTEM "{pipe.as_uri()}">',
    ):
        path = tmp_path / "xxe.xml"
        path.write_text(f"{prolog}\n<Message>&xxe;</Message>\n", encoding="utf-8")
        outcome: list[BaseException] = []
        worker = threading.Thread(
            target=refused_quietly, args=(path, mapping, outcome), daemon=True
        )
        worker.start()
        worker.join(timeout=10)
        if worker.is_alive():  # release the blocked reader before failing
            with open(pipe, "wb") as unblock:
                unblock.write(b"x")
            pytest.fail("the reader opened the external entity")
        [problem] = outcome
        assert isinstance(problem, FileProblem) and problem.rule == "unsafe-xml"


def refused_quietly(path: Path, mapping: SourceMapping, outcome: list[BaseException]) -> None:
    """Read in a worker thread, handing whatever happens back to the test's thread."""
    try:
        cin_xml.read(path, mapping)
    except BaseException as exc:
        outcome.append(exc)
    else:
        outcome.append(AssertionError("not refused"))


LAUGHS = (
    '<!DOCTYPE Message [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n<Message>&lol9;</Message>\n"
)


@pytest.mark.parametrize("padding", [0, 70_000], ids=["at-the-start", "after-64KB"])
def test_a_billion_laughs_file_is_refused_quickly(
    tmp_path: Path, mapping: SourceMapping, padding: int
) -> None:
    path = tmp_path / "laughs.xml"
    prolog = f"<!-- {'x' * padding} -->\n" if padding else ""
    path.write_text(prolog + LAUGHS, encoding="utf-8")
    started = time.perf_counter()
    found = refused(path, mapping)
    assert time.perf_counter() - started < 2
    # found by the prolog scan on the DOCTYPE's line, whatever the parser would have said:
    # line 1 unpadded; after the one-line comment, line 2
    assert (found.rule, found.line) == ("unsafe-xml", 2 if padding else 1)
    assert "refused unread" in found.message


def _comment_lines(count: int, width: int) -> str:
    return "".join(f"<!-- {'x' * width} -->\n" for _ in range(count))


# Each prolog ends just before "<!DOCTYPE"; the expected line is worked out beside it.
PROLOGS = {
    # 1 the XML declaration, 2 a comment naming <Message> (not the root), 3-152 150 comment
    # lines of 1,009 bytes (151 KB: three chunks), 153 a processing instruction -> line 154
    "many-lines": (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!-- <Message> is not the root -->\n'
        + _comment_lines(150, 999)
        + "<?pi <Message> ?>\n",
        154,
    ),
    # one comment of 2,000 lines of 100 characters (200 KB), its "-->" on line 2,001 -> 2,002
    "one-long-comment": ("<!--" + ("y" * 99 + "\n") * 2000 + "-->\n", 2002),
    # "<!DO" ends the first 64 KB chunk and "CTYPE" begins the second: 4 + 65,524 + 3 + 1
    # bytes put the declaration at byte 65,532, on line 2
    "declaration-cut-by-a-chunk": ("<!--" + "z" * 65_524 + "-->\n", 2),
    # the comment's "-->" starts at byte 65,535, so "-" and "->" fall in different chunks
    "comment-end-cut-by-a-chunk": ("<!--" + "z" * 65_531 + "-->\n", 2),
    # white space only, on three lines
    "blank-lines": ("\n \n\t\r\n", 4),
}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("case", sorted(PROLOGS))
def test_a_declaration_anywhere_in_the_prolog_is_found_on_its_line(
    tmp_path: Path, mapping: SourceMapping, case: str, encoding: str
) -> None:
    prolog, line = PROLOGS[case]
    path = tmp_path / "prolog.xml"
    text = prolog + LAUGHS
    if encoding == "utf-16":  # the XML declaration must then say so
        text = text.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    path.write_text(text, encoding=encoding)
    found = refused(path, mapping)
    assert (found.rule, found.line) == ("unsafe-xml", line)


def test_a_declaration_inside_the_root_element_is_refused_as_unsafe(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    # HEAD is nine lines, so the declaration is on line 10; the parser stops there
    for declaration in ('<!DOCTYPE Message [<!ENTITY a "b">]>', '<!ENTITY a "b">'):
        path = census(tmp_path, declaration + "\n" + TWO_REFERRALS)
        found = refused(path, mapping)
        assert (found.rule, found.line) == ("unsafe-xml", 10), found.message
        assert "inside its root element" in found.message


def test_a_malformed_line_without_a_declaration_stays_malformed(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    # a declaration in a comment on line 10, the broken tag on line 11: not unsafe
    path = census(tmp_path, "<!-- <!DOCTYPE x> -->\n<Child></Chlid>\n")
    found = refused(path, mapping)
    assert (found.rule, found.line) == ("malformed-xml", 11)


def test_a_folder_is_refused_as_not_a_census(tmp_path: Path, mapping: SourceMapping) -> None:
    found = refused(tmp_path, mapping)
    assert found.rule == "not-cin"
    assert found.message.startswith("is a folder, not a CIN census XML file")


# --------------------------------------------------------------------------- the header's LA


def test_the_census_names_its_authority_in_the_header(tmp_path: Path) -> None:
    path = census(tmp_path, TWO_REFERRALS)
    with_lea = HEAD.replace(
        "    </CollectionDetails>\n",
        "    </CollectionDetails>\n    <Source>\n      <LEA> 201 </LEA>\n    </Source>\n",
    )
    assert cin_xml.source_authority(path) is None  # HEAD has no <Source>
    path.write_text(with_lea.format(year="2022") + TAIL, encoding="utf-8")
    # lines: 1 XML declaration, 2 Message, 3 Header, 4-7 CollectionDetails, 8 Source, 9 LEA
    assert cin_xml.source_authority(path) == ("201", 9)
    # an <LEA> anywhere but Header/Source is not the census's authority
    path.write_text(with_lea.replace("Source>", "Other>").format(year="2022") + TAIL)
    assert cin_xml.source_authority(path) is None


def test_malformed_xml_is_refused_naming_the_line(tmp_path: Path, mapping: SourceMapping) -> None:
    path = census(tmp_path, TWO_REFERRALS.replace("</ReferralSource>\n", "</ReferralSourc>\n", 1))
    found = refused(path, mapping)
    assert (found.rule, found.line) == ("malformed-xml", 23)
    assert found.message.startswith("is not well-formed XML at line 23: ")


def test_a_truncated_file_is_refused(tmp_path: Path, mapping: SourceMapping) -> None:
    path = census(tmp_path, TWO_REFERRALS)
    path.write_text(path.read_text()[:-40], encoding="utf-8")
    found = refused(path, mapping)
    assert found.rule == "malformed-xml" and found.line is not None


def test_an_empty_file_is_refused(tmp_path: Path, mapping: SourceMapping) -> None:
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    assert refused(path, mapping).rule == "malformed-xml"


# --------------------------------------------------------------------------- the real sample


@pytest.mark.shared
@pytest.mark.skipif(
    not SAMPLE.is_file(), reason=f"the CIN sample is not beside the checkout ({SAMPLE})"
)
def test_the_synthetic_sample(mapping: SourceMapping) -> None:
    data = SAMPLE.read_bytes()
    assert cin_xml.sniff(SAMPLE)
    converted = read_one(SAMPLE, mapping)
    tables = {name: table.frame for name, table in converted.tables.items()}
    assert tables["person"].height == data.count(b"<Child>") == 332
    assert tables["referrals"].height == data.count(b"<CINdetails>") == 402
    assert tables["icpcs"].height == data.count(b"<DateOfInitialCPC>")
    assert tables["assessments"].height == data.count(b"<Assessments>")
    assert tables["cp_plans"].height == data.count(b"<ChildProtectionPlans>")
    assert converted.not_loaded["Child/ChildIdentifiers/UPN"] == data.count(b"<UPN>")
    assert (converted.label, converted.period, converted.first) == (
        "cin-2022",
        Month(2022, 3),
        Month(2021, 4),
    )
    # DfE's own sample carries Reference Date 2022-07-21 for Year 2022: rule 100 warns, and
    # the census is still placed by its Year
    assert [(p["rule"], p["severity"], p["line"], p["value"]) for p in converted.problems] == [
        ("100", "warning", 6, "2022-07-21")
    ]
    assert converted.checksums == {SAMPLE.name: hashlib.sha256(data).hexdigest()}
    # every referral hangs off a child in the file, and every line is an element's own
    assert set(tables["referrals"]["cine_person_id"]) <= set(tables["person"]["pers_person_id"])
    lines = data.decode().splitlines()
    assert all(lines[n - 1].strip() == "<CINdetails>" for n in tables["referrals"][LINE])
    assert all(lines[n - 1].strip() == "<Child>" for n in tables["person"][LINE])
    assert tables["person"]["pers_sex"].unique().sort().to_list() == ["F", "M", "U"]
    assert set(tables["person"]["pers_disability"].drop_nulls()) == {"Y", "N"}


# --------------------------------------------------------------------------- the mapping


def source_paths(mapping: SourceMapping) -> list[str]:
    """Every element path the mapping names (table sources, column sources, not_loaded)."""
    paths: list[str] = []
    for table in mapping.tables.values():
        paths += [part.strip() for part in table.source.split("|")]
        for column in table.columns.values():
            sources = [column.source] if isinstance(column.source, str) else column.source or []
            paths += sources
    return paths + list(mapping.not_loaded)


def test_the_mapping_fits_the_contract(mapping: SourceMapping, contract: Contract) -> None:
    assert mapping.format == cin_xml.FORMAT and mapping.description
    for name, table in mapping.tables.items():
        assert name in contract.tables, name
        declared = contract.tables[name]
        assert table.note, name
        unknown = set(table.columns) - set(declared.columns)
        assert not unknown, f"{name}: {unknown}"
        required = {c for c, column in declared.columns.items() if column.required}
        assert required <= set(table.columns), f"{name} leaves out {required - set(table.columns)}"
        assert table.natural_key and set(table.natural_key) <= set(table.columns), name
        made = [c for c, f in table.columns.items() if f.source is None and f.constant is None]
        if table.id is None:
            assert made == [] and table.columns[declared.id].source is not None, name
        else:
            assert made == [declared.id], name
            assert set(table.id.parts) <= set(table.columns) - {declared.id}, name
            assert table.id.prefix.startswith("cin-"), name
        for cname, fmap in table.columns.items():
            column = declared.columns[cname]
            assert fmap.note, f"{name}.{cname} has no note"
            single = fmap.source if isinstance(fmap.source, str) else ""
            link = re.fullmatch(r"id\((\w+), [./]+\)", single)
            if link is not None or (column.references is not None and not column.person_id):
                assert link is not None and link.group(1) == column.references, f"{name}.{cname}"
            allowed: set[str] | None = None
            if column.type is ColumnType.CODE:
                assert column.codes is not None
                allowed = set(contract.codes[column.codes].codes)
            elif column.type is ColumnType.FLAG:
                allowed = {"Y", "N"}
            if fmap.values or fmap.constant is not None:
                assert allowed is not None, f"{name}.{cname} translates a {column.type} column"
                targets = set(fmap.values.values())
                if fmap.constant is not None:
                    targets.add(fmap.constant)
                assert targets <= allowed, f"{name}.{cname}: {targets - allowed}"
    for key, why in mapping.not_loaded.items():
        assert key.startswith("Child/") and why, key


def test_the_mapping_compiles_and_knows_every_census_element(mapping: SourceMapping) -> None:
    plan = cin_xml._Plan.of(mapping)
    for path in (
        "ChildIdentifiers/LAchildID",
        "ChildIdentifiers/GenderCurrent",
        "ChildIdentifiers/Sex",
        "ChildCharacteristics/Disabilities/Disability",
        "CINdetails/Assessments/FactorsIdentifiedAtAssessment",
        "CINdetails/Section47/DateOfInitialCPC",
        "CINdetails/DateOfInitialCPC",
        "CINdetails/ChildProtectionPlans/Reviews/CPPreviewDate",
    ):
        assert path in plan.known, path


def test_the_format_page_mentions_every_field_the_mapping_reads(mapping: SourceMapping) -> None:
    page = DOC.read_text(encoding="utf-8")
    names = {
        step
        for path in source_paths(mapping)
        for step in re.split(r"[/|(), ]+", path)
        if step and step not in {".", "..", "id", "Child"} and step not in mapping.tables
    }
    assert len(names) > 30
    missing = sorted(name for name in names if f"{name}" not in page)
    assert missing == []
    for key in mapping.not_loaded:
        assert key.rsplit("/", 1)[-1] in page


@pytest.mark.parametrize(
    ("reference", "warned"),
    [
        ("<ReferenceDate>2022-03-31</ReferenceDate>", None),  # 31 March of Year 2022: right
        ("<ReferenceDate>2021-03-31</ReferenceDate>", "is '2021-03-31', not 2022-03-31"),
        ("", "is missing, not 2022-03-31"),
    ],
)
def test_rule_100_the_reference_date_is_31_march_of_the_census_year(
    tmp_path: Path, mapping: SourceMapping, reference: str, warned: str | None
) -> None:
    path = tmp_path / "cin.xml"
    path.write_text(
        "<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2022</Year>"
        f"{reference}</CollectionDetails></Header><Children/></Message>\n",
        encoding="utf-8",
    )
    converted = read_one(path, mapping)
    assert converted.label == "cin-2022"  # placed by its Year either way
    found = [p for p in converted.problems if p["rule"] == "100"]
    if warned is None:
        assert found == []
    else:
        [problem] = found
        assert problem["severity"] == "warning" and problem["column"] == "ReferenceDate"
        assert "Reference Date is incorrect: <ReferenceDate> " + warned in problem["message"]
        assert problem["file"] == "cin.xml" and problem["line"] == 1


def test_stray_elements_beside_the_children_are_reported_and_freed(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    """Issue 15 item 7: stray top-level elements were never freed (32 MB of XML used 1.17 GB).
    They are counted in one warning and dropped from the tree as they end."""
    path = census(tmp_path, TWO_REFERRALS)
    text = path.read_text(encoding="utf-8")
    strays = "".join(f"<Junk>{i}</Junk>\n" for i in range(500))
    path.write_text(text.replace("</Message>", strays + "</Message>"), encoding="utf-8")
    converted = read_one(path, mapping)
    [junk] = [p for p in converted.problems if "Junk" in p["message"]]
    assert junk["rule"] == "unknown-element" and junk["severity"] == "warning"
    assert "inside <Message>, beside <Header> and <Children> is not part" in junk["message"]
    assert "found 500 times" in junk["message"]
    assert converted.tables["referrals"].frame.height == 2  # the children still read


def test_a_threshold_refusal_names_the_table_and_the_element(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    """Issue 14 part 8: every table of a census comes from one file, so the refusal names the
    table and the census element its rows come from."""
    from safeguard.ingest.stage import validate_converted
    from safeguard.schema import load_contract

    converted = read_one(census(tmp_path, TWO_REFERRALS), mapping)
    # the second referral's source ZZ is no code: 1 of 2 rows, over the 1% allowed
    result = validate_converted(converted, load_contract(PIPELINES), mapping, max_quarantine=0.01)
    [refusal] = result.report.issues.filter(pl.col("rule") == "quarantine-threshold").to_dicts()
    assert refusal["file"] == "cin.xml"
    assert refusal["message"].startswith(
        "referrals (from element <CINdetails>): 1 of 2 rows (50.0%) have errors"
    )


def test_census_year_rules_warn_of_dates_before_the_year(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    """Issue 14 part 8: DfE's census-year rules 8620, 8696, 8715 and 8930. Census 2022 runs
    from 1 April 2021: the first referral's closure on 30 September 2020 is before it (8620,
    a warning: the referral loads); the referral date itself (4 May 2020) may be earlier."""
    from safeguard.ingest.stage import validate_converted
    from safeguard.schema import load_contract

    converted = read_one(census(tmp_path, TWO_REFERRALS), mapping)
    result = validate_converted(converted, load_contract(PIPELINES), mapping, max_quarantine=1.0)
    [closed] = result.report.issues.filter(pl.col("rule") == "8620").to_dicts()
    assert (closed["severity"], closed["column"], closed["value"]) == (
        "warning",
        "cine_close_date",
        "2020-09-30",
    )
    assert "dated before the census year (2021-04-01 to 2022-03-31)" in closed["message"]
    assert result.tables["referrals"].loaded.height == 1  # the other is the ZZ source, quarantined
