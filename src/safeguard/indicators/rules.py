"""Each indicator's rule: a pure function from the store's tables to the records it counts.

A rule returns a LazyFrame with one row per record per month it counts in:

    month (Date, first day)  record (String)  numerator (Boolean)  denominator (Boolean|null)
    reason (String: why the record is in or out)  team (String|null)  ...detail columns

The engine sums ``numerator`` and ``denominator`` by month; ``safeguard explain`` shows these
rows as they are. A rule that cannot run (a table or column no extract has held) raises
``NotAvailable`` with the reason, and the indicator is reported as not available, never 0.
Rules follow ``indicators.md`` (planning notes) word for word; the conventions that decide
figures live in the helpers below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from safeguard.calendar import WorkingCalendar
from safeguard.store import Manifest, Store

Rule = Callable[["Context"], pl.LazyFrame]
RULES: dict[str, Rule] = {}
# months of history before a month that a rule looks at (re-referrals look back 12 months;
# rolling-12 figures count 11 earlier months)
HISTORY: dict[str, int] = {
    "rereferrals_12m": 12,
    "s47_rolling_12": 11,
    "referrals_rolling_12": 11,
    "cp_second_subsequent": 11,
    "cp_ended_2y_plus": 11,
    "cla_3plus_placements": 11,
}
# the rules that count over a trailing window ending with the month (months in the window):
# their figures are the catalogue's kind "rolling", overlapping from month to month
WINDOWS: dict[str, int] = {
    "s47_rolling_12": 12,
    "referrals_rolling_12": 12,
    "cp_second_subsequent": 12,
    "cp_ended_2y_plus": 12,
    "cla_3plus_placements": 12,
}
RECORD_COLUMNS = ["month", "record", "numerator", "denominator", "reason", "team"]


class NotAvailable(Exception):
    """The indicator cannot be computed from what the extracts hold."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def rule(name: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        RULES[name] = function
        return function

    return register


@dataclass
class Context:
    """What a rule may read: the store, the months asked for, the calendar, its parameters."""

    store: Store
    months: list[date]  # first days, ascending
    cal: WorkingCalendar
    parameters: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[date, str] = field(default_factory=dict)  # months a rule cannot cover
    needs: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # tables it read
    _manifest: Manifest | None = None

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = self.store.manifest()
        return self._manifest

    def present(self, table: str) -> set[str]:
        """Columns of ``table`` that at least one extract held."""
        found: set[str] = set()
        for extract in self.manifest.extracts.values():
            held = extract.files.get(table)
            found |= set(held.columns_present) if held is not None else set()
        return found

    def table(self, name: str, *columns: str) -> pl.LazyFrame:
        """The current view of a table; ``NotAvailable`` when it, or a column, was never held."""
        self.needs.append((name, columns))
        frame = self.store.scan(name)
        if frame is None:
            raise NotAvailable(f"no extract has held {name}.csv")
        missing = [c for c in columns if c not in self.present(name)]
        if missing:
            raise NotAvailable(f"no extract of {name}.csv has held {', '.join(missing)}")
        return frame

    def has(self, table: str, column: str) -> bool:
        return column in self.present(table)

    def months_frame(self) -> pl.LazyFrame:
        firsts = pl.Series("month", self.months, dtype=pl.Date)
        return pl.LazyFrame({"month": firsts}).with_columns(
            pl.col("month").dt.month_end().alias("month_end")
        )

    @property
    def first(self) -> date:
        return self.months[0]

    @property
    def last_day(self) -> date:
        return pl.Series([self.months[-1]]).dt.month_end().item()  # type: ignore[no-any-return]


# --- conventions ------------------------------------------------------------------------------


def month_of(day: pl.Expr) -> pl.Expr:
    """The calendar month an event is in (its first day)."""
    return day.dt.truncate("1mo")


def months_earlier(day: pl.Expr, months: int) -> pl.Expr:
    """Same day number ``months`` earlier, or that month's last day (29 Feb 2016 - 12 = 28 Feb)."""
    return day.dt.offset_by(f"-{months}mo")


def _dates(series: pl.Series) -> np.ndarray:
    return series.cast(pl.Date).to_numpy().astype("datetime64[D]")


