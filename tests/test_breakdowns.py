"""Breakdowns (issue 13 part 5): hand-made record frames with the answers worked out, and the
public tables' suppression."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from safeguard.indicators.breakdowns import breakdowns
from safeguard.indicators.catalogue import Breakdown, Catalogue, load_catalogue
from safeguard.periods import Month
from safeguard.report.breakdowns import column_withheld, tables
from tests.conftest import PIPELINES, ROOT

TEMPLATES = ROOT / "templates"

OCT = Month(2015, 10)
SEP, AUG = date(2015, 9, 1), date(2015, 8, 1)
CATALOGUE = load_catalogue(PIPELINES)


def ok(indicator: str, month: date) -> tuple[str, str]:
    return "ok", ""


def records(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A rule's record frame: month, record, numerator, denominator, reason, team, details."""
    base: dict[str, Any] = {"numerator": True, "denominator": None, "reason": "counted"}
    return pl.DataFrame([{**base, **row} for row in rows]).with_columns(
        pl.col("month").cast(pl.Date)
    )


def only(catalogue: Catalogue, *names: str) -> Catalogue:
    return catalogue.model_copy(update={"breakdowns": {n: catalogue.breakdowns[n] for n in names}})


def values(frame: pl.DataFrame, period: str, measure: str = "count") -> dict[str, float | None]:
    rows = frame.filter((pl.col("period") == period) & (pl.col("measure") == measure))
    return dict(zip(rows["group"], rows["value"], strict=True))


def test_contacts_by_source_count_every_record_once_in_its_group() -> None:
    # October: police 6 (x3), school 2A and education 2B (one each: one group), a code in no
    # group (8 is in "Other, anonymous or unknown"), "X9" in no group at all -> Other, and one
    # blank -> Not recorded. 7 contacts. September adds one police contact: 12 months = 8.
    month = OCT.first_day
    frame = records(
        [
            {"month": month, "record": "1", "cont_contact_source_code": "6"},
            {"month": month, "record": "2", "cont_contact_source_code": "6"},
            {"month": month, "record": "3", "cont_contact_source_code": "6"},
            {"month": month, "record": "4", "cont_contact_source_code": "2A"},
            {"month": month, "record": "5", "cont_contact_source_code": "2B"},
            {"month": month, "record": "6", "cont_contact_source_code": "X9"},
            {"month": month, "record": "7", "cont_contact_source_code": None},
            {"month": SEP, "record": "8", "cont_contact_source_code": "6"},
        ]
    )
    got = breakdowns(only(CATALOGUE, "contacts_by_source"), {"contacts": frame}, ok, OCT)
    month_counts = values(got, "month")
    assert month_counts["Police"] == 3
    assert month_counts["Schools and education"] == 2
    assert month_counts["Health services"] == 0  # a declared group with none: a true zero
    assert month_counts["Other"] == 1 and month_counts["Not recorded"] == 1
    assert month_counts["Total"] == 7
    assert values(got, "month", "percent")["Police"] == pytest.approx(300 / 7)
    assert values(got, "12_months")["Police"] == 4 and values(got, "12_months")["Total"] == 8
    # the declared groups in their order, then Other and Not recorded, then the total
    order = (
        got.filter(pl.col("period") == "month")
        .sort("position")["group"]
        .unique(maintain_order=True)
    )
    assert order.to_list()[:2] == ["Police", "Schools and education"]
    assert order.to_list()[-3:] == ["Other", "Not recorded", "Total"]


def test_a_period_the_indicator_cannot_cover_is_not_available_never_zero() -> None:
    # June 2015 is before the extracts' window: the 12 months to October need it, the month
    # does not.
    def status(indicator: str, month: date) -> tuple[str, str]:
        if month < date(2015, 7, 1):
            return "not available", "before the extracts' window (July 2015)"
        return "ok", ""

    frame = records([{"month": OCT.first_day, "record": "1", "cont_contact_source_code": "6"}])
    got = breakdowns(only(CATALOGUE, "contacts_by_source"), {"contacts": frame}, status, OCT)
    twelve = got.filter(pl.col("period") == "12_months")
    assert twelve.height == 1
    assert twelve["measure"][0] == "not available" and twelve["value"][0] is None
    assert "before the extracts' window" in twelve["reason"][0]
    assert values(got, "month")["Police"] == 1


