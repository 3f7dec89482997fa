"""The analyst outputs: ``data.csv`` (tidy) and ``data.xlsx`` (README, dashboard, a wide sheet of
months, the tidy figures, definitions).

The dashboard and the wide sheet hold each value rounded as the paper prints it (the catalogue's
``decimals``, rounded exactly as ``fmt`` rounds) with the unrounded value beside it on the
dashboard; the tidy sheet and ``data.csv`` hold every figure unrounded with its status and
reason. A figure that is not available or not applicable is a blank cell, never 0. No cell is a
formula, and the same inputs give the same bytes: the workbook's creation date is the month's
first day, never the clock. Nothing here names a child: the figures are authority-level sums.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path
from typing import Any

import polars as pl

from safeguard.indicators.catalogue import Authority, Catalogue, Indicator
from safeguard.periods import Month
from safeguard.report.commentary import year_label
from safeguard.report.model import Table
from safeguard.report.suppress import KEY, WITHHELD, Cell

WORKBOOK_TITLE = "Children's safeguarding performance data"

CSV_COLUMNS: dict[str, str] = {
    "indicator": "the indicator's code in pipelines/indicators.yaml",
    "title": "the indicator's title as printed in the paper",
    "month": "the month, as its first day (YYYY-MM-DD)",
    "value": "the figure, unrounded; blank when the status is not ok (never 0 for a missing one)",
    "numerator": "what was counted (children, enquiries, FTE); blank when not available",
    "denominator": (
        "what it was divided by: blank for a count; for a rate per 10,000 the population aged "
        "0-17 divided by 10,000"
    ),
    "records": "the number of records the indicator's rule found for the month; blank when not "
    "available",
    "status": "ok, not applicable (nothing in the denominator) or not available",
    "reason": "why a figure is not ok; for an ok figure a note (e.g. the population estimate "
    "used), else blank",
    "unit": "count, percent (0-100), rate_per_10k or ratio",
    "decimals": "the decimal places the paper prints the value with",
}
"""``data.csv``'s columns, in order, with their meaning (also the README sheet's and the docs')."""

SHEETS: dict[str, str] = {
    "README": "this sheet: what each sheet holds, for which month, authority and audience",
    "Dashboard": (
        "one row per indicator in the paper's order for the month: the value as printed and "
        "unrounded, numerator, denominator, previous month, same month last year, target, RAG, "
        "SPC variation and assurance with the limits, DfE comparators and their year"
    ),
    "By month": "one row per indicator, one column per month (24 months), values as printed",
    "Tidy": "one row per indicator and month, unrounded, with each figure's status and reason "
    "(the same rows and columns as data.csv)",
    "Definitions": "each indicator's title, definition, unit, polarity, source rule and DfE "
    "measure",
    "Breakdowns": "the paper's tables behind the figures (by source, category, grade, team; "
    "staff stability), as printed, withheld cells included",
}
TEAM_SHEET = "By team"


def shown(value: float | None, decimals: int) -> float | None:
    """``value`` rounded as the paper prints it (``fmt``'s ``f"{value:.{decimals}f}"``: correctly
    rounded from the binary value, so 0.35 to 1 place is 0.3); None stays None."""
    if value is None or math.isnan(value):
        return None
    return round(value, decimals) + 0.0  # + 0.0: no negative zero


def number_format(unit: str, decimals: int) -> str:
    """The Excel number format of a value: a percent is held as 0-100 and shown with a %."""
    places = "." + "0" * decimals if decimals > 0 else ""
    if unit == "percent":
        return f'0{places}"%"'
    return f"#,##0{places}"


def _quantity(value: float | None) -> tuple[float | None, str]:
    """A numerator or denominator to one decimal place (FTE), with its format: whole numbers
    shown whole."""
    if value is None or math.isnan(value):
        return None, WHOLE
    rounded = round(value, 1) + 0.0
    return rounded, WHOLE if rounded.is_integer() else ONE_PLACE