def elapsed(cal: WorkingCalendar, start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Working days d with start < d <= end (null when either is null)."""

    def run(pair: pl.Series) -> pl.Series:
        first, second = pair.struct.field("a"), pair.struct.field("b")
        known = (first.is_not_null() & second.is_not_null()).to_numpy()
        out = np.zeros(len(pair), dtype=np.int64)
        if known.any():
            out[known] = cal.elapsed(
                _dates(first.filter(pl.Series(known))), _dates(second.filter(pl.Series(known)))
            )
        result = pl.Series(out, dtype=pl.Int64)
        return result.scatter(np.flatnonzero(~known), None) if (~known).any() else result

    return pl.struct(start.cast(pl.Date).alias("a"), end.cast(pl.Date).alias("b")).map_batches(
        run, return_dtype=pl.Int64
    )


def add_working_days(cal: WorkingCalendar, day: pl.Expr, n: int) -> pl.Expr:
    """``WorkingCalendar.add`` as an expression: ``n`` working days after each day (null stays
    null); ``n == 0`` is the day itself when a working day, else the next working day."""

    def run(days: pl.Series) -> pl.Series:
        known = days.is_not_null().to_numpy()
        out = np.zeros(len(days), dtype="datetime64[D]")
        if known.any():
            out[known] = cal.add(_dates(days.filter(pl.Series(known))), n)
        result = pl.Series(out).cast(pl.Date)
        return result.scatter(np.flatnonzero(~known), None) if (~known).any() else result

    return day.cast(pl.Date).map_batches(run, return_dtype=pl.Date)


def next_working_day(cal: WorkingCalendar, day: pl.Expr) -> pl.Expr:
    """The day itself when it is a working day, else the next working day."""
    return add_working_days(cal, day, 0)


def in_months(ctx: Context, frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.filter(pl.col("month").is_in(pl.Series(ctx.months, dtype=pl.Date).implode()))


def records(
    frame: pl.LazyFrame,
    record: str,
    numerator: pl.Expr,
    denominator: pl.Expr | None,
    reason: pl.Expr,
    team: str | None,
    *details: str | pl.Expr,
) -> pl.LazyFrame:
    """Select the standard record columns, then the detail columns explain shows."""
    return frame.select(
        pl.col("month"),
        pl.col(record).cast(pl.String).alias("record"),
        numerator.fill_null(False).alias("numerator"),
        (denominator if denominator is not None else pl.lit(None, pl.Boolean)).alias("denominator"),
        reason.alias("reason"),
        (pl.col(team) if team else pl.lit(None, pl.String)).cast(pl.String).alias("team"),
        *details,
    )


def open_at_month_end(ctx: Context, frame: pl.LazyFrame, start: str, end: str) -> pl.LazyFrame:
    """Each record once for every month at whose end it is open (start on or before the last
    day, end blank or after it)."""
    return frame.join(ctx.months_frame(), how="cross").filter(
        (pl.col(start) <= pl.col("month_end"))
        & (pl.col(end).is_null() | (pl.col(end) > pl.col("month_end")))
    )


def rolling_12(ctx: Context, frame: pl.LazyFrame) -> pl.LazyFrame:
    """Each record (with its event ``month``) in the 12 rolling windows ending at that month
    and the 11 months after it."""
    return (
        frame.with_columns(pl.int_ranges(0, 12).alias("__k"))
        .explode("__k")
        .with_columns(pl.col("month").dt.offset_by(pl.format("{}mo", pl.col("__k"))).alias("month"))
        .drop("__k")
        .pipe(lambda lf: in_months(ctx, lf))
    )


def count_in_month(
    ctx: Context,
    table: str,
    record: str,
    day: str,
    team: str | None,
    keep: pl.Expr | None = None,
    *details: str,
) -> pl.LazyFrame:
    frame = ctx.table(table, day).with_columns(month_of(pl.col(day).cast(pl.Date)).alias("month"))
    if keep is not None:
        frame = frame.filter(keep)
    frame = in_months(ctx, frame)
    return records(frame, record, pl.lit(True), None, pl.lit("counted"), team, day, *details)


def _team(ctx: Context, table: str, column: str) -> str | None:
    return column if ctx.has(table, column) else None


# --- front door -------------------------------------------------------------------------------


def _held(ctx: Context, table: str, *columns: str) -> tuple[str, ...]:
    """Those of ``columns`` some extract of ``table`` held: detail a breakdown reads."""
    return tuple(c for c in columns if ctx.has(table, c))


@rule("contacts")
def contacts_received(ctx: Context) -> pl.LazyFrame:
    return count_in_month(
        ctx,
        "contacts",
        "cont_contact_id",
        "cont_contact_date",
        None,
        None,
        *_held(ctx, "contacts", "cont_contact_source_code"),
    )


@rule("contacts_screened_same_day")
def contacts_screened_same_day(ctx: Context) -> pl.LazyFrame:
    """Contacts in M decided by a qualified worker on the contact's working day (a contact on a
    non-working day belongs to the next working day) / contacts in M."""
    c = ctx.table(
        "contacts", "cont_contact_date", "cont_decision_datetime", "cont_decision_by_qualified"
    )
    c = c.with_columns(
        month_of(pl.col("cont_contact_date").dt.date()).alias("month"),
        next_working_day(ctx.cal, pl.col("cont_contact_date").dt.date()).alias("working_day"),
        pl.col("cont_decision_datetime").dt.date().alias("decided"),
    )
    c = in_months(ctx, c)
    same = pl.col("decided") == pl.col("working_day")
    qualified = pl.col("cont_decision_by_qualified").fill_null(False)
    reason = (
        pl.when(pl.col("decided").is_null())
        .then(pl.lit("no decision recorded"))
        .when(pl.col("decided") < pl.col("working_day"))
        .then(pl.lit("decided before the contact's working day"))
        .when(~same)
        .then(pl.lit("decided on a later working day"))
        .when(~qualified)
        .then(pl.lit("not decided by a qualified worker"))
        .otherwise(pl.lit("screened the same working day by a qualified worker"))
    )
    return records(
        c,
        "cont_contact_id",
        same & qualified,
        pl.lit(True),
        reason,
        None,
        "cont_contact_date",
        "working_day",
        "cont_decision_datetime",
        "cont_decision_by_qualified",
    )


@rule("contacts_to_referral")
def contacts_to_referral(ctx: Context) -> pl.LazyFrame:
    c = ctx.table("contacts", "cont_contact_date", "cont_contact_outcome")
    c = in_months(
        ctx, c.with_columns(month_of(pl.col("cont_contact_date").dt.date()).alias("month"))
    )
    referral = pl.col("cont_contact_outcome") == "NEW_REFERRAL"
    return records(
        c,
        "cont_contact_id",
        referral,
        pl.lit(True),
        pl.format("outcome {}", pl.col("cont_contact_outcome")),
        None,
        "cont_contact_date",
        "cont_contact_outcome",
    )


@rule("referrals")
def referrals_received(ctx: Context) -> pl.LazyFrame:
    return count_in_month(
        ctx,
        "referrals",
        "cine_referral_id",
        "cine_referral_date",
        _team(ctx, "referrals", "cine_referral_team"),
        None,
        *_held(ctx, "referrals", "cine_referral_source_code"),
    )


def count_rolling_12(
    ctx: Context, table: str, record: str, day: str, team: str, reason: str
) -> pl.LazyFrame:
    """Each record dated in the 12 months ending with each month (a rate divides the count by
    the population)."""
    frame = ctx.table(table, day)
    frame = rolling_12(ctx, frame.with_columns(month_of(pl.col(day)).alias("month")))
    return records(frame, record, pl.lit(True), None, pl.lit(reason), _team(ctx, table, team), day)


@rule("referrals_rolling_12")
def referrals_rolling_12(ctx: Context) -> pl.LazyFrame:
    """Referrals received in the rolling 12 months, as DfE's referrals per 10,000 count a
    year's referrals."""
    return count_rolling_12(
        ctx,
        "referrals",
        "cine_referral_id",
        "cine_referral_date",
        "cine_referral_team",
        "received in the 12 months",
    )


