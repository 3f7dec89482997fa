"""The SSDA903 reader: 903 CSV tables in, contract tables out, with the return's problems."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from safeguard.errors import ConfigError, DataError
from safeguard.ingest.csvfile import sha256_of
from safeguard.ingest.sources import ssda903
from safeguard.ingest.sources.base import LINE, Converted, SourceMapping, load_mapping
from safeguard.ingest.validate import RULES, validate_extract
from safeguard.periods import Month
from safeguard.schema import Contract
from tests.conftest import PIPELINES, ROOT, SHARED, csv_text

SAMPLES = SHARED / "reference" / "samples" / "ssda903"
DOCS = ROOT / "docs" / "formats" / "ssda903.md"

HEADER = """
    CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB
    0042,1,15/03/2010,WBRI,A123456789012,,
    77,2,2008-07-01,ZZZZ,,0,
    """
EPISODES = """
    CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN
    0042,01/05/2019,S,C2,N1,U1,PR1,01/09/2019,X1,,AB1 2CD,EF3 4GH,SC123456
    0042,01/09/2019,P,C2,N1,K3,PR1,,,CARPL,AB1 2CD,EF3 4GH,SC123456
    999,31/02/2020,S,V2,N2,U3,PR1,2020-03-01,E11,,,,
    """
REVIEWS = """
    CHILD,DOB,REVIEW,REVIEW_CODE
    0042,15/03/2010,20/05/2019,PN0
    77,01/07/2008,1/6/2019,PN9
    """
MISSING = """
    CHILD,DOB,MISSING,MIS_START,MIS_END
    77,01/07/2008,M,02/02/2020,03/02/2020
    """


@pytest.fixture(scope="module")
def mapping() -> SourceMapping:
    return load_mapping(PIPELINES, ssda903.FORMAT)


def write(folder: Path, **files: str | bytes) -> Path:
    """Files named by keyword (``header=...`` is header.csv; a name with a dot is used as
    it is); text is dedented CSV, bytes are written as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, content in files.items():
        path = folder / (stem if "." in stem else f"{stem}.csv")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(csv_text(content), encoding="utf-8")
    return folder


def hashed(prefix: str, *parts: str) -> str:
    return f"{prefix}-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {c: pl.String() for c in columns}
    schema[LINE] = pl.UInt32()
    return pl.DataFrame(rows, schema=schema, orient="row")


def rules(converted: Converted) -> list[tuple[str, str, str]]:
    return [(p["file"], p["rule"], p["severity"]) for p in converted.problems]


def only(result: list[Converted]) -> Converted:
    assert len(result) == 1
    return result[0]


# --- one year, plain names -----------------------------------------------------------------


def test_one_year_of_plain_names_maps_every_table(tmp_path: Path, mapping: SourceMapping) -> None:
    folder = write(
        tmp_path / "903",
        header=HEADER,
        episodes=EPISODES,
        reviews=REVIEWS,
        missing=MISSING,
    )
    got = only(ssda903.read(folder, mapping, month=Month(2020, 3)))

    assert (got.format, got.label, got.period, got.first) == (
        "ssda903",
        "ssda903-2020",
        Month(2020, 3),
        Month(2019, 4),
    )
    assert set(got.tables) == {"person", "cla_episodes", "cla_reviews"}
    assert_frame_equal(
        got.tables["person"].frame,
        frame(
            [
                ("0042", "M", "2010-03-15", "WBRI", 2),
                # ISO date and an unknown ethnicity pass through for the validator
                ("77", "F", "2008-07-01", "ZZZZ", 3),
            ],
            ["pers_person_id", "pers_sex", "pers_dob", "pers_ethnicity"],
        ),
    )
    episode_columns = [
        "clae_cla_episode_id",
        "clae_person_id",
        "clae_cla_episode_start_date",
        "clae_cla_episode_start_reason",
        "clae_cla_legal_status",
        "clae_cla_placement_type",
        "clae_cla_episode_ceased_date",
        "clae_cla_episode_ceased_reason",
    ]
    assert_frame_equal(
        got.tables["cla_episodes"].frame,
        frame(
            [
                (
                    hashed("ssda903-episode", "0042", "2019-05-01"),
                    "0042",
                    "2019-05-01",
                    "S",
                    "C2",
                    "U1",
                    "2019-09-01",
                    "X1",
                    2,
                ),
                # K3 (a newer placement code) is not in codes.yaml: passed through
                (
                    hashed("ssda903-episode", "0042", "2019-09-01"),
                    "0042",
                    "2019-09-01",
                    "P",
                    "C2",
                    "K3",
                    None,
                    None,
                    3,
                ),
                # child 999 is not in the header: kept for the reference check; 31/02 is no
                # date and passes through as written, as does the ISO ceased date
                (
                    hashed("ssda903-episode", "999", "31/02/2020"),
                    "999",
                    "31/02/2020",
                    "S",
                    "V2",
                    "U3",
                    "2020-03-01",
                    "E11",
                    4,
                ),
            ],
            episode_columns,
        ),
    )
    assert_frame_equal(
        got.tables["cla_reviews"].frame,
        frame(
            [
                (hashed("ssda903-review", "0042", "2019-05-20"), "0042", "2019-05-20", "PN0", 2),
                # 1/6/2019 is not DD/MM/YYYY and PN9 is no code: both passed through
                (hashed("ssda903-review", "77", "1/6/2019"), "77", "1/6/2019", "PN9", 3),
            ],
            [
                "clar_cla_review_id",
                "clar_person_id",
                "clar_cla_review_date",
                "clar_cla_review_participation",
            ],
        ),
    )
    assert got.tables["cla_episodes"].file == "episodes.csv"
    assert got.tables["cla_episodes"].columns["clae_cla_episode_id"] == "CHILD+DECOM"
    assert got.tables["cla_episodes"].columns["clae_cla_episode_ceased_reason"] == "REC"
    assert got.not_loaded == {"missing": 1}
    assert got.problems == []
    assert got.checksums == {
        name: sha256_of((folder / name).read_bytes())
        for name in ("episodes.csv", "header.csv", "missing.csv", "reviews.csv")
    }