WHOLE, ONE_PLACE = "#,##0", "#,##0.0"
MONTH_FORMAT = "mmm yyyy"


# ---------------------------------------------------------------------------------------------
# the tables


def _stage_of(spec: Indicator) -> Any:
    """The indicator's journey stage, when the catalogue declares one (None otherwise)."""
    return getattr(spec, "stage", None)


def _kind_of(spec: Indicator) -> str | None:
    """The measure's kind as the catalogue declares it ("rolling (12 months)"), or None."""
    kind = getattr(spec, "kind", None)
    if kind is None:
        return None
    window = getattr(spec, "window_months", None)
    return f"{kind} ({window} months)" if window else str(kind)


def _kinds(catalogue: Catalogue, order: list[str]) -> Column | None:
    kinds = [_kind_of(catalogue.indicators[name]) for name in order]
    return None if all(kind is None for kind in kinds) else Column("Kind", kinds)


def _stage_label(stage: Any) -> str:
    text = str(stage.value if isinstance(stage, Enum) else stage).replace("_", " ")
    return text[:1].upper() + text[1:]


def paper_order(card: pl.DataFrame, catalogue: Catalogue) -> tuple[list[str], bool]:
    """The indicators in the paper's order (the scorecard's, which is the catalogue's),
    grouped by journey stage when the catalogue declares one; and whether it does."""
    names = card.get_column("indicator").to_list()
    stages = [_stage_of(catalogue.indicators[name]) for name in names]
    if all(stage is None for stage in stages):
        return names, False
    first_seen: dict[Any, int] = {}
    for stage in stages:
        first_seen.setdefault(stage, len(first_seen))
    members: list[Any] = []
    if all(isinstance(stage, Enum) for stage in stages):
        declared: type[Enum] = type(stages[0])
        members = list(declared)

    def rank(stage: Any) -> int:
        return members.index(stage) if stage in members else first_seen[stage]

    order = sorted(range(len(names)), key=lambda i: (rank(stages[i]), i))
    return [names[i] for i in order], True


def tidy(figures: pl.DataFrame, order: list[str]) -> pl.DataFrame:
    """``data.csv``: one row per indicator and month (paper order, then month), unrounded."""
    position = pl.DataFrame(
        {"indicator": order, "_position": list(range(len(order)))},
        schema={"indicator": pl.String, "_position": pl.Int64},
    )
    return (
        figures.join(position, on="indicator", how="inner")
        .sort("_position", "month")
        .select(
            "indicator",
            "title",
            "month",
            "value",
            "numerator",
            "denominator",
            # a month not computed found no records: blank, not 0
            pl.when(pl.col("status") != "not available").then(pl.col("records")).alias("records"),
            "status",
            pl.col("reason").fill_null(""),
            "unit",
            pl.col("decimals").cast(pl.Int64),
        )
    )