@rule("rereferrals_12m")
def rereferrals_within_12_months(ctx: Context) -> pl.LazyFrame:
    """Referrals in M for a child with another referral dated on or after the same day 12
    months earlier and before this referral's date / referrals in M."""
    r = ctx.table("referrals", "cine_referral_date")
    distinct = (
        r.select("cine_person_id", "cine_referral_date")
        .unique()
        .sort("cine_person_id", "cine_referral_date")
        .with_columns(
            pl.col("cine_referral_date").shift(1).over("cine_person_id").alias("previous_referral")
        )
    )
    r = r.join(distinct, on=["cine_person_id", "cine_referral_date"], how="left")
    r = in_months(ctx, r.with_columns(month_of(pl.col("cine_referral_date")).alias("month")))
    since = months_earlier(pl.col("cine_referral_date"), 12).alias("twelve_months_earlier")
    r = r.with_columns(since)
    repeat = pl.col("previous_referral") >= pl.col("twelve_months_earlier")
    reason = (
        pl.when(pl.col("previous_referral").is_null())
        .then(pl.lit("no earlier referral in the store"))
        .when(repeat)
        .then(pl.lit("re-referral: previous referral within 12 months"))
        .otherwise(pl.lit("previous referral more than 12 months before"))
    )
    return records(
        r,
        "cine_referral_id",
        repeat,
        pl.lit(True),
        reason,
        _team(ctx, "referrals", "cine_referral_team"),
        "cine_referral_date",
        "previous_referral",
        "twelve_months_earlier",
    )


@rule("referrals_nfa")
def referrals_nfa(ctx: Context) -> pl.LazyFrame:
    r = ctx.table("referrals", "cine_referral_date", "cine_referral_nfa")
    r = in_months(ctx, r.with_columns(month_of(pl.col("cine_referral_date")).alias("month")))
    nfa = pl.col("cine_referral_nfa").fill_null(False)
    return records(
        r,
        "cine_referral_id",
        nfa,
        pl.lit(True),
        pl.when(nfa).then(pl.lit("no further action")).otherwise(pl.lit("not NFA")),
        _team(ctx, "referrals", "cine_referral_team"),
        "cine_referral_date",
        "cine_referral_nfa",
    )


# --- assessments ------------------------------------------------------------------------------

TIMESCALES = {"SINGLE": 45, "INITIAL": 10, "CORE": 35}


def _assessments(ctx: Context) -> pl.LazyFrame:
    a = ctx.table("assessments", "cina_assessment_start_date", "cina_assessment_auth_date")
    kind = (
        pl.col("cina_assessment_type").fill_null("SINGLE")
        if ctx.has("assessments", "cina_assessment_type")
        else pl.lit("SINGLE")
    )
    a = a.with_columns(kind.alias("type"))
    a = a.with_columns(
        pl.col("type").replace_strict(TIMESCALES, return_dtype=pl.Int64).alias("timescale")
    )
    if ctx.parameters.get("timescale_from") == "referral":
        referrals = ctx.table("referrals", "cine_referral_date").select(
            pl.col("cine_referral_id").alias("cina_referral_id"),
            pl.col("cine_referral_date").alias("measured_from"),
        )
        a = a.join(referrals, on="cina_referral_id", how="left")
    else:
        a = a.with_columns(pl.col("cina_assessment_start_date").alias("measured_from"))
    return a


@rule("assessments_completed")
def assessments_completed(ctx: Context) -> pl.LazyFrame:
    return count_in_month(
        ctx,
        "assessments",
        "cina_assessment_id",
        "cina_assessment_auth_date",
        _team(ctx, "assessments", "cina_assessment_team"),
    )


@rule("assessments_in_timescale")
def assessments_in_timescale(ctx: Context) -> pl.LazyFrame:
    """Assessments authorised in M within their type's timescale (working days from start, or
    from the referral when configured) / assessments authorised in M (of one type when the
    ``assessment_type`` parameter names one; a blank type is SINGLE)."""
    a = _assessments(ctx)
    only = ctx.parameters.get("assessment_type")
    if only:
        a = a.filter(pl.col("type") == only)
    a = a.with_columns(
        month_of(pl.col("cina_assessment_auth_date")).alias("month"),
        elapsed(ctx.cal, pl.col("measured_from"), pl.col("cina_assessment_auth_date")).alias(
            "working_days"
        ),
    )
    a = in_months(ctx, a)
    in_time = pl.col("working_days") <= pl.col("timescale")
    reason = (
        pl.when(pl.col("working_days").is_null())
        .then(pl.lit("no date to measure from"))
        .when(in_time)
        .then(pl.format("within {} working days", pl.col("timescale")))
        .otherwise(pl.format("over {} working days", pl.col("timescale")))
    )
    return records(
        a,
        "cina_assessment_id",
        in_time,
        pl.lit(True),
        reason,
        _team(ctx, "assessments", "cina_assessment_team"),
        "type",
        "measured_from",
        "cina_assessment_auth_date",
        "working_days",
        "timescale",
    )


