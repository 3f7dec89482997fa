"""DfE comparators: EES reading with suppression symbols, statistical neighbours, rank,
quartile and population, checked against Herefordshire's (884) published figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from safeguard.errors import ConfigError, DataError
from safeguard.indicators.catalogue import (
    Authority,
    DfeMeasure,
    Indicator,
    Kind,
    Polarity,
    Population,
    Unit,
)
from safeguard.indicators.comparators import (
    REASONS,
    STATUS_SUFFIX,
    SUPPRESSION_CODES,
    comparators,
    load_neighbours,
    measure_columns,
    per_10000,
    period_label,
    population,
    rate_per_10000,
    read_ees_csv,
)
from safeguard.indicators.scorecard import Comparators
from safeguard.periods import Month

DFE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "dfe"
C1 = "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"
B1 = "b1_children_in_need_2013_to_2025.csv"
D3 = "d3_cpps_subsequent_plan_2013_to_2025.csv"
D5 = "d5_cpps_at31march_by_duration_2013_to_2025.csv"
CLA = "cla_number_and_rate_per_10k_children.csv"
CSWW = "csww_indicators_2017_to_2025.csv"
STABILITY = "la_cla_placement_stability.csv"
ONS = "ons_mid-year_population_estimates_2012_to_2024.csv"
SN_2021 = "New_Statistical_Neighbour_Groupings_April_2021.csv"
SN_2025 = "sn_model_2025_wide.csv"

needs_dfe = pytest.mark.skipif(
    not DFE.is_dir(), reason=f"the DfE reference files are not beside the checkout ({DFE})"
)

# Herefordshire's statistical neighbours as the files give them.
# April 2021 model: Shropshire 893, Devon 878, Cornwall 908, Somerset 933, Dorset 838,
#   Wiltshire 865, Suffolk 935, Norfolk 926, Gloucestershire 916, Cumbria 909.
# May 2025 model: Westmorland and Furness 943, Staffordshire 860, Lincolnshire 925,
#   Shropshire 893, Somerset 933, Lancashire 888, Suffolk 935, East Riding 811,
#   North Yorkshire 815, Derbyshire 830.
HEREFORDSHIRE_SN_2021 = ["893", "878", "908", "933", "838", "865", "935", "926", "916", "909"]
HEREFORDSHIRE_SN_2025 = ["943", "860", "925", "893", "933", "888", "935", "811", "815", "830"]


@pytest.fixture(scope="module")
def ees() -> dict[str, pl.DataFrame]:
    """The real files, read once (only when the shared folder is present)."""
    return {name: read_ees_csv(DFE / name) for name in (C1, B1, D3, D5, CLA, CSWW, STABILITY, ONS)}


@pytest.fixture(scope="module")
def sn2021() -> pl.DataFrame:
    return load_neighbours(DFE / SN_2021)


@pytest.fixture(scope="module")
def sn2025() -> pl.DataFrame:
    return load_neighbours(DFE / SN_2025)


# --------------------------------------------------------------------------- real files


@needs_dfe
@pytest.mark.shared
def test_herefordshire_referrals_and_rereferrals_2016(
    ees: dict[str, pl.DataFrame], sn2021: pl.DataFrame
) -> None:
    referrals = comparators(ees[C1], "referral_count", "884", sn2021, "2016")
    assert referrals.value == 2992
    assert referrals.year == "2016"
    assert referrals.time_period == "2016"
    assert referrals.la_name == "Herefordshire, County of"
    assert referrals.la_new_code == "E06000019"
    rereferrals = comparators(ees[C1], "rereferral_percent", "E06000019", sn2021, "2016")
    assert rereferrals.value == 21.4
    assert rereferrals.la_code == "884"
    assert rereferrals.authority.status is None
    assert rereferrals.authority.reason is None


@needs_dfe
@pytest.mark.shared
def test_herefordshire_cp_plans_and_rate_2016(ees: dict[str, pl.DataFrame]) -> None:
    # D5 holds CP plans at 31 March; B1 holds children in need only.
    assert "CPP_At31" not in ees[B1].columns
    plans = comparators(ees[D5], "CPP_At31", "884", None, "2016")
    assert plans.value == 228
    people = population(ees[ONS], "884")
    mid_2015 = people.filter(pl.col("mid_year") == 2015).row(0, named=True)
    assert mid_2015["population"] == 35276
    assert mid_2015["reporting_year"] == "2016"
    assert mid_2015["status"] is None
    assert rate_per_10000(228, 35276) == 64.6
    # B1's children in need at 31 March on the same population: LAIT's 468.3.
    cin = comparators(ees[B1], "At31_episodes", "884", None, "2016")
    assert cin.value == 1652
    assert rate_per_10000(1652, 35276) == 468.3


@needs_dfe
@pytest.mark.shared
def test_herefordshire_other_anchor_values(ees: dict[str, pl.DataFrame]) -> None:
    expected = {"2014": (2579, 22.3, 258, 17.8), "2015": (4551, 40.7, 213, 20.7)}
    for year, (referrals, rereferrals, starts, subsequent) in expected.items():
        assert comparators(ees[C1], "referral_count", "884", None, year).value == referrals
        assert comparators(ees[C1], "rereferral_percent", "884", None, year).value == rereferrals
        assert comparators(ees[D3], "CPP_start", "884", None, year).value == starts
        assert comparators(ees[D3], "CPP_subsequent_percent", "884", None, year).value == (
            subsequent
        )
    england = {"2014": 15.8, "2015": 16.6, "2016": 17.9}
    for year, percent in england.items():
        second = comparators(ees[D3], "CPP_subsequent_percent", "884", None, year)
        assert second.england.value == percent
    people = dict(population(ees[ONS], "E06000019").select("mid_year", "population").rows())
    assert (people[2013], people[2014], people[2015]) == (35673, 35508, 35276)


@needs_dfe
@pytest.mark.shared
def test_real_suppressed_values_are_null_with_their_reason(ees: dict[str, pl.DataFrame]) -> None:
    d5 = ees[D5]
    row = d5.filter((pl.col("old_la_code") == "884") & (pl.col("time_period") == "2016")).row(
        0, named=True
    )
    # Herefordshire 2016: plans lasting 2 years or more suppressed (c), secondary too.
    assert row["2_years_or_more"] is None
    assert row["2_years_or_more" + STATUS_SUFFIX] == "c"
    assert row["1_year_less_than_2_years"] is None
    assert row["1_year_less_than_2_years" + STATUS_SUFFIX] == "c"
    assert row["CPP_At31" + STATUS_SUFFIX] is None

    long_plans = comparators(d5, "2_years_or_more", "884", None, "2016")
    assert long_plans.value is None
    assert long_plans.authority.status == "c"
    assert long_plans.authority.reason == SUPPRESSION_CODES["c"]
    assert long_plans.rank is None
    assert long_plans.quartile is None
    assert long_plans.rank_reason is not None and "c" in long_plans.rank_reason
    assert any("confidential" in note for note in long_plans.notes)

    # South Tyneside 2016 re-referrals: x (not available).
    tyneside = comparators(ees[C1], "rereferral_percent", "393", None, "2016")
    assert tyneside.value is None
    assert tyneside.authority.status == "x"
    # Herefordshire's own 2024 referrals were published as u (low reliability).
    unreliable = comparators(ees[C1], "referral_count", "884", None, "2024")
    assert unreliable.value is None
    assert unreliable.authority.status == "u"
    # Workforce: Sunderland's agency rate is "low" (rounds to 0, is not 0).
    sunderland = comparators(ees[CSWW], "agency_rate_fte", "394", None, "2025")
    assert sunderland.value is None
    assert sunderland.authority.status == "low"
    # No symbol became a number anywhere: every status row has a null value.
    for frame in ees.values():
        for measure in measure_columns(frame):
            coded = frame.filter(pl.col(measure + STATUS_SUFFIX).is_not_null())
            assert coded[measure].null_count() == coded.height


@needs_dfe
@pytest.mark.shared
def test_england_and_regional_values(ees: dict[str, pl.DataFrame]) -> None:
    hereford = comparators(ees[C1], "rereferral_percent", "884", None, "2016")
    assert hereford.england.value == 22.5
    assert hereford.region_name == "West Midlands"
    assert hereford.region_code == "E12000005"
    assert hereford.region.value == 20.9
    newcastle = comparators(ees[C1], "rereferral_percent", "391", None, "2016")
    assert newcastle.region_name == "North East"
    assert newcastle.region.value == 20.6
    assert newcastle.england.value == 22.5
    # National and regional counts are rounded to the nearest 10.
    counts = comparators(ees[C1], "referral_count", "884", None, "2016")
    assert counts.england.value == 621470
    assert counts.region.value == 70570
    # London boroughs sit in Inner or Outer London, not in the London row.
    camden = comparators(ees[C1], "rereferral_percent", "202", None, "2016")
    assert camden.region_name == "Inner London"
    assert camden.region.value == 14.6
    anchors = {"2014": 23.5, "2015": 24.2}
    for year, percent in anchors.items():
        assert comparators(ees[C1], "rereferral_percent", "884", None, year).england.value == (
            percent
        )


@needs_dfe
@pytest.mark.shared
def test_statistical_neighbours_rereferrals_2016(
    ees: dict[str, pl.DataFrame], sn2021: pl.DataFrame, sn2025: pl.DataFrame
) -> None:
    # 2021 model: Dorset 838 was formed in 2019, so 2016 has no row for it; 9 of 10 count:
    # 19.4, 20.6, 16.7, 23.8, 19.1, 23.4, 24.3, 25.2, 24.3.
    result = comparators(ees[C1], "rereferral_percent", "884", sn2021, "2016")
    assert [n.la_code for n in result.neighbours] == HEREFORDSHIRE_SN_2021
    assert (result.sn_count, result.sn_total) == (9, 10)
    assert result.sn_mean == pytest.approx(196.8 / 9)
    assert result.sn_mean is not None and round(result.sn_mean, 1) == 21.9
    assert result.sn_median == 23.4
    dorset = result.neighbours[4]
    assert (dorset.la_code, dorset.figure.status, dorset.figure.value) == ("838", "missing", None)
    assert result.neighbours[0].la_name == "Shropshire"
    assert result.neighbours[0].figure.value == 19.4
    assert result.neighbours[0].closeness == "Extremely close"

    # 2025 model: Westmorland and Furness 943 only exists from 2023.
    newer = comparators(ees[C1], "rereferral_percent", "884", sn2025, "2016")
    assert [n.la_code for n in newer.neighbours] == HEREFORDSHIRE_SN_2025
    assert (newer.sn_count, newer.sn_total) == (9, 10)
    assert newer.sn_mean == pytest.approx(19.1)
    assert newer.sn_median == 19.4
    assert newer.neighbours[0].figure.status == "missing"


@needs_dfe
@pytest.mark.shared
def test_rank_and_quartile(ees: dict[str, pl.DataFrame]) -> None:
    result = comparators(ees[C1], "rereferral_percent", "884", None, "2016")
    # 152 authorities in 2016; Isles of Scilly (c) and South Tyneside (x) have no value.
    assert result.rank_of == 150
    assert result.rank == 56
    assert result.quartiles == pytest.approx((16.125, 19.5, 23.8))
    assert result.quartile == "B"

    year = ees[C1].filter(
        (pl.col("time_period") == "2016") & (pl.col("geographic_level") == "Local authority")
    )
    ranked = {
        code: comparators(ees[C1], "rereferral_percent", code, None, "2016")
        for code in year["old_la_code"].to_list()
    }
    ranks = [r.rank for r in ranked.values() if r.rank is not None]
    assert len(ranks) == 150
    assert min(ranks) == 1 and max(ranks) <= 150
    top = max((r for r in ranked.values() if r.value is not None), key=lambda r: r.value or 0)
    bottom = min((r for r in ranked.values() if r.value is not None), key=lambda r: r.value or 0)
    assert (top.rank, top.quartile) == (1, "A")
    assert bottom.quartile == "D"
    bands = [r.quartile for r in ranked.values() if r.quartile]
    for band in "ABCD":
        assert 30 <= bands.count(band) <= 45  # about a quarter each, ties allowed
    assert ranked["420"].rank is None  # Isles of Scilly: c


@needs_dfe
@pytest.mark.shared
def test_latest_year_and_labels(ees: dict[str, pl.DataFrame]) -> None:
    latest = comparators(ees[C1], "referral_count", "884", None)
    assert (latest.time_period, latest.year) == ("2025", "2025")
    assert latest.value == 1806
    with pytest.raises(ConfigError, match="2017"):
        comparators(ees[CSWW], "agency_rate_fte", "884", None, "2016")
    # Reporting-year files are not silently matched with financial-year labels.
    with pytest.raises(ConfigError, match="not in the file"):
        comparators(ees[C1], "referral_count", "884", None, "2015-16")


@needs_dfe
@pytest.mark.shared
def test_files_with_filter_columns(ees: dict[str, pl.DataFrame], sn2025: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match="population_type"):
        comparators(ees[CLA], "rate_per_10000", "884", sn2025, "2024")
    looked_after = {"population_type": "Children looked after on 31 March each year"}
    rate = comparators(ees[CLA], "rate_per_10000", "884", sn2025, "2024", filters=looked_after)
    assert rate.value == 113
    count = comparators(ees[CLA], "children_count", "884", sn2025, "2024", filters=looked_after)
    assert count.value == 387
    assert rate.filters == (("population_type", looked_after["population_type"]),)
    # The CLA file keeps Cumbria after its 2023 split, as z.
    cumbria = comparators(ees[CLA], "rate_per_10000", "909", None, "2024", filters=looked_after)
    assert cumbria.authority.status == "z"
    stability = {
        "cla_group": "CLA on 31 March",
        "placement_stability": "With 3 or more placements during the year",
    }
    moves = comparators(ees[STABILITY], "children_percent", "884", None, "2025", filters=stability)
    assert moves.value == 10
    with pytest.raises(ConfigError, match="matches no row"):
        comparators(ees[CLA], "rate_per_10000", "884", None, filters={"population_type": "x"})


@needs_dfe
@pytest.mark.shared
def test_neighbour_files(sn2021: pl.DataFrame, sn2025: pl.DataFrame) -> None:
    mine = sn2021.filter(pl.col("la_code") == "884").sort("position")
    assert mine["neighbour_code"].to_list() == HEREFORDSHIRE_SN_2021
    assert mine["model"].unique().to_list() == ["2021"]
    newer = sn2025.filter(pl.col("la_code") == "884").sort("position")
    assert newer["neighbour_code"].to_list() == HEREFORDSHIRE_SN_2025
    assert newer["closeness"].unique().to_list() == ["Very close"]
    for table, authorities in ((sn2021, 156), (sn2025, 153)):
        counts = table.group_by("la_code").len()
        assert counts.height == authorities
        assert counts["len"].unique().to_list() == [10]
    old = sn2021.filter(pl.col("superseded"))["la_code"].unique().sort().to_list()
    assert old == ["835", "836", "837", "928"]
    assert not sn2025["superseded"].any()


@needs_dfe
@pytest.mark.shared
def test_population_suppressed_before_reorganisation(ees: dict[str, pl.DataFrame]) -> None:
    dorset = population(ees[ONS], "835").row(0, named=True)
    assert dorset["population"] is None
    assert dorset["status"] == "x"
    assert dorset["reason"] == REASONS["x"]


# --------------------------------------------------------------------------- hand-built

HEADER = (
    "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
    "region_name,old_la_code,new_la_code,la_name,category,cases,percent\n"
)
NAT = "Financial year,National,E92000001,England,,,,,,All"
REG = "Financial year,Regional,E92000001,England,E12000005,West Midlands,,,,All"


def _la(code: int, name: str) -> str:
    return (
        f"Financial year,Local authority,E92000001,England,E12000005,West Midlands,"
        f'{code},E0600{code:04d},"{name}",All'
    )


def _write(tmp_path: Path, text: str, *, bom: bool = False, name: str = "ees.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


SYMBOLS = ["c", "k", "u", "x", "z", "low", ":", ".."]


def _coded_file() -> str:
    lines = [HEADER, f"201516,{NAT},1000,12.5\n", f"201516,{REG},200,11.0\n"]
    lines.append(f"201516,{_la(800, 'Zero, Borough of')},0,0\n")
    for number, symbol in enumerate(SYMBOLS, start=801):
        lines.append(f"201516,{_la(number, f'Coded {number}')},{symbol},{symbol}\n")
    lines.append(f"201415,{_la(800, 'Zero, Borough of')},7,3.5\n")
    return "".join(lines)


@pytest.mark.parametrize("bom", [True, False])
def test_bom_and_quoted_names(tmp_path: Path, bom: bool) -> None:
    text = HEADER.replace("time_period", '"time_period"').replace("cases", '"cases"')
    text += f'201516,{NAT},"10",5\n'
    text += f"201516,{_la(884, 'Herefordshire, County of')},7,1.5\n"
    frame = read_ees_csv(_write(tmp_path, text, bom=bom))
    assert frame.columns[0] == "time_period"
    assert "cases" in frame.columns
    assert frame["la_name"].to_list() == [None, "Herefordshire, County of"]
    assert frame["old_la_code"].to_list() == [None, "884"]
    assert frame.schema["cases"] == pl.Int64
    assert frame.schema["percent"] == pl.Float64
    assert frame.schema["old_la_code"] == pl.String
    assert frame["cases"].to_list() == [10, 7]


def test_every_symbol_is_null_with_its_reason(tmp_path: Path) -> None:
    frame = read_ees_csv(_write(tmp_path, _coded_file(), bom=True))
    assert measure_columns(frame) == ["cases", "percent"]
    assert frame.schema["category"] == pl.String  # a filter column stays text
    coded = frame.filter(pl.col("old_la_code").is_in([str(n) for n in range(801, 809)]))
    assert coded["cases" + STATUS_SUFFIX].to_list() == SYMBOLS
    assert coded["percent" + STATUS_SUFFIX].to_list() == SYMBOLS
    assert coded["cases"].null_count() == len(SYMBOLS)
    assert coded["percent"].null_count() == len(SYMBOLS)
    zero = frame.filter((pl.col("old_la_code") == "800") & (pl.col("time_period") == "201516"))
    assert zero.row(0, named=True)["cases"] == 0  # a published zero stays zero
    assert zero.row(0, named=True)["cases" + STATUS_SUFFIX] is None
    for number, symbol in enumerate(SYMBOLS, start=801):
        result = comparators(frame, "cases", str(number), None, "2015-16")
        assert result.value is None
        assert result.authority.status == symbol
        assert result.authority.reason == SUPPRESSION_CODES[symbol]
        assert result.rank is None and result.quartile is None
    zero_result = comparators(frame, "cases", "800", None, "2015-16")
    assert zero_result.rank_of == 1  # only the published zero is ranked
    assert (zero_result.rank, zero_result.value) == (1, 0.0)


def test_older_release_dots_and_blank(tmp_path: Path) -> None:
    text = (
        HEADER
        + f"2014,{NAT},..,x\n"
        + f"2014,{_la(884, 'Herefordshire')},..,\n"
        + f"2014,{_la(885, 'Worcestershire')},12,..\n"
    )
    frame = read_ees_csv(_write(tmp_path, text))
    assert frame["cases" + STATUS_SUFFIX].to_list() == ["..", "..", None]
    assert frame["percent" + STATUS_SUFFIX].to_list() == ["x", "blank", ".."]
    assert frame["percent"].to_list() == [None, None, None]
    result = comparators(frame, "cases", "884", None)
    assert result.year == "2014"
    assert result.authority.status == ".."
    assert result.england.status == ".."
    assert result.region.status == "missing"  # no Regional row in this file
    assert comparators(frame, "percent", "884", None).authority.reason == REASONS["blank"]


def test_symbols_in_upper_case_and_with_spaces(tmp_path: Path) -> None:
    text = HEADER + f"2016,{_la(884, 'Herefordshire')}, C ,Low\n"
    frame = read_ees_csv(_write(tmp_path, text))
    row = frame.row(0, named=True)
    assert (row["cases"], row["cases" + STATUS_SUFFIX]) == (None, "c")
    assert (row["percent"], row["percent" + STATUS_SUFFIX]) == (None, "low")


def test_unknown_text_keeps_a_column_as_text(tmp_path: Path) -> None:
    text = HEADER + f"2016,{_la(884, 'Herefordshire')},-,1\n" + f"2016,{_la(885, 'W')},4,2\n"
    frame = read_ees_csv(_write(tmp_path, text))
    assert frame.schema["cases"] == pl.String
    assert frame["cases"].to_list() == ["-", "4"]
    assert "cases" + STATUS_SUFFIX not in frame.columns
    with pytest.raises(DataError, match="holds text"):
        comparators(frame, "cases", "884", None)
    with pytest.raises(ConfigError, match="no column"):
        comparators(frame, "nothing", "884", None)


def test_period_labels_and_year_choice(tmp_path: Path) -> None:
    assert period_label("201516") == "2015-16"
    assert period_label("201920") == "2019-20"
    assert period_label("199900") == "1999-00"
    assert period_label("2016") == "2016"
    assert period_label("201599") == "201599"  # not a year span: left alone
    frame = read_ees_csv(_write(tmp_path, _coded_file()))
    assert comparators(frame, "cases", "800", None).year == "2015-16"  # latest
    assert comparators(frame, "cases", "800", None, "2014-15").value == 7
    assert comparators(frame, "cases", "800", None, "201415").time_period == "201415"
    with pytest.raises(ConfigError, match="2014-15"):
        comparators(frame, "cases", "800", None, "2016")


def test_authority_codes(tmp_path: Path) -> None:
    frame = read_ees_csv(_write(tmp_path, _coded_file()))
    by_new = comparators(frame, "percent", "E06000800", None, "2014-15")
    assert (by_new.la_code, by_new.value) == ("800", 3.5)
    with pytest.raises(ConfigError, match="not in the file"):
        comparators(frame, "cases", "999", None)
    with pytest.raises(ConfigError, match="expected 3 digits"):
        comparators(frame, "cases", "Herefordshire", None)
    # An authority in the file but without a row that year.
    absent = comparators(frame, "cases", "801", None, "2014-15")
    assert absent.authority.status == "missing"


def _ranked_file(values: list[float]) -> str:
    lines = [HEADER, f"2016,{NAT},1,1\n"]
    for number, value in enumerate(values, start=801):
        lines.append(f"2016,{_la(number, f'LA {number}')},{number},{value}\n")
    return "".join(lines)


def test_rank_ties_and_quartile_boundaries(tmp_path: Path) -> None:
    frame = read_ees_csv(_write(tmp_path, _ranked_file([10, 20, 20, 30, 40])))
    results = {n: comparators(frame, "percent", str(n), None) for n in range(801, 806)}
    assert [results[n].rank for n in range(801, 806)] == [5, 3, 3, 2, 1]
    assert {r.rank_of for r in results.values()} == {5}
    # R type-7 quartiles of 10, 20, 20, 30, 40: 20, 20, 30.
    assert results[801].quartiles == (20.0, 20.0, 30.0)
    # LAIT "high" banding: A above the upper quartile; a value on a cut takes the lower band.
    assert [results[n].quartile for n in range(801, 806)] == ["D", "D", "D", "B", "A"]


def test_neighbour_mean_median_and_missing(tmp_path: Path) -> None:
    frame = read_ees_csv(_write(tmp_path, _ranked_file([10, 20, 20, 30, 40])))
    sn = tmp_path / "sn.csv"
    row = "801,LA 801,8,West Midlands," + ",".join(
        f"{code},Close " for code in (802, 803, 804, 805, 806, 807, 808, 809, 810, 811)
    )
    header = "old_la_code,la_name,region_ind,region_name," + ",".join(
        f"SN_{i},SN_{i}P" for i in range(1, 11)
    )
    sn.write_text(f"\ufeff{header}\n{row}\n", encoding="utf-8")
    neighbours = load_neighbours(sn)
    assert neighbours["closeness"].unique().to_list() == ["Close"]
    result = comparators(frame, "percent", "801", neighbours)
    assert (result.sn_count, result.sn_total) == (4, 10)
    assert result.sn_mean == 27.5
    assert result.sn_median == 25.0
    assert sum(n.figure.status == "missing" for n in result.neighbours) == 6
    lonely = comparators(frame, "percent", "802", neighbours)
    assert lonely.sn_total == 0 and lonely.sn_mean is None
    assert lonely.sn_reason is not None and "no statistical neighbours" in lonely.sn_reason
    assert comparators(frame, "percent", "801", None).sn_reason is not None


def test_neighbours_2021_format(tmp_path: Path) -> None:
    header = "LA num,LA Name,LA number,GOInd,GOReg," + "".join(f"SN{i},SNP," for i in range(1, 11))

    def row(code: int, name: str) -> str:
        cells = "".join(f"{900 + i},Very Close," for i in range(1, 11))
        return f'{code},"{name}",{code},8,West Midlands,{cells}'

    blank = "," * 25
    text = (
        "\n".join(
            [
                header,
                row(884, "Herefordshire"),
                blank,
                ",Old SNs:" + "," * 24,
                blank,
                row(835, "Dorset (Pre LG)"),
            ]
        )
        + "\n"
    )
    path = tmp_path / "sn2021.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    table = load_neighbours(path)
    assert table.height == 20
    assert table.filter(pl.col("la_code") == "884")["superseded"].to_list() == [False] * 10
    assert table.filter(pl.col("la_code") == "835")["superseded"].to_list() == [True] * 10
    assert table["closeness"].unique().to_list() == ["Very close"]
    assert table["model"].unique().to_list() == ["2021"]


def test_bad_neighbour_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a statistical neighbour file"):
        load_neighbours(_write(tmp_path, "a,b\n1,2\n"))
    header = "old_la_code,la_name,region_ind,region_name," + ",".join(
        f"SN_{i},SN_{i}P" for i in range(1, 11)
    )
    short = header + "\n884,H,8,WM,893,Close\n"
    with pytest.raises(DataError, match="neighbour 2"):
        load_neighbours(_write(tmp_path, short, name="short.csv"))


def test_bad_ees_files(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(HEADER.encode() + "2016,Hérefordshire".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_ees_csv(bad)
    with pytest.raises(DataError, match="no time_period"):
        read_ees_csv(_write(tmp_path, "year,value\n2016,1\n", name="b.csv"))
    with pytest.raises(DataError, match="repeated column names"):
        read_ees_csv(_write(tmp_path, "time_period,geographic_level,a,a\n", name="c.csv"))
    with pytest.raises(DataError, match="cannot read"):
        read_ees_csv(tmp_path / "absent.csv")


def test_several_rows_per_geography_need_filters(tmp_path: Path) -> None:
    text = (
        HEADER
        + f"2016,{_la(884, 'H')},1,1\n"
        + f"2016,{_la(884, 'H')},2,2\n".replace(",All,", ",Other,")
    )
    frame = read_ees_csv(_write(tmp_path, text))
    with pytest.raises(ConfigError, match="category"):
        comparators(frame, "cases", "884", None)
    assert comparators(frame, "cases", "884", None, filters={"category": "Other"}).value == 2
    with pytest.raises(ConfigError, match="no such column"):
        comparators(frame, "cases", "884", None, filters={"nope": "x"})


def test_population_needs_a_population_file(tmp_path: Path) -> None:
    frame = read_ees_csv(_write(tmp_path, _coded_file()))
    with pytest.raises(DataError, match="population_estimate"):
        population(frame, "884")


def test_rate_per_10000_rounds_half_up() -> None:
    assert rate_per_10000(1, 40_000) == 0.3  # exactly 0.25: Python's round() gives 0.2
    assert rate_per_10000(228, 35_276, decimals=2) == 64.63
    assert rate_per_10000(387, 34_260, decimals=0) == 113
    with pytest.raises(ValueError, match="positive"):
        rate_per_10000(1, 0)


# --------------------------------------------------------------------------- rates from counts


@needs_dfe
@pytest.mark.shared
def test_herefordshire_cp_rate_per_10000_from_counts_2016(
    ees: dict[str, pl.DataFrame], sn2021: pl.DataFrame
) -> None:
    rates = per_10000(ees[D5], "CPP_At31", ees[ONS])
    result = comparators(rates, "CPP_At31_per_10000", "884", sn2021, "2016")
    # 228 plans at 31 March 2016 / 35,276 children (mid-2015) x 10,000 = 64.63 -> 64.6
    assert result.value == 64.6
    row = rates.filter((pl.col("old_la_code") == "884") & (pl.col("time_period") == "2016"))
    assert row.select("CPP_At31", "population_0_17").row(0) == (228, 35276)
    # England: 50,310 (published rounded to 10) / 11,593,891 x 10,000 = 43.39 -> 43.4
    assert result.england.value == 43.4
    # West Midlands: 5,460 / 1,262,361 x 10,000 = 43.25 -> 43.3
    assert (result.region_name, result.region.value) == ("West Midlands", 43.3)
    # neighbours on the same footing: Dorset (838) has no 2016 row, so 9 of 10
    assert (result.sn_count, result.sn_total) == (9, 10)
    assert result.neighbours[0].figure.value == 45.0  # Shropshire
    # Dorset's old county (835): the revised estimates hold no pre-2019 figure for it
    dorset = comparators(rates, "CPP_At31_per_10000", "835", None, "2016")
    assert dorset.authority.status == "no population"
    assert dorset.authority.reason == REASONS["no population"]
    # children in need at 31 March 2016, the same way: 1,652 / 35,276 x 10,000 = 468.3 (LAIT)
    cin = per_10000(ees[B1], "At31_episodes", ees[ONS])
    assert comparators(cin, "At31_episodes_per_10000", "884", None, "2016").value == 468.3
    # referrals in 2016: 2,992 / 35,276 x 10,000 = 848.2
    referrals = per_10000(ees[C1], "referral_count", ees[ONS])
    assert comparators(referrals, "referral_count_per_10000", "884", None, "2016").value == 848.2


POP_HEADER = (
    "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
    "region_name,old_la_code,new_la_code,la_name,age_group,population_estimate\n"
)
CHILDREN = "Children aged 0 to 17 years"


def _population_file() -> str:
    # mid-2015 estimates (used by reporting year 2016), and a mid-2016 one that must not be
    lines = [
        POP_HEADER,
        f"2015,{NAT},{CHILDREN},400000\n",
        f"2015,{REG},{CHILDREN},50000\n",
        f"2015,{_la(801, 'LA 801')},{CHILDREN},10000\n",
        f"2015,{_la(801, 'LA 801')},Children aged 0 to 4 years,1\n",
        f"2015,{_la(802, 'LA 802')},{CHILDREN},4000\n",
        f"2015,{_la(803, 'LA 803')},{CHILDREN},5000\n",
        f"2015,{_la(805, 'LA 805')},{CHILDREN},12000\n",
        f"2016,{_la(801, 'LA 801')},{CHILDREN},99999\n",
    ]
    return "".join(lines).replace(",All,", ",")


def _count_file() -> str:
    # reporting year 2016: counts only, as d5 / c1 / b1 publish them
    lines = [
        HEADER,
        f"2016,{NAT},1000,1\n",
        f"2016,{REG},200,1\n",
        f"2016,{_la(801, 'LA 801')},30,1\n",
        f"2016,{_la(802, 'LA 802')},7,1\n",
        f"2016,{_la(803, 'LA 803')},c,1\n",
        f"2016,{_la(804, 'LA 804')},9,1\n",
        f"2016,{_la(805, 'LA 805')},45,1\n",
    ]
    return "".join(lines)


def test_rates_per_10000_from_counts_by_hand(tmp_path: Path) -> None:
    counts = read_ees_csv(_write(tmp_path, _count_file(), name="counts.csv"))
    people = read_ees_csv(_write(tmp_path, _population_file(), name="people.csv"))
    rates = per_10000(counts, "cases", people)
    by_code = {
        (row["geographic_level"], row["old_la_code"]): row for row in rates.iter_rows(named=True)
    }
    # England 1,000 / 400,000 x 10,000 = 25.0; West Midlands 200 / 50,000 x 10,000 = 40.0
    assert by_code[("National", None)]["cases_per_10000"] == 25.0
    assert by_code[("Regional", None)]["cases_per_10000"] == 40.0
    # 801: 30 / 10,000 (mid-2015, not mid-2016's 99,999; not the 0-4 row) x 10,000 = 30.0
    assert by_code[("Local authority", "801")]["population_0_17"] == 10000
    assert by_code[("Local authority", "801")]["cases_per_10000"] == 30.0
    # 802: 7 / 4,000 x 10,000 = 17.5; 805: 45 / 12,000 x 10,000 = 37.5
    assert by_code[("Local authority", "802")]["cases_per_10000"] == 17.5
    assert by_code[("Local authority", "805")]["cases_per_10000"] == 37.5
    # a suppressed count keeps its symbol; a count without an estimate has no rate
    assert by_code[("Local authority", "803")]["cases_per_10000" + STATUS_SUFFIX] == "c"
    assert by_code[("Local authority", "804")]["cases_per_10000" + STATUS_SUFFIX] == (
        "no population"
    )
    assert by_code[("Local authority", "804")]["cases_per_10000"] is None

    result = comparators(rates, "cases_per_10000", "801", None)
    assert (result.value, result.england.value, result.region.value) == (30.0, 25.0, 40.0)
    # ranked among 17.5, 30.0 and 37.5 (803 and 804 have no rate)
    assert (result.rank, result.rank_of) == (2, 3)
    # a financial year 2015-16 takes mid-2015 too: 12 / 10,000 x 10,000 = 12.0
    span = read_ees_csv(
        _write(tmp_path, HEADER + f"201516,{_la(801, 'LA 801')},12,1\n", name="span.csv")
    )
    assert per_10000(span, "cases", people)["cases_per_10000"].to_list() == [12.0]
    with pytest.raises(DataError, match="population_estimate"):
        per_10000(counts, "cases", counts)
    with pytest.raises(ConfigError, match="no column"):
        per_10000(counts, "nothing", people)


def test_rank_and_quartile_by_polarity(tmp_path: Path) -> None:
    frame = read_ees_csv(_write(tmp_path, _ranked_file([10, 20, 20, 30, 40])))
    results = {n: comparators(frame, "percent", str(n), None) for n in range(801, 806)}
    codes = range(801, 806)
    # higher is better (and neutral): 1 = highest, as published
    assert [results[n].rank_for("higher") for n in codes] == [5, 3, 3, 2, 1]
    assert [results[n].rank_for("neutral") for n in codes] == [5, 3, 3, 2, 1]
    assert [results[n].quartile_for("higher") for n in codes] == ["D", "D", "D", "B", "A"]
    # lower is better: 1 = lowest; 10 -> 1, the two 20s share 2, 30 -> 4, 40 -> 5
    assert [results[n].rank_for("lower") for n in codes] == [1, 2, 2, 4, 5]
    # quartiles 20, 20, 30: A below 20, B below the median 20 (none), C below 30, D the rest
    assert [results[n].quartile_for("lower") for n in codes] == ["A", "C", "C", "D", "D"]
    coded = read_ees_csv(_write(tmp_path, _coded_file(), name="coded.csv"))
    suppressed = comparators(coded, "cases", "801", None, "2015-16")
    assert suppressed.rank_for("lower") is None and suppressed.quartile_for("lower") is None


# --------------------------------------------------------------------------- the scorecard's view


def _sn_2021(rows: dict[int, list[int]]) -> str:
    header = "LA num,LA Name,LA number,GOInd,GOReg," + "".join(f"SN{i},SNP," for i in range(1, 11))
    lines = [header]
    for code, neighbours in rows.items():
        cells = "".join(f"{n},Close," for n in neighbours)
        lines.append(f"{code},LA {code},{code},5,West Midlands,{cells}")
    return "\n".join(lines) + "\n"


def _sn_2025(rows: dict[int, list[int]]) -> str:
    header = "old_la_code,la_name,region_ind,region_name," + ",".join(
        f"SN_{i},SN_{i}P" for i in range(1, 11)
    )
    lines = [header]
    for code, neighbours in rows.items():
        cells = ",".join(f"{n},Close" for n in neighbours)
        lines.append(f"{code},LA {code},5,West Midlands,{cells}")
    return "\n".join(lines) + "\n"


def _rate_indicator(unit: str = "rate_per_10k", polarity: str = "neutral") -> Indicator:
    return Indicator(
        title="Children on a plan per 10,000",
        definition="test",
        rule="cp_plans_open",
        unit=Unit(unit),
        kind=Kind.SNAPSHOT,
        polarity=Polarity(polarity),
        dfe=DfeMeasure(
            file="counts.csv", measure="cases", per_10000=True, population_file="people.csv"
        ),
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _write(tmp_path, _count_file(), name="counts.csv")
    _write(tmp_path, _population_file(), name="people.csv")
    # 2021 groupings: 801's neighbours 802 and 805 (17.5 and 37.5), then 8 with no row
    _write(tmp_path, _sn_2021({801: [802, 805, *range(811, 819)]}), name=SN_2021)
    # 2025 model: 805 (37.5), 803 (c), then 8 with no row
    _write(tmp_path, _sn_2025({801: [805, 803, *range(821, 829)]}), name=SN_2025)
    return tmp_path


def _authority(folder: Path, **changes: Any) -> Authority:
    return Authority(
        name="Test",
        la_code="801",
        population=Population(vintage="test", children_0_17={2015: 10000}),
        reference_dir=folder,
        **changes,
    )


def test_scorecard_compares_a_rate_made_from_counts(folder: Path) -> None:
    row = Comparators(_authority(folder)).compare(_rate_indicator(), Month(2016, 12))
    # 801: 30 / 10,000 x 10,000 = 30.0; England 1,000 / 400,000 -> 25.0; region 200 / 50,000
    assert (row["dfe_year"], row["dfe_authority"]) == ("2016", 30.0)
    assert (row["dfe_england"], row["dfe_region"]) == (25.0, 40.0)
    # the 2021 groupings are in force in December 2016: 802 17.5 and 805 37.5 -> mean 27.5
    assert row["dfe_sn_model"] == f"April 2021 groupings ({SN_2021})"
    assert (row["dfe_sn_count"], row["dfe_sn_mean"]) == (2, 27.5)
    # rank among 17.5, 30.0, 37.5; quartiles 23.75, 30, 33.75: 30.0 is in band C either way
    assert (row["dfe_rank"], row["dfe_rank_of"], row["dfe_quartile"]) == (2, 3, "C")
    assert row["dfe_rank_order"] == "rank 1 and band A = highest (neither is better)"
    lower = Comparators(_authority(folder)).compare(
        _rate_indicator(polarity="lower"), Month(2016, 12)
    )
    assert (lower["dfe_rank"], lower["dfe_quartile"]) == (2, "C")
    assert lower["dfe_rank_order"] == "rank 1 and band A = lowest (lower is better)"
    # the population file missing: no rate, and the note names the file only
    (folder / "people.csv").unlink()
    row = Comparators(_authority(folder)).compare(_rate_indicator(), Month(2016, 12))
    assert row["dfe_authority"] is None
    assert row["dfe_note"] == "no rate: people.csv is not held: run `safeguard reference update`"


def test_a_count_is_never_compared_with_englands_count(folder: Path) -> None:
    count = _rate_indicator(unit="count").model_copy(
        update={"dfe": DfeMeasure(file="counts.csv", measure="cases")}
    )
    row = Comparators(_authority(folder)).compare(count, Month(2016, 12))
    assert row["dfe_england"] is None and row["dfe_authority"] is None
    assert row["dfe_note"] == "not compared: a count is compared only as a rate per 10,000"


def test_no_comparator_held_is_said_in_the_note(folder: Path) -> None:
    none = _rate_indicator().model_copy(
        update={"dfe": DfeMeasure(note="no published comparator held")}
    )
    row = Comparators(_authority(folder)).compare(none, Month(2016, 12))
    assert row["dfe_note"] == "no published comparator held"
    assert row["dfe_year"] is None
    with pytest.raises(ValueError, match="both file and measure"):
        DfeMeasure(file="counts.csv")
    with pytest.raises(ValueError, match="note must say why"):
        DfeMeasure()


def test_the_neighbour_group_in_force_at_the_papers_month(folder: Path) -> None:
    comparators_ = Comparators(_authority(folder))
    indicator = _rate_indicator()
    # before May 2025 (and before April 2021 too: the oldest held) the 2021 groupings
    for month in (Month(2016, 12), Month(2021, 3), Month(2025, 4)):
        assert comparators_.compare(indicator, month)["dfe_sn_mean"] == 27.5, month
    # from May 2025 the 2025 model: 805 37.5 (803 is c) -> 1 of 10, mean 37.5
    row = comparators_.compare(indicator, Month(2025, 5))
    assert row["dfe_sn_model"] == f"May 2025 model ({SN_2025})"
    assert (row["dfe_sn_count"], row["dfe_sn_mean"]) == (1, 37.5)
    # a list `safeguard init` copied from the 2025 model still follows the date
    copied = _authority(
        folder,
        neighbours=("805", "803"),
        neighbours_source=f"DfE statistical neighbours, May 2025 model ({SN_2025})",
    )
    assert Comparators(copied).compare(indicator, Month(2016, 12))["dfe_sn_mean"] == 27.5
    # a group the council chose itself is kept at every date: 802 alone -> 17.5
    own = _authority(folder, neighbours=("802",), neighbours_source="our peer group")
    for month in (Month(2016, 12), Month(2025, 6)):
        row = Comparators(own).compare(indicator, month)
        assert (row["dfe_sn_mean"], row["dfe_sn_model"]) == (17.5, "our peer group")
    # only the 2025 model held: it serves earlier papers too (the oldest held)
    (folder / SN_2021).unlink()
    assert Comparators(_authority(folder)).compare(indicator, Month(2016, 12))["dfe_sn_mean"] == (
        37.5
    )
