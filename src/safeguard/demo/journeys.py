"""Children's journeys through the front door and child protection, simulated vectorised.

contact -> screening decision -> referral -> assessment (initial and core until September
2016, single after) -> strategy discussion -> section 47 enquiry -> initial conference ->
child protection plan with visits and reviews -> plan end; some children come back (a
re-referral within 12 months, a second plan). Volumes follow a county like Herefordshire in
2013-2017: seasonality, and the rise in child protection in 2015. Every aggregate the paper
shows emerges from these parameters; none is written directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from safeguard.calendar import WorkingCalendar
from safeguard.demo.common import DAY, People, Span, TruthTable, days

# --- parameters (scale 1) ---------------------------------------------------------------------
# fmt: off
CONTACTS_PER_WORKING_DAY = 22.8
WEEKEND_SHARE = 0.12  # a weekend or bank-holiday day has this share of a working day's contacts
SEASON = {1: 1.03, 2: 1.0, 3: 1.02, 4: 0.93, 5: 1.0, 6: 1.02, 7: 0.96, 8: 0.80, 9: 1.04,
          10: 1.06, 11: 1.04, 12: 0.86}
# financial-year volume trend of the front door (2013-14 ... 2016-17)
FRONT_DOOR_TREND = [
    (date(2011, 4, 1), 0.85), (date(2013, 4, 1), 0.86), (date(2014, 4, 1), 0.93),
    (date(2015, 4, 1), 1.0), (date(2016, 4, 1), 1.02), (date(2017, 4, 1), 1.02),
]
# the share of S47 enquiries leading to a conference: the 2015 rise in child protection
CP_PRESSURE = [
    (date(2011, 4, 1), 0.36), (date(2013, 4, 1), 0.36), (date(2014, 4, 1), 0.27),
    (date(2015, 3, 1), 0.31), (date(2015, 6, 1), 0.58), (date(2015, 10, 1), 0.52),
    (date(2015, 12, 1), 0.36), (date(2016, 3, 1), 0.36), (date(2017, 4, 1), 0.36),
]
OUTCOMES = {"NEW_REFERRAL": 0.48, "EXISTING_CASE": 0.14, "EARLY_HELP": 0.12, "ADVICE": 0.14,
            "NFA": 0.10, "OTHER": 0.02}
SOURCES = {"1A": 0.05, "1B": 0.02, "1C": 0.01, "1D": 0.02, "2A": 0.17, "2B": 0.02, "3A": 0.04,
           "3B": 0.04, "3C": 0.01, "3D": 0.02, "3E": 0.03, "3F": 0.03, "4": 0.02, "5A": 0.05,
           "5B": 0.03, "5C": 0.03, "5D": 0.04, "6": 0.28, "7": 0.02, "8": 0.04, "9": 0.01,
           "10": 0.02}
SAME_DAY_DECISION = 0.985
DECIDED_BY_QUALIFIED = 0.997
REREFERRAL = 0.215  # chance a referral is for a child referred in the last 12 months
REFERRAL_NFA = 0.27
NEEDS = {"N1": 0.55, "N2": 0.05, "N3": 0.05, "N4": 0.15, "N5": 0.10, "N6": 0.03, "N7": 0.01,
         "N8": 0.02, "N9": 0.03, "N0": 0.01}
INITIAL_IN_TIME = 0.73  # initial assessments within 10 working days
CORE_AFTER_INITIAL = 0.30
SINGLE_FROM = np.datetime64("2016-09-01")  # the authority moves to single assessments
STRATEGY_AT_REFERRAL = 0.45
STRATEGY_LATER = 0.28
S47_FROM_STRATEGY = 0.59
ICPC_IN_TIME = 0.83
PLAN_FROM_ICPC = 0.88
TRANSFER_IN_PER_MONTH = 0.8
EARLIER_PLAN_HISTORY = 0.16  # new plans for a child with a plan before the simulation
CATEGORIES = {"NEG": 0.50, "EMO": 0.33, "PHY": 0.08, "SAB": 0.05, "MUL": 0.04}
TEAMS = ["MASH", "Assessment Team 1", "Assessment Team 2"]
CP_TEAMS = ["Safeguarding and Review", "Assessment Team 1", "Assessment Team 2"]
ETHNICITIES = {"WBRI": 0.88, "WOTH": 0.04, "WIRT": 0.005, "WROM": 0.005, "MWBC": 0.02,
               "MOTH": 0.01, "AOTH": 0.01, "BAFR": 0.005, "OOTH": 0.01, "NOBT": 0.015}
# fmt: on


def _draw(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    """``n`` values drawn with the given weights."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys])
    return np.asarray(rng.choice(keys, n, p=p / p.sum()))


