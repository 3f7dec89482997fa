"""Statutory returns in the store: detection, `safeguard ingest` on each format, idempotent
re-loading, a monthly extract superseding a return's record by natural key, and the
indicators marking what a return cannot support as not available (never 0)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.indicators.catalogue import load_authority, load_catalogue
from safeguard.indicators.engine import compute
from safeguard.ingest.sources import FORMATS, detect
from safeguard.ingest.sources.base import SourceMapping, load_mapping, mapping_problems
from safeguard.periods import Month
from safeguard.report.quality import held_back, per_extract
from safeguard.run import latest_month
from safeguard.schema import Contract
from safeguard.store import ExtractEntry, Manifest, Store, Window
from tests.conftest import EXAMPLES, PIPELINES, SHARED, WriteExtract
from tests.test_source_annex_a import write_book
from tests.test_source_cin import FULL_CHILD, HEAD
from tests.test_source_cin import census as write_census

SAMPLES = SHARED / "reference" / "samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason="../shared/reference/samples is absent (as on a user's machine)"
)


def census(path: Path, children: str, year: int = 2016) -> Path:
    return write_census(path.parent, children, year=str(year), name=path.name)


def child(ident: str, *referral_dates: str) -> str:
    referrals = "".join(
        f"""
      <CINdetails>
        <CINreferralDate>{day}</CINreferralDate>
        <ReferralSource>1A</ReferralSource>
        <PrimaryNeedCode>N1</PrimaryNeedCode>
        <ReferralNFA>false</ReferralNFA>
      </CINdetails>"""
        for day in referral_dates
    )
    return f"""
    <Child>
      <ChildIdentifiers>
        <LAchildID>{ident}</LAchildID>
        <PersonBirthDate>2010-01-01</PersonBirthDate>
        <GenderCurrent>1</GenderCurrent>
      </ChildIdentifiers>{referrals}
    </Child>
