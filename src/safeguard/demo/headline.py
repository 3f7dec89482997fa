"""The month's headline figures, computed from the processed store's rows.

A preview for the demo and its calibration tests until the indicator engine (with its
catalogue, trends and comparators) exists; the rules follow ``indicators.md`` in the planning
notes in their simplest form. Each figure is a numerator, a denominator and a value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from safeguard.calendar import WorkingCalendar
from safeguard.periods import Month
from safeguard.store import Store

TIMESCALE = {"INITIAL": 10, "CORE": 35, "SINGLE": 45}


@dataclass(frozen=True)
class Figure:
    id: str
    label: str
    value: float | None  # None: not available (a table missing) or not applicable (0 / 0)
    numerator: float | None = None
    denominator: float | None = None
    unit: str = "%"

    def text(self) -> str:
        if self.value is None:
            return "not available"
        if self.unit == "%":
            return f"{self.value:.1f}% ({self.numerator:,.0f} of {self.denominator:,.0f})"
        if self.unit == "per 10,000":
            return f"{self.value:.1f} per 10,000 ({self.numerator:,.0f} children)"
        if self.unit == "ratio":
            return f"{self.value:.1f}"
        return f"{self.value:,.0f}"


def _share(fid: str, label: str, numerator: int | float, denominator: int | float) -> Figure:
    value = 100 * numerator / denominator if denominator else None
    return Figure(fid, label, value, numerator, denominator)


def _in_month(frame: pl.DataFrame, column: str, month: Month) -> pl.DataFrame:
    day = pl.col(column)
    if isinstance(frame.schema[column], pl.Datetime):
        day = day.dt.date()
    return frame.filter(day.is_between(month.first_day, month.last_day))


def headline_figures(
    store: Store, month: Month, population: int, cal: WorkingCalendar
) -> list[Figure]:
    """The paper's headline figures for ``month`` from the store's current view."""
    end = month.last_day
    tables = {
        name: frame.collect()
        for name in (
            "contacts",
            "referrals",
            "assessments",
            "strategy_discussions",
            "cp_plans",
            "cla_episodes",
            "audits",
        )
        if (frame := store.scan(name)) is not None
    }
    figures: list[Figure] = []
    if "contacts" in tables:
        c = _in_month(tables["contacts"], "cont_contact_date", month)
        contact_wd = cal.next_working_day(c["cont_contact_date"].dt.date().to_numpy())
        decided = c["cont_decision_datetime"].dt.date().to_numpy().astype("datetime64[D]")
        same = (decided == contact_wd) & c["cont_decision_by_qualified"].fill_null(False).to_numpy()
        figures += [
            Figure("contacts", "Contacts received", c.height, unit="count"),
            _share(
                "contacts_screened_same_day_pct",
                "Contacts screened by a qualified worker the same working day",
                int(same.sum()),
                c.height,
            ),
            _share(
                "contacts_to_referral_pct",
                "Contacts that became referrals",
                int((c["cont_contact_outcome"] == "NEW_REFERRAL").sum()),
                c.height,
            ),
        ]
    if "referrals" in tables:
        r = tables["referrals"]
        now = _in_month(r, "cine_referral_date", month)
        earlier = r.select("cine_person_id", pl.col("cine_referral_date").alias("__d"))
        repeat = (
            now.join(earlier, on="cine_person_id")
            .filter(
                (pl.col("__d") < pl.col("cine_referral_date"))
                & (pl.col("__d") >= pl.col("cine_referral_date").dt.offset_by("-12mo"))
            )
            .get_column("cine_referral_id")
            .n_unique()
        )
        figures += [
            Figure("referrals", "Referrals", now.height, unit="count"),
            _share("rereferrals_12m_pct", "Re-referrals within 12 months", repeat, now.height),
        ]
    if "assessments" in tables:
        a = _in_month(tables["assessments"], "cina_assessment_auth_date", month)
        elapsed = cal.elapsed(
            a["cina_assessment_start_date"].to_numpy(), a["cina_assessment_auth_date"].to_numpy()
        )
        kinds = a["cina_assessment_type"].fill_null("SINGLE")
        limit = kinds.replace_strict(TIMESCALE, return_dtype=pl.Int64).to_numpy()
        initial = (kinds == "INITIAL").to_numpy()
        figures += [
            _share(
                "assessments_in_timescale_pct",
                "Assessments completed in timescale",
                int((elapsed <= limit).sum()),
                a.height,
            ),
            _share(
                "initial_assessments_10wd_pct",
                "Initial assessments within 10 working days",
                int((elapsed[initial] <= 10).sum()),
                int(initial.sum()),
            ),
        ]
    if "strategy_discussions" in tables:
        s = _in_month(tables["strategy_discussions"], "stra_strategy_discussion_date", month)
        figures += [
            Figure("strategy_discussions", "Strategy discussions", s.height, unit="count"),
            _share(
                "strategy_discussions_no_s47_pct",
                "Strategy discussions not leading to S47",
                int((~s["stra_s47_initiated"]).sum()),
                s.height,
            ),
        ]
    if "cp_plans" in tables:
        p = tables["cp_plans"]
        open_plans = p.filter(
            (pl.col("cppl_cp_plan_start_date") <= end)
            & (pl.col("cppl_cp_plan_end_date").is_null() | (pl.col("cppl_cp_plan_end_date") > end))
        )
        children = open_plans["cppl_person_id"].n_unique()
        figures += [
            Figure("cp_plans_open", "Children on a child protection plan", children, unit="count"),
            Figure(
                "cp_rate_per_10k",
                "Child protection rate",
                10_000 * children / population,
                children,
                population / 10_000,
                unit="per 10,000",
            ),
        ]
    if "cla_episodes" in tables:
        e = tables["cla_episodes"]
        looked_after = e.filter(
            (pl.col("clae_cla_episode_start_date") <= end)
            & (
                pl.col("clae_cla_episode_ceased_date").is_null()
                | (pl.col("clae_cla_episode_ceased_date") > end)
            )
        )["clae_person_id"].n_unique()
        figures.append(Figure("cla_open", "Children looked after", looked_after, unit="count"))
    workforce = store.scan_version("workforce", str(month))
    if workforce is not None:
        w = workforce.collect()
        qualified = w.filter(pl.col("prof_qualified_sw").fill_null(True))
        agency = qualified.filter(pl.col("prof_agency_worker_flag"))
        fte = float(qualified["prof_full_time_equivalency"].sum())
        holders = w.filter(pl.col("prof_case_holding").fill_null(False))
        cases = float(holders["prof_professional_caseload"].sum())
        holder_fte = float(holders["prof_full_time_equivalency"].sum())
        figures += [
            _share(
                "agency_rate_fte",
                "Agency social workers (share of FTE)",
                float(agency["prof_full_time_equivalency"].sum()),
                fte,
            ),
            Figure(
                "average_caseload",
                "Average caseload (cases per FTE)",
                cases / holder_fte if holder_fte else None,
                cases,
                holder_fte,
                unit="ratio",
            ),
        ]
    if "audits" in tables:
        au = _in_month(tables["audits"], "audi_audit_date", month)
        good = au["audi_grade"].is_in(["OUTSTANDING", "GOOD"]).sum()
        figures += [
            Figure("audits", "Case audits", au.height, unit="count"),
            _share(
                "audits_good_or_better_pct", "Audits graded good or better", int(good), au.height
            ),
        ]
    return [f for f in figures if not (isinstance(f.value, float) and np.isnan(f.value))]