def test_a_column_no_extract_held_makes_the_breakdown_not_available() -> None:
    frame = records([{"month": OCT.first_day, "record": "1"}])  # no source column
    got = breakdowns(only(CATALOGUE, "contacts_by_source"), {"contacts": frame}, ok, OCT)
    assert set(got["measure"]) == {"not available"}
    assert "cont_contact_source_code" in got["reason"][0]


def test_plans_by_category_compare_the_month_end_with_a_year_earlier() -> None:
    # a snapshot: October 2015 and October 2014, never summed over 12 months
    year_ago = OCT.shift(-12).first_day
    frame = records(
        [
            {"month": OCT.first_day, "record": "a", "category": "NEG"},
            {"month": OCT.first_day, "record": "b", "category": "EMO"},
            {"month": year_ago, "record": "a", "category": "NEG"},
            {"month": SEP, "record": "a", "category": "NEG"},  # neither period
        ]
    )
    got = breakdowns(only(CATALOGUE, "cp_plans_by_category"), {"cp_plans_open": frame}, ok, OCT)
    assert set(got["period"]) == {"month", "year_earlier"}
    assert values(got, "month")["Total"] == 2
    assert values(got, "year_earlier") == {
        "Neglect": 1,
        "Emotional abuse": 0,
        "Physical abuse": 0,
        "Sexual abuse": 0,
        "Multiple": 0,
        "Total": 1,
    }


def test_caseloads_by_team_as_the_average_caseload_is_computed() -> None:
    # Team A: caseloads 20 (1.0 FTE) and 10 (0.5 FTE): 30 cases / 1.5 FTE = 20.0; lowest 10,
    # highest 20. Team B: 25 on 1.0 FTE. All teams: 55 / 2.5 = 22.0, lowest 10, highest 25.
    rows = [("A", 20, 1.0), ("A", 10, 0.5), ("B", 25, 1.0)]
    frame = pl.DataFrame(
        {
            "month": [OCT.first_day] * 3,
            "record": ["w1", "w2", "w3"],
            "numerator": [float(r[1]) for r in rows],
            "denominator": [r[2] for r in rows],
            "reason": ["case-holding worker"] * 3,
            "team": [r[0] for r in rows],
            "caseload": [r[1] for r in rows],
        }
    )
    got = breakdowns(only(CATALOGUE, "caseload_by_team"), {"average_caseload": frame}, ok, OCT)
    assert values(got, "month", "mean") == {"A": 20.0, "B": 25.0, "All teams": 22.0}
    assert values(got, "month", "workers") == {"A": 2, "B": 1, "All teams": 3}
    assert values(got, "month", "lowest")["A"] == 10 and values(got, "month", "highest")["A"] == 20

    # in public, B (1 worker, under 5) is withheld; A is then the only other team, withheld
    # too so the all-teams row cannot give B back. Internal shows both.
    public = tables(got, only(CATALOGUE, "caseload_by_team"), OCT, "public")[0]
    assert [r[:2] for r in public.rows] == [("A", "c"), ("B", "c"), ("All teams", "3")]
    internal = tables(got, only(CATALOGUE, "caseload_by_team"), OCT, "internal")[0]
    assert [r[3] for r in internal.rows] == ["20.0", "25.0", "22.0"]