"""


def ingest(runner: CliRunner, store: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["ingest", *args, "--processed-dir", str(store)])
    return result.exit_code, result.output


def manifest(store: Path) -> Manifest:
    return Store(store).manifest()


def current(store: Path, table: str) -> pl.DataFrame:
    scanned = Store(store).scan(table)
    assert scanned is not None
    return scanned.collect()


# --- detection ----------------------------------------------------------------------------


def test_a_monthly_extract_folder_is_not_taken_for_a_return() -> None:
    assert detect(EXAMPLES / "2015-10") is None


@needs_samples
@pytest.mark.shared
def test_each_sample_is_recognised_by_its_content(tmp_path: Path) -> None:
    assert detect(SAMPLES / "cin" / "fake_CIN_data.xml") == "cin-xml"
    assert detect(SAMPLES / "ssda903") == "ssda903"
    renamed = tmp_path / "export.dat"  # the name says nothing; the content does
    renamed.write_bytes((SAMPLES / "cin" / "fake_CIN_data.xml").read_bytes())
    assert detect(renamed) == "cin-xml"


# --- the samples through the command ----------------------------------------------------


@needs_samples
@pytest.mark.shared
def test_the_cin_sample_loads_once_and_reloads_as_unchanged(
    tmp_path: Path, runner: CliRunner
) -> None:
    store = tmp_path / "processed"
    sample = str(SAMPLES / "cin" / "fake_CIN_data.xml")
    # the fake sample dates 110 of its rows after the census year (31 March 2022): more than
    # the default 1%, so the default refuses it and writes nothing
    code, out = ingest(runner, store, sample)
    assert code == 1
    assert "cin-2022: refused; nothing of it was written" in out
    assert Store(store).generation is None

    code, out = ingest(runner, store, sample, "--max-quarantine", "0.3")
    assert code == 0, out
    assert "Loaded cin-2022 (cin-xml, April 2021 to March 2022): 974 rows, 110 quarantined." in out
    entry = manifest(store).extracts["cin-2022"]
    assert entry.format == "cin-xml"
    assert entry.window == Window(first=Month(2021, 4), last=Month(2022, 3))
    assert entry.not_loaded is not None
    assert entry.not_loaded["Child/ChildIdentifiers/UPN"] == 332
    generation = Store(store).generation

    code, out = ingest(runner, store, sample, "--max-quarantine", "0.3")
    assert code == 0
    assert "Unchanged: cin-2022 is already in the store with the same file." in out
    assert Store(store).generation == generation


@needs_samples
@pytest.mark.shared
def test_the_903_sample_loads_two_years(tmp_path: Path, runner: CliRunner) -> None:
    store = tmp_path / "processed"
    code, out = ingest(runner, store, str(SAMPLES / "ssda903"), "--max-quarantine", "0.25")
    assert code == 0, out
    assert "Loaded ssda903-2020 (ssda903, April 2019 to March 2020)" in out
    assert "Loaded ssda903-2021 (ssda903, April 2020 to March 2021)" in out
    extracts = manifest(store).extracts
    assert sorted(extracts) == ["ssda903-2020", "ssda903-2021"]
    assert extracts["ssda903-2020"].not_loaded == {"missing": 1, "oc3": 56, "uasc": 16}
    # an episode open at 31 March 2020 is in both years' files: one record, not two
    episodes = current(store, "cla_episodes")
    assert episodes["clae_cla_episode_id"].n_unique() == episodes.height
    assert set(episodes["_extract"]) == {"ssda903-2020", "ssda903-2021"}


@needs_samples
@pytest.mark.shared
def test_indicators_from_the_samples_say_what_the_returns_cannot_support(
    tmp_path: Path, runner: CliRunner
) -> None:
    store = tmp_path / "processed"
    assert ingest(runner, store, str(SAMPLES / "ssda903"), "--max-quarantine", "0.25")[0] == 0
    cin = str(SAMPLES / "cin" / "fake_CIN_data.xml")
    assert ingest(runner, store, cin, "--max-quarantine", "0.3")[0] == 0
    series = compute(
        Store(store), load_catalogue(PIPELINES), load_authority(PIPELINES), Month(2021, 3)
    ).series
    march = {
        r["indicator"]: r for r in series.filter(pl.col("month") == date(2021, 3, 1)).to_dicts()
    }
    assert march["cla_open"]["status"] == "ok"
    assert march["cla_review_participation_pct"]["status"] == "ok"
    assert march["contacts"]["status"] == "not available"
    assert march["contacts"]["reason"] == "no extract has held contacts.csv"
    # the CIN census covers April 2021 - March 2022: March 2021's referrals are not 0
    assert march["referrals"]["status"] == "not available"
    assert march["referrals"]["value"] is None
    assert "covers March 2021" in march["referrals"]["reason"]


# --- supersession by natural key (hand-made, no ../shared) ---------------------------------


REFERRALS_HEADER = (
    "cine_referral_id,cine_person_id,cine_referral_date,cine_referral_source_code,"
    "cine_referral_nfa\n"
)


def test_a_monthly_extract_supersedes_the_returns_record_of_the_same_child_and_date(
    tmp_path: Path, runner: CliRunner, write_extract: WriteExtract
) -> None:
    # The census 2016 (April 2015 - March 2016) holds child 000123's referrals of 1 June 2015
    # and 3 February 2016. The October 2015 extract holds the June referral under the case
    # system's id R1 (and nothing of February, which has not happened yet). The store keeps
    # R1 for June (the system's record wins) and the census's February referral: two rows,
    # not three, whichever is loaded first.
    xml = census(tmp_path / "cin.xml", child("000123", "2015-06-01", "2016-02-03"))
    extract = write_extract(
        "2015-10",
        person="pers_person_id,pers_sex\n000123,M\n",
        referrals=REFERRALS_HEADER + "R1,000123,2015-06-01,1A,N\n",
    )
    for order in ((str(xml), str(extract)), (str(extract), str(xml))):
        store = tmp_path / f"store-{order[0][-3:]}"
        for path in order:
            code, out = ingest(runner, store, path)
            assert code == 0, out
        referrals = current(store, "referrals").sort("cine_referral_date")
        assert referrals["cine_referral_date"].to_list() == [date(2015, 6, 1), date(2016, 2, 3)]
        assert referrals["cine_referral_id"][0] == "R1"
        assert referrals["_extract"].to_list() == ["2015-10", "cin-2016"]
        files = manifest(store).extracts["cin-2016"].files["referrals"]
        assert files.superseded_by_newer == 1  # the June referral gave way


def test_coverage_holes_are_not_available_not_zero(
    tmp_path: Path, runner: CliRunner, write_extract: WriteExtract
) -> None:
    # An Annex A workbook (contacts, no outcome recorded) for April - September 2015 and
    # nothing else: the contacts count is available for those months; the share of contacts
    # that became referrals is not (Annex A records no outcome), and neither figure exists
    # for March 2015, before the workbook.
    book = write_book(
        tmp_path / "annex_a.xlsx",
        {
            "List 1 - Contacts": [
                ["Child Unique ID", "Gender", "Date of Contact", "Contact Source"],
                ["C1", "a) Male", "20/04/2015", "a) 1A"],
                ["C2", "b) Female", "03/09/2015", "u) 10: Unknown"],
            ]
        },
    )
    store = tmp_path / "processed"
    code, out = ingest(runner, store, str(book), "--month", "2015-09")
    assert code == 0, out
    entry = manifest(store).extracts["annex-a-2015-09"]
    assert entry.window == Window(first=Month(2015, 4), last=Month(2015, 9))
    assert "cont_contact_outcome" not in entry.files["contacts"].columns_present
    series = compute(
        Store(store), load_catalogue(PIPELINES), load_authority(PIPELINES), Month(2015, 9)
    ).series
    by = {(r["indicator"], r["month"]): r for r in series.to_dicts()}
    assert by[("contacts", date(2015, 4, 1))]["value"] == 1
    assert by[("contacts", date(2015, 5, 1))]["value"] == 0  # covered, and none: a real 0
    assert by[("contacts", date(2015, 3, 1))]["status"] == "not available"
    share = by[("contacts_to_referral_pct", date(2015, 9, 1))]
    assert share["status"] == "not available" and share["value"] is None
    assert share["reason"] == "no extract of contacts.csv has held cont_contact_outcome"


def test_a_file_that_is_no_return_is_refused_with_advice(tmp_path: Path, runner: CliRunner) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("not a return\n", encoding="utf-8")
    result = runner.invoke(cli, ["ingest", str(stray), "--processed-dir", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "is a file but not a CIN census, SSDA903 table or Annex A workbook" in result.output


def test_a_malformed_census_is_refused_naming_the_line(tmp_path: Path, runner: CliRunner) -> None:
    bad = tmp_path / "cin.xml"
    bad.write_text(HEAD.format(year=2016) + "    <Child>\n  </Children>\n", encoding="utf-8")
    code, out = ingest(runner, tmp_path / "p", str(bad), "--format", "cin-xml")
    assert code == 1
    assert "malformed-xml" in out
    assert not (tmp_path / "p" / "CURRENT").exists()


def test_the_manifest_names_each_return_with_its_window(tmp_path: Path, runner: CliRunner) -> None:
    store = tmp_path / "processed"
    for year in (2015, 2016):
        xml = census(tmp_path / f"cin{year}.xml", child("000123", f"{year - 1}-06-01"), year)
        assert ingest(runner, store, str(xml))[0] == 0
    held = manifest(store)
    assert {k: v.window for k, v in held.extracts.items()} == {
        "cin-2015": Window(first=Month(2014, 4), last=Month(2015, 3)),
        "cin-2016": Window(first=Month(2015, 4), last=Month(2016, 3)),
    }
    assert json.loads(held.to_json())  # plain JSON


def test_a_return_older_than_every_extract_fills_only_what_it_records(
    tmp_path: Path, runner: CliRunner, write_extract: WriteExtract
) -> None:
    # Annex A for April - June 2013 (contacts without outcomes), then the October 2015
    # extract, whose 24-month window starts November 2013. June 2013: the contacts count
    # comes from Annex A; the share that became referrals has no source for June 2013
    # (Annex A records no outcome), so it is not available - not 0%.
    book = write_book(
        tmp_path / "annex_a.xlsx",
        {
            "List 1": [
                ["Child Unique ID", "Date of Contact"],
                ["P1", "15/06/2013"],
                ["P1", "01/04/2013"],
            ]
        },
    )
    extract = write_extract(
        "2015-10",
        person="pers_person_id\nP1\n",
        contacts=(
            "cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome\n"
            "C1,P1,2015-10-05 10:00,NEW_REFERRAL\n"
        ),
    )
    store = tmp_path / "processed"
    assert ingest(runner, store, str(book), "--month", "2013-06")[0] == 0
    assert ingest(runner, store, str(extract))[0] == 0
    series = compute(
        Store(store), load_catalogue(PIPELINES), load_authority(PIPELINES), Month(2014, 6)
    ).series  # the 24 months July 2012 - June 2014
    by = {(r["indicator"], r["month"]): r for r in series.to_dicts()}
    june = date(2013, 6, 1)
    assert (by[("contacts", june)]["status"], by[("contacts", june)]["value"]) == ("ok", 1)
    share = by[("contacts_to_referral_pct", june)]
    assert share["status"] == "not available"
    assert share["reason"] == "no extract or return holding contacts covers June 2013"
    # June 2014 is in the extract's window: no contacts that month, a real 0
    assert by[("contacts", date(2014, 6, 1))]["value"] == 0
    # July - October 2013: neither source covers contacts
    july = by[("contacts", date(2013, 7, 1))]
    assert july["status"] == "not available" and july["value"] is None


def test_validate_checks_a_return_and_writes_nothing(tmp_path: Path, runner: CliRunner) -> None:
    xml = census(tmp_path / "cin.xml", child("000123", "2015-06-01", "2016-05-01"))
    # the May 2016 referral is after the census year (31 March 2016): one of three rows
    # (person, two referrals) is quarantined, 33% > 1%, so ingest would refuse it
    result = runner.invoke(cli, ["validate", str(xml)])
    assert result.exit_code == 1
    assert "cin-2016: ingest would refuse it" in result.output
    result = runner.invoke(cli, ["validate", str(xml), "--max-quarantine", "0.5"])
    assert result.exit_code == 0, result.output
    assert "cin-2016: Valid: 2 rows would load, 1 would be quarantined" in result.output
    assert not (tmp_path / "data").exists()


def test_purge_removes_returns_whose_year_ended_before_the_date(
    tmp_path: Path, runner: CliRunner
) -> None:
    store = tmp_path / "processed"
    for year in (2015, 2016):
        xml = census(tmp_path / f"cin{year}.xml", child("000123", f"{year - 1}-06-01"), year)
        assert ingest(runner, store, str(xml))[0] == 0
    # cin-2015 covers to March 2015, before June 2015; cin-2016 reaches March 2016
    result = runner.invoke(cli, ["purge", "--before", "2015-06", "--processed-dir", str(store)])
    assert result.exit_code == 0, result.output
    assert sorted(manifest(store).extracts) == ["cin-2016"]
    assert current(store, "referrals")["cine_referral_date"].to_list() == [date(2015, 6, 1)]


def test_with_a_pseudonym_key_a_returns_ids_are_keyed_and_links_hold(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unkeyed, a referral's id is SHA-256 of the child's id and date: anyone holding child
    # ids could confirm a child is in the store. Under a key, the ids are HMACs (prefix
    # kept), the child id a pseudonym, and re-loading the same file changes nothing.
    xml = census(tmp_path / "cin.xml", FULL_CHILD, 2022)  # referral, assessment, S47, plan
    plain, keyed = tmp_path / "plain", tmp_path / "keyed"
    assert ingest(runner, plain, str(xml))[0] == 0
    monkeypatch.setenv("SAFEGUARD_PSEUDONYM_KEY", "a test key, not a real one")
    assert ingest(runner, keyed, str(xml))[0] == 0
    unkeyed_id = current(plain, "referrals")["cine_referral_id"][0]
    referral = current(keyed, "referrals").row(0, named=True)
    assert referral["cine_referral_id"].startswith("cin-referral-")
    assert referral["cine_referral_id"] != unkeyed_id
    assert referral["cine_person_id"].startswith("PS-")
    # the links from the assessment, the enquiry and the reviews still find their records
    assert current(keyed, "assessments")["cina_referral_id"].to_list() == [
        referral["cine_referral_id"]
    ]
    assert current(keyed, "s47_enquiries")["s47e_referral_id"].to_list() == [
        referral["cine_referral_id"]
    ]
    plan = current(keyed, "cp_plans")["cppl_cp_plan_id"][0]
    assert plan.startswith("cin-cp-plan-")
    assert set(current(keyed, "cp_reviews")["cppr_cp_plan_id"]) == {plan}
    assert not set(current(keyed, "cp_reviews")["cppr_cp_plan_id"]) & set(
        current(plain, "cp_plans")["cppl_cp_plan_id"]
    )
    code, out = ingest(runner, keyed, str(xml))
    assert code == 0 and "Unchanged: cin-2022" in out


def test_a_run_reports_the_latest_monthly_extract_not_a_returns_name() -> None:
    # sorted, "ssda903-2021" comes after "2015-10": the default month must not be read from it
    def entry(**window: str) -> ExtractEntry:
        held: dict[str, object] = {"source": "x", "files": {}, "missing_tables": []}
        held["window"] = window or None
        return ExtractEntry.model_validate(held)

    extracts = {
        "2015-09": entry(),
        "2015-10": entry(),
        "ssda903-2021": entry(first="2020-04", last="2021-03"),
    }
    assert latest_month(extracts) == Month(2015, 10)
    returns_only = {k: v for k, v in extracts.items() if k.startswith("ssda")}
    assert latest_month(returns_only) == Month(2021, 3)


def test_the_data_quality_annex_lists_a_returns_quarantined_rows(
    tmp_path: Path, runner: CliRunner
) -> None:
    # census 2016 with a referral dated after its year: quarantined, and the paper for March
    # 2016 (whose year the census closes) lists it by rule
    xml = census(tmp_path / "cin.xml", child("000123", "2015-06-01", "2016-05-01"))
    store = tmp_path / "processed"
    assert ingest(runner, store, str(xml), "--max-quarantine", "0.6")[0] == 0
    held = Store(store)
    quarantined, _ = per_extract(held, held.manifest(), Month(2016, 3))  # the internal list
    # DfE's rule 8600: the referral date must not be after the census year's end
    assert quarantined.rows == (("cin-2016", "cin.xml", "8600", "1"),)
    # members read it in words, from the return closing in the paper's month
    summary = held_back(held, held.manifest(), Month(2016, 3))
    assert summary.caption.startswith("1 row held back from the return cin-2016")
    assert [row[0] for row in summary.rows] == ["Referrals"]
    # a paper for a year the census does not close in does not list it
    assert per_extract(held, held.manifest(), Month(2017, 6))[0].rows == (("none", "", "", ""),)


def test_check_config_finds_a_mapping_that_does_not_fit_the_contract(contract: Contract) -> None:
    for name in FORMATS:  # the project's own mappings fit
        assert mapping_problems(load_mapping(PIPELINES, name), contract) == []
    wrong = SourceMapping.model_validate(
        {
            "format": "cin-xml",
            "description": "a mapping with three mistakes",
            "tables": {
                "referrals": {
                    "source": "Child/CINdetails",
                    "id": {"prefix": "x", "parts": ["cine_person_id", "cine_referral_date"]},
                    "natural_key": ["cine_referral_date"],
                    "columns": {"cine_person_id": {"source": "LAchildID"}, "cine_colour": {}},
                },
                "visits": {"source": "Child/Visits", "columns": {}},
            },
        }
    )
    assert mapping_problems(wrong, contract) == [
        "cin-xml: referrals has no column cine_colour",
        "cin-xml: referrals's id is made from cine_referral_date, which the mapping does not fill",
        "cin-xml: referrals's natural key ['cine_referral_date'] is not the contract's "
        "['cine_person_id', 'cine_referral_date']",
        "cin-xml: visits is not a table of the contract",
    ]


def test_the_ingest_format_choices_are_the_readers() -> None:
    # the command names the formats without importing the readers at start-up: keep in step
    option = next(p for p in cli.commands["ingest"].params if p.name == "format_name")
    assert list(option.type.choices) == ["auto", "extract", *FORMATS]  # type: ignore[attr-defined]


def test_a_folder_given_as_a_census_is_refused_with_advice(
    tmp_path: Path, runner: CliRunner
) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    code, out = ingest(runner, tmp_path / "processed", str(folder), "--format", "cin-xml")
    assert code == 1, out
    assert "Traceback" not in out
    flat = " ".join(out.split())
    assert "returns is a folder, not a CIN census XML file" in flat, out
    assert "not-cin" in flat
    assert not (tmp_path / "processed").exists()


def test_validate_takes_format_as_ingest_does(tmp_path: Path, runner: CliRunner) -> None:
    """Issue 14 part 8: validate had no --format; the same choices, the same refusals, and
    nothing written."""
    for command in ("ingest", "validate"):
        option = next(p for p in cli.commands[command].params if p.name == "format_name")
        assert list(option.type.choices) == ["auto", "extract", *FORMATS]  # type: ignore[attr-defined]
    folder = tmp_path / "returns"
    folder.mkdir()
    result = runner.invoke(cli, ["validate", str(folder), "--format", "cin-xml"])
    assert result.exit_code == 1, result.output
    assert "returns is a folder, not a CIN census XML file" in " ".join(result.output.split())
    assert not (tmp_path / "data").exists()


def test_a_return_for_a_year_after_today_is_refused(tmp_path: Path, runner: CliRunner) -> None:
    """Issue 15 item 6: a census of Year 2051 (a typing error) is refused, nothing written."""
    from tests.test_source_cin import TWO_REFERRALS, census

    path = census(tmp_path, TWO_REFERRALS, year="2051")
    result = runner.invoke(
        cli, ["--today", "2026-12-06", "ingest", str(path), "--processed-dir", str(tmp_path / "p")]
    )
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "cin.xml (cin-2051): its month 2050-04 is after today (2026-12-06)" in flat
    assert not (tmp_path / "p").exists()
