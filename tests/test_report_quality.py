"""The data-quality annex for members (issue 13, part 7) on the bundled mini extracts."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.indicators.catalogue import Catalogue, load_authority, load_catalogue
from safeguard.indicators.engine import SERIES_SCHEMA
from safeguard.indicators.stage import write_indicators
from safeguard.periods import Month
from safeguard.report.model import Table
from safeguard.report.quality import annex, corrections, reason_words, restatements
from safeguard.store import Store
from tests.conftest import EXAMPLES, PIPELINES, WriteExtract
from tests.test_returns import REFERRALS_HEADER, census, child, ingest

OCTOBER = Month(2015, 10)
# every id the mini October extract quarantines or revises (examples/mini/README.md)
IDS = ["C000383", "R000199", "A000174", "R000191", "R000192", "R000193", "A000166", "CP000031"]


def run(*args: str) -> None:
    result = CliRunner().invoke(cli, ["--pipelines", str(PIPELINES), *args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(PIPELINES)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """September ingested and its paper's figures kept (``safeguard indicators``), then
    October ingested: the order a council runs them in."""
    root = tmp_path_factory.mktemp("quality") / "processed"
    run("ingest", str(EXAMPLES / "2015-09"), "--processed-dir", str(root))
    run("indicators", "--month", "2015-09", "--processed-dir", str(root))
    run("ingest", str(EXAMPLES / "2015-10"), "--processed-dir", str(root))
    return root


def tables(store: Path, catalogue: Catalogue, audience: str) -> dict[str, Table]:
    written = write_indicators(store, catalogue, load_authority(PIPELINES), OCTOBER)
    found = annex(store, written, catalogue, OCTOBER, audience)
    return {table.caption.split(" (")[0]: table for table in found}


def test_the_october_summary_says_why_rows_were_held_back_in_words(
    store: Path, catalogue: Catalogue
) -> None:
    held = tables(store, catalogue, "public")["3 rows held back from the October 2015 extract"]
    assert held.caption == (
        "3 rows held back from the October 2015 extract (not counted in any figure)"
    )
    assert held.header == ("Data", "Why held back", "Rows")
    assert held.rows == (
        ("Assessments", "assessment authorised before it started", "1"),
        ("Contacts", "a contact outcome code not in the list", "1"),
        ("Referrals", "a referral date that is not a real date (31 June)", "1"),
    )


def test_corrections_are_counted_by_table_not_listed_by_record(
    store: Path, catalogue: Catalogue
) -> None:
    found = tables(store, catalogue, "public")
    updated = found["Records updated by a later extract, by table"]
    assert updated.header == (
        "Data",
        "October 2015 extract",
        "The 12 months' extracts to October 2015",
    )
    # README "Corrections in 2015-10": 2 assessments, 1 plan, 3 referrals
    assert updated.rows == (
        ("Assessments", "2", "2"),
        ("Child protection plans", "1", "1"),
        ("Referrals", "3", "3"),
    )
    # one line per reason: the three figures with an empty denominator share one
    missing = found["Figures not available or not applicable for October 2015"]
    assert missing.header == ("Why", "Figures")
    assert [row[0] for row in missing.rows] == [
        "not applicable: nothing in the denominator this month"
    ]
    assert missing.rows[0][1].count("; ") == 2


def test_a_revision_that_changes_last_papers_figure_is_restated(
    store: Path, catalogue: Catalogue
) -> None:
    # September's paper: 15 referrals in September, none marked NFA -> 0.0%. October's extract
    # corrects R000191 (a September referral) from NFA N to Y, so September is now 1 of 15 =
    # 6.7%. The rule reads referrals only; October's extract revised 3 referrals (R000191-193)
    # and added 9 (203 rows less the 193 of September, less the quarantined R000199).
    restated = tables(store, catalogue, "public")["Figures in last month's paper"]
    assert restated.caption == (
        "Figures in last month's paper (September 2015) that have changed since, for the 12 "
        "months to September 2015"
    )
    assert restated.header == ("Indicator", "Month", "Then", "Now", "Why")
    assert restated.rows == (
        (
            "Referrals with no further action",
            "Sep 2015",
            "0.0%",
            "6.7%",
            "referrals: records 3 revised, 9 added, by the October 2015 extract",
        ),
    )


def test_without_last_papers_figures_the_restatement_says_they_are_not_held(
    store: Path, catalogue: Catalogue
) -> None:
    held = Store(store)
    # no figures were kept for August: September's paper cannot say what changed
    table = restatements(store, held, held.manifest(), catalogue, _empty_series(), Month(2015, 9))
    assert table.rows == (
        (
            "The August 2015 paper's figures are not held, so changes cannot be shown",
            "",
            "",
            "",
            "",
        ),
    )


def _empty_series() -> pl.DataFrame:
    return pl.DataFrame(schema=SERIES_SCHEMA)


def test_the_per_extract_lists_are_for_the_internal_audience_only(
    store: Path, catalogue: Catalogue
) -> None:
    public = tables(store, catalogue, "public")
    internal = tables(store, catalogue, "internal")
    assert not [c for c in public if c.startswith("Internal")]
    quarantined = internal["Internal: rows quarantined by validation rule, by extract"]
    assert quarantined.rows == (
        ("2015-10", "assessments.csv", "8608", "1"),
        ("2015-10", "contacts.csv", "invalid-code", "1"),
        ("2015-10", "referrals.csv", "invalid-date", "1"),
    )
    revised = internal["Internal: records revised by each extract"]
    assert [row[1] for row in revised.rows] == ["assessments.csv", "cp_plans.csv", "referrals.csv"]


def test_the_public_paper_never_lists_a_record_id(store: Path, tmp_path: Path) -> None:
    run(
        "report",
        "--month",
        "2015-10",
        "--processed-dir",
        str(store),
        "--reports-dir",
        str(tmp_path),
        "--format",
        "html",
    )
    page = (tmp_path / "2015-10" / "paper.html").read_text(encoding="utf-8")
    assert "a referral date that is not a real date (31 June)" in page
    assert "Referrals with no further action" in page
    assert not [found for found in IDS if found in page]
    assert not re.search(r"\b(C|R|A|CP|E|W)\d{6}\b", page)


def test_reasons_in_words_never_echo_a_value_but_a_days_date() -> None:
    assert reason_words(
        "cont_decision_datetime",
        "31/09/2015 10:15",
        "invalid-datetime",
        "not a date-time: write YYYY-MM-DD",
    ) == ("a decision date that is not a real date (31 September)")
    # a value that is not a day and month is left out
    assert reason_words("cine_referral_date", "R000123", "invalid-date", "not a date: x") == (
        "a referral date that is not a real date"
    )
    assert (
        reason_words(
            "cine_referral_source_code", "11", "8866", "not a referral source code: expected 1A"
        )
        == "a referral source code not in the list"
    )
    assert "P000123" not in reason_words(
        "cine_person_id", "P000123", "reference-not-found", "no row of person.csv has this id"
    )


def test_a_returns_records_replaced_by_a_monthly_extract_are_counted(
    tmp_path: Path, runner: CliRunner, write_extract: WriteExtract
) -> None:
    # as in test_returns: the census 2016 holds child 000123's June 2015 referral, which the
    # October 2015 extract also holds (as R1); the census's record gives way
    xml = census(tmp_path / "cin.xml", child("000123", "2015-06-01", "2016-02-03"))
    extract = write_extract(
        "2015-10",
        person="pers_person_id,pers_sex\n000123,M\n",
        referrals=REFERRALS_HEADER + "R1,000123,2015-06-01,1A,N\n",
    )
    store = tmp_path / "processed"
    for path in (xml, extract):
        assert ingest(runner, store, str(path))[0] == 0
    updated, replaced = corrections(Store(store).manifest(), OCTOBER)
    # the extract's row of the child revises the census's
    assert updated.rows == (("Children's details", "1", "1"),)
    assert replaced.header == ("Return", "Data", "Records replaced")
    assert replaced.rows == (
        ("cin-2016", "children's details", "1"),
        ("cin-2016", "referrals", "1"),
    )


def test_restatements_compare_with_what_last_months_paper_printed(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    """September's paper is written before October's extract arrives; afterwards September's
    indicators are computed again (they now hold October's correction). October's paper still
    restates against what September's paper printed: NFA 0.0% then, 6.7% now (the test above),
    not against the recomputation, which would show nothing changed."""
    root = tmp_path / "processed"
    run("ingest", str(EXAMPLES / "2015-09"), "--processed-dir", str(root))
    run(
        "report",
        "--month",
        "2015-09",
        "--processed-dir",
        str(root),
        "--reports-dir",
        str(tmp_path / "reports"),
        "--format",
        "data",
    )
    run("ingest", str(EXAMPLES / "2015-10"), "--processed-dir", str(root))
    run("indicators", "--month", "2015-09", "--processed-dir", str(root))
    restated = tables(root, catalogue, "public")["Figures in last month's paper"]
    assert [(r[0], r[1], r[2], r[3]) for r in restated.rows] == [
        ("Referrals with no further action", "Sep 2015", "0.0%", "6.7%")
    ]
