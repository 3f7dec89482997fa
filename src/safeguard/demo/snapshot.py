"""From simulated truth to extracts: what the system showed at each month end, as CSV text.

An extract closing at month end E with a 24-month window starting W holds every record that
exists by E (``_recorded``, else ``_start``, on or before E) and is open at E or ended on or
after W; CP plans bring the whole plan history of every child with a plan in the window.
Dates after E are blank, and so are the columns they reveal. Person rows are the children the
extract's other tables name. Text is written as councils' systems write it: ISO dates, some
``DD/MM/YYYY``, date-times with a space or a ``T``, flags ``Y``/``N``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from safeguard.demo.common import TruthTable
from safeguard.periods import Month
from safeguard.schema import Contract

WINDOW_MONTHS = 24
UK_DATES_IN = {"contacts", "referrals"}  # tables where some dates are written DD/MM/YYYY


@dataclass(frozen=True)
class Planted:
    """A documented data-quality problem written into one extract (corrected in the next)."""

    month: Month
    table: str
    column: str
    value: str | None  # the text written instead of the true value; None drops the row
    row: pl.Expr  # selects the one row (the first match, by id) of the extract's table
    what: str


def window_start(month: Month) -> date:
    return month.shift(-(WINDOW_MONTHS - 1)).first_day


def snapshot_table(name: str, truth: TruthTable, columns: list[str], month: Month) -> pl.DataFrame:
    """The typed rows of one table as the system showed them at the end of ``month``."""
    end, start = month.last_day, window_start(month)
    frame = truth.frame
    recorded = pl.col("_recorded") if "_recorded" in frame.columns else pl.col("_start")
    exists = frame.filter(recorded <= end)
    in_window = exists.filter(pl.col("_end").is_null() | (pl.col("_end") >= start))
    if name == "cp_plans":  # the whole plan history of every child with a plan in the window
        children = in_window.get_column("cppl_person_id").unique()
        in_window = exists.filter(pl.col("cppl_person_id").is_in(children.implode()))
    blanks = []
    for column, dtype in in_window.schema.items():
        if column in columns and dtype == pl.Date:
            blanks.append(pl.when(pl.col(column) <= end).then(pl.col(column)).alias(column))
        elif column in columns and isinstance(dtype, pl.Datetime):
            blanks.append(
                pl.when(pl.col(column).dt.date() <= end).then(pl.col(column)).alias(column)
            )
    for column, by in truth.reveal.items():
        by_date = pl.col(by).dt.date() if isinstance(frame.schema[by], pl.Datetime) else pl.col(by)
        blanks.append(pl.when(by_date <= end).then(pl.col(column)).alias(column))
    return in_window.with_columns(blanks).select(columns)


def snapshot_people(people: pl.DataFrame, ids: pl.Series, month: Month) -> pl.DataFrame:
    """person.csv: the children named by the extract, as known at the month end."""
    end = month.last_day
    chosen = people.filter(pl.col("pers_person_id").is_in(ids.unique().implode()))
    unborn = pl.col("pers_dob") > end
    return chosen.select(
        "pers_person_id",
        pl.when(unborn).then(pl.lit("U")).otherwise(pl.col("pers_sex")).alias("pers_sex"),
        "pers_ethnicity",
        pl.when(unborn).then(None).otherwise(pl.col("pers_dob")).alias("pers_dob"),
        pl.when(unborn).then(pl.col("pers_dob")).alias("pers_expected_dob"),
        pl.lit(None, pl.Date).alias("pers_death_date"),
        "pers_disability",
    )


def as_text(name: str, frame: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """Every column as the text a case management system's export would hold."""
    ident = pl.col(id_column)
    uk = ident.str.slice(-1) == "7" if name in UK_DATES_IN else pl.lit(False)
    t_form = ident.str.slice(-1) == "3"
    out = []
    for column, dtype in frame.schema.items():
        value = pl.col(column)
        if dtype == pl.Date:
            text = (
                pl.when(uk)
                .then(value.dt.strftime("%d/%m/%Y"))
                .otherwise(value.dt.strftime("%Y-%m-%d"))
            )
        elif isinstance(dtype, pl.Datetime):
            text = (
                pl.when(uk)
                .then(value.dt.strftime("%d/%m/%Y %H:%M"))
                .when(t_form)
                .then(value.dt.strftime("%Y-%m-%dT%H:%M:%S"))
                .otherwise(value.dt.strftime("%Y-%m-%d %H:%M"))
            )
        elif dtype == pl.Boolean:
            text = pl.when(value).then(pl.lit("Y")).when(~value).then(pl.lit("N"))
        elif dtype == pl.Float64:
            text = value.round(2).cast(pl.String)
        else:
            text = value.cast(pl.String)
        out.append(text.alias(column))
    return frame.select(out)


def extract_tables(
    truths: dict[str, TruthTable],
    people: pl.DataFrame,
    workforce_at: object,
    contract: Contract,
    month: Month,
    planted: list[Planted],
) -> dict[str, pl.DataFrame]:
    """Every table of the extract closing at the end of ``month``, as text frames."""
    typed: dict[str, pl.DataFrame] = {}
    for name, truth in truths.items():
        typed[name] = snapshot_table(name, truth, list(contract.tables[name].columns), month)
    if workforce_at is not None:
        typed["workforce"] = workforce_at.snapshot(month.last_day)  # type: ignore[attr-defined]
    named = [
        frame.get_column(column)
        for name, frame in typed.items()
        for column, spec in contract.tables[name].columns.items()
        if spec.references == "person"
    ]
    typed["person"] = snapshot_people(people, pl.concat(named).drop_nulls(), month)
    texts = {name: as_text(name, frame, contract.tables[name].id) for name, frame in typed.items()}
    for plant in planted:
        if plant.month != month or plant.table not in texts:
            continue
        frame = texts[plant.table]
        hit = typed[plant.table].with_row_index("__i").filter(plant.row)["__i"].head(1)
        if hit.is_empty():
            continue
        index = int(hit[0])
        if plant.value is None:
            texts[plant.table] = frame.filter(pl.int_range(pl.len()) != index)
        else:
            texts[plant.table] = frame.with_columns(
                pl.when(pl.int_range(pl.len()) == index)
                .then(pl.lit(plant.value))
                .otherwise(pl.col(plant.column))
                .alias(plant.column)
            )
    return texts