def _spc_limits(card: pl.DataFrame) -> dict[str, tuple[float | None, float | None, float | None]]:
    """Each indicator's SPC mean, lower and upper process limits at the paper's month, as the
    scorecard computed them (None where it ran no SPC)."""
    return {
        name: (mean, lower, upper)
        for name, mean, lower, upper in card.select(
            "indicator", "spc_mean", "spc_lower", "spc_upper"
        ).iter_rows()
    }


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its header, its cells (None: blank), their number formats (one
    for all, or one per cell) and its width (None: from the cells)."""

    header: str
    cells: Sequence[object]
    formats: str | Sequence[str | None] | None = None
    width: float | None = None
    wrap: bool = False

    def format_of(self, row: int) -> str | None:
        if self.formats is None or isinstance(self.formats, str):
            return self.formats
        return self.formats[row]


def _dashboard(
    card: pl.DataFrame,
    series: pl.DataFrame,
    catalogue: Catalogue,
    order: list[str],
    staged: bool,
    month: Month | None = None,
    withheld: frozenset[Cell] = frozenset(),
) -> list[Column]:
    rows = {row["indicator"]: row for row in card.iter_rows(named=True)}

    def hide(back: int) -> list[bool]:
        if month is None or not withheld:
            return [False] * len(order)
        first = month.shift(-back).first_day
        return [(name, first) in withheld for name in order]

    def mask(cells: list[Any], hidden: list[bool]) -> list[Any]:
        return [WITHHELD if h and c is not None else c for c, h in zip(cells, hidden, strict=True)]

    now, before, year_ago = hide(0), hide(1), hide(12)
    # SPC limits come from every month: with a withheld month among them, they could give it
    # back, so they are left blank (the variation and assurance words stay)
    touched = {name for name, _ in withheld}
    no_limits = [name in touched for name in order]
    ordered = [rows[name] for name in order]
    decimals = [int(row["decimals"]) for row in ordered]
    formats = [number_format(row["unit"], d) for row, d in zip(ordered, decimals, strict=True)]
    limits = _spc_limits(card)

    def values(key: str) -> list[float | None]:
        return [shown(row.get(key), d) for row, d in zip(ordered, decimals, strict=True)]

    def limit(index: int) -> list[float | None]:
        return [
            shown(limits.get(row["indicator"], (None, None, None))[index], d)
            for row, d in zip(ordered, decimals, strict=True)
        ]

    numerators = [_quantity(row["numerator"]) for row in ordered]
    # a rate's denominator is the population aged 0-17 / 10,000: shown as the population
    denominators = [
        _quantity(
            row["denominator"] * 10_000
            if row["unit"] == "rate_per_10k" and row["denominator"] is not None
            else row["denominator"]
        )
        for row in ordered
    ]
    columns: list[Column] = []
    if staged:
        columns.append(
            Column(
                "Stage",
                [_stage_label(_stage_of(catalogue.indicators[name])) for name in order],
            )
        )
    columns += [
        Column("Indicator", [row["title"] for row in ordered], width=44),
        Column("Code", order),
    ]
    if (kinds := _kinds(catalogue, order)) is not None:
        columns.append(kinds)
    if "window_label" in card.columns:
        columns.append(Column("Window", [row.get("window_label") or None for row in ordered]))
    columns += [
        Column("Unit", [row["unit"] for row in ordered]),
        Column("Value", mask(values("value"), now), formats),
        Column("Value (unrounded)", mask([row["value"] for row in ordered], now), width=20),
        Column("Numerator", mask([n for n, _ in numerators], now), [f for _, f in numerators]),
        Column(
            "Denominator (a rate's: children aged 0-17)",
            mask([d for d, _ in denominators], now),
            [f for _, f in denominators],
            width=16,
        ),
        Column("Status", [row["status"] for row in ordered]),
        Column("Reason or note", [row["reason"] or None for row in ordered], width=40),
        Column("Previous month", mask(values("previous_value"), before), formats),
        Column("Same month last year", mask(values("last_year_value"), year_ago), formats),
        Column("Target", values("target"), formats),
        Column("RAG", [row["rag"] for row in ordered]),
        Column("SPC variation and assurance", [row["spc_words"] for row in ordered], width=44),
        Column("SPC mean", blank(limit(0), no_limits), formats),
        Column("SPC lower limit", blank(limit(1), no_limits), formats),
        Column("SPC upper limit", blank(limit(2), no_limits), formats),
        Column("England", values("dfe_england"), formats),
        Column("Region", values("dfe_region"), formats),
        Column("Statistical neighbours (mean)", values("dfe_sn_mean"), formats),
        Column(
            "Comparator year",
            [year_label(row["dfe_year"]) if row.get("dfe_year") else None for row in ordered],
        ),
        Column(
            "Comparator note",
            [
                "; ".join(filter(None, [row.get("dfe_note"), row.get("dfe_caveats")])) or None
                for row in ordered
            ],
            width=40,
        ),
    ]
    return columns


def blank(cells: list[Any], hidden: list[bool]) -> list[Any]:
    return [None if h else c for c, h in zip(cells, hidden, strict=True)]


def _by_month(
    table: pl.DataFrame,
    card: pl.DataFrame,
    catalogue: Catalogue,
    order: list[str],
    withheld: frozenset[Cell] = frozenset(),
) -> list[Column]:
    """Indicator x month of values as printed, and the blank cells' reasons."""
    firsts: list[date] = table.get_column("month").unique().sort().to_list()
    info = {row["indicator"]: row for row in card.iter_rows(named=True)}
    decimals = [int(info[name]["decimals"]) for name in order]
    formats = [
        number_format(info[name]["unit"], d) for name, d in zip(order, decimals, strict=True)
    ]
    wide = table.filter(pl.col("status") == "ok").pivot(
        on="month", index="indicator", values="value"
    )
    cells = {row["indicator"]: row for row in wide.iter_rows(named=True)}
    blanks = (
        table.filter(pl.col("status") != "ok")
        .group_by("indicator", "status", "reason", maintain_order=True)
        .agg(pl.len().alias("months"), pl.col("month").min().alias("first"))
        .sort("first")
        .group_by("indicator", maintain_order=True)
        .agg(
            pl.format(
                "{} {} {}: {}",
                "months",
                pl.when(pl.col("months") == 1).then(pl.lit("month")).otherwise(pl.lit("months")),
                "status",
                "reason",
            )
            .str.join("; ")
            .alias("why")
        )
    )
    why = dict(blanks.iter_rows())
    columns = [
        Column("Indicator", [info[name]["title"] for name in order], width=44),
        Column("Code", order),
        Column("Unit", [info[name]["unit"] for name in order]),
    ]
    if (kinds := _kinds(catalogue, order)) is not None:
        columns.append(kinds)
    for first in firsts:
        key = first.isoformat()
        columns.append(
            Column(
                f"{first:%b %Y}",
                [
                    WITHHELD
                    if (name, first) in withheld
                    else shown(cells.get(name, {}).get(key), d)
                    for name, d in zip(order, decimals, strict=True)
                ],
                formats,
                width=10,
            )
        )
    columns.append(Column("Blank cells: why", [why.get(name) for name in order], width=50))
    return columns


