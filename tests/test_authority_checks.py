"""The right authority, or a warning: a CIN census whose header names another LA than the
project's, and real-looking extracts going into the synthetic Demoshire project, are warning
rows of the validation report (rules other-authority and demo-project): on screen, in the JSON
and CSV reports, and refused under --strict like any warning."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.demo.generate import MARKER, generate, mark_demo_folder
from safeguard.indicators.catalogue import Authority, load_authority
from safeguard.ingest.report import ValidationReport
from safeguard.ingest.stage import ingest, ingest_return, validate
from safeguard.periods import Month
from safeguard.schema import Contract
from tests.conftest import PIPELINES, WriteExtract

# Line 10 holds <LEA>: 1 the XML declaration, 2 Message, 3 Header, 4-7 CollectionDetails,
# 8 Source, 9 SourceLevel.
CENSUS = """<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails>
      <Collection>CIN</Collection>
      <Year>2022</Year><ReferenceDate>2022-03-31</ReferenceDate>
    </CollectionDetails>
    <Source>
      <SourceLevel>L</SourceLevel>
      <LEA>{lea}</LEA>
    </Source>
  </Header>
  <Children>
    <Child>
      <ChildIdentifiers>
        <LAchildID>000123</LAchildID>
        <PersonBirthDate>2010-01-01</PersonBirthDate>
        <GenderCurrent>1</GenderCurrent>
      </ChildIdentifiers>
      <CINdetails>
        <CINreferralDate>2021-06-01</CINreferralDate>
        <ReferralSource>1A</ReferralSource>
        <PrimaryNeedCode>N1</PrimaryNeedCode>
        <ReferralNFA>false</ReferralNFA>
      </CINdetails>
    </Child>
  </Children>
</Message>
"""
PERSON = "pers_person_id,pers_sex\nP1,M\nP2,F\n"


@pytest.fixture(scope="module")
def demoshire() -> Authority:
    authority = load_authority(PIPELINES)
    assert (authority.la_code, authority.demo) == ("884", True)  # the project's own
    return authority


@pytest.fixture(scope="module")
def council(demoshire: Authority) -> Authority:
    """A real council's project for LA 884 (Herefordshire, ONS code E06000019)."""
    return demoshire.model_copy(
        update={"name": "Herefordshire", "demo": False, "new_la_code": "E06000019"}
    )


def census(folder: Path, lea: str) -> Path:
    path = folder / "cin.xml"
    path.write_text(CENSUS.format(lea=lea), encoding="utf-8")
    return path


def rows(report: ValidationReport, rule: str) -> list[dict[str, object]]:
    return report.issues.filter(report.issues["rule"] == rule).to_dicts()


def check_census(
    path: Path, contract: Contract, authority: Authority | None, *, strict: bool = False
) -> tuple[ValidationReport, str]:
    [one] = ingest_return(
        path,
        contract,
        None,
        PIPELINES,
        format_name="cin-xml",
        strict=strict,
        authority=authority,
    )
    return one.outcome.report, one.outcome.action


# --------------------------------------------------------------------------- CIN census <LEA>


def test_a_census_from_another_authority_is_named_in_a_warning(
    tmp_path: Path, contract: Contract, council: Authority
) -> None:
    report, action = check_census(census(tmp_path, "201"), contract, council)
    [row] = rows(report, "other-authority")
    assert {k: row[k] for k in ("file", "line", "column", "value", "severity", "level")} == {
        "file": "cin.xml",
        "line": 10,
        "column": "Header/Source/LEA",
        "value": "201",
        "severity": "warning",
        "level": "file",
    }
    message = str(row["message"])
    assert "LA 201" in message and "LA 884 (Herefordshire" in message
    assert "safeguard init" not in message  # a council's project: no demo advice
    assert report.issues.height == 1  # the child itself is clean
    assert action == "checked"  # a warning: it would load


def test_the_warning_refuses_under_strict(
    tmp_path: Path, contract: Contract, council: Authority
) -> None:
    report, action = check_census(census(tmp_path, "201"), contract, council, strict=True)
    assert action == "refused"
    assert rows(report, "other-authority")


@pytest.mark.parametrize("lea", ["884", " 884 ", "E06000019", "e06000019"])
def test_a_census_of_this_authority_is_not_warned_about(
    tmp_path: Path, contract: Contract, council: Authority, lea: str
) -> None:
    report, action = check_census(census(tmp_path, lea), contract, council, strict=True)
    assert report.issues.height == 0, report.issues.to_dicts()
    assert action == "checked"