@rule("assessments_open_overdue")
def assessments_open_overdue(ctx: Context) -> pl.LazyFrame:
    a = open_at_month_end(
        ctx, _assessments(ctx), "cina_assessment_start_date", "cina_assessment_auth_date"
    )
    a = a.with_columns(
        elapsed(ctx.cal, pl.col("measured_from"), pl.col("month_end")).alias("working_days")
    )
    overdue = pl.col("working_days") > pl.col("timescale")
    a = a.filter(overdue)
    return records(
        a,
        "cina_assessment_id",
        pl.lit(True),
        None,
        pl.format(
            "open {} working days, timescale {}", pl.col("working_days"), pl.col("timescale")
        ),
        _team(ctx, "assessments", "cina_assessment_team"),
        "type",
        "measured_from",
        "working_days",
        "timescale",
    )


# --- section 47 and child protection -----------------------------------------------------------


@rule("strategy_discussions")
def strategy_discussions(ctx: Context) -> pl.LazyFrame:
    return count_in_month(
        ctx,
        "strategy_discussions",
        "stra_strategy_discussion_id",
        "stra_strategy_discussion_date",
        _team(ctx, "strategy_discussions", "stra_team"),
    )


@rule("strategy_discussions_no_s47")
def strategy_discussions_no_s47(ctx: Context) -> pl.LazyFrame:
    s = ctx.table("strategy_discussions", "stra_strategy_discussion_date", "stra_s47_initiated")
    s = in_months(
        ctx, s.with_columns(month_of(pl.col("stra_strategy_discussion_date")).alias("month"))
    )
    no = pl.col("stra_s47_initiated") == False  # noqa: E712 - null is not "no"
    return records(
        s,
        "stra_strategy_discussion_id",
        no,
        pl.lit(True),
        pl.when(no).then(pl.lit("no S47 initiated")).otherwise(pl.lit("S47 initiated")),
        _team(ctx, "strategy_discussions", "stra_team"),
        "stra_strategy_discussion_date",
        "stra_s47_initiated",
    )


@rule("s47_enquiries")
def s47_enquiries(ctx: Context) -> pl.LazyFrame:
    return count_in_month(
        ctx,
        "s47_enquiries",
        "s47e_s47_enquiry_id",
        "s47e_s47_start_date",
        _team(ctx, "s47_enquiries", "s47e_team"),
    )


@rule("s47_rolling_12")
def s47_rolling_12(ctx: Context) -> pl.LazyFrame:
    """S47 enquiries started in the rolling 12 months (a rate divides by the population)."""
    return count_rolling_12(
        ctx,
        "s47_enquiries",
        "s47e_s47_enquiry_id",
        "s47e_s47_start_date",
        "s47e_team",
        "started in the 12 months",
    )


def _conferences(ctx: Context) -> pl.LazyFrame:
    i = ctx.table("icpcs", "icpc_icpc_date")
    transfer = (
        pl.col("icpc_icpc_transfer_in").fill_null(False)
        if ctx.has("icpcs", "icpc_icpc_transfer_in")
        else pl.lit(False)
    )
    return i.with_columns(
        transfer.alias("transfer_in"), month_of(pl.col("icpc_icpc_date")).alias("month")
    )


@rule("icpcs")
def icpcs_held(ctx: Context) -> pl.LazyFrame:
    i = in_months(ctx, _conferences(ctx)).filter(~pl.col("transfer_in"))
    return records(
        i,
        "icpc_icpc_id",
        pl.lit(True),
        None,
        pl.lit("held (not a transfer in)"),
        None,
        "icpc_icpc_date",
    )


@rule("icpc_15wd")
def icpc_within_15_working_days(ctx: Context) -> pl.LazyFrame:
    """Of ICPCs in M (transfer-ins excluded) that link to an S47 enquiry, those held within 15
    working days of the S47 start."""
    ctx.table("icpcs", "icpc_s47_enquiry_id")  # without the link, nothing can be timed
    i = in_months(ctx, _conferences(ctx)).filter(~pl.col("transfer_in"))
    s47 = ctx.table("s47_enquiries", "s47e_s47_start_date").select(
        pl.col("s47e_s47_enquiry_id").alias("icpc_s47_enquiry_id"), "s47e_s47_start_date"
    )
    i = i.join(s47, on="icpc_s47_enquiry_id", how="left").with_columns(
        elapsed(ctx.cal, pl.col("s47e_s47_start_date"), pl.col("icpc_icpc_date")).alias(
            "working_days"
        )
    )
    linked = pl.col("s47e_s47_start_date").is_not_null()
    in_time = linked & (pl.col("working_days") <= 15)
    reason = (
        pl.when(~linked)
        .then(pl.lit("no linked S47 enquiry: not counted"))
        .when(in_time)
        .then(pl.lit("within 15 working days of the S47 start"))
        .otherwise(pl.lit("over 15 working days"))
    )
    return records(
        i,
        "icpc_icpc_id",
        in_time,
        linked,
        reason,
        None,
        "s47e_s47_start_date",
        "icpc_icpc_date",
        "working_days",
    )


def _plans(ctx: Context) -> pl.LazyFrame:
    return ctx.table("cp_plans", "cppl_cp_plan_start_date")


def _open_plans(ctx: Context) -> pl.LazyFrame:
    """Plans open at each month end: without end dates every plan would look open."""
    plans = ctx.table("cp_plans", "cppl_cp_plan_start_date", "cppl_cp_plan_end_date")
    return open_at_month_end(ctx, plans, "cppl_cp_plan_start_date", "cppl_cp_plan_end_date")