WITHHELD_COLUMNS = ("value", "numerator", "denominator", "records")
"""The columns of data.csv and the Tidy sheet that print "c" in a withheld row."""


def _withheld_rows(table: pl.DataFrame, withheld: frozenset[Cell]) -> list[bool]:
    return [
        (name, month) in withheld
        for name, month in zip(table["indicator"], table["month"], strict=True)
    ]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection")."""


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` for a CSV a person will open in Excel: a text cell that would start a formula
    (``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``) gets a leading ``'``, as OWASP
    recommends, so it is shown as text; a number written as text ("-1.5") is left alone. Only
    for the files beside the paper: the machine files under data/processed keep raw values."""
    starts = "^[" + "".join(re.escape(c) for c in FORMULA_STARTS) + "]"
    number = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(starts) & ~pl.col(name).str.contains(number))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def public_csv(table: pl.DataFrame, withheld: frozenset[Cell]) -> pl.DataFrame:
    """data.csv's rows with each withheld row's figures (and its record count, which for a
    count is the figure) as "c"; the table unchanged when nothing is withheld."""
    if not withheld:
        return table
    mask = pl.Series("_c", _withheld_rows(table, withheld))
    return table.with_columns(
        pl.when(mask).then(pl.lit(WITHHELD)).otherwise(pl.col(name).cast(pl.String)).alias(name)
        for name in WITHHELD_COLUMNS
    )


def _tidy_columns(table: pl.DataFrame, withheld: frozenset[Cell] = frozenset()) -> list[Column]:
    hide = _withheld_rows(table, withheld)
    formats = {
        "month": MONTH_FORMAT,
        "decimals": "0",
        "records": WHOLE,
    }
    widths = {"title": 44.0, "reason": 40.0, "value": 20.0, "numerator": 14.0, "denominator": 14.0}

    def cells(name: str) -> list[object]:
        values = table.get_column(name).to_list()
        if name not in WITHHELD_COLUMNS:
            return values
        return [WITHHELD if h else v for v, h in zip(values, hide, strict=True)]

    return [
        Column(name, cells(name), formats.get(name), widths.get(name)) for name in table.columns
    ]


def _definitions(catalogue: Catalogue, order: list[str]) -> list[Column]:
    specs = [catalogue.indicators[name] for name in order]

    def dfe(spec: Indicator) -> str | None:
        if spec.dfe is None:
            return None
        where = ", ".join(f"{key} = {value}" for key, value in sorted(spec.dfe.filters.items()))
        return f"{spec.dfe.measure} in {spec.dfe.file}" + (f" where {where}" if where else "")

    def rule(spec: Indicator) -> str:
        settings = ", ".join(f"{key} = {value}" for key, value in sorted(spec.parameters.items()))
        return spec.rule + (f" ({settings})" if settings else "")

    columns = [
        Column("Indicator", [spec.title for spec in specs], width=44),
        Column("Code", order),
    ]
    if any(_stage_of(spec) is not None for spec in specs):
        columns.append(
            Column(
                "Stage",
                [
                    _stage_label(_stage_of(spec)) if _stage_of(spec) is not None else None
                    for spec in specs
                ],
            )
        )
    if (kinds := _kinds(catalogue, order)) is not None:
        columns.append(kinds)
    columns += [
        Column("Definition", [" ".join(spec.definition.split()) for spec in specs], None, 80, True),
        Column("Unit", [str(spec.unit) for spec in specs]),
        Column("Decimals shown", [spec.decimals for spec in specs], "0"),
        Column("Polarity (better is)", [str(spec.polarity) for spec in specs]),
        Column("Target", [spec.target for spec in specs]),
        Column("Tolerance (amber band)", [spec.tolerance for spec in specs]),
        Column("Source rule", [rule(spec) for spec in specs], width=30),
        Column("Local definition", ["yes" if spec.local else "no" for spec in specs]),
        Column("DfE measure", [dfe(spec) for spec in specs], width=60, wrap=True),
    ]
    return columns


def _readme(
    authority: Authority, month: Month, audience: str, staged: bool, internal: bool
) -> list[tuple[str, str]]:
    council = f"{authority.name} (synthetic demo data)" if authority.demo else authority.name
    sheets = dict(SHEETS)
    if internal:
        sheets[TEAM_SHEET] = "each indicator by team and month, unrounded (internal only)"
    order = (
        "Indicators are in the paper's order, grouped by the child's journey stage."
        if staged
        else "Indicators are in the paper's order, which is the catalogue's "
        "(pipelines/indicators.yaml); the catalogue declares no journey stage, so they are not "
        "grouped by stage."
    )
    return [
        ("Workbook", f"{WORKBOOK_TITLE}: analyst workbook"),
        ("Authority", council),
        ("Month", f"{month.first_day:%B %Y}"),
        (
            "Audience",
            "internal: not for publication (includes the team breakdown)"
            if internal
            else f"{audience}: each indicator's per-team figures are left out (caseloads by "
            "team, in Breakdowns, withhold a team of fewer than five workers)",
        ),
        ("Order", order),
        *(
            []
            if internal or audience != "public"
            else [
                (
                    "Withheld",
                    f"{KEY}. A count, numerator or denominator of 1 to 5 (0 is shown), a "
                    "percentage or rate made from one, and a figure from which one could be "
                    "worked out are printed as c in every sheet and in data.csv; SPC limits of "
                    "an indicator with a withheld month are left blank.",
                )
            ]
        ),
        (
            "Missing figures",
            "A figure that is not available or not applicable is a blank cell, never 0. Its "
            "status and reason are in the Dashboard (this month), the Tidy sheet and data.csv "
            "(every month), and the last column of By month.",
        ),
        (
            "Rounding",
            "Dashboard and By month hold each value rounded as the paper prints it (the "
            "indicator's decimals); the Dashboard has the unrounded value beside it, and Tidy "
            "and data.csv hold every figure unrounded. Numerators and denominators are to one "
            "decimal place (FTE) on the Dashboard.",
        ),
        (
            "Units",
            "A percent is held as 0-100 and shown with a % sign; a rate is per 10,000 children "
            "aged 0-17 (the Dashboard's denominator is that population; in Tidy and data.csv it "
            "is the population divided by 10,000, as used in the calculation).",
        ),
        (
            "SPC",
            "Making Data Count XmR: the mean and process limits (mean +/- 2.66 x the mean "
            "moving range) of the months the variation and assurance come from; blank where "
            "SPC does not apply (a rolling figure, too little history), with the reason in the "
            "SPC column.",
        ),
        *[(f"Sheet: {name}", text) for name, text in sheets.items()],
        *[(f"data.csv: {name}", text) for name, text in CSV_COLUMNS.items()],
    ]


# ---------------------------------------------------------------------------------------------
# writing


class _Formats:
    """The workbook's cell formats, made once each in the order first asked for."""

    def __init__(self, workbook: Any):
        self.workbook = workbook
        self.made: dict[tuple[str | None, bool, bool], Any] = {}

    def __call__(self, number: str | None = None, wrap: bool = False, bold: bool = False) -> Any:
        key = (number, wrap, bold)
        if key not in self.made:
            spec: dict[str, Any] = {"valign": "top"}
            if number is not None:
                spec["num_format"] = number
            if wrap:
                spec["text_wrap"] = True
            if bold:
                spec |= {"bold": True, "text_wrap": True, "bottom": 1}
            self.made[key] = self.workbook.add_format(spec)
        return self.made[key]


def _text_length(value: object, number: str | None) -> int:
    if isinstance(value, float | int) and not isinstance(value, bool):
        if number is None:
            return len(repr(value))
        places = number.split(".")[1].count("0") if "." in number else 0
        return len(f"{value:,.{places}f}") + (1 if "%" in number else 0)
    if isinstance(value, date):
        return 8
    return len(str(value))


def _write_cell(sheet: Any, row: int, col: int, value: object, cell_format: Any) -> None:
    """One cell by its type (never ``write``, so no text becomes a formula); None is blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, bool):
        sheet.write_string(row, col, "yes" if value else "no", cell_format)
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value, cell_format)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime.combine(value, time()), cell_format)
    else:
        sheet.write_string(row, col, str(value), cell_format)


def _write_table(
    workbook: Any, formats: _Formats, name: str, columns: list[Column], frozen_columns: int
) -> None:
    """A sheet of one table: a bold header row, frozen with the first columns, filtered."""
    sheet = workbook.add_worksheet(name)
    height = len(columns[0].cells) if columns else 0
    for col, column in enumerate(columns):
        sheet.write_string(0, col, column.header, formats(bold=True))
        longest = max(
            [len(word) for word in column.header.split()]
            + [
                _text_length(v, column.format_of(r))
                for r, v in enumerate(column.cells)
                if v is not None
            ]
        )
        width = column.width if column.width is not None else min(max(longest + 2, 8), 50)
        sheet.set_column(col, col, width)
        for row, value in enumerate(column.cells):
            _write_cell(sheet, row + 1, col, value, formats(column.format_of(row), column.wrap))
    sheet.freeze_panes(1, frozen_columns)
    if columns:
        sheet.autofilter(0, 0, height, len(columns) - 1)


def _write_breakdowns(workbook: Any, formats: _Formats, tables: Sequence[Table]) -> None:
    """The paper's breakdown tables one under another: caption, header, rows, note."""
    sheet = workbook.add_worksheet("Breakdowns")
    sheet.set_column(0, 0, 36)
    sheet.set_column(1, 8, 16)
    row = 0
    for table in tables:
        sheet.write_string(row, 0, table.caption, formats(bold=True))
        row += 1
        for col, text in enumerate(table.header):
            sheet.write_string(row, col, text, formats(bold=True))
        row += 1
        for cells in table.rows:
            for col, text in enumerate(cells):
                _write_cell(sheet, row, col, text or None, formats())
            row += 1
        if table.note:
            sheet.write_string(row, 0, table.note, formats())
            row += 1
        row += 1


def write_analyst_outputs(
    folder: Path,
    *,
    figures: pl.DataFrame,
    card: pl.DataFrame,
    series: pl.DataFrame,
    catalogue: Catalogue,
    authority: Authority,
    month: Month,
    audience: str,
    by_team: pl.DataFrame | None,
    withheld: frozenset[Cell] = frozenset(),
    breakdowns: Sequence[Table] = (),
) -> None:
    """Write ``data.csv`` and ``data.xlsx`` (and, for the internal audience, ``data_by_team.csv``
    and a By team sheet) into ``folder``.

    ``figures`` is the series of the paper's months with each indicator's title; ``card`` the
    scorecard; ``series`` the whole computed series (for SPC limits the scorecard lacks)."""
    import xlsxwriter

    order, staged = paper_order(card, catalogue)
    table = tidy(
        figures.join(card.select("indicator", "unit", "decimals"), on="indicator", how="left"),
        order,
    )
    spreadsheet_safe(public_csv(table, withheld)).write_csv(folder / "data.csv")
    if by_team is not None:
        spreadsheet_safe(by_team).write_csv(folder / "data_by_team.csv")

    # every cell is written by its type (_write_cell); these say so to xlsxwriter as well, so
    # no text from an extract can become a formula, a link or a number
    workbook = xlsxwriter.Workbook(
        str(folder / "data.xlsx"),
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    # a fixed creation date (the month, never the clock) keeps the file's bytes stable
    workbook.set_properties(
        {
            "title": f"{WORKBOOK_TITLE}: {month.first_day:%B %Y}",
            "created": datetime.combine(month.first_day, time()),
        }
    )
    formats = _Formats(workbook)
    try:
        readme = workbook.add_worksheet("README")
        lines = _readme(authority, month, audience, staged, by_team is not None)
        readme.set_column(0, 0, 28)
        readme.set_column(1, 1, 110)
        for row, (label, text) in enumerate(lines):
            readme.write_string(row, 0, label, formats(bold=row == 0))
            readme.write_string(row, 1, text, formats(wrap=True, bold=row == 0))
        first = 2 if staged else 1
        _write_table(
            workbook,
            formats,
            "Dashboard",
            _dashboard(card, series, catalogue, order, staged, month, withheld),
            first,
        )
        _write_table(
            workbook, formats, "By month", _by_month(table, card, catalogue, order, withheld), 1
        )
        _write_table(workbook, formats, "Tidy", _tidy_columns(table, withheld), 1)
        _write_table(workbook, formats, "Definitions", _definitions(catalogue, order), 1)
        _write_breakdowns(workbook, formats, breakdowns)
        if by_team is not None:
            _write_table(
                workbook,
                formats,
                TEAM_SHEET,
                [
                    Column(
                        name,
                        by_team.get_column(name).to_list(),
                        MONTH_FORMAT if name == "month" else None,
                    )
                    for name in by_team.columns
                ],
                1,
            )
    finally:
        workbook.close()


__all__ = [
    "CSV_COLUMNS",
    "SHEETS",
    "number_format",
    "paper_order",
    "shown",
    "tidy",
    "write_analyst_outputs",
]
