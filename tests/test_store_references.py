"""Issue 14: references looked up across the store, and header-only files.

Each monthly extract holds 24 months of events: 2015-09 covers October 2013 to September 2015,
2015-10 covers November 2013 to October 2015. A referral of 15 October 2013 is in 2015-09 and
has left 2015-10's window, while its assessment, started 4 November 2013, is still in it.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.indicators.catalogue import load_authority, load_catalogue
from safeguard.indicators.engine import compute
from safeguard.ingest.stage import ingest, validate
from safeguard.ingest.validate import VANISHED_ROWS
from safeguard.periods import Month
from safeguard.schema import Contract
from safeguard.store import Store, purge_before
from tests.conftest import PIPELINES, WriteExtract

SEP, OCT = Month(2015, 9), Month(2015, 10)

PERSON = """
    pers_person_id,pers_sex,pers_dob
    P1,F,2010-01-01
    P2,M,2011-02-02
"""
# R1 (15 Oct 2013) is inside 2015-09's window only; R2 is in both
REFERRALS_SEP = """
    cine_referral_id,cine_person_id,cine_referral_date
    R1,P1,2013-10-15
    R2,P2,2015-09-01
"""
REFERRALS_OCT = """
    cine_referral_id,cine_person_id,cine_referral_date
    R2,P2,2015-09-01
"""
# A1 (line 2) refers to R1, which 2015-10 no longer holds; A2 (line 3) to R2, which it does
ASSESSMENTS_OCT = """
    cina_assessment_id,cina_person_id,cina_referral_id,cina_assessment_start_date
    A1,P1,R1,2013-11-04
    A2,P2,R2,2015-09-10
