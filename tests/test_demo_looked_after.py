"""Demoshire children looked after: volumes, episode chains, codes, ages, reviews, contract."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from safeguard.demo.common import People, Span, TruthTable, calendar_for
from safeguard.demo.looked_after import simulate_looked_after
from safeguard.schema import Contract, load_contract

SIM_START, END = date(2011, 4, 1), date(2017, 3, 31)
CENSUS = date(2015, 10, 31)
DTYPES = {"id": pl.String, "text": pl.String, "code": pl.String, "date": pl.Date}

Result = tuple[dict[str, TruthTable], People]


def make_candidates(scale: float, seed: int = 1) -> pl.DataFrame:
    """Referred children: about 2,000 referrals a year per unit of scale, some children referred
    more than once, a few unborn at referral."""
    rng = np.random.default_rng(seed)
    start, end = np.datetime64(SIM_START, "D"), np.datetime64(END, "D")
    born_from = np.datetime64("1993-01-01", "D")
    n_children = int(9000 * scale)
    child_dob = born_from + rng.integers(0, int((end - born_from).astype(int)) + 120, n_children)
    n = int(12000 * scale)
    child = rng.integers(0, n_children, n)
    referred = start + rng.integers(0, int((end - start).astype(int)) + 1, n)
    dob = child_dob[child]
    keep = (dob <= referred + 120) & (dob > referred - 18 * 365)
    return pl.DataFrame(
        {
            "person_id": pl.Series(child[keep]).cast(pl.String).str.zfill(7),
            "dob": pl.Series(dob[keep]).cast(pl.Date),
            "date": pl.Series(referred[keep]).cast(pl.Date),
        }
    ).with_columns(pl.concat_str(pl.lit("C"), pl.col("person_id")).alias("person_id"))


def run(scale: float, seed: int = 2015, candidates: pl.DataFrame | None = None) -> Result:
    span = Span(SIM_START, END, scale)
    pool = make_candidates(scale) if candidates is None else candidates
    return simulate_looked_after(np.random.default_rng(seed), span, calendar_for(span), pool)


@pytest.fixture(scope="module")
def scale1() -> Result:
    return run(1.0)


@pytest.fixture(scope="module")
def scale10() -> Result:
    return run(10.0)


@pytest.fixture(scope="module")
def episodes(scale1: Result) -> pl.DataFrame:
    return scale1[0]["cla_episodes"].frame


@pytest.fixture(scope="module")
def reviews(scale1: Result) -> pl.DataFrame:
    return scale1[0]["cla_reviews"].frame


@pytest.fixture(scope="module")
def dobs(scale1: Result) -> pl.DataFrame:
    """person_id -> dob for every child: candidates and the minted stock."""
    minted = scale1[1].frame.select(
        pl.col("pers_person_id").alias("person_id"), pl.col("pers_dob").alias("dob")
    )
    return pl.concat([make_candidates(1.0).select("person_id", "dob").unique(), minted])


def age_on(dob: pl.Expr, when: pl.Expr) -> pl.Expr:
    """Whole years (a 29 February birthday falls on 1 March)."""
    before = (when.dt.month() < dob.dt.month()) | (
        (when.dt.month() == dob.dt.month()) & (when.dt.day() < dob.dt.day())
    )
    return when.dt.year() - dob.dt.year() - before.cast(pl.Int32)


def looked_after_on(episodes: pl.DataFrame, day: date) -> pl.DataFrame:
    start, ceased = pl.col("clae_cla_episode_start_date"), pl.col("clae_cla_episode_ceased_date")
    return episodes.filter((start <= day) & (ceased.is_null() | (ceased > day)))


def with_periods(episodes: pl.DataFrame) -> pl.DataFrame:
    """Episodes in order per child, numbered by period of care (a new one after a real REC)."""
    previous_reason = pl.col("clae_cla_episode_ceased_reason").shift(1).over("clae_person_id")
    return episodes.sort("clae_person_id", "clae_cla_episode_start_date").with_columns(
        previous_ceased=pl.col("clae_cla_episode_ceased_date").shift(1).over("clae_person_id"),
        previous_reason=previous_reason,
        period=(previous_reason.is_null() | (previous_reason != "X1"))
        .cast(pl.Int32)
        .cum_sum()
        .over("clae_person_id"),
    )


def test_deterministic_for_a_seed(scale1: Result) -> None:
    again = run(1.0)
    for name, table in scale1[0].items():
        assert table.frame.equals(again[0][name].frame), name
        assert table.reveal == again[0][name].reveal
    assert scale1[1].frame.equals(again[1].frame)
    other = run(1.0, seed=99)
    assert not other[0]["cla_episodes"].frame.equals(scale1[0]["cla_episodes"].frame)


def test_children_looked_after_volumes(scale1: Result, scale10: Result) -> None:
    one = looked_after_on(scale1[0]["cla_episodes"].frame, CENSUS)["clae_person_id"].n_unique()
    ten = looked_after_on(scale10[0]["cla_episodes"].frame, CENSUS)["clae_person_id"].n_unique()
    assert 230 <= one <= 300
    assert 0.8 * 10 * one <= ten <= 1.2 * 10 * one


def test_starts_and_ends_per_month(episodes: pl.DataFrame) -> None:
    in_span = pl.col("m").is_between(date(2012, 4, 1), date(2017, 3, 1))
    starts = (
        episodes.filter(pl.col("clae_cla_episode_start_reason") == "S")
        .select(pl.col("clae_cla_episode_start_date").dt.truncate("1mo").alias("m"))
        .filter(in_span)
    )
    ends = (
        episodes.filter(pl.col("clae_cla_episode_ceased_reason") != "X1")
        .drop_nulls("clae_cla_episode_ceased_date")
        .select(pl.col("clae_cla_episode_ceased_date").dt.truncate("1mo").alias("m"))
        .filter(in_span)
    )
    assert 8 <= starts.height / 60 <= 12.5
    assert 7 <= ends.height / 60 <= 12.5


def test_stock_in_care_on_the_first_day(scale1: Result, episodes: pl.DataFrame) -> None:
    people = scale1[1].frame
    assert people.columns == [
        "pers_person_id",
        "pers_sex",
        "pers_ethnicity",
        "pers_dob",
        "pers_unborn",
        "pers_disability",
    ]
    assert people.dtypes == [pl.String, pl.String, pl.String, pl.Date, pl.Boolean, pl.Boolean]
    assert people["pers_person_id"].str.contains(r"^PLA\d{6}$").all()
    assert people["pers_person_id"].is_unique().all()
    assert set(people["pers_sex"]) <= {"M", "F"}
    assert (people["pers_ethnicity"] == "WBRI").sum() > 0.7 * people.height
    assert 0.03 * people.height < people["pers_disability"].sum() < 0.15 * people.height
    assert not people["pers_unborn"].any()
    assert 150 <= people.height <= 260
    on_day_one = set(looked_after_on(episodes, SIM_START)["clae_person_id"])
    assert set(people["pers_person_id"]) <= on_day_one
    first = (
        episodes.filter(pl.col("clae_person_id").str.starts_with("PLA"))
        .group_by("clae_person_id")
        .agg(pl.col("clae_cla_episode_start_date").min())
    )
    assert first.filter(pl.col("clae_cla_episode_start_date") >= SIM_START).is_empty()
    assert first.filter(pl.col("clae_cla_episode_start_date") < date(2009, 4, 1)).height > 20


def test_episodes_chain_within_a_period_and_never_overlap(episodes: pl.DataFrame) -> None:
    ordered = with_periods(episodes)
    later = ordered.drop_nulls("previous_reason")
    # no overlap: nothing after an open episode, each episode starts on or after the last ended
    assert later["previous_ceased"].null_count() == 0
    assert (later["clae_cla_episode_start_date"] >= later["previous_ceased"]).all()
    chained = later.filter(pl.col("previous_reason") == "X1")
    assert (chained["clae_cla_episode_start_date"] == chained["previous_ceased"]).all()
    assert (chained["clae_cla_episode_start_reason"] != "S").all()
    new_period = later.filter(pl.col("previous_reason") != "X1")
    assert (new_period["clae_cla_episode_start_date"] > new_period["previous_ceased"]).all()
    firsts = ordered.filter(pl.col("previous_reason").ne_missing("X1"))
    assert (firsts["clae_cla_episode_start_reason"] == "S").all()
    assert (ordered["clae_cla_episode_start_reason"] == "S").sum() == firsts.height
    # a ceased date exactly when a reason; each episode ends after it starts
    ceased = ordered["clae_cla_episode_ceased_date"]
    assert (ceased.is_null() == ordered["clae_cla_episode_ceased_reason"].is_null()).all()
    ended = ordered.drop_nulls("clae_cla_episode_ceased_date")
    assert (ended["clae_cla_episode_ceased_date"] > ended["clae_cla_episode_start_date"]).all()
    # a few children have a second period of care
    periods = ordered.group_by("clae_person_id").agg(pl.col("period").max())
    assert 0 < (periods["period"] > 1).sum() < 0.15 * periods.height


def test_codes_are_in_their_lists(
    contract: Contract, episodes: pl.DataFrame, reviews: pl.DataFrame
) -> None:
    for name, frame in (("cla_episodes", episodes), ("cla_reviews", reviews)):
        for column, spec in contract.tables[name].columns.items():
            if spec.codes is None:
                continue
            values = set(frame[column].drop_nulls())
            assert values, column
            assert values <= set(contract.codes[spec.codes].codes), column
    assert set(episodes["clae_cla_episode_start_reason"]) == {"S", "P", "L", "T"}
    legal = episodes["clae_cla_legal_status"].value_counts(normalize=True)
    share = dict(zip(legal["clae_cla_legal_status"], legal["proportion"], strict=True))
    assert share["C1"] + share["C2"] + share["V2"] + share["E1"] > 0.85
    placement = episodes["clae_cla_placement_type"]
    assert placement.str.starts_with("U").sum() > 0.5 * placement.len()
    assert {"K2", "P1", "A5", "A6", "H5"} <= set(placement)
    reasons = set(episodes["clae_cla_episode_ceased_reason"].drop_nulls())
    assert {"X1", "E4A", "E11", "E17", "E8"} <= reasons


def test_ages_at_episodes(episodes: pl.DataFrame, dobs: pl.DataFrame) -> None:
    joined = episodes.join(
        dobs, left_on="clae_person_id", right_on="person_id", how="left", validate="m:1"
    )
    assert joined["dob"].null_count() == 0
    start, ceased = pl.col("clae_cla_episode_start_date"), pl.col("clae_cla_episode_ceased_date")
    ages = joined.select(
        at_start=age_on(pl.col("dob"), start),
        day_before_ceased=age_on(pl.col("dob"), ceased.dt.offset_by("-1d")),
        born=pl.col("dob") <= start,
    )
    assert ages["born"].all()
    assert ages["at_start"].min() == 0
    assert ages["at_start"].max() == 17
    assert ages["day_before_ceased"].drop_nulls().max() == 17  # ended by the 18th birthday


def test_three_or_more_placements(episodes: pl.DataFrame) -> None:
    in_care = looked_after_on(episodes, CENSUS)["clae_person_id"].unique()
    window = date(2014, 10, 31)
    placements = (
        episodes.sort("clae_person_id", "clae_cla_episode_start_date")
        .with_columns(
            placement=(pl.col("clae_cla_episode_start_reason") != "L")
            .cum_sum()
            .over("clae_person_id")
        )
        .group_by("clae_person_id", "placement")
        .agg(
            pl.col("clae_cla_episode_start_date").min().alias("start"),
            pl.col("clae_cla_episode_ceased_date").last().alias("ceased"),
        )
        .filter(
            pl.col("clae_person_id").is_in(in_care.implode())
            & (pl.col("start") <= CENSUS)
            & (pl.col("ceased").is_null() | (pl.col("ceased") > window))
        )
        .group_by("clae_person_id")
        .len()
    )
    assert placements.height == in_care.len()
    assert 0.04 * in_care.len() <= (placements["len"] >= 3).sum() <= 0.2 * in_care.len()
    assert (placements["len"] == 1).sum() > 0.5 * in_care.len()


def test_reviews(scale1: Result, reviews: pl.DataFrame, episodes: pl.DataFrame) -> None:
    span = Span(SIM_START, END)
    cal = calendar_for(span)
    periods = (
        with_periods(episodes)
        .group_by("clae_person_id", "period")
        .agg(
            pl.col("clae_cla_episode_start_date").min().alias("start"),
            pl.col("clae_cla_episode_ceased_date").last().alias("ceased"),
        )
    )
    matched = reviews.join(periods, left_on="clar_person_id", right_on="clae_person_id").filter(
        (pl.col("clar_cla_review_date") > pl.col("start"))
        & (pl.col("ceased").is_null() | (pl.col("clar_cla_review_date") < pl.col("ceased")))
    )
    assert matched.height == reviews.height  # every review inside one period of care
    first = matched.sort("clar_cla_review_date").group_by("clar_person_id", "period").first()
    elapsed = cal.elapsed(
        first["start"].to_numpy().astype("datetime64[D]"),
        first["clar_cla_review_date"].to_numpy().astype("datetime64[D]"),
    )
    assert (elapsed <= 20).mean() >= 0.8
    late = reviews.filter(pl.col("clar_cla_review_date") > pl.col("clar_cla_review_due_date"))
    assert 0.05 * reviews.height <= late.height <= 0.15 * reviews.height
    very_late = pl.col("clar_cla_review_due_date").dt.offset_by("21d")
    assert late.filter(pl.col("clar_cla_review_date") > very_late).is_empty()
    assert reviews["clar_iro_id"].str.contains(r"^IRO\d{2}$").all()
    assert reviews["clar_cla_review_id"].str.contains(r"^CLR\d{7}$").all()
    assert reviews["clar_cla_review_id"].is_unique().all()
    assert episodes["clae_cla_episode_id"].str.contains(r"^E\d{7}$").all()
    assert episodes["clae_cla_episode_id"].is_unique().all()
    assert (reviews["_start"] == reviews["clar_cla_review_date"]).all()
    assert (reviews["_end"] == reviews["clar_cla_review_date"]).all()


def test_participation_pn0_exactly_under_4(reviews: pl.DataFrame, dobs: pl.DataFrame) -> None:
    joined = reviews.join(dobs, left_on="clar_person_id", right_on="person_id", validate="m:1")
    assert joined.height == reviews.height
    under_4 = age_on(pl.col("dob"), pl.col("clar_cla_review_date")) < 4
    pn0 = pl.col("clar_cla_review_participation") == "PN0"
    assert joined.select((under_4 == pn0).all()).item()
    older = joined.filter(~under_4)["clar_cla_review_participation"].value_counts(normalize=True)
    share = dict(zip(older["clar_cla_review_participation"], older["proportion"], strict=True))
    assert sum(share.get(f"PN{i}", 0) for i in (1, 2, 3, 4)) > 0.6
    assert 0 < share["PN7"] < 0.1


def test_columns_and_types_match_the_contract(
    contract: Contract, scale1: Result, episodes: pl.DataFrame
) -> None:
    tables = scale1[0]
    assert set(tables) == {"cla_episodes", "cla_reviews"}
    for name, table in tables.items():
        columns = contract.tables[name].columns
        expected = {column: DTYPES[spec.type.value] for column, spec in columns.items()}
        expected |= {"_start": pl.Date, "_end": pl.Date}
        assert dict(table.frame.schema) == expected, name
        assert table.frame.columns == [*columns, "_start", "_end"]
    assert tables["cla_episodes"].reveal == {
        "clae_cla_episode_ceased_reason": "clae_cla_episode_ceased_date"
    }
    assert (episodes["_start"] == episodes["clae_cla_episode_start_date"]).all()
    assert episodes.select(
        (pl.col("_end").eq_missing(pl.col("clae_cla_episode_ceased_date"))).all()
    ).item()
    assert episodes.filter((pl.col("_start") > END) | (pl.col("_end") > END)).is_empty()


def test_contract_loads_from_the_pipelines_folder() -> None:
    contract = load_contract(Path("pipelines"))
    assert "cla_episodes" in contract.tables


def test_no_candidates_still_gives_the_stock() -> None:
    empty = pl.DataFrame(schema={"person_id": pl.String, "dob": pl.Date, "date": pl.Date})
    tables, people = run(1.0, candidates=empty)
    assert people.frame.height > 100
    assert tables["cla_episodes"].frame["clae_person_id"].str.starts_with("PLA").all()