def test_in_the_demo_project_the_warning_says_to_make_a_project(
    tmp_path: Path, contract: Contract, demoshire: Authority
) -> None:
    report, _ = check_census(census(tmp_path, "201"), contract, demoshire)
    [row] = rows(report, "other-authority")
    message = str(row["message"])
    assert "LA 201" in message and "LA 884 (Demoshire" in message
    assert "safeguard init DIR --la-code NNN" in message
    # a return is never the demo's, but only its LA code is judged: no demo-project row
    assert not rows(report, "demo-project")


def test_without_an_authority_nothing_is_compared(tmp_path: Path, contract: Contract) -> None:
    report, _ = check_census(census(tmp_path, "201"), contract, None)
    assert report.issues.height == 0


def test_the_cli_shows_the_warning_and_writes_it_to_both_reports(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = census(tmp_path, "201")
    store, report_json, report_csv = (
        tmp_path / "processed",
        tmp_path / "r.json",
        tmp_path / "r.csv",
    )
    args = ["--pipelines", str(PIPELINES), "ingest", str(path), "--processed-dir", str(store)]
    result = runner.invoke(
        cli, [*args, "--report-json", str(report_json), "--report-csv", str(report_csv)]
    )
    assert result.exit_code == 0, result.output
    assert "other-authority" in result.output and "warning" in result.output
    [issue] = json.loads(report_json.read_text())["issues"]
    assert (issue["rule"], issue["line"], issue["value"]) == ("other-authority", 10, "201")
    [line] = list(csv.DictReader(report_csv.read_text().splitlines()))
    assert (line["rule"], line["severity"], line["column"]) == (
        "other-authority",
        "warning",
        "Header/Source/LEA",
    )
    strict = runner.invoke(cli, [*args, "--strict", "--processed-dir", str(tmp_path / "p2")])
    assert strict.exit_code == 1, strict.output
    assert not (tmp_path / "p2" / "CURRENT").exists()


# --------------------------------------------------------------------------- the demo project


def test_a_real_looking_extract_into_the_demo_project_is_warned_about(
    write_extract: WriteExtract, tmp_path: Path, contract: Contract, demoshire: Authority
) -> None:
    folder = write_extract("2015-10", person=PERSON)
    (folder.parent / MARKER).unlink()  # write_extract marks its folders as the demo's
    outcome = ingest(folder, Month(2015, 10), contract, tmp_path / "p", authority=demoshire)
    assert outcome.action == "written"  # a warning: it loads
    [row] = rows(outcome.report, "demo-project")
    assert (row["file"], row["severity"], row["level"]) == ("2015-10", "warning", "file")
    message = str(row["message"])
    assert "Demoshire's population" in message and "safeguard init" in message
    assert MARKER in message
    # the same through validate, and for one of its files
    for path in (folder, folder / "person.csv"):
        report = validate(path, Month(2015, 10), contract, authority=demoshire)
        assert [r["rule"] for r in report.issues.to_dicts()] == ["demo-project"]


def test_under_strict_it_is_refused(
    write_extract: WriteExtract, tmp_path: Path, contract: Contract, demoshire: Authority
) -> None:
    folder = write_extract("2015-10", person=PERSON)
    (folder.parent / MARKER).unlink()
    store = tmp_path / "p"
    outcome = ingest(folder, Month(2015, 10), contract, store, strict=True, authority=demoshire)
    assert outcome.action == "refused"
    assert not (store / "CURRENT").exists()


def test_a_councils_project_or_no_authority_has_no_demo_warning(
    write_extract: WriteExtract, contract: Contract, council: Authority
) -> None:
    folder = write_extract("2015-10", person=PERSON)
    for authority in (council, None):
        report = validate(folder, Month(2015, 10), contract, authority=authority)
        assert report.issues.height == 0, report.issues.to_dicts()


@pytest.mark.parametrize("where", ["raw-folder", "month-folder"])
def test_a_folder_the_demo_marked_is_the_demos(
    write_extract: WriteExtract,
    tmp_path: Path,
    contract: Contract,
    demoshire: Authority,
    where: str,
) -> None:
    folder = write_extract("2015-10", person=PERSON)
    mark_demo_folder(folder.parent if where == "raw-folder" else folder)
    report = validate(folder, Month(2015, 10), contract, authority=demoshire)
    # the marker in the month's own folder is a file the contract does not know
    expected = [] if where == "raw-folder" else ["unknown-file"]
    assert [r["rule"] for r in report.issues.to_dicts()] == expected


def test_the_demos_own_extract_shows_no_problem_through_the_cli(
    tmp_path: Path, contract: Contract, runner: CliRunner
) -> None:
    [folder] = generate(
        tmp_path / "raw", contract, scale=0.3, first=Month(2015, 9), last=Month(2015, 9)
    )
    result = runner.invoke(
        cli, ["--pipelines", str(PIPELINES), "validate", str(folder), "--strict"]
    )
    assert result.exit_code == 0, result.output
    assert "No problems found." in result.output
