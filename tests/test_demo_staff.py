"""Demoshire's workforce, audits, complaints and compliments: contract shape and the targets
the simulation is tuned to (agency share, caseloads, audit volumes and grades)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from safeguard.demo.common import Span, TruthTable, calendar_for
from safeguard.demo.staff import (
    TEAMS,
    TITLES,
    Workforce,
    simulate_audits,
    simulate_complaints,
    simulate_compliments,
    simulate_workforce,
)
from safeguard.ingest.validate import DTYPES
from safeguard.schema import Contract, load_contract

ROOT = Path(__file__).resolve().parents[1]
SPAN = Span(date(2011, 4, 1), date(2017, 3, 31), 1.0)
SPAN10 = Span(date(2011, 4, 1), date(2017, 3, 31), 10.0)
SEPT_2013, OCT_2015, MARCH_2017 = date(2013, 9, 30), date(2015, 10, 31), date(2017, 3, 31)
SEED = 20151031
BOOKKEEPING = {"_start": pl.Date(), "_end": pl.Date()}


def known_children(seed: int, n: int = 4000) -> pl.DataFrame:
    """Children first known on random days from a year before the span to its end."""
    rng = np.random.default_rng(seed)
    first = np.datetime64("2010-04-01")
    offsets = rng.integers(0, (np.datetime64(SPAN.end) - first).astype(int) + 1, n)
    return pl.DataFrame(
        {
            "person_id": [f"P{i:06d}" for i in range(n)],
            "date": pl.Series(first + offsets).cast(pl.Date),
        }
    )


KNOWN = known_children(7)


def simulate(seed: int, span: Span) -> tuple[Workforce, TruthTable, TruthTable, TruthTable]:
    rng = np.random.default_rng(seed)
    cal = calendar_for(span)
    workforce = simulate_workforce(rng, span, cal)
    audits = simulate_audits(rng, span, cal, KNOWN)
    complaints = simulate_complaints(rng, span, cal)
    compliments = simulate_compliments(rng, span, cal)
    return workforce, audits, complaints, compliments


@pytest.fixture(scope="module")
def demo() -> tuple[Workforce, TruthTable, TruthTable, TruthTable]:
    return simulate(SEED, SPAN)


@pytest.fixture(scope="module")
def workforce(demo: tuple[Workforce, TruthTable, TruthTable, TruthTable]) -> Workforce:
    return demo[0]


@pytest.fixture(scope="module")
def audits(demo: tuple[Workforce, TruthTable, TruthTable, TruthTable]) -> pl.DataFrame:
    return demo[1].frame


@pytest.fixture(scope="module")
def complaints(demo: tuple[Workforce, TruthTable, TruthTable, TruthTable]) -> TruthTable:
    return demo[2]


@pytest.fixture(scope="module")
def compliments(demo: tuple[Workforce, TruthTable, TruthTable, TruthTable]) -> pl.DataFrame:
    return demo[3].frame


@pytest.fixture(scope="module")
def contract_() -> Contract:
    return load_contract(ROOT / "pipelines")


def agency_share(snapshot: pl.DataFrame) -> float:
    """Agency FTE / all FTE of qualified social workers."""
    qualified = snapshot.filter(pl.col("prof_qualified_sw"))
    fte = qualified["prof_full_time_equivalency"]
    return float(fte.filter(qualified["prof_agency_worker_flag"]).sum() / fte.sum())


def mean_caseload(snapshot: pl.DataFrame) -> float:
    """Cases held by case-holding workers / their FTE."""
    holding = snapshot.filter(pl.col("prof_case_holding"))
    cases = holding["prof_professional_caseload"].sum()
    return float(cases / holding["prof_full_time_equivalency"].sum())


def in_month(frame: pl.DataFrame, column: str, year: int, month: int) -> pl.DataFrame:
    return frame.filter(pl.col(column).dt.year() == year, pl.col(column).dt.month() == month)


def expected_schema(contract: Contract, table: str) -> dict[str, pl.DataType]:
    return {name: DTYPES[col.type] for name, col in contract.tables[table].columns.items()}


# --- determinism -------------------------------------------------------------------------


def test_same_seed_same_everything(
    demo: tuple[Workforce, TruthTable, TruthTable, TruthTable],
) -> None:
    again = simulate(SEED, SPAN)
    assert_frame_equal(demo[0].staff, again[0].staff)
    assert_frame_equal(demo[0].snapshot(OCT_2015), again[0].snapshot(OCT_2015))
    for first, second in zip(demo[1:], again[1:], strict=True):
        assert_frame_equal(first.frame, second.frame)
        assert first.reveal == second.reveal


def test_other_seed_differs(workforce: Workforce) -> None:
    other = simulate(SEED + 1, SPAN)[0]
    assert not workforce.snapshot(OCT_2015).equals(other.snapshot(OCT_2015))


def test_snapshot_does_not_depend_on_call_order(workforce: Workforce) -> None:
    first = workforce.snapshot(OCT_2015)
    workforce.snapshot(SEPT_2013)
    workforce.snapshot(date(2015, 9, 30))
    assert_frame_equal(workforce.snapshot(OCT_2015), first)


def test_caseloads_persist_month_to_month(workforce: Workforce) -> None:
    """A worker's caseload in November tracks October's (persistent factor, small wobble)."""
    october = workforce.snapshot(OCT_2015)
    november = workforce.snapshot(date(2015, 11, 30))
    both = october.join(november, on="prof_professional_id").filter(pl.col("prof_case_holding"))
    assert both.height > 50
    corr = np.corrcoef(
        both["prof_professional_caseload"].to_numpy(),
        both["prof_professional_caseload_right"].to_numpy(),
    )[0, 1]
    assert corr > 0.5


# --- workforce targets ---------------------------------------------------------------------


def test_october_2015_snapshot(workforce: Workforce) -> None:
    snapshot = workforce.snapshot(OCT_2015)
    assert 70 <= snapshot.height <= 110
    assert 0.33 <= agency_share(snapshot) <= 0.45
    assert 20 <= mean_caseload(snapshot) <= 28
    case_holders = snapshot.filter(pl.col("prof_case_holding") & pl.col("prof_qualified_sw"))
    assert 60 <= case_holders.height <= 80


def test_agency_share_rises_then_falls(workforce: Workforce) -> None:
    assert agency_share(workforce.snapshot(SEPT_2013)) > 0.44
    assert agency_share(workforce.snapshot(MARCH_2017)) < 0.32


def test_snapshot_rows(workforce: Workforce, contract_: Contract) -> None:
    snapshot = workforce.snapshot(OCT_2015)
    assert snapshot.schema == expected_schema(contract_, "workforce")
    assert snapshot["prof_professional_id"].is_unique().all()
    assert snapshot["prof_professional_id"].str.contains(r"^W\d{5}$").all()
    assert set(snapshot["prof_team"]) <= set(TEAMS)
    assert set(snapshot["prof_professional_job_title"]) <= set(TITLES)
    assert set(snapshot["prof_full_time_equivalency"]) <= {1.0, 0.8, 0.6, 0.5}
    # caseload exactly when case-holding; managers and family support workers hold none
    holding = snapshot["prof_case_holding"]
    assert (snapshot["prof_professional_caseload"].is_not_null() == holding).all()
    assert snapshot["prof_professional_caseload"].drop_nulls().is_between(0, 200).all()
    titles = snapshot["prof_professional_job_title"]
    assert not holding.filter(titles.is_in(["Team Manager", "Family Support Worker"])).any()
    assert not snapshot["prof_qualified_sw"].filter(titles == "Family Support Worker").any()
    assert snapshot["prof_qualified_sw"].filter(titles != "Family Support Worker").all()


def test_snapshot_is_staff_in_post(workforce: Workforce) -> None:
    staff = workforce.staff
    in_post = staff.filter(
        (pl.col("start") <= OCT_2015) & (pl.col("left").is_null() | (pl.col("left") >= OCT_2015))
    )
    assert set(workforce.snapshot(OCT_2015)["prof_professional_id"]) == set(
        in_post["prof_professional_id"]
    )
    assert (staff["left"].drop_nulls() <= SPAN.end).all()
    assert (staff.drop_nulls("left").select(pl.col("left") >= pl.col("start")).to_series()).all()


def test_turnover(workforce: Workforce) -> None:
    """Leavers a year / head count: permanent about 15%, agency about 40%; people start and
    leave throughout."""
    staff = workforce.staff
    for agency, low, high in ((False, 0.07, 0.25), (True, 0.25, 0.60)):
        group = staff.filter(pl.col("prof_agency_worker_flag") == agency)
        leavers = group.filter(pl.col("left").is_between(date(2011, 4, 1), date(2017, 3, 31)))
        in_post = [
            group.filter(
                (pl.col("start") <= d) & (pl.col("left").is_null() | (pl.col("left") >= d))
            ).height
            for d in (date(y, 9, 30) for y in range(2011, 2017))
        ]
        rate = leavers.height / 6 / np.mean(in_post)
        assert low <= rate <= high, (agency, rate)
    starts = staff.filter(pl.col("start") >= SPAN.sim_start)["start"].dt.month_start()
    # about two starters and two leavers a month at scale 1: most of the 72 months have some
    assert starts.n_unique() >= 48
    assert staff["left"].drop_nulls().dt.month_start().n_unique() >= 48


def test_scale_ten_has_ten_times_the_staff(workforce: Workforce) -> None:
    rng = np.random.default_rng(SEED)
    big = simulate_workforce(rng, SPAN10, calendar_for(SPAN10))
    for day in (SEPT_2013, OCT_2015, MARCH_2017):
        ratio = big.snapshot(day).height / workforce.snapshot(day).height
        assert 8.5 <= ratio <= 11.5
    snapshot = big.snapshot(OCT_2015)
    assert snapshot["prof_professional_id"].is_unique().all()
    assert 0.35 <= agency_share(snapshot) <= 0.43
    assert 22 <= mean_caseload(snapshot) <= 27


# --- audits -----------------------------------------------------------------------------------


def test_audits_october_2015(audits: pl.DataFrame) -> None:
    october = in_month(audits, "audi_audit_date", 2015, 10)
    assert 18 <= october.height <= 36
    good = october["audi_grade"].is_in(["OUTSTANDING", "GOOD"]).mean()
    assert good is not None
    assert 0.5 <= float(good) <= 0.8


def test_audits_over_the_span(audits: pl.DataFrame) -> None:
    per_month = audits.height / 72
    assert 22 <= per_month <= 30
    good = audits["audi_grade"].is_in(["OUTSTANDING", "GOOD"]).mean()
    assert good is not None
    assert 0.6 <= float(good) <= 0.72


def test_audit_rows(audits: pl.DataFrame, contract_: Contract) -> None:
    assert audits.schema == {**expected_schema(contract_, "audits"), **BOOKKEEPING}
    assert audits["audi_audit_id"].is_unique().all()
    assert audits["audi_audit_id"].str.contains(r"^AU\d{6}$").all()
    assert set(audits["audi_grade"]) <= set(contract_.codes["audit_grade"].codes)
    assert set(audits["audi_team"]) <= set(TEAMS)
    assert audits["audi_audit_date"].equals(audits["_start"], check_names=False)
    assert audits["audi_audit_date"].equals(audits["_end"], check_names=False)
    dates = audits["audi_audit_date"].to_numpy()
    assert calendar_for(SPAN).is_working_day(dates).all()
    assert audits["audi_audit_date"].is_between(SPAN.sim_start, SPAN.end).all()


def test_audited_children_were_known_by_then(audits: pl.DataFrame) -> None:
    first_known = KNOWN.group_by("person_id").agg(pl.col("date").min())
    joined = audits.join(first_known, left_on="audi_person_id", right_on="person_id", how="left")
    named = joined.filter(pl.col("audi_person_id").is_not_null())
    assert named.height == audits.height  # every audit finds someone: KNOWN starts before
    assert named["date"].is_not_null().all()
    assert (named["date"] <= named["audi_audit_date"]).all()


def test_audits_with_nobody_known_name_nobody() -> None:
    nobody = pl.DataFrame(schema={"person_id": pl.String, "date": pl.Date})
    frame = simulate_audits(np.random.default_rng(1), SPAN, calendar_for(SPAN), nobody).frame
    assert frame.height > 0
    assert frame["audi_person_id"].is_null().all()
    assert frame.schema["audi_person_id"] == pl.String


# --- complaints and compliments -----------------------------------------------------------


def test_complaint_rows(complaints: TruthTable, contract_: Contract) -> None:
    frame = complaints.frame
    assert frame.schema == {**expected_schema(contract_, "complaints"), **BOOKKEEPING}
    assert complaints.reveal == {"comp_outcome": "comp_closed_date"}
    assert frame["comp_complaint_id"].is_unique().all()
    assert frame["comp_complaint_id"].str.contains(r"^CMP\d{6}$").all()
    assert set(frame["comp_stage"]) <= set(contract_.codes["complaint_stage"].codes)
    outcomes = set(frame["comp_outcome"].drop_nulls())
    assert outcomes <= set(contract_.codes["complaint_outcome"].codes)
    assert frame["comp_received_date"].is_between(SPAN.sim_start, SPAN.end).all()
    assert frame["comp_received_date"].equals(frame["_start"], check_names=False)
    assert frame["comp_closed_date"].equals(frame["_end"], check_names=False)
    closed = frame.drop_nulls("comp_closed_date")
    assert (closed["comp_closed_date"] >= closed["comp_received_date"]).all()
    assert (closed["comp_closed_date"] <= SPAN.end).all()
    # an outcome exactly when closed; only the last few months' complaints are still open
    assert (frame["comp_outcome"].is_null() == frame["comp_closed_date"].is_null()).all()
    still_open = frame.filter(pl.col("comp_closed_date").is_null())
    assert (still_open["comp_received_date"] >= date(2016, 9, 1)).all()


def test_complaint_mix(complaints: TruthTable) -> None:
    frame = complaints.frame
    assert 8 <= frame.height / 72 <= 12
    stage1 = (frame["comp_stage"] == "1").mean()
    assert stage1 is not None
    assert 0.78 <= float(stage1) <= 0.92
    closed = frame.drop_nulls("comp_closed_date")
    took = calendar_for(SPAN).elapsed(
        closed["comp_received_date"].to_numpy(), closed["comp_closed_date"].to_numpy()
    )
    stage = closed["comp_stage"].to_numpy()
    assert np.mean(took[stage == "1"] <= 20) > 0.75
    assert 30 <= np.median(took[stage == "2"]) <= 70
    shares = closed["comp_outcome"].value_counts(normalize=True)
    share = dict(zip(shares["comp_outcome"], shares["proportion"], strict=True))
    assert 0.35 <= share["NOT_UPHELD"] <= 0.55
    assert 0.15 <= share["UPHELD"] <= 0.35


def test_compliment_rows(compliments: pl.DataFrame, contract_: Contract) -> None:
    assert compliments.schema == {**expected_schema(contract_, "compliments"), **BOOKKEEPING}
    assert compliments["cmpl_compliment_id"].is_unique().all()
    assert compliments["cmpl_compliment_id"].str.contains(r"^CML\d{6}$").all()
    assert set(compliments["cmpl_team"]) <= set(TEAMS)
    assert compliments["cmpl_received_date"].is_between(SPAN.sim_start, SPAN.end).all()
    assert compliments["cmpl_received_date"].equals(compliments["_start"], check_names=False)
    assert compliments["cmpl_received_date"].equals(compliments["_end"], check_names=False)
    assert 6 <= compliments.height / 72 <= 10


def test_quieter_in_august_and_at_christmas(
    audits: pl.DataFrame, complaints: TruthTable, compliments: pl.DataFrame
) -> None:
    """Records per working day, over the whole span: August and late December are quieter."""
    cal = calendar_for(SPAN)
    workdays = pl.Series(cal.working_days(SPAN.sim_start, SPAN.end)).cast(pl.Date)
    dates = pl.concat(
        [
            audits["audi_audit_date"],
            complaints.frame["comp_received_date"],
            compliments["cmpl_received_date"],
        ]
    )

    def rate(keep: pl.Expr) -> float:
        records = pl.select(dates.alias("d")).filter(keep).height
        return records / pl.select(workdays.alias("d")).filter(keep).height

    august = pl.col("d").dt.month() == 8
    christmas = (pl.col("d").dt.month() == 12) & (pl.col("d").dt.day() >= 20)
    usual = rate(~august & ~christmas)
    assert rate(august) < 0.9 * usual
    assert rate(christmas) < 0.7 * usual


def test_codes_and_dtypes_at_scale_ten(contract_: Contract) -> None:
    rng = np.random.default_rng(3)
    cal = calendar_for(SPAN10)
    audits = simulate_audits(rng, SPAN10, cal, KNOWN).frame
    complaints = simulate_complaints(rng, SPAN10, cal).frame
    compliments = simulate_compliments(rng, SPAN10, cal).frame
    assert 220 <= audits.height / 72 <= 300
    assert 80 <= complaints.height / 72 <= 120
    assert 60 <= compliments.height / 72 <= 100
    for table, frame in (
        ("audits", audits),
        ("complaints", complaints),
        ("compliments", compliments),
    ):
        assert frame.schema == {**expected_schema(contract_, table), **BOOKKEEPING}
        assert frame[contract_.tables[table].id].is_unique().all()