@dataclass(frozen=True)
class Journeys:
    tables: dict[str, TruthTable]
    people: People
    known: pl.DataFrame  # person_id, dob, date: children known to social care, from referral


def _piecewise(points: list[tuple[date, float]], when: np.ndarray) -> np.ndarray:
    xs = np.array([np.datetime64(d, "D") for d, _ in points]).astype(np.int64)
    ys = np.array([v for _, v in points])
    return np.asarray(np.interp(when.astype("datetime64[D]").astype(np.int64), xs, ys))


def _ids(prefix: str, n: int, start: int = 1, width: int = 7) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(start, start + n).astype(str), width))


def _months_later(day: np.ndarray, months: int) -> np.ndarray:
    """Same day number ``months`` later, or the month's last day (spec calendar offsets)."""
    d = day.astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    target = month + months
    offset = d - month.astype("datetime64[D]")
    last = (target + 1).astype("datetime64[D]") - 1
    return np.asarray(np.minimum(target.astype("datetime64[D]") + offset, last))


def _at_time(day: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    return np.asarray(day.astype("datetime64[m]") + minutes.astype("timedelta64[m]"))


def _resolve(pointer: np.ndarray) -> np.ndarray:
    """Follow pointers to their root (pointer jumping: a few vectorised passes)."""
    root = pointer.copy()
    while True:
        following = root[root]
        if np.array_equal(following, root):
            return root
        root = following


def simulate_journeys(rng: np.random.Generator, span: Span, cal: WorkingCalendar) -> Journeys:
    scale = span.scale
    every_day = np.arange(np.datetime64(span.sim_start, "D"), np.datetime64(span.end, "D") + 1)
    working = cal.is_working_day(every_day)
    months = every_day.astype("datetime64[M]").astype(int) % 12 + 1
    season = np.vectorize(SEASON.get)(months)
    rate = (
        CONTACTS_PER_WORKING_DAY
        * scale
        * season
        * _piecewise(FRONT_DOOR_TREND, every_day)
        * np.where(working, 1.0, WEEKEND_SHARE)
    )
    per_day = rng.poisson(rate)
    contact_day = np.repeat(every_day, per_day)
    n_contacts = contact_day.size
    is_wd = np.repeat(working, per_day)
    minutes = np.where(
        is_wd, rng.integers(8 * 60, 17 * 60, n_contacts), rng.integers(0, 24 * 60, n_contacts)
    )
    received = _at_time(contact_day, minutes)
    order = np.argsort(received, kind="stable")
    received, contact_day, is_wd = received[order], contact_day[order], is_wd[order]
    minutes = minutes[order]

    outcome = _draw(rng, OUTCOMES, n_contacts)
    source = _draw(rng, SOURCES, n_contacts)
    # the contact's working day: a contact on a non-working day belongs to the next one
    contact_wd = cal.next_working_day(contact_day)
    late = rng.random(n_contacts) >= SAME_DAY_DECISION
    decision_day = cal.add(contact_wd, np.where(late, rng.integers(1, 4, n_contacts), 0))
    start_minute = np.where(decision_day == contact_day, minutes, 8 * 60 + 30)
    decision_minute = np.minimum(start_minute + rng.integers(10, 240, n_contacts), 23 * 60 + 59)
    decided = _at_time(decision_day, decision_minute)
    qualified = rng.random(n_contacts) < DECIDED_BY_QUALIFIED

    # --- referrals: one per NEW_REFERRAL contact, on the decision day -----------------------
    ref_contact = np.flatnonzero(outcome == "NEW_REFERRAL")
    n_ref = ref_contact.size
    ref_date = decision_day[ref_contact]
    # a re-referral points at an earlier referral in the 12 months before; the child is found
    # by following the pointers back to a first referral
    window_start = np.searchsorted(ref_date, _months_later(ref_date, -12), side="left")
    before = np.arange(n_ref)
    repeat = (rng.random(n_ref) < REREFERRAL) & (window_start < before)
    pick = window_start + (rng.random(n_ref) * (before - window_start)).astype(np.int64)
    pointer = np.where(repeat, pick, before)
    root = _resolve(pointer)
    first_referral = np.flatnonzero(root == before)
    child_of_root = np.empty(n_ref, dtype=np.int64)
    child_of_root[first_referral] = np.arange(first_referral.size)
    ref_child = child_of_root[root]
    n_children = first_referral.size

    # other contacts: about children already known (EXISTING_CASE always), or new children
    other = np.flatnonzero(outcome != "NEW_REFERRAL")
    known_before = np.searchsorted(ref_date, contact_day[other], side="left")
    reuse = ((outcome[other] == "EXISTING_CASE") | (rng.random(other.size) < 0.35)) & (
        known_before > 0
    )
    pick_ref = (rng.random(other.size) * np.maximum(known_before, 1)).astype(np.int64)
    new_other = ~reuse
    other_child = np.where(
        reuse,
        ref_child[np.minimum(pick_ref, n_ref - 1)],
        n_children + np.cumsum(new_other) - 1,
    )
    n_people = n_children + int(new_other.sum())
    contact_child = np.empty(n_contacts, dtype=np.int64)
    contact_child[ref_contact] = ref_child
    contact_child[other] = other_child

    # --- people ------------------------------------------------------------------------------
    first_seen = np.full(n_people, np.datetime64("2100-01-01"), dtype=DAY)
    np.minimum.at(first_seen, contact_child, contact_day)
    age_days = (rng.beta(1.1, 1.6, n_people) * 17.9 * 365.25).astype(np.int64)
    unborn = rng.random(n_people) < 0.025
    dob = np.where(unborn, first_seen + rng.integers(20, 150, n_people), first_seen - age_days)
    person_ids = _ids("P", n_people)
    people = pl.DataFrame(
        {
            "pers_person_id": person_ids,
            "pers_sex": rng.choice(["M", "F"], n_people),  # U while unborn: see the snapshot
            "pers_ethnicity": _draw(rng, ETHNICITIES, n_people),
            "pers_dob": days(dob),
            "pers_unborn": unborn,
            "pers_disability": rng.random(n_people) < 0.07,
        }
    )

    contacts = pl.DataFrame(
        {
            "cont_contact_id": _ids("C", n_contacts, width=8),
            "cont_person_id": person_ids[contact_child],
            "cont_contact_date": pl.Series(received.astype("datetime64[us]")),
            "cont_contact_source_code": source,
            "cont_contact_outcome": outcome,
            "cont_decision_datetime": pl.Series(decided.astype("datetime64[us]")),
            "cont_decision_by_qualified": qualified,
            "_start": days(contact_day),
            "_end": days(decision_day),
        }
    )

    # --- assessments -------------------------------------------------------------------------
    ref_nfa = rng.random(n_ref) < REFERRAL_NFA
    assessed = np.flatnonzero(~ref_nfa)
    a_start = cal.add(ref_date[assessed], rng.choice([0, 0, 0, 0, 1, 2], assessed.size))
    single = a_start >= SINGLE_FROM
    in_time = rng.random(assessed.size) < np.where(single, 0.86, INITIAL_IN_TIME)
    timescale = np.where(single, 45, 10)
    wd = np.where(
        in_time,
        rng.integers(np.where(single, 15, 3), timescale + 1),
        timescale + rng.geometric(np.where(single, 0.12, 0.18)),
    )
    a_auth = cal.add(a_start, wd)
    a_type = np.where(single, "SINGLE", "INITIAL")
    a_nfa = rng.random(assessed.size) < np.where(single, 0.45, 0.50)
    # core assessments follow a share of initial assessments that found needs
    core = np.flatnonzero(~single & ~a_nfa & (rng.random(assessed.size) < CORE_AFTER_INITIAL / 0.5))
    c_start = a_auth[core]
    c_in_time = rng.random(core.size) < 0.80
    c_auth = cal.add(
        c_start,
        np.where(c_in_time, rng.integers(15, 36, core.size), 35 + rng.geometric(0.1, core.size)),
    )
    a_ref = np.concatenate([assessed, assessed[core]])
    n_assess = a_ref.size
    a_order = np.argsort(np.concatenate([a_start, c_start]), kind="stable")
    all_start = np.concatenate([a_start, c_start])[a_order]
    all_auth = np.concatenate([a_auth, c_auth])[a_order]
    all_type = np.concatenate([a_type, np.full(core.size, "CORE")])[a_order]
    all_nfa = np.concatenate([a_nfa, rng.random(core.size) < 0.3])[a_order]
    a_ref = a_ref[a_order]
    ref_ids = _ids("R", n_ref)
    blank_type = (all_type == "SINGLE") & (rng.random(n_assess) < 0.3)  # blank means SINGLE
    assessments = pl.DataFrame(
        {
            "cina_assessment_id": _ids("A", n_assess),
            "cina_person_id": person_ids[ref_child[a_ref]],
            "cina_referral_id": ref_ids[a_ref],
            "cina_assessment_start_date": days(all_start),
            "cina_assessment_auth_date": days(all_auth),
            "cina_assessment_type": _text(np.where(blank_type, np.array(None), all_type)),
            "cina_assessment_child_seen": rng.random(n_assess) < 0.95,
            "cina_assessment_outcome_nfa": all_nfa,
            "cina_assessment_team": rng.choice(TEAMS[1:], n_assess),
            "cina_assessment_worker_id": _worker(rng, n_assess, scale),
            "_start": days(all_start),
            "_end": days(all_auth),
        }
    )

    # --- strategy discussions, S47 enquiries, conferences ---------------------------------------
    at_ref = assessed[rng.random(assessed.size) < STRATEGY_AT_REFERRAL]
    later = assessed[rng.random(assessed.size) < STRATEGY_LATER]
    sd_ref = np.concatenate([at_ref, later])
    sd_date = np.concatenate(
        [
            cal.add(ref_date[at_ref], rng.integers(0, 3, at_ref.size)),
            cal.add(ref_date[later], rng.integers(12, 90, later.size)),
        ]
    )
    sd_order = np.argsort(sd_date, kind="stable")
    sd_ref, sd_date = sd_ref[sd_order], sd_date[sd_order]
    n_sd = sd_ref.size
    s47_mask = rng.random(n_sd) < S47_FROM_STRATEGY
    s47_sd = np.flatnonzero(s47_mask)
    n_s47 = s47_sd.size
    s47_ids = _ids("S", n_s47)
    sd_s47_id = np.full(n_sd, None, dtype=object)
    sd_s47_id[s47_sd] = s47_ids
    s47_start = sd_date[s47_sd]
    s47_ref = sd_ref[s47_sd]
    icpc_p = _piecewise(CP_PRESSURE, s47_start)
    to_icpc = rng.random(n_s47) < icpc_p
    icpc_in_time = rng.random(n_s47) < ICPC_IN_TIME
    icpc_wd = np.where(icpc_in_time, rng.integers(6, 16, n_s47), 15 + rng.geometric(0.2, n_s47))
    icpc_date = cal.add(s47_start, icpc_wd)
    s47_end = np.where(to_icpc, icpc_date, cal.add(s47_start, rng.integers(3, 15, n_s47)))
    strategy = pl.DataFrame(
        {
            "stra_strategy_discussion_id": _ids("SD", n_sd),
            "stra_person_id": person_ids[ref_child[sd_ref]],
            "stra_strategy_discussion_date": days(sd_date),
            "stra_s47_initiated": s47_mask,
            "stra_s47_enquiry_id": _text(sd_s47_id),
            "stra_referral_id": ref_ids[sd_ref],
            "stra_team": rng.choice(TEAMS, n_sd),
            "_start": days(sd_date),
            "_end": days(sd_date),
        }
    )
    s47 = pl.DataFrame(
        {
            "s47e_s47_enquiry_id": s47_ids,
            "s47e_person_id": person_ids[ref_child[s47_ref]],
            "s47e_referral_id": ref_ids[s47_ref],
            "s47e_s47_start_date": days(s47_start),
            "s47e_s47_end_date": days(s47_end),
            "s47e_s47_nfa": ~to_icpc & (rng.random(n_s47) < 0.6),
            "s47e_icpc_not_required": ~to_icpc,
            "s47e_team": rng.choice(TEAMS[1:], n_s47),
            "s47e_worker_id": _worker(rng, n_s47, scale),
            "_start": days(s47_start),
            "_end": days(s47_end),
        }
    )

    # conferences: from S47 enquiries, plus a few transfers in of children on another LA's plan
    from_s47 = np.flatnonzero(to_icpc)
    month_count = (
        (span.end.year - span.sim_start.year) * 12 + span.end.month - span.sim_start.month + 1
    )
    n_transfer = rng.poisson(TRANSFER_IN_PER_MONTH * scale * month_count)
    transfer_day = cal.next_working_day(
        np.datetime64(span.sim_start, "D") + rng.integers(0, every_day.size, n_transfer)
    )
    transfer_child = n_people + np.arange(n_transfer)
    n_people += n_transfer
    t_age = (rng.beta(1.1, 1.6, n_transfer) * 17 * 365.25).astype(np.int64)
    people = pl.concat(
        [
            people,
            pl.DataFrame(
                {
                    "pers_person_id": _ids("P", n_transfer, start=person_ids.size + 1),
                    "pers_sex": rng.choice(["M", "F"], n_transfer),
                    "pers_ethnicity": _draw(rng, ETHNICITIES, n_transfer),
                    "pers_dob": days(transfer_day - t_age),
                    "pers_unborn": np.zeros(n_transfer, dtype=bool),
                    "pers_disability": rng.random(n_transfer) < 0.07,
                }
            ),
        ]
    )
    all_person_ids = people["pers_person_id"].to_numpy()
    icpc_child = np.concatenate([ref_child[s47_ref[from_s47]], transfer_child])
    icpc_day = np.concatenate([icpc_date[from_s47], transfer_day])
    icpc_s47 = np.concatenate([s47_ids[from_s47], np.full(n_transfer, None, dtype=object)])
    icpc_transfer = np.concatenate([np.zeros(from_s47.size, bool), np.ones(n_transfer, bool)])
    i_order = np.argsort(icpc_day, kind="stable")
    icpc_child, icpc_day = icpc_child[i_order], icpc_day[i_order]
    icpc_s47, icpc_transfer = icpc_s47[i_order], icpc_transfer[i_order]
    n_icpc = icpc_day.size
    to_plan = rng.random(n_icpc) < np.where(icpc_transfer, 0.95, PLAN_FROM_ICPC)
    icpc_ids = _ids("IC", n_icpc)

    # --- child protection plans: from conferences, plus earlier history ----------------------
    plan_icpc = np.flatnonzero(to_plan)
    n_new_plans = plan_icpc.size
    p_start = icpc_day[plan_icpc]
    p_child = icpc_child[plan_icpc]
    duration = np.round(rng.lognormal(np.log(215), 0.62, n_new_plans)).astype(np.int64)
    p_end = cal.next_working_day(p_start + np.maximum(duration, 30))
    # a plan ends at a review conference: keep a child's plans apart (a later plan for the
    # same child starts after the earlier one ends, else it is dropped as a duplicate)
    plans_frame = pl.DataFrame(
        {"child": p_child, "start": days(p_start), "end": days(p_end), "icpc": plan_icpc}
    ).sort("child", "start")
    plans_frame = plans_frame.filter(
        pl.col("start") > pl.col("end").shift(1).over("child").fill_null(date(1900, 1, 1))
    ).sort("start", "icpc")
    plan_icpc = plans_frame["icpc"].to_numpy()
    p_child = plans_frame["child"].to_numpy()
    p_start = plans_frame["start"].to_numpy().astype(DAY)
    p_end = plans_frame["end"].to_numpy().astype(DAY)
    n_new_plans = plan_icpc.size
    icpc_plan_id = np.full(n_icpc, None, dtype=object)
    history = rng.random(n_new_plans) < EARLIER_PLAN_HISTORY
    first_new = np.ones(n_new_plans, dtype=bool)
    first_new[1:] = True
    _, first_index = np.unique(p_child, return_index=True)
    is_first_plan = np.zeros(n_new_plans, dtype=bool)
    is_first_plan[first_index] = True
    history &= is_first_plan
    h_plan = np.flatnonzero(history)
    h_end = p_start[h_plan] - rng.integers(200, 2000, h_plan.size)
    h_start = h_end - np.round(rng.lognormal(np.log(240), 0.5, h_plan.size)).astype(np.int64)
    h_start = cal.next_working_day(h_start)
    h_end = cal.next_working_day(np.maximum(h_end, h_start + 30))
    plan_child = np.concatenate([p_child, p_child[h_plan]])
    plan_start = np.concatenate([p_start, h_start])
    plan_end = np.concatenate([p_end, h_end])
    plan_icpc_link = np.concatenate([plan_icpc, np.full(h_plan.size, -1)])
    pl_order = np.lexsort((plan_child, plan_start))
    plan_child, plan_start = plan_child[pl_order], plan_start[pl_order]
    plan_end, plan_icpc_link = plan_end[pl_order], plan_icpc_link[pl_order]
    n_plans = plan_child.size
    plan_ids = _ids("CP", n_plans)
    linked = plan_icpc_link >= 0
    icpc_plan_id[plan_icpc_link[linked]] = plan_ids[linked]
    previous = (
        pl.DataFrame({"c": plan_child, "s": days(plan_start)})
        .with_columns(pl.col("s").rank("ordinal").over("c").alias("n"))["n"]
        .to_numpy()
        - 1
    )
    category = _draw(rng, CATEGORIES, n_plans)
    latest = np.where(rng.random(n_plans) < 0.9, category, _draw(rng, CATEGORIES, n_plans))
    # the history plans predate the simulation's conferences: give them no conference link
    icpcs = pl.DataFrame(
        {
            "icpc_icpc_id": icpc_ids,
            "icpc_person_id": all_person_ids[icpc_child],
            "icpc_s47_enquiry_id": _text(icpc_s47),
            "icpc_icpc_date": days(icpc_day),
            "icpc_icpc_transfer_in": icpc_transfer,
            "icpc_icpc_outcome_cp_flag": to_plan,
            "icpc_cp_plan_id": _text(icpc_plan_id),
            "_start": days(icpc_day),
            "_end": days(icpc_day),
        }
    )
    # a conference whose plan was dropped as overlapping an earlier one led to no new plan
    icpcs = icpcs.with_columns(
        pl.col("icpc_icpc_outcome_cp_flag") & pl.col("icpc_cp_plan_id").is_not_null()
    )
    plan_icpc_id = np.full(n_plans, None, dtype=object)
    plan_icpc_id[linked] = icpc_ids[plan_icpc_link[linked]]
    cp_plans = pl.DataFrame(
        {
            "cppl_cp_plan_id": plan_ids,
            "cppl_person_id": all_person_ids[plan_child],
            "cppl_cp_plan_start_date": days(plan_start),
            "cppl_cp_plan_end_date": days(plan_end),
            "cppl_cp_plan_initial_category": category,
            "cppl_cp_plan_latest_category": latest,
            "cppl_icpc_id": _text(plan_icpc_id),
            "cppl_number_of_previous_plans": previous.astype(np.int64),
            "cppl_cp_plan_team": rng.choice(CP_TEAMS, n_plans),
            "cppl_cp_plan_worker_id": _worker(rng, n_plans, scale),
            "_start": days(plan_start),
            "_end": days(plan_end),
        }
    )

    visits, reviews = _visits_and_reviews(
        rng, cal, plan_ids, all_person_ids[plan_child], plan_start, plan_end
    )

    # --- referral closure: after everything linked to it ----------------------------------------
    close = ref_date.copy()
    np.maximum.at(close, a_ref, all_auth)
    np.maximum.at(close, s47_ref, s47_end)
    np.maximum.at(close, sd_ref, sd_date)
    cin_months = rng.integers(1, 10, n_ref)
    open_after = np.where(ref_nfa, close, _months_later(close, 0) + cin_months * 30)
    # a referral leading to a plan stays open until the child's plan ends
    plan_end_of_child = np.full(n_people, np.datetime64("1900-01-01"), dtype=DAY)
    np.maximum.at(plan_end_of_child, plan_child, plan_end)
    child_end = plan_end_of_child[ref_child]
    has_plan_after = child_end > ref_date
    open_after = np.where(has_plan_after, np.maximum(open_after, child_end + 14), open_after)
    close_date = cal.next_working_day(open_after)
    reason = np.where(
        ref_nfa,
        "RC8",
        np.where(
            has_plan_after,
            "RC6",
            rng.choice(["RC8", "RC9", "RC6", "RC3", "RC7"], n_ref, p=[0.45, 0.25, 0.2, 0.05, 0.05]),
        ),
    )
    referrals = pl.DataFrame(
        {
            "cine_referral_id": ref_ids,
            "cine_person_id": person_ids[ref_child],
            "cine_referral_date": days(ref_date),
            "cine_referral_source_code": source[ref_contact],
            "cine_referral_nfa": ref_nfa,
            "cine_cin_primary_need_code": _draw(rng, NEEDS, n_ref),
            "cine_close_date": days(close_date),
            "cine_close_reason": reason,
            "cine_referral_team": rng.choice(TEAMS, n_ref),
            "cine_referral_worker_id": _worker(rng, n_ref, scale),
            "cine_contact_id": contacts["cont_contact_id"].to_numpy()[ref_contact],
            "_start": days(ref_date),
            "_end": days(close_date),
        }
    )
    known = pl.DataFrame(
        {
            "person_id": person_ids[ref_child],
            "dob": people["pers_dob"].to_numpy()[ref_child],
            "date": days(ref_date),
        }
    ).unique("person_id", keep="first", maintain_order=True)
    tables = {
        "contacts": TruthTable(contacts),
        "referrals": TruthTable(referrals, {"cine_close_reason": "cine_close_date"}),
        "assessments": TruthTable(
            assessments, {"cina_assessment_outcome_nfa": "cina_assessment_auth_date"}
        ),
        "strategy_discussions": TruthTable(strategy),
        "s47_enquiries": TruthTable(
            s47,
            {"s47e_s47_nfa": "s47e_s47_end_date", "s47e_icpc_not_required": "s47e_s47_end_date"},
        ),
        "icpcs": TruthTable(icpcs),
        "cp_plans": TruthTable(cp_plans),
        "cp_visits": TruthTable(visits),
        "cp_reviews": TruthTable(reviews),
    }
    return Journeys(tables, People(people), known)


def _text(values: np.ndarray) -> pl.Series:
    """A text column from a numpy array that may hold None."""
    return pl.Series(values.tolist(), dtype=pl.String)


def _worker(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    return (
        _ids("W", 1)[0:0].astype(object)
        if n == 0
        else np.char.add(
            "W", np.char.zfill(rng.integers(1, max(int(70 * scale), 2), n).astype(str), 5)
        )
    )


def _visits_and_reviews(
    rng: np.random.Generator,
    cal: WorkingCalendar,
    plan_ids: np.ndarray,
    persons: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Statutory visits about every 10 working days and review conferences (3 months, then
    every 6), inside each plan."""
    length = cal.elapsed(start, end)
    n_visits = np.maximum(length // 9, 1)
    plan_of_visit = np.repeat(np.arange(plan_ids.size), n_visits)
    step = np.where(
        rng.random(plan_of_visit.size) < 0.9,
        rng.integers(6, 11, plan_of_visit.size),
        rng.integers(11, 16, plan_of_visit.size),
    )
    offsets = (
        pl.DataFrame({"p": plan_of_visit, "s": step})
        .with_columns(pl.col("s").cum_sum().over("p"))["s"]
        .to_numpy()
    )
    visit_day = cal.add(start[plan_of_visit], offsets)
    keep = visit_day < end[plan_of_visit]
    plan_of_visit, visit_day = plan_of_visit[keep], visit_day[keep]
    v_order = np.argsort(visit_day, kind="stable")
    plan_of_visit, visit_day = plan_of_visit[v_order], visit_day[v_order]
    n = visit_day.size
    visits = pl.DataFrame(
        {
            "cppv_cp_visit_id": _ids("V", n, width=8),
            "cppv_person_id": persons[plan_of_visit],
            "cppv_cp_plan_id": plan_ids[plan_of_visit],
            "cppv_cp_visit_date": days(visit_day),
            "cppv_cp_visit_seen": rng.random(n) < 0.95,
            "cppv_cp_visit_seen_alone": rng.random(n) < 0.7,
            "_start": days(visit_day),
            "_end": days(visit_day),
        }
    )

    due: list[np.ndarray] = []
    held: list[np.ndarray] = []
    plan_of: list[np.ndarray] = []
    current = _months_later(start, 3)
    alive = np.arange(plan_ids.size)
    for _ in range(12):  # at most 12 reviews a plan (over 5 years)
        on_time = rng.random(alive.size) < 0.95
        happened = np.where(
            on_time,
            cal.add(current, -rng.integers(0, 6, alive.size)),
            cal.add(current, rng.integers(1, 8, alive.size)),
        )
        inside = happened <= end[alive]
        alive, current, happened = alive[inside], current[inside], happened[inside]
        if not alive.size:
            break
        due.append(current)
        held.append(np.maximum(happened, start[alive] + 1))
        plan_of.append(alive)
        current = _months_later(happened, 6)
    r_plan = np.concatenate(plan_of)
    r_held = np.concatenate(held)
    r_due = np.concatenate(due)
    r_order = np.argsort(r_held, kind="stable")
    r_plan, r_held, r_due = r_plan[r_order], r_held[r_order], r_due[r_order]
    n = r_held.size
    reviews = pl.DataFrame(
        {
            "cppr_cp_review_id": _ids("CR", n),
            "cppr_person_id": persons[r_plan],
            "cppr_cp_plan_id": plan_ids[r_plan],
            "cppr_cp_review_date": days(r_held),
            "cppr_cp_review_due": days(r_due),
            "_start": days(r_held),
            "_end": days(r_held),
        }
    )
    return visits, reviews