"""
OCTOBER = {"person": PERSON, "referrals": REFERRALS_OCT, "assessments": ASSESSMENTS_OCT}


def run(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["--pipelines", str(PIPELINES), *args])
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


def issues(path: Path) -> list[dict[str, object]]:
    return json.loads(path.read_text())["issues"]  # type: ignore[no-any-return]


# --- part 3: references across the store ---------------------------------------------------


def test_a_reference_only_the_store_holds_is_accepted_and_counted(
    write_extract: WriteExtract, runner: CliRunner, tmp_path: Path
) -> None:
    # answer: with 2015-09 in the store, A1's R1 is found there; nothing is quarantined, the
    # 5 rows (2 person, 1 referral, 2 assessments) load, and 1 row is counted as store-only
    store = tmp_path / "processed"
    september = write_extract("2015-09", person=PERSON, referrals=REFERRALS_SEP)
    october = write_extract("2015-10", **OCTOBER)
    code, _ = run(runner, "ingest", str(september), "--processed-dir", str(store))
    assert code == 0

    # validate consults the store (read only) and says how many were found only there
    report = tmp_path / "validate.json"
    code, out = run(
        runner,
        "validate",
        str(october),
        "--processed-dir",
        str(store),
        "--report-json",
        str(report),
    )
    assert code == 0, out
    assert "Valid: 5 rows would load, 0 would be quarantined" in out
    assert (
        "1 row refers to a record only the store holds: assessments.csv cina_referral_id: 1" in out
    )
    summary = json.loads(report.read_text())["summary"]
    assert summary["references_found_only_in_store"] == {"assessments.csv cina_referral_id": 1}
    assert summary["references_store"].startswith(str(store))
    assert issues(report) == []

    code, out = run(runner, "ingest", str(october), "--processed-dir", str(store))
    assert code == 0, out
    assert "Loaded 2015-10: 5 rows, 0 quarantined." in out
    current = Store(store).scan("assessments")
    assert current is not None
    assert sorted(current.collect()["cina_referral_id"].to_list()) == ["R1", "R2"]


def test_a_reference_neither_holds_is_quarantined_naming_file_line_column_value(
    write_extract: WriteExtract, runner: CliRunner, tmp_path: Path
) -> None:
    # answer: with the store empty, A1 (line 2) is reference-not-found on cina_referral_id R1
    store = tmp_path / "processed"  # empty: no extract before October
    october = write_extract("2015-10", **OCTOBER)

    # 1 of 2 assessments quarantined is 50%, over the default 1%: validate says ingest refuses
    report = tmp_path / "validate.json"
    code, out = run(
        runner,
        "validate",
        str(october),
        "--processed-dir",
        str(store),
        "--report-json",
        str(report),
    )
    assert code == 1, out
    found = [i for i in issues(report) if i["rule"] == "reference-not-found"]
    assert [(i["file"], i["line"], i["column"], i["value"]) for i in found] == [
        ("assessments.csv", 2, "cina_referral_id", "R1")
    ]
    assert found[0]["message"] == "no row of referrals.csv has this cine_referral_id"
    assert "only the store holds" not in out  # no store consulted, so nothing said of one

    # allowed to quarantine, the row is kept aside (never dropped) and counted
    code, out = run(
        runner, "ingest", str(october), "--processed-dir", str(store), "--max-quarantine", "1"
    )
    assert code == 0, out
    assert "Loaded 2015-10: 4 rows, 1 quarantined." in out
    generation = Store(store).generation
    assert generation is not None
    kept = pl.read_csv(
        generation / "extracts" / "2015-10" / "quarantine" / "assessments.csv", infer_schema=False
    )
    assert kept.select("_line", "cina_referral_id", "_rules").rows() == [
        ("2", "R1", "reference-not-found")
    ]


def test_an_assessment_is_checked_against_the_date_of_a_referral_only_the_store_holds(
    write_extract: WriteExtract, tmp_path: Path, contract: Contract
) -> None:
    # R1 (15 October 2013) is in the store only; A1 says it started on 10 October, before its
    # referral: DfE's rule 1103, as if R1 were in the extract. A2's R2 is in the extract.
    store = tmp_path / "processed"
    september = write_extract("2015-09", person=PERSON, referrals=REFERRALS_SEP)
    assert ingest(september, SEP, contract, store).action == "written"
    october = write_extract(
        "2015-10",
        person=PERSON,
        referrals=REFERRALS_OCT,
        assessments=ASSESSMENTS_OCT.replace("2013-11-04", "2013-10-10"),
    )
    report = validate(october, OCT, contract, processed=store)
    found = report.issues.filter(pl.col("level") == "row")
    assert found.select("file", "line", "column", "value", "rule").rows() == [
        ("assessments.csv", 2, "cina_assessment_start_date", "2013-10-10", "1103")
    ]
    assert found["message"][0].endswith(
        "referrals.csv cine_referral_date 2013-10-15 (held in the store)"
    )
    assert report.found_in_store == {"assessments.csv cina_referral_id": 1}


def test_a_store_holding_other_referrals_still_quarantines_a_missing_one(
    write_extract: WriteExtract, tmp_path: Path, contract: Contract
) -> None:
    # the store holds 2015-09 without R1 (R2 only): A1's R1 is in neither
    store = tmp_path / "processed"
    september = write_extract("2015-09", person=PERSON, referrals=REFERRALS_OCT)
    assert ingest(september, SEP, contract, store).action == "written"
    october = write_extract("2015-10", **OCTOBER)
    report = validate(october, OCT, contract, processed=store)
    found = report.issues.filter(pl.col("rule") == "reference-not-found")
    assert found.select("file", "line", "column", "value").rows() == [
        ("assessments.csv", 2, "cina_referral_id", "R1")
    ]
    assert found["message"][0] == (
        "no row of referrals.csv has this cine_referral_id, nor does the store (no earlier "
        "extract held it)"
    )
    assert report.found_in_store == {}


def test_superseded_and_later_deleted_records_count_but_purged_ones_do_not(
    write_extract: WriteExtract, tmp_path: Path, contract: Contract
) -> None:
    """The documented choice (ingest/held.py): the store's current view is what counts. R1
    arrives in 2015-08; 2015-09 leaves it out although its window (October 2013 on) still
    covers 15 October 2013, so the case-management system deleted (or moved) it. The store
    keeps it, as it keeps every record only older extracts hold, and the figures count it: so
    2015-10's assessment of it is accepted. Once ``purge`` removes 2015-08, R1 is no longer
    held and the same assessment is quarantined."""
    store = tmp_path / "processed"
    august = write_extract(
        "2015-08",
        person=PERSON,
        referrals="""
            cine_referral_id,cine_person_id,cine_referral_date
            R1,P1,2013-10-15
            R2,P2,2015-08-20
        """,
    )
    # R2 revised in 2015-09 (a team added): superseded, its id still current
    september = write_extract(
        "2015-09",
        person=PERSON,
        referrals="""
            cine_referral_id,cine_person_id,cine_referral_date,cine_referral_team
            R2,P2,2015-08-20,North
        """,
    )
    for folder, month in ((august, Month(2015, 8)), (september, SEP)):
        assert ingest(folder, month, contract, store).action == "written"
    october = write_extract(
        "2015-10",
        person=PERSON,
        # only the assessments: both referrals are looked up in the store alone
        referrals="cine_referral_id,cine_person_id,cine_referral_date\n",
        assessments=ASSESSMENTS_OCT,
    )
    report = validate(october, OCT, contract, processed=store)
    assert report.issues.filter(pl.col("severity") == "error").height == 0
    assert report.found_in_store == {"assessments.csv cina_referral_id": 2}

    assert purge_before(store, "2015-09", contract) == ["2015-08"]
    report = validate(october, OCT, contract, processed=store)
    found = report.issues.filter(pl.col("rule") == "reference-not-found")
    assert found.select("line", "value").rows() == [(2, "R1")]
    assert report.found_in_store == {"assessments.csv cina_referral_id": 1}


def test_a_corrected_copy_of_a_month_does_not_lean_on_the_copy_it_replaces(
    write_extract: WriteExtract, tmp_path: Path, contract: Contract
) -> None:
    # the first copy of 2015-10 held R3 (recorded in error); the corrected copy leaves it out
    # but still has an assessment of it: the store's R3 came only from the copy being
    # replaced, so it does not count, though 2015-09's R2 still does
    store = tmp_path / "processed"
    september = write_extract("2015-09", person=PERSON, referrals=REFERRALS_OCT)
    first = write_extract(
        "2015-10",
        root=tmp_path / "first",
        person=PERSON,
        referrals=REFERRALS_OCT + "    R3,P1,2015-10-01\n",
    )
    assert ingest(september, SEP, contract, store).action == "written"
    assert ingest(first, OCT, contract, store).action == "written"
    corrected = write_extract(
        "2015-10",
        person=PERSON,
        referrals="cine_referral_id,cine_person_id,cine_referral_date\n",
        assessments="""
            cina_assessment_id,cina_person_id,cina_referral_id,cina_assessment_start_date
            A2,P2,R2,2015-09-10
            A3,P1,R3,2015-10-02
        """,
    )
    report = validate(corrected, OCT, contract, processed=store)
    found = report.issues.filter(pl.col("rule") == "reference-not-found")
    assert found.select("line", "value").rows() == [(3, "R3")]
    assert report.found_in_store == {"assessments.csv cina_referral_id": 1}


def test_child_references_are_found_in_a_pseudonymised_store_under_its_key(
    write_extract: WriteExtract,
    tmp_path: Path,
    contract: Contract,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # P1 is in 2015-09's person.csv only; October's contact refers to P1
    monkeypatch.setenv("SAFEGUARD_PSEUDONYM_KEY", "a test key, not a real one")
    store = tmp_path / "processed"
    september = write_extract("2015-09", person=PERSON)
    assert ingest(september, SEP, contract, store).action == "written"
    october = write_extract(
        "2015-10",
        person="pers_person_id\nP2\n",
        contacts="""
            cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
            C1,P1,2015-10-01,NFA
            C2,P2,2015-10-02,NFA
        """,
    )
    report = validate(october, OCT, contract, processed=store)
    assert report.issues.height == 0
    assert report.found_in_store == {"contacts.csv cont_person_id": 1}

    # without the key the store's pseudonyms cannot be matched: said, and the row is flagged
    monkeypatch.delenv("SAFEGUARD_PSEUDONYM_KEY")
    report = validate(october, OCT, contract, processed=store)
    assert any("pseudonymised" in line for line in report.checks_not_run)
    assert report.issues.filter(pl.col("rule") == "reference-not-found")["line"].to_list() == [2]


# --- part 7: header-only files -------------------------------------------------------------

COMPLAINTS_HEADER = "comp_complaint_id,comp_received_date,comp_stage,comp_outcome,comp_closed_date"


def complaints(rows: int, month: str = "2015-09") -> str:
    """``rows`` complaints received in ``month``, on days 1, 2, ..."""
    return "\n".join(
        [COMPLAINTS_HEADER, *(f"CP{i},{month}-{i:02d},1,," for i in range(1, rows + 1))]
    )


def test_a_header_only_complaints_file_loads_as_real_zeros(
    write_extract: WriteExtract, tmp_path: Path, contract: Contract
) -> None:
    """A small authority with no complaints in the 24 months to October 2015: complaints.csv
    holds its header alone. It loads as an empty table with a ``no-rows`` warning, and every
    complaints figure is a real 0 for each month the extract covers (November 2013 to October
    2015), status ok. Without complaints.csv at all they are not available, never 0."""
    catalogue, authority = load_catalogue(PIPELINES), load_authority(PIPELINES)
    with_file = write_extract("2015-10", person=PERSON, complaints=COMPLAINTS_HEADER + "\n")
    outcome = ingest(with_file, OCT, contract, tmp_path / "with")
    assert outcome.action == "written"
    assert outcome.report.issues.select("file", "line", "rule", "severity").rows() == [
        ("complaints.csv", 1, "no-rows", "warning")
    ]
    message = outcome.report.issues["message"][0]
    assert "loaded as an empty table" in message
    assert "(November 2013 to October 2015)" in message
    table = outcome.report.tables["complaints"]
    assert (table.rows, table.loaded, table.rejected) == (0, 0, False)

    series = compute(Store(tmp_path / "with"), catalogue, authority, OCT).series
    figures = series.filter(pl.col("indicator").is_in(["complaints", "complaints_upheld"]))
    assert figures.height == 2 * catalogue.months
    assert set(figures["status"]) == {"ok"}
    assert set(figures["value"]) == {0}

    without = write_extract("2015-10", root=tmp_path / "raw-without", person=PERSON)
    assert ingest(without, OCT, contract, tmp_path / "without").action == "written"
    series = compute(Store(tmp_path / "without"), catalogue, authority, OCT).series
    figures = series.filter(pl.col("indicator") == "complaints")
    assert set(figures["status"]) == {"not available"}
    assert figures["value"].null_count() == figures.height


def test_a_header_only_person_file_is_refused(
    write_extract: WriteExtract, runner: CliRunner, tmp_path: Path
) -> None:
    store = tmp_path / "processed"
    report = tmp_path / "report.json"
    folder = write_extract(
        "2015-10",
        person="pers_person_id,pers_sex,pers_dob\n",
        complaints=complaints(2, "2015-10"),
    )
    code, out = run(
        runner, "ingest", str(folder), "--processed-dir", str(store), "--report-json", str(report)
    )
    assert code == 1, out
    assert "person.csv has a header but no rows: an extract with no children cannot be loaded" in (
        out
    )
    assert "nothing was written" in out.lower()
    assert [(i["file"], i["rule"], i["severity"]) for i in issues(report)] == [
        ("person.csv", "header-only", "error")
    ]
    assert Store(store).generation is None


@pytest.mark.parametrize(
    ("before", "rule"),
    [(VANISHED_ROWS, "rows-vanished"), (VANISHED_ROWS - 1, "no-rows")],
    ids=["ten-then-none", "nine-then-none"],
)
def test_a_table_that_held_many_rows_last_month_and_none_now_warns_louder(
    write_extract: WriteExtract, tmp_path: Path, contract: Contract, before: int, rule: str
) -> None:
    """2015-09 has ``before`` complaints, all received in September 2015; 2015-10's file is a
    header alone. Ten or more last month (the threshold, VANISHED_ROWS) gives ``rows-vanished``;
    nine gives the plain ``no-rows``. Either way it loads: September's complaints stay in the
    store (records only an older extract holds are kept) and October counts 0."""
    store = tmp_path / "processed"
    september = write_extract("2015-09", person=PERSON, complaints=complaints(before))
    assert ingest(september, SEP, contract, store).action == "written"
    october = write_extract("2015-10", person=PERSON, complaints=COMPLAINTS_HEADER + "\n")
    outcome = ingest(october, OCT, contract, store)
    assert outcome.action == "written"
    assert outcome.report.issues.select("file", "rule", "severity").rows() == [
        ("complaints.csv", rule, "warning")
    ]
    if rule == "rows-vanished":
        assert (
            f"the store's previous extract 2015-09 had {before} rows of it"
            in (outcome.report.issues["message"][0])
        )

    series = compute(
        Store(store), load_catalogue(PIPELINES), load_authority(PIPELINES), OCT
    ).series.filter(pl.col("indicator") == "complaints")
    by_month = {row["month"]: row["value"] for row in series.to_dicts()}
    assert by_month[SEP.first_day] == before
    assert by_month[OCT.first_day] == 0


def test_strict_lets_a_quiet_month_through_but_not_a_vanished_table(
    write_extract: WriteExtract, runner: CliRunner, tmp_path: Path
) -> None:
    # cron runs --strict: a header-only complaints.csv with no history (no-rows) still loads;
    # after 2015-09's 12 complaints (rows-vanished) it is refused, and nothing is written
    quiet = write_extract(
        "2015-10", root=tmp_path / "quiet", person=PERSON, complaints=COMPLAINTS_HEADER + "\n"
    )
    code, out = run(
        runner, "ingest", str(quiet), "--processed-dir", str(tmp_path / "a"), "--strict"
    )
    assert code == 0, out
    assert "Loaded 2015-10: 2 rows, 0 quarantined." in out

    store = tmp_path / "b"
    september = write_extract("2015-09", person=PERSON, complaints=complaints(12))
    code, _ = run(runner, "ingest", str(september), "--processed-dir", str(store))
    assert code == 0
    october = write_extract("2015-10", person=PERSON, complaints=COMPLAINTS_HEADER + "\n")
    code, out = run(runner, "validate", str(october), "--processed-dir", str(store))
    assert code == 0, out
    assert (
        "Check before the paper goes out: complaints.csv has no rows, though the previous "
        "extract had many (rows-vanished)"
    ) in out
    code, out = run(runner, "ingest", str(october), "--processed-dir", str(store), "--strict")
    assert code == 1, out
    assert "--strict: 1 problem(s) in 2015-10; nothing was written" in out
    assert "rows-vanished" in out


def test_the_new_rule_codes_are_in_the_readme_rule_table() -> None:
    readme = (PIPELINES.parent / "README.md").read_text()
    for code, severity in (("header-only", "error"), ("no-rows", "warning")):
        assert f"| `{code}` | {severity} | file |" in readme
    assert "| `rows-vanished` | warning | file |" in readme
    assert f"had {VANISHED_ROWS} or more rows of that table" in readme