@rule("cp_plans_open")
def children_on_plans(ctx: Context) -> pl.LazyFrame:
    """Children (not plans) with a plan open at the end of M; ``category`` is the latest
    category of abuse of the child's earliest open plan (its initial one when no latest)."""
    p = _open_plans(ctx)
    held = _held(ctx, "cp_plans", "cppl_cp_plan_latest_category", "cppl_cp_plan_initial_category")
    category = (
        [
            pl.coalesce(*held)
            .sort_by("cppl_cp_plan_start_date", "cppl_cp_plan_id")
            .first()
            .alias("category")
        ]
        if held
        else []
    )
    children = p.group_by("month", "cppl_person_id").agg(
        pl.col("cppl_cp_plan_id").sort().first().alias("plan"),
        *category,
        pl.col("cppl_cp_plan_start_date").min().alias("start"),
        (
            pl.col("cppl_cp_plan_team").first()
            if ctx.has("cp_plans", "cppl_cp_plan_team")
            else pl.lit(None, pl.String)
        ).alias("team"),
    )
    return records(
        children,
        "cppl_person_id",
        pl.lit(True),
        None,
        pl.lit("on a plan at the month end"),
        "team",
        "plan",
        "start",
        *(["category"] if held else []),
    )


@rule("cp_plans_started")
def plans_started(ctx: Context) -> pl.LazyFrame:
    return count_in_month(
        ctx,
        "cp_plans",
        "cppl_cp_plan_id",
        "cppl_cp_plan_start_date",
        _team(ctx, "cp_plans", "cppl_cp_plan_team"),
    )


@rule("cp_plans_ended")
def plans_ended(ctx: Context) -> pl.LazyFrame:
    return count_in_month(
        ctx,
        "cp_plans",
        "cppl_cp_plan_id",
        "cppl_cp_plan_end_date",
        _team(ctx, "cp_plans", "cppl_cp_plan_team"),
    )


@rule("cp_second_subsequent")
def second_or_subsequent_plans(ctx: Context) -> pl.LazyFrame:
    """Plans started in the rolling 12 months where the child had an earlier plan (an earlier
    start in the store, or a recorded number of previous plans of 1 or more), ever."""
    p = _plans(ctx)
    first = p.group_by("cppl_person_id").agg(
        pl.col("cppl_cp_plan_start_date").min().alias("first_plan_start")
    )
    p = p.join(first, on="cppl_person_id", how="left")
    earlier = pl.col("first_plan_start") < pl.col("cppl_cp_plan_start_date")
    recorded = (
        pl.col("cppl_number_of_previous_plans").fill_null(0) >= 1
        if ctx.has("cp_plans", "cppl_number_of_previous_plans")
        else pl.lit(False)
    )
    p = p.with_columns(
        (earlier | recorded).alias("__second"),
        month_of(pl.col("cppl_cp_plan_start_date")).alias("month"),
    )
    p = rolling_12(ctx, p)
    reason = (
        pl.when(earlier)
        .then(pl.lit("an earlier plan in the store"))
        .when(recorded)
        .then(pl.lit("previous plans recorded"))
        .otherwise(pl.lit("first plan"))
    )
    return records(
        p,
        "cppl_cp_plan_id",
        pl.col("__second"),
        pl.lit(True),
        reason,
        _team(ctx, "cp_plans", "cppl_cp_plan_team"),
        "cppl_cp_plan_start_date",
        "first_plan_start",
    )


@rule("cp_open_18m_plus")
def plans_open_18_months(ctx: Context) -> pl.LazyFrame:
    """Plans open at the end of M that started on or before the last day of M minus 18 months
    (numerator), of plans open at the end of M (denominator)."""
    p = _open_plans(ctx)
    p = p.with_columns(months_earlier(pl.col("month_end"), 18).alias("eighteen_months_before"))
    long = pl.col("cppl_cp_plan_start_date") <= pl.col("eighteen_months_before")
    if ctx.parameters.get("share_of") == "children":
        # as a share of cp_plans_open, which counts children: one row per child on a plan
        children = p.group_by("month", "cppl_person_id").agg(
            long.any().alias("__long"),
            pl.col("cppl_cp_plan_start_date").min(),
            pl.col("eighteen_months_before").first(),
        )
        reason = (
            pl.when(pl.col("__long"))
            .then(pl.lit("on a plan open 18 months or more"))
            .otherwise(pl.lit("on a plan open less than 18 months"))
        )
        return records(
            children,
            "cppl_person_id",
            pl.col("__long"),
            pl.lit(True),
            reason,
            None,
            "cppl_cp_plan_start_date",
            "eighteen_months_before",
        )
    return records(
        p,
        "cppl_cp_plan_id",
        long,
        pl.lit(True),
        pl.when(long)
        .then(pl.lit("open 18 months or more"))
        .otherwise(pl.lit("open less than 18 months")),
        _team(ctx, "cp_plans", "cppl_cp_plan_team"),
        "cppl_cp_plan_start_date",
        "eighteen_months_before",
    )


@rule("cp_ended_2y_plus")
def plans_ended_after_2_years(ctx: Context) -> pl.LazyFrame:
    """Plans ended in the rolling 12 months that lasted more than 729 days (end minus start)."""
    p = _plans(ctx).filter(pl.col("cppl_cp_plan_end_date").is_not_null())
    p = p.with_columns(
        (pl.col("cppl_cp_plan_end_date") - pl.col("cppl_cp_plan_start_date"))
        .dt.total_days()
        .alias("days"),
        month_of(pl.col("cppl_cp_plan_end_date")).alias("month"),
    )
    p = rolling_12(ctx, p)
    long = pl.col("days") > 729
    return records(
        p,
        "cppl_cp_plan_id",
        long,
        pl.lit(True),
        pl.format("lasted {} days", pl.col("days")),
        _team(ctx, "cp_plans", "cppl_cp_plan_team"),
        "cppl_cp_plan_start_date",
        "cppl_cp_plan_end_date",
        "days",
    )