def test_stability_counts_starters_and_leavers_between_month_end_snapshots() -> None:
    # August: w1, w2, w3. September: w2, w3, w4 (w4 started, w1 left). October: w2, w4, w5
    # (w5 started, w3 left). October: 1 starter, 1 leaver. The 12 months to October compare
    # November 2014 with October 2014, and there is no snapshot before August: not available,
    # as is October 2014 (a year earlier), rather than counting every worker as a starter.
    snapshots = {
        AUG: ["w1", "w2", "w3"],
        SEP: ["w2", "w3", "w4"],
        OCT.first_day: ["w2", "w4", "w5"],
    }
    agency = {"w4", "w5"}
    frame = pl.DataFrame(
        [
            {
                "month": month,
                "record": worker,
                "numerator": 1.0 if worker in agency else 0.0,
                "denominator": 1.0,
                "reason": "agency" if worker in agency else "permanent",
            }
            for month, workers in snapshots.items()
            for worker in workers
        ]
    )

    def status(indicator: str, month: date) -> tuple[str, str]:
        return ("ok", "") if month >= AUG else ("not available", "no workforce snapshot")

    got = breakdowns(
        only(CATALOGUE, "workforce_stability"), {"agency_rate_fte": frame}, status, OCT
    )
    month = got.filter(pl.col("period") == "month")
    counts = dict(zip(month["group"] + "/" + month["measure"], month["value"], strict=True))
    assert counts["Starters/count"] == 1 and counts["Leavers/count"] == 1
    assert counts["Social workers in post/headcount"] == 3
    assert counts["of whom agency/fte"] == 2.0
    assert counts["Permanent : agency/permanent_percent"] == pytest.approx(100 / 3)
    for period in ("year_earlier", "12_months"):
        assert got.filter(pl.col("period") == period)["measure"].to_list() == ["not available"]

    table = tables(got, only(CATALOGUE, "workforce_stability"), OCT, "public")[0]
    assert ("Permanent : agency (FTE)", "33 : 67", "not available", "not available") in table.rows
    assert ("Starters", "c", "not available", "not available") in table.rows  # 1 is withheld
    assert "12 months to Oct 2015: not available (October 2014: no workforce snapshot)" in (
        table.note
    )


@pytest.mark.parametrize(
    ("counts", "hidden"),
    [
        ([10.0, 20.0, 30.0], set()),  # nothing small
        ([3.0, 20.0, 7.0, 30.0], {0, 2}),  # 3 withheld; 7, the smallest other, with it
        ([3.0, 4.0, 20.0, 27.0], {0, 1}),  # two withheld: neither found by subtraction
        ([3.0, 0.0, 20.0, 23.0], {0, 2}),  # 0 is never the second: it reveals nothing
        ([2.0, 1.0, 0.0, 3.0], {0, 1, 3}),  # a small total is withheld with its parts
        ([0.0, 0.0, 0.0], set()),  # zeros are shown
    ],
)
def test_a_column_never_leaves_one_withheld_part_beside_its_total(
    counts: list[float], hidden: set[int]
) -> None:
    assert column_withheld(counts) == hidden


def test_the_catalogue_refuses_a_breakdown_that_cannot_be_computed() -> None:
    with pytest.raises(ValidationError, match="needs `by`"):
        Breakdown(title="x", indicator="contacts")
    data = CATALOGUE.model_dump()
    data["breakdowns"] = {"bad": {"title": "x", "indicator": "contacts", "statistic": "caseload"}}
    with pytest.raises(ValidationError, match="reads the records of rule average_caseload"):
        Catalogue.model_validate(data)
    data["breakdowns"] = {"bad": {"title": "x", "indicator": "nope", "by": "team"}}
    with pytest.raises(ValidationError, match="unknown indicator nope"):
        Catalogue.model_validate(data)


def test_the_pdf_lays_narrow_tables_in_pairs_and_a_wide_one_across(tmp_path: Path) -> None:
    """A wide table (six columns) after an odd number of narrow ones starts its own row of the
    grid (Typst refuses a two-column cell in the second column)."""
    from dataclasses import replace

    from safeguard.report.pdf import render_pdf
    from safeguard.report.sample import SAMPLE_BREAKDOWNS, sample_model
    from tests.test_report_pdf import page_texts, squash

    narrow, wide = SAMPLE_BREAKDOWNS
    model = replace(sample_model(3), breakdowns=(narrow, wide, narrow, narrow, wide))
    pdf = render_pdf(model, tmp_path / "paper.pdf", template_dir=TEMPLATES)
    text = "".join(page_texts(pdf))
    assert "Behindthefigures" in text
    assert text.count(squash(wide.caption)) == 2 and text.count(squash(narrow.caption)) == 3


def test_the_breakdowns_file_columns_are_documented() -> None:
    import re

    from safeguard.indicators.breakdowns import SCHEMA

    doc = (ROOT / "docs" / "analyst-outputs.md").read_text(encoding="utf-8")
    section = doc.split("## The breakdowns behind the figures")[1]
    assert re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE) == list(SCHEMA)