def test_sex_codes_translate_and_anything_else_passes_through(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(
        tmp_path / "903",
        header="""
            CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB
            1,1,01/01/2010,WBRI,,,
            2,2,01/01/2010,WBRI,,,
            3,9,01/01/2010,WBRI,,,
            4, 2 ,01/01/2010,WBRI,,,
            5,,01/01/2010,WBRI,,,
            6,M,01/01/2010,WBRI,,,
            """,
    )
    got = only(ssda903.read(folder, mapping, month=Month(2020, 3)))
    assert got.tables["person"].frame["pers_sex"].to_list() == ["M", "F", "9", "F", None, "M"]


def test_without_a_month_the_year_is_where_the_episodes_ended_and_is_said(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(tmp_path / "903", header=HEADER, episodes=EPISODES)
    got = only(ssda903.read(folder, mapping))
    # end dates 01/09/2019 and 2020-03-01 both fall in April 2019 to March 2020
    assert (got.label, got.period, got.first) == ("ssda903-2020", Month(2020, 3), Month(2019, 4))
    assert rules(got) == [
        ("903", "year-from-dates", "warning"),
        ("903", "missing-table", "warning"),  # no reviews file
    ]
    assert got.problems[0]["message"] == (
        "903 has no year in its file names and no month was given: read as the 903 year "
        "ending 31 March 2020, as 2 of the 2 episode end dates (DEC) fall in it; name the "
        "files 2020-<table>.csv or give the month to say otherwise"
    )


def test_one_mistyped_end_date_does_not_move_the_year(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    episodes = """
        CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN
        1,01/05/2017,S,C2,N1,U1,PR1,01/04/2019,E11,,,,
        2,01/05/2018,S,C2,N1,U1,PR1,31/03/2020,E11,,,,
        3,01/05/2019,S,C2,N1,U1,PR1,01/09/2030,E11,,,,
        """
    got = only(ssda903.read(write(tmp_path / "903", episodes=episodes), mapping))
    assert got.label == "ssda903-2020"
    assert "2 of the 3 episode end dates" in got.problems[0]["message"]


@pytest.mark.parametrize(
    ("files", "label", "why"),
    [
        # no episode has ended: the latest start says the year
        (
            {
                "episodes": "CHILD,DECOM,RNE,LS,PLACE,DEC,REC\n"
                "1,01/05/2017,S,C2,U1,,\n2,30/04/2019,S,C2,U1,,\n"
            },
            "ssda903-2020",
            "the latest episode start date (DECOM), 2019-04-30, falls in it",
        ),
        # a lone start date years after the rest is a typing error, never the year: 2019 decides
        (
            {
                "episodes": "CHILD,DECOM,RNE,LS,PLACE,DEC,REC\n"
                "1,01/05/2017,S,C2,U1,,\n2,30/04/2019,S,C2,U1,,\n3,01/05/2207,S,C2,U1,,\n"
            },
            "ssda903-2020",
            "the latest episode start date (DECOM), 2019-04-30, falls in it",
        ),
    ],
)
def test_without_end_dates_the_latest_start_says_the_year(
    tmp_path: Path, mapping: SourceMapping, files: dict[str, str], label: str, why: str
) -> None:
    got = only(ssda903.read(write(tmp_path / "903", **files), mapping))
    assert got.label == label
    assert why in got.problems[0]["message"]


def test_a_month_names_the_collection_year_april_to_march(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(tmp_path / "903", header=HEADER)
    assert only(ssda903.read(folder, mapping, month=Month(2019, 4))).label == "ssda903-2020"
    assert only(ssda903.read(folder, mapping, month=Month(2020, 3))).label == "ssda903-2020"
    assert only(ssda903.read(folder, mapping, month=Month(2020, 4))).label == "ssda903-2021"


def test_no_year_in_names_no_month_and_no_dates_is_refused(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(tmp_path / "903", header=HEADER)
    with pytest.raises(DataError, match="cannot tell which 903 year"):
        ssda903.read(folder, mapping)


# --- several years -------------------------------------------------------------------------


def test_two_years_in_one_folder_give_two_returns(tmp_path: Path, mapping: SourceMapping) -> None:
    folder = write(
        tmp_path / "903",
        **{
            "2019-header": HEADER,
            "2019-Episodes": """
                CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN
                0042,01/05/2018,S,C2,N1,U1,PR1,,,,,,
                """,
            "HEADER_2020": HEADER,
            "episodes_2020": """
                CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN
                0042,01/05/2018,S,C2,N1,U1,PR1,01/10/2019,E11,,,,
                """,
            "2020-reviews": REVIEWS,
            "oc3_2020": """
                CHILD,DOB,IN_TOUCH,ACTIV,ACCOM
                5,01/01/2002,YES,F1,B1
                6,01/01/2002,NO,G4,U2
                """,
        },
    )
    first, second = ssda903.read(folder, mapping, month=Month(2031, 1))  # month: plain only
    assert (first.label, first.period, first.first) == (
        "ssda903-2019",
        Month(2019, 3),
        Month(2018, 4),
    )
    assert (second.label, second.period, second.first) == (
        "ssda903-2020",
        Month(2020, 3),
        Month(2019, 4),
    )
    assert set(first.tables) == {"person", "cla_episodes"}
    assert rules(first) == [("903", "missing-table", "warning")]  # 2019 has no reviews
    assert set(second.tables) == {"person", "cla_episodes", "cla_reviews"}
    assert second.tables["person"].file == "HEADER_2020.csv"
    assert second.not_loaded == {"oc3": 2}
    assert set(second.checksums) == {
        "HEADER_2020.csv",
        "episodes_2020.csv",
        "2020-reviews.csv",
        "oc3_2020.csv",
    }
    # the episode open at 31 March 2019 is the same episode in 2020, ceased: same id, so the
    # later return supersedes it
    open_2019 = first.tables["cla_episodes"].frame.row(0, named=True)
    closed_2020 = second.tables["cla_episodes"].frame.row(0, named=True)
    assert open_2019["clae_cla_episode_id"] == closed_2020["clae_cla_episode_id"]
    assert (
        open_2019["clae_cla_episode_ceased_date"],
        closed_2020["clae_cla_episode_ceased_date"],
    ) == (
        None,
        "2019-10-01",
    )


@pytest.mark.parametrize(
    ("name", "year", "table", "span"),
    [
        ("header.csv", None, "header", False),
        ("2019-header.csv", 2019, "header", False),
        ("header_2019.csv", 2019, "header", False),
        ("EPISODES 2020.CSV", 2020, "episodes", False),
        ("2019-20-episodes.csv", 2020, "episodes", True),
        ("2019_2020_reviews.csv", 2020, "reviews", True),
        ("SSDA903_2021_Header.csv", 2021, "header", False),
        ("PlacedAdoption_2020.csv", 2020, "placed_adoption", False),
        ("sw_episodes.csv", None, "sw_episodes", False),
        ("2019-notes.csv", 2019, None, False),
        ("2018-2020-header.csv", None, None, False),
        ("children.csv", None, None, False),
    ],
)
def test_file_names_give_year_and_table(
    name: str, year: int | None, table: str | None, span: bool
) -> None:
    assert ssda903.parse_name(name) == (year, table, span)


def test_a_table_is_recognised_by_its_columns_when_its_name_says_nothing(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(tmp_path / "903", **{"2020-cla-data": EPISODES, "2020-kids": HEADER})
    got = only(ssda903.read(folder, mapping))
    assert got.tables["cla_episodes"].file == "2020-cla-data.csv"
    assert got.tables["person"].file == "2020-kids.csv"


def test_a_name_and_columns_that_disagree_are_refused(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(tmp_path / "903", **{"2020-header": EPISODES, "2020-reviews": REVIEWS})
    got = only(ssda903.read(folder, mapping))
    assert ("2020-header.csv", "table-mismatch", "error") in rules(got)
    assert "person" not in got.tables


# --- file-level problems -------------------------------------------------------------------


def test_a_missing_required_column_names_file_and_column(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(
        tmp_path / "903",
        **{
            "2020-header": HEADER,
            "2020-episodes": """
                CHILD,RNE,LS,PLACE,DEC,REC
                0042,S,C2,U1,,
                """,
        },
    )
    got = only(ssda903.read(folder, mapping))
    [problem] = [p for p in got.problems if p["rule"] == "missing-column"]
    assert (problem["file"], problem["column"], problem["severity"], problem["level"]) == (
        "2020-episodes.csv",
        "DECOM",
        "error",
        "file",
    )
    assert problem["message"].startswith("2020-episodes.csv lacks column DECOM")
    assert "cla_episodes" not in got.tables
    assert "person" in got.tables


def test_two_files_for_one_table_and_year_are_an_error(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(
        tmp_path / "903",
        **{"2020-episodes": EPISODES, "episodes_2020": EPISODES, "2020-header": HEADER},
    )
    got = only(ssda903.read(folder, mapping))
    [problem] = [p for p in got.problems if p["rule"] == "duplicate-file"]
    assert problem["severity"] == "error"
    assert "2020-episodes.csv" in problem["message"]
    assert "episodes_2020.csv" in problem["message"]
    assert "cla_episodes" not in got.tables
    assert "person" in got.tables


def test_unreadable_and_unknown_files_are_reported_by_name(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    files: dict[str, str | bytes] = {
        "2020-header": csv_text(HEADER).replace("WBRI", "W\xe9RI").encode("cp1252"),
        "2020-episodes": EPISODES,
        "2020-reviews": REVIEWS,
        "2020-notes": "a,b\n1,2\n",
        "readme.txt": "not data",
        "2020-missing": "CHILD,DOB,MISSING,MIS_START,MIS_END\n",  # empty table: fine
        "2020-uasc.xlsx": b"PK\x03\x04",
    }
    folder = write(tmp_path / "903", **files)
    got = only(ssda903.read(folder, mapping))
    assert sorted(rules(got)) == [
        ("2020-header.csv", "not-utf8", "error"),
        ("2020-notes.csv", "unknown-file", "warning"),
        ("2020-uasc.xlsx", "not-csv", "error"),
        ("readme.txt", "unknown-file", "warning"),
    ]
    utf8 = next(p for p in got.problems if p["rule"] == "not-utf8")
    assert (utf8["line"], utf8["value"]) == (2, "0xE9")
    assert "person" not in got.tables
    assert got.not_loaded == {"missing": 0}
    assert set(got.checksums) == {
        "2020-header.csv",
        "2020-episodes.csv",
        "2020-reviews.csv",
        "2020-notes.csv",
        "readme.txt",
        "2020-missing.csv",
        "2020-uasc.xlsx",
    }


# --- the year is read from the data; the name's year is a hint ------------------------------


def episodes_ending(*ends: str) -> str:
    """An episodes table with one episode per end date (DD/MM/YYYY; blank: still open)."""
    head = (
        "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,"
        "PL_POST,URN\n"
    )
    rows = "".join(f"{i},01/01/2015,S,C2,N1,U1,PR1,{end},E11,,,,\n" for i, end in enumerate(ends))
    return head + rows


@pytest.mark.parametrize(
    "name",
    [
        "2019-episodes",  # named for the April it starts in (the public sample)
        "SSDA903_2020_Episodes",  # named for the March it ends in
        "episodes_2019-20",  # named for the financial year
    ],
)
def test_either_naming_convention_reads_as_the_year_the_dates_say(
    tmp_path: Path, mapping: SourceMapping, name: str
) -> None:
    # end dates 01/09/2019 and 2020-03-01: the 903 year April 2019 to March 2020
    folder = write(tmp_path / "903", **{name: EPISODES})
    got = only(ssda903.read(folder, mapping))
    assert (got.label, got.period, got.first) == ("ssda903-2020", Month(2020, 3), Month(2019, 4))
    assert rules(got) == [
        ("903", "missing-table", "warning"),  # header
        ("903", "missing-table", "warning"),  # reviews
    ]
    assert got.tables["cla_episodes"].file == f"{name}.csv"


def test_a_folder_named_by_start_years_gives_each_year_its_own_return(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(
        tmp_path / "903",
        **{
            "2019-header": HEADER,
            "2019-episodes": episodes_ending("02/04/2019", "31/03/2020", ""),
            "2019-notes": "a,b\n1,2\n",  # goes with the files named for 2019
            "2020-header": HEADER,
            "2020-episodes": episodes_ending("01/04/2020", "15/10/2020"),
        },
    )
    first, second = ssda903.read(folder, mapping)
    assert (first.label, second.label) == ("ssda903-2020", "ssda903-2021")
    assert (second.period, second.first) == (Month(2021, 3), Month(2020, 4))
    assert first.tables["cla_episodes"].file == "2019-episodes.csv"
    assert second.tables["cla_episodes"].file == "2020-episodes.csv"
    assert set(first.checksums) == {"2019-header.csv", "2019-episodes.csv", "2019-notes.csv"}
    assert [p["rule"] for p in first.problems] == ["unknown-file", "missing-table"]
    assert [p["rule"] for p in second.problems] == ["missing-table"]


@pytest.mark.parametrize(
    ("name", "ends", "says", "year", "why"),
    [
        # two years out: the data win
        ("2017-episodes", ("01/09/2019", "01/03/2020"), "2017", 2020, "2 of the 2"),
        # a year before the name: a start-year name cannot be early, an end-year one either
        ("2021-episodes", ("01/09/2019",), "2021", 2020, "1 of the 1"),
        # a financial year names one year only
        (
            "2019-20-episodes",
            ("01/09/2020", "02/09/2020", "01/09/2019"),
            "2020",
            2021,
            "2 of the 3",
        ),
    ],
)
def test_a_name_the_dates_contradict_is_warned_of_and_the_dates_win(
    tmp_path: Path,
    mapping: SourceMapping,
    name: str,
    ends: tuple[str, ...],
    says: str,
    year: int,
    why: str,
) -> None:
    folder = write(tmp_path / "903", **{name: episodes_ending(*ends)})
    got = only(ssda903.read(folder, mapping))
    assert got.label == f"ssda903-{year}"
    assert got.period == Month(year, 3)
    [problem] = [p for p in got.problems if p["rule"] == "year-mismatch"]
    named = "2019-20" if name.startswith("2019-20") else says
    assert (problem["file"], problem["severity"], problem["level"]) == ("903", "warning", "file")
    assert problem["message"] == (
        f"903: the file name says {says} but the dates say {year - 1}/{year}: the files named "
        f"for {named} ({name}.csv) are read as the 903 year ending 31 March {year}, as {why} "
        "episode end dates (DEC) fall in it; check they are the year you meant"
    )


def test_a_name_without_dates_to_check_it_is_read_as_the_year_it_ends(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    got = only(ssda903.read(write(tmp_path / "903", **{"2020-header": HEADER}), mapping))
    assert got.label == "ssda903-2020"
    problem = got.problems[0]
    assert (problem["rule"], problem["severity"]) == ("year-from-name", "warning")
    assert problem["message"] == (
        "903: the files named for 2020 (2020-header.csv) hold no date to tell their year by: "
        "read as 2019/2020 (the 903 year ending 31 March 2020), as the name says; a file named "
        "for the year its return starts in would be read a year early"
    )


def test_a_month_that_contradicts_the_dates_decides_and_is_warned_of(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(tmp_path / "903", header=HEADER, episodes=EPISODES, reviews=REVIEWS)
    got = only(ssda903.read(folder, mapping, month=Month(2021, 1)))
    assert (got.label, got.period) == ("ssda903-2021", Month(2021, 3))
    assert rules(got) == [("903", "year-mismatch", "warning")]
    assert got.problems[0]["message"] == (
        "903: the month given, 2021-01, puts the files with no year in their names "
        "(episodes.csv, header.csv, reviews.csv) in 2020/2021 (the 903 year ending 31 March "
        "2021), but their dates say 2019/2020 (the 903 year ending 31 March 2020), as 2 of "
        "the 2 episode end dates (DEC) fall in it: read as the year the month says; check the "
        "month, or name the files 2020-<table>.csv"
    )
    # a month that agrees says nothing
    agreeing = only(ssda903.read(folder, mapping, month=Month(2019, 4)))
    assert (agreeing.label, agreeing.problems) == ("ssda903-2020", [])


def test_two_sets_of_files_holding_one_year_are_refused(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    # one council's 2019-20 named both ways: 2019 (start) and SSDA903_2020 (end)
    folder = write(
        tmp_path / "903",
        **{
            "2019-episodes": EPISODES,
            "2019-header": HEADER,
            "SSDA903_2020_Episodes": EPISODES,
            "2021-reviews": REVIEWS.replace("/2019", "/2021"),
        },
    )
    clashed, other = ssda903.read(folder, mapping)
    # reviews alone are placed by their name (2021: the year ending 31 March 2021), never by
    # their dates
    assert (clashed.label, other.label) == ("ssda903-2020", "ssda903-2021")
    assert rules(clashed) == [
        ("903", "year-clash", "error"),
        ("903", "missing-table", "warning"),  # neither set has reviews
    ]
    assert clashed.problems[0]["level"] == "file"
    assert clashed.problems[0]["message"] == (
        "903: the files named for 2019 (2019-episodes.csv, 2019-header.csv) and the files "
        "named for 2020 (SSDA903_2020_Episodes.csv) all hold 2019/2020 (the 903 year ending "
        "31 March 2020), by their dates: none of them is read; keep one set of files for each "
        "year, or check that each set is the year its name says"
    )
    assert clashed.tables == {}
    assert set(clashed.checksums) == {
        "2019-episodes.csv",
        "2019-header.csv",
        "SSDA903_2020_Episodes.csv",
    }
    assert set(other.tables) == {"cla_reviews"}


def test_files_without_a_year_clash_with_named_ones_of_the_same_year(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(tmp_path / "903", **{"2020-episodes": EPISODES, "episodes": EPISODES})
    got = only(ssda903.read(folder, mapping))
    [clash] = [p for p in got.problems if p["rule"] == "year-clash"]
    assert clash["message"].startswith(
        "903: the files named for 2020 (2020-episodes.csv) and the files with no year in "
        "their names (episodes.csv) all hold 2019/2020"
    )
    assert got.tables == {}


def test_reviews_without_a_year_beside_named_episodes_are_not_placed_by_their_dates(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(tmp_path / "903", **{"2020-episodes": EPISODES, "reviews": REVIEWS})
    got = only(ssda903.read(folder, mapping))
    assert ("reviews.csv", "no-year", "error") in rules(got)
    assert "cla_reviews" not in got.tables


def test_a_table_without_a_year_beside_dated_ones_is_refused(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(
        tmp_path / "903", **{"2020-header": HEADER, "reviews": "CHILD,DOB,REVIEW,REVIEW_CODE\n"}
    )
    got = only(ssda903.read(folder, mapping))
    assert ("reviews.csv", "no-year", "error") in rules(got)


def test_line_numbers_are_the_physical_lines(tmp_path: Path, mapping: SourceMapping) -> None:
    folder = write(
        tmp_path / "903",
        reviews=(
            b"CHILD,DOB,REVIEW,REVIEW_CODE\r\n"
            b"1,01/01/2010,01/05/2019,PN1\r\n"
            b"\r\n"
            b'"2",01/01/2010,"01/06/2019",PN2\r\n'
            b",,,\r\n"
            b"3,01/01/2010,01/07/2019,PN3\r\n"
        ),
    )
    got = only(ssda903.read(folder, mapping, month=Month(2020, 3)))
    reviews = got.tables["cla_reviews"].frame
    assert reviews[LINE].to_list() == [2, 4, 6]
    assert reviews["clar_person_id"].to_list() == ["1", "2", "3"]


def test_ids_are_the_same_when_the_return_is_read_again(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(tmp_path / "903", episodes=EPISODES, reviews=REVIEWS)
    first = only(ssda903.read(folder, mapping, month=Month(2020, 3)))
    again = only(ssda903.read(folder, mapping, month=Month(2020, 3)))
    for table in ("cla_episodes", "cla_reviews"):
        assert_frame_equal(first.tables[table].frame, again.tables[table].frame)
    ids = first.tables["cla_episodes"].frame["clae_cla_episode_id"]
    assert ids.n_unique() == 3
    assert all(re.fullmatch(r"ssda903-episode-[0-9a-f]{16}", i) for i in ids)


def test_blank_headings_and_folders_beside_the_files(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    folder = write(
        tmp_path / "903",
        **{"2020-reviews": "CHILD,DOB,REVIEW,REVIEW_CODE,,\n1,01/01/2010,01/05/2019,PN1,,\n"},
    )
    (folder / "2019").mkdir()
    got = only(ssda903.read(folder, mapping))
    assert got.tables["cla_reviews"].frame.height == 1
    assert ("2019", "unknown-file", "warning") in rules(got)
    assert set(got.checksums) == {"2020-reviews.csv"}


def test_problems_never_carry_a_child_id(tmp_path: Path, mapping: SourceMapping) -> None:
    folder = write(
        tmp_path / "903",
        **{"2019-episodes": EPISODES, "2019-header": HEADER, "2019-missing": "CHILD,X\n0042,1\n"},
    )
    got = only(ssda903.read(folder, mapping))
    assert got.problems
    for problem in got.problems:
        for value in problem.values():
            assert "0042" not in str(value)
            assert "999" not in str(value)


def test_a_folder_with_no_903_table_is_refused(tmp_path: Path, mapping: SourceMapping) -> None:
    folder = write(tmp_path / "903", notes="a,b\n1,2\n")
    with pytest.raises(DataError, match="no year of SSDA903 tables could be read"):
        ssda903.read(folder, mapping)
    with pytest.raises(DataError, match="not found"):
        ssda903.read(tmp_path / "absent", mapping)


# --- sniff ---------------------------------------------------------------------------------


def test_sniff_knows_903_tables_and_nothing_else(tmp_path: Path) -> None:
    assert ssda903.sniff(write(tmp_path / "a", **{"2020-header": HEADER}))
    assert ssda903.sniff(write(tmp_path / "b", anything=REVIEWS))
    assert ssda903.sniff(tmp_path / "b" / "anything.csv")
    monthly = write(tmp_path / "c", person="pers_person_id,pers_sex\n1,M\n")
    assert not ssda903.sniff(monthly)
    assert not ssda903.sniff(write(tmp_path / "d", **{"x.csv": b"\xff\xfe\x00\x01binary"}))
    assert not ssda903.sniff(tmp_path / "absent")
    (tmp_path / "e").mkdir()
    assert not ssda903.sniff(tmp_path / "e")


# --- the mapping and its page --------------------------------------------------------------


def test_mapping_names_only_contract_tables_columns_and_codes(
    mapping: SourceMapping, contract: Contract
) -> None:
    assert mapping.format == ssda903.FORMAT
    sources = set()
    for tname, tmap in mapping.tables.items():
        assert tname in contract.tables, tname
        table = contract.tables[tname]
        assert tmap.source in ssda903.TABLES, tmap.source
        sources.add(tmap.source)
        assert set(tmap.columns) <= set(table.columns), tname
        assert set(tmap.natural_key) <= set(tmap.columns), tname
        assert tmap.note, tname
        required = {c for c, column in table.columns.items() if column.required}
        assert required <= set(tmap.columns), f"{tname} leaves required columns empty"
        unsourced = [c for c, f in tmap.columns.items() if f.source is None and f.constant is None]
        if tmap.id is None:
            assert unsourced == []
            assert tmap.columns[table.id].source is not None
        else:
            assert unsourced == [table.id], tname
            assert set(tmap.id.parts) <= set(tmap.columns) - {table.id}
            assert tmap.id.prefix.startswith("ssda903-")
        for cname, fmap in tmap.columns.items():
            assert fmap.note, f"{tname}.{cname} has no note"
            if isinstance(fmap.source, str):
                assert fmap.source in ssda903.TABLES[tmap.source], f"{tname}.{cname}"
            column = table.columns[cname]
            if fmap.values:
                assert column.codes is not None
                codes = contract.codes[column.codes].codes
                assert set(fmap.values.values()) <= set(codes), f"{tname}.{cname}"
            if column.codes is not None and not fmap.values:
                # no translation: the 903 code list must be the contract's
                assert column.codes in {
                    "ethnicity",
                    "rne",
                    "legal_status",
                    "placement_type",
                    "reason_ceased",
                    "participation",
                }, cname
    # every 903 table is either read or declared not loaded, with a reason
    assert set(mapping.not_loaded) == set(ssda903.TABLES) - sources
    assert all(mapping.not_loaded.values())


def test_the_page_mentions_every_field_column_and_table_left_out(mapping: SourceMapping) -> None:
    page = DOCS.read_text(encoding="utf-8")
    for tmap in mapping.tables.values():
        for cname, fmap in tmap.columns.items():
            assert f"`{cname}`" in page, cname
            if isinstance(fmap.source, str):
                assert f"`{fmap.source}`" in page, fmap.source
    for table in mapping.not_loaded:
        assert f"`{table}`" in page, table
    loaded = {fmap.source for t in mapping.tables.values() for fmap in t.columns.values()}
    for tmap in mapping.tables.values():
        for field in ssda903.TABLES[tmap.source]:
            if field not in loaded:
                assert f"`{field}`" in page, f"unloaded field {field} is not explained"


# --- the real sample -----------------------------------------------------------------------


def rows_in(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()) - 1


@pytest.mark.shared
@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/reference/samples/ssda903 is absent")
def test_the_sample_folder_reads_as_two_years(mapping: SourceMapping) -> None:
    assert ssda903.sniff(SAMPLES)
    result = ssda903.read(SAMPLES, mapping)
    # the sample names each year by the April it starts in: 2019-episodes.csv ends episodes
    # from 2 April 2019 to 1 April 2020, so it is the 903 year ending 31 March 2020
    assert [c.label for c in result] == ["ssda903-2020", "ssda903-2021"]
    for converted, year in zip(result, (2020, 2021), strict=True):
        assert (converted.period, converted.first) == (Month(year, 3), Month(year - 1, 4))
        for table, source in (
            ("person", "header"),
            ("cla_episodes", "episodes"),
            ("cla_reviews", "reviews"),
        ):
            got = converted.tables[table]
            assert got.file == f"{year - 1}-{source}.csv"
            assert got.frame.height == rows_in(SAMPLES / got.file)
            assert got.frame.schema == pl.Schema(
                {**{c: pl.String() for c in mapping.tables[table].columns}, LINE: pl.UInt32()}
            )
        assert converted.not_loaded == {
            name: rows_in(SAMPLES / f"{year - 1}-{name}.csv") for name in ("missing", "oc3", "uasc")
        }
        assert len(converted.checksums) == 6
        # a name for the year a return starts in is one of the two conventions: nothing to say
        assert converted.problems == []
        dates = converted.tables["cla_episodes"].frame["clae_cla_episode_start_date"]
        assert dates.str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
        sexes = set(converted.tables["person"].frame["pers_sex"].to_list())
        assert sexes == {"M", "F"}
    assert result[0].not_loaded == {"missing": 1, "oc3": 56, "uasc": 16}


@pytest.mark.shared
@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/reference/samples/ssda903 is absent")
def test_the_sample_through_the_extract_validator(
    mapping: SourceMapping, contract: Contract, tmp_path: Path
) -> None:
    """Each converted year written as an extract and validated as the month its return
    closes: the rows quarantined, by table and rule, are the sample's own faults.

    - cla_episodes 2020: one episode ceased on 1 April 2020, the day after its year ended.
    - cla_reviews: the sample lists each child's reviews from 2010 to 2027, where a 903 holds
      the year's; the ones after the year's 31 March are dated after the period (454 of 2,103
      in 2020, 245 of 1,551 in 2021). Two children (one in 2021) have two reviews on one day
      with different participation codes: both copies are quarantined as duplicate ids.

    At the default 1% threshold the reviews table is refused in both years (21.8%, 15.9%).
    """
    expected = {
        "ssda903-2020": {
            "person": (362, {}),
            "cla_episodes": (648, {"after-extract-month": 1}),
            "cla_reviews": (2103, {"after-extract-month": 454, "duplicate-id": 4}),
        },
        "ssda903-2021": {
            "person": (226, {}),
            "cla_episodes": (402, {}),
            "cla_reviews": (1551, {"after-extract-month": 245, "duplicate-id": 2}),
        },
    }
    result = ssda903.read(SAMPLES, mapping)
    assert [c.label for c in result] == list(expected)
    for converted in result:
        folder = tmp_path / converted.label
        folder.mkdir()
        for name, table in converted.tables.items():
            table.frame.drop(LINE).write_csv(folder / contract.tables[name].file)
        validated = validate_extract(folder, converted.period, contract, max_quarantine=1.0)
        assert validated.report.count_file_errors() == 0
        got = {
            name: (
                table.outcome.rows,
                dict(table.quarantine.group_by(RULES).len().rows()),
            )
            for name, table in validated.tables.items()
        }
        assert got == expected[converted.label]
        # the late reviews are exactly the sample's reviews dated after the period
        source = pl.read_csv(
            SAMPLES / converted.tables["cla_reviews"].file, infer_schema=False
        ).select(pl.col("REVIEW").str.strptime(pl.Date, "%d/%m/%Y"))
        late = source.filter(pl.col("REVIEW") > converted.period.last_day).height
        assert late == expected[converted.label]["cla_reviews"][1]["after-extract-month"]
        # at the default threshold only the reviews are refused
        default = validate_extract(folder, converted.period, contract).report
        assert {n for n, o in default.tables.items() if o.rejected} == {"cla_reviews"}


def test_a_mapping_that_cannot_place_its_ids_is_a_configuration_error(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    episodes = mapping.tables["cla_episodes"]
    no_recipe = mapping.model_copy(
        update={"tables": {"cla_episodes": episodes.model_copy(update={"id": None})}}
    )
    folder = write(tmp_path / "903", episodes=EPISODES)
    with pytest.raises(ConfigError, match="exactly one column without a source"):
        ssda903.read(folder, no_recipe, month=Month(2020, 3))
    unknown = mapping.model_copy(
        update={"tables": {"cla_episodes": episodes.model_copy(update={"source": "episode"})}}
    )
    with pytest.raises(ConfigError, match="'episode', which is not a 903 table"):
        ssda903.read(folder, unknown, month=Month(2020, 3))


def test_an_episodes_file_without_its_header_row_is_not_echoed(
    tmp_path: Path, mapping: SourceMapping
) -> None:
    """Issue 15 item 4: with the header row left out, the first record (a child's id among it)
    was listed as "headings found"."""
    folder = write(
        tmp_path / "903",
        **{
            "2020-header": HEADER,
            "2020-episodes": """
                0042,01/05/2019,S,C2,U1,,
                0043,02/05/2019,S,C2,U1,,
                """,
        },
    )
    got = only(ssda903.read(folder, mapping))
    missing = [p for p in got.problems if p["rule"] == "missing-column"]
    assert missing and all("0042" not in p["message"] for p in missing)
    assert "is the header row missing?" in missing[0]["message"]