@rule("cp_visits_in_timescale")
def plans_visited_in_timescale(ctx: Context) -> pl.LazyFrame:
    """Of plans open at the end of M that started more than 10 working days before its last day,
    those with a visit (seen, where recorded) within 10 working days before the last day."""
    p = _open_plans(ctx)
    p = p.with_columns(
        elapsed(ctx.cal, pl.col("cppl_cp_plan_start_date"), pl.col("month_end")).alias("plan_age")
    ).filter(pl.col("plan_age") > 10)
    v = ctx.table("cp_visits", "cppv_cp_visit_date", "cppv_cp_plan_id")
    if ctx.has("cp_visits", "cppv_cp_visit_seen"):
        v = v.filter(pl.col("cppv_cp_visit_seen").fill_null(False))
    visits = v.select(pl.col("cppv_cp_plan_id").alias("cppl_cp_plan_id"), "cppv_cp_visit_date")
    latest = (
        p.select("cppl_cp_plan_id", "month", "month_end")
        .join(visits, on="cppl_cp_plan_id")
        .filter(pl.col("cppv_cp_visit_date") <= pl.col("month_end"))
        .group_by("cppl_cp_plan_id", "month")
        .agg(pl.col("cppv_cp_visit_date").max().alias("last_visit"))
    )
    p = p.join(latest, on=["cppl_cp_plan_id", "month"], how="left").with_columns(
        elapsed(ctx.cal, pl.col("last_visit"), pl.col("month_end")).alias("since_visit")
    )
    visited = pl.col("since_visit") <= 10
    reason = (
        pl.when(pl.col("last_visit").is_null())
        .then(pl.lit("no visit recorded"))
        .when(visited)
        .then(pl.lit("visited within 10 working days"))
        .otherwise(
            pl.format("last visit {} working days before the month end", pl.col("since_visit"))
        )
    )
    return records(
        p,
        "cppl_cp_plan_id",
        visited,
        pl.lit(True),
        reason,
        _team(ctx, "cp_plans", "cppl_cp_plan_team"),
        "cppl_cp_plan_start_date",
        "last_visit",
        "since_visit",
    )


@rule("cp_reviews_on_time")
def cp_reviews_on_time(ctx: Context) -> pl.LazyFrame:
    """CP reviews held in M on or before their due date: the recorded due date, else the first
    review 3 months after the plan start and each later one 6 months after the previous."""
    r = ctx.table("cp_reviews", "cppr_cp_review_date")
    if not (
        ctx.has("cp_reviews", "cppr_cp_plan_id") or ctx.has("cp_reviews", "cppr_cp_review_due")
    ):
        raise NotAvailable(
            "no extract of cp_reviews.csv has held cppr_cp_plan_id or cppr_cp_review_due"
        )
    starts = _plans(ctx).select(
        pl.col("cppl_cp_plan_id").alias("cppr_cp_plan_id"), "cppl_cp_plan_start_date"
    )
    r = r.join(starts, on="cppr_cp_plan_id", how="left").sort(
        "cppr_cp_plan_id", "cppr_cp_review_date"
    )
    # reviews with no plan are not one plan's series: they get no computed due date
    previous = pl.col("cppr_cp_review_date").shift(1).over("cppr_cp_plan_id")
    computed = (
        pl.when(pl.col("cppr_cp_plan_id").is_null())
        .then(pl.lit(None, pl.Date))
        .when(previous.is_null())
        .then(pl.col("cppl_cp_plan_start_date").dt.offset_by("3mo"))
        .otherwise(previous.dt.offset_by("6mo"))
    )
    given = (
        pl.col("cppr_cp_review_due")
        if ctx.has("cp_reviews", "cppr_cp_review_due")
        else pl.lit(None, pl.Date)
    )
    r = r.with_columns(
        pl.coalesce(given, computed).alias("due"),
        month_of(pl.col("cppr_cp_review_date")).alias("month"),
    )
    r = in_months(ctx, r)
    on_time = pl.col("cppr_cp_review_date") <= pl.col("due")
    reason = (
        pl.when(pl.col("due").is_null())
        .then(pl.lit("no due date (plan not found)"))
        .when(on_time)
        .then(pl.lit("on or before its due date"))
        .otherwise(pl.lit("after its due date"))
    )
    return records(
        r, "cppr_cp_review_id", on_time, pl.lit(True), reason, None, "cppr_cp_review_date", "due"
    )


# --- children looked after ----------------------------------------------------------------------


def _episodes(ctx: Context) -> pl.LazyFrame:
    """Episodes with their period of care (runs with no gap) and placement (runs joined by
    start reason L, a legal-status change only)."""
    e = ctx.table("cla_episodes", "clae_cla_episode_start_date").sort(
        "clae_person_id", "clae_cla_episode_start_date"
    )
    previous_end = pl.col("clae_cla_episode_ceased_date").shift(1).over("clae_person_id")
    new_period = previous_end.is_null() | (previous_end != pl.col("clae_cla_episode_start_date"))
    reason = (
        pl.col("clae_cla_episode_start_reason")
        if ctx.has("cla_episodes", "clae_cla_episode_start_reason")
        else pl.lit(None, pl.String)
    )
    new_placement = new_period | (reason.fill_null("") != "L")
    return e.with_columns(
        new_period.cum_sum().over("clae_person_id").alias("period"),
        new_placement.cum_sum().over("clae_person_id").alias("placement"),
    )


def _periods(ctx: Context) -> pl.LazyFrame:
    return (
        _episodes(ctx)
        .group_by("clae_person_id", "period")
        .agg(
            pl.col("clae_cla_episode_start_date").min().alias("period_start"),
            pl.col("clae_cla_episode_ceased_date").last().alias("period_end"),
            pl.col("clae_cla_episode_id").first().alias("first_episode"),
        )
        .with_columns(pl.format("{}#{}", "clae_person_id", "period").alias("period_id"))
    )


@rule("cla_open")
def children_looked_after(ctx: Context) -> pl.LazyFrame:
    e = open_at_month_end(
        ctx,
        ctx.table("cla_episodes", "clae_cla_episode_start_date", "clae_cla_episode_ceased_date"),
        "clae_cla_episode_start_date",
        "clae_cla_episode_ceased_date",
    )
    children = e.group_by("month", "clae_person_id").agg(
        pl.col("clae_cla_episode_id").sort().first().alias("episode")
    )
    return records(
        children,
        "clae_person_id",
        pl.lit(True),
        None,
        pl.lit("looked after at the month end"),
        None,
        "episode",
    )


@rule("cla_started")
def periods_started(ctx: Context) -> pl.LazyFrame:
    p = in_months(ctx, _periods(ctx).with_columns(month_of(pl.col("period_start")).alias("month")))
    return records(
        p, "period_id", pl.lit(True), None, pl.lit("period of care started"), None, "period_start"
    )


@rule("cla_ceased")
def periods_ceased(ctx: Context) -> pl.LazyFrame:
    ctx.table("cla_episodes", "clae_cla_episode_ceased_date")
    p = _periods(ctx).filter(pl.col("period_end").is_not_null())
    p = in_months(ctx, p.with_columns(month_of(pl.col("period_end")).alias("month")))
    return records(
        p,
        "period_id",
        pl.lit(True),
        None,
        pl.lit("period of care ended"),
        None,
        "period_start",
        "period_end",
    )


@rule("cla_reviews_on_time")
def cla_reviews_on_time(ctx: Context) -> pl.LazyFrame:
    """CLA reviews held in M on or before their due date: the recorded due date, else 20
    working days after the period of care starts, 3 months after the first, then 6-monthly."""
    r = ctx.table("cla_reviews", "clar_cla_review_date").sort("clar_cla_review_date")
    periods = _periods(ctx).sort("period_start")
    r = r.join_asof(
        periods,
        left_on="clar_cla_review_date",
        right_on="period_start",
        by_left="clar_person_id",
        by_right="clae_person_id",
        strategy="backward",
        check_sortedness=False,
    )
    r = r.sort("period_id", "clar_cla_review_date").with_columns(
        pl.col("clar_cla_review_date").cum_count().over("period_id").alias("number"),
        pl.col("clar_cla_review_date").shift(1).over("period_id").alias("previous"),
    )
    first_due = add_working_days(ctx.cal, pl.col("period_start"), 20)
    computed = (
        pl.when(pl.col("period_id").is_null())
        .then(pl.lit(None, pl.Date))
        .when(pl.col("number") == 1)
        .then(first_due)
        .when(pl.col("number") == 2)
        .then(pl.col("previous").dt.offset_by("3mo"))
        .otherwise(pl.col("previous").dt.offset_by("6mo"))
    )
    given = (
        pl.col("clar_cla_review_due_date")
        if ctx.has("cla_reviews", "clar_cla_review_due_date")
        else pl.lit(None, pl.Date)
    )
    r = r.with_columns(
        pl.coalesce(given, computed).alias("due"),
        month_of(pl.col("clar_cla_review_date")).alias("month"),
    )
    r = in_months(ctx, r)
    on_time = pl.col("clar_cla_review_date") <= pl.col("due")
    reason = (
        pl.when(pl.col("due").is_null())
        .then(pl.lit("no due date (no period of care found)"))
        .when(on_time)
        .then(pl.lit("on or before its due date"))
        .otherwise(pl.lit("after its due date"))
    )
    return records(
        r, "clar_cla_review_id", on_time, pl.lit(True), reason, None, "clar_cla_review_date", "due"
    )


@rule("cla_review_participation")
def cla_review_participation(ctx: Context) -> pl.LazyFrame:
    """Reviews in M with participation PN1 to PN6 / reviews in M with a code other than PN0."""
    r = ctx.table("cla_reviews", "clar_cla_review_date", "clar_cla_review_participation")
    r = in_months(ctx, r.with_columns(month_of(pl.col("clar_cla_review_date")).alias("month")))
    code = pl.col("clar_cla_review_participation")
    counted = code.is_not_null() & (code != "PN0")
    took_part = code.is_in(["PN1", "PN2", "PN3", "PN4", "PN5", "PN6"])
    reason = (
        pl.when(code.is_null())
        .then(pl.lit("no participation code: not counted"))
        .when(code == "PN0")
        .then(pl.lit("PN0 (under 4): not counted"))
        .otherwise(pl.format("participation {}", code))
    )
    return records(
        r,
        "clar_cla_review_id",
        took_part,
        counted,
        reason,
        None,
        "clar_cla_review_date",
        "clar_cla_review_participation",
    )


@rule("cla_3plus_placements")
def three_or_more_placements(ctx: Context) -> pl.LazyFrame:
    """Children looked after at the end of M with 3 or more placements overlapping the 12
    months ending M / children looked after at the end of M."""
    ctx.table("cla_episodes", "clae_cla_episode_start_reason")  # placements need them
    e = _episodes(ctx)
    placements = e.group_by("clae_person_id", "placement").agg(
        pl.col("clae_cla_episode_start_date").min().alias("placement_start"),
        pl.col("clae_cla_episode_ceased_date").last().alias("placement_end"),
    )
    looked_after = (
        children_looked_after(ctx)
        .select("month", pl.col("record").alias("clae_person_id"))
        .with_columns(
            pl.col("month").dt.month_end().alias("month_end"),
            pl.col("month").dt.offset_by("-11mo").alias("window_start"),
        )
    )
    counts = (
        looked_after.join(placements, on="clae_person_id")
        .filter(
            (pl.col("placement_start") <= pl.col("month_end"))
            & (
                pl.col("placement_end").is_null()
                | (pl.col("placement_end") >= pl.col("window_start"))
            )
        )
        .group_by("month", "clae_person_id")
        .agg(pl.len().alias("placements"))
    )
    children = looked_after.join(counts, on=["month", "clae_person_id"], how="left").with_columns(
        pl.col("placements").fill_null(0)
    )
    three = pl.col("placements") >= 3
    return records(
        children,
        "clae_person_id",
        three,
        pl.lit(True),
        pl.format("{} placement(s) in the 12 months", pl.col("placements")),
        None,
        "placements",
    )


# --- workforce and quality ----------------------------------------------------------------------


def _workforce(ctx: Context) -> pl.LazyFrame:
    """Each month's own snapshot (the extract closing that month), not the current view."""
    if ctx.store.scan("workforce") is None:
        raise NotAvailable("no extract has held workforce.csv")
    frames = []
    for month in ctx.months:
        snapshot = ctx.store.scan_version("workforce", f"{month:%Y-%m}")
        if snapshot is None:
            ctx.unavailable[month] = "no workforce snapshot in an extract for this month"
        else:
            frames.append(snapshot.with_columns(pl.lit(month).alias("month")))
    if not frames:
        raise NotAvailable("no workforce snapshot for these months")
    return pl.concat(frames, how="diagonal_relaxed")


@rule("agency_rate_fte")
def agency_share(ctx: Context) -> pl.LazyFrame:
    """FTE of agency workers (qualified social workers where recorded) / their total FTE."""
    w = _workforce(ctx)
    if ctx.has("workforce", "prof_qualified_sw"):
        w = w.filter(pl.col("prof_qualified_sw").fill_null(True))
    fte = pl.col("prof_full_time_equivalency")
    agency = pl.col("prof_agency_worker_flag").fill_null(False)
    return w.select(
        pl.col("month"),
        pl.col("prof_professional_id").alias("record"),
        # FTE-weighted: the engine sums these columns, so they carry the FTE itself
        pl.when(agency).then(fte).otherwise(0.0).alias("numerator"),
        fte.alias("denominator"),
        pl.when(agency).then(pl.lit("agency")).otherwise(pl.lit("permanent")).alias("reason"),
        (
            pl.col("prof_team") if ctx.has("workforce", "prof_team") else pl.lit(None, pl.String)
        ).alias("team"),
        fte.alias("fte"),
    )


@rule("average_caseload")
def average_caseload(ctx: Context) -> pl.LazyFrame:
    """Cases held by case-holding workers / their FTE."""
    ctx.table("workforce", "prof_professional_caseload")
    w = _workforce(ctx)
    if ctx.has("workforce", "prof_case_holding"):
        w = w.filter(pl.col("prof_case_holding").fill_null(False))
    return w.select(
        pl.col("month"),
        pl.col("prof_professional_id").alias("record"),
        pl.col("prof_professional_caseload").fill_null(0).cast(pl.Float64).alias("numerator"),
        pl.col("prof_full_time_equivalency").alias("denominator"),
        pl.lit("case-holding worker").alias("reason"),
        (
            pl.col("prof_team") if ctx.has("workforce", "prof_team") else pl.lit(None, pl.String)
        ).alias("team"),
        pl.col("prof_professional_caseload").alias("caseload"),
    )


@rule("audits")
def audits_held(ctx: Context) -> pl.LazyFrame:
    return count_in_month(
        ctx,
        "audits",
        "audi_audit_id",
        "audi_audit_date",
        _team(ctx, "audits", "audi_team"),
        None,
        *_held(ctx, "audits", "audi_grade"),
    )


@rule("audits_good")
def audits_good_or_better(ctx: Context) -> pl.LazyFrame:
    a = ctx.table("audits", "audi_audit_date", "audi_grade")
    a = in_months(ctx, a.with_columns(month_of(pl.col("audi_audit_date")).alias("month")))
    good = pl.col("audi_grade").is_in(["OUTSTANDING", "GOOD"])
    return records(
        a,
        "audi_audit_id",
        good,
        pl.lit(True),
        pl.format("graded {}", "audi_grade"),
        _team(ctx, "audits", "audi_team"),
        "audi_audit_date",
        "audi_grade",
    )


@rule("complaints")
def complaints_received(ctx: Context) -> pl.LazyFrame:
    stage = ctx.parameters.get("stage")
    keep = pl.col("comp_stage") == str(stage) if stage is not None else None
    if stage is not None:
        ctx.table("complaints", "comp_stage")
    return count_in_month(ctx, "complaints", "comp_complaint_id", "comp_received_date", None, keep)


@rule("complaints_upheld")
def complaints_upheld(ctx: Context) -> pl.LazyFrame:
    ctx.table("complaints", "comp_outcome", "comp_closed_date")
    return count_in_month(
        ctx,
        "complaints",
        "comp_complaint_id",
        "comp_closed_date",
        None,
        pl.col("comp_outcome") == "UPHELD",
        "comp_outcome",
    )


@rule("compliments")
def compliments_received(ctx: Context) -> pl.LazyFrame:
    return count_in_month(
        ctx,
        "compliments",
        "cmpl_compliment_id",
        "cmpl_received_date",
        _team(ctx, "compliments", "cmpl_team"),
    )
