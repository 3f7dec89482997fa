"""Demoshire's social-work staff, case file audits, complaints and compliments.

The workforce is a pool of staff with start and leaving dates, simulated month by month:
each month the vacancies in every group (role x agency) are partly filled, and each new
starter gets a tenure drawn from the group's turnover (permanent about 15% a year, agency
about 40%). The agency share of qualified social workers' FTE follows a target path
(about half in September 2013, 61:39 permanent:agency in October 2015, about a quarter by
March 2017). ``Workforce.snapshot`` gives the month-end list of staff in post; caseloads are
drawn from a seed fixed per month, so a snapshot does not depend on call order.

Audits are a planned monthly quota; complaints and compliments arrive at random. All three
fall off in August and over Christmas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from safeguard.calendar import WorkingCalendar
from safeguard.demo.common import DAY, Span, TruthTable, days

Days = npt.NDArray[np.datetime64]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

TEAMS = (
    "MASH",
    "Assessment Team 1",
    "Assessment Team 2",
    "Safeguarding and Review",
    "Children in Care",
    "Children with Disabilities",
    "Children in Care, Leaving Care",
)
# where each kind of worker sits, over TEAMS
SW_TEAM_WEIGHTS = np.array([0.10, 0.16, 0.16, 0.20, 0.18, 0.10, 0.10])
TM_TEAM_WEIGHTS = np.array([1, 1, 1, 2, 1, 1, 1]) / 8
FSW_TEAM_WEIGHTS = np.array([0.05, 0.10, 0.10, 0.25, 0.20, 0.20, 0.10])
# what each kind of record is about, over TEAMS
AUDIT_TEAM_WEIGHTS = np.array([0.06, 0.17, 0.17, 0.24, 0.18, 0.09, 0.09])
COMPLIMENT_TEAM_WEIGHTS = np.array([0.05, 0.14, 0.14, 0.20, 0.20, 0.15, 0.12])

SOCIAL_WORKER, SENIOR_SW, ADVANCED, MANAGER, FAMILY_SUPPORT = (
    "Social Worker",
    "Senior Social Worker",
    "Advanced Practitioner",
    "Team Manager",
    "Family Support Worker",
)
TITLES = (SOCIAL_WORKER, SENIOR_SW, ADVANCED, MANAGER, FAMILY_SUPPORT)
SW_TITLE_P = {False: np.array([0.55, 0.30, 0.15]), True: np.array([0.70, 0.25, 0.05])}
# relative caseload by case-holding title (advanced practitioners hold fewer, harder cases)
TITLE_LOAD = np.array([1.02, 1.0, 0.85, 0.0, 0.0])

FTE_VALUES = np.array([1.0, 0.8, 0.6, 0.5])
FTE_P = {False: np.array([0.72, 0.15, 0.07, 0.06]), True: np.array([0.92, 0.08, 0.0, 0.0])}
MANAGER_FTE_P = np.array([0.88, 0.12, 0.0, 0.0])

# groups: role x agency; role 0 = case-holding qualified social worker, 1 = team manager,
# 2 = family support worker. Head counts at scale 1 and the agency share of managers and
# family support workers (the social workers' share is solved from the FTE target).
SW_ROLE, TM_ROLE, FSW_ROLE = 0, 1, 2
ROLE_HEADS = {SW_ROLE: 70.0, TM_ROLE: 8.0, FSW_ROLE: 12.0}
FIXED_AGENCY = {TM_ROLE: 0.10, FSW_ROLE: 0.05}
TURNOVER = {False: 0.15, True: 0.40}  # leavers a year per head in post
FILL = 0.8  # share of a month-start vacancy filled during the month
MIN_TENURE_DAYS = 20

# target agency share of qualified social workers' FTE
AGENCY_PATH = (
    (date(2011, 4, 1), 0.40),
    (date(2013, 9, 30), 0.52),
    (date(2015, 10, 31), 0.38),
    (date(2017, 3, 31), 0.23),
)
# mean cases per FTE of case-holding workers
CASELOAD_PATH = (
    (date(2011, 4, 1), 19.5),
    (date(2013, 9, 30), 23.0),
    (date(2015, 10, 31), 25.0),
    (date(2017, 3, 31), 20.0),
)
CASELOAD_WORKER_SD = 0.2  # spread of workers' persistent caseload factor
CASELOAD_MONTH_SD = 0.1  # month-to-month wobble of each worker's caseload
RAMP_DAYS = 60  # a new starter builds up a full caseload over this many days

AUDITS_A_MONTH = 27.0
AUDIT_GRADES = ("OUTSTANDING", "GOOD", "REQUIRES_IMPROVEMENT", "INADEQUATE")
AUDIT_GRADE_P = np.array([0.08, 0.58, 0.28, 0.06])
AUDIT_QUOTA_SD = 0.08
AUDIT_RECENT_DAYS = 365  # audits sample children known in the past year where there are any

COMPLAINTS_A_MONTH = 10.0
COMPLAINT_STAGES = ("1", "2", "3")
COMPLAINT_STAGE_P = np.array([0.85, 0.12, 0.03])
# working days to close, gamma (shape, scale) by stage: stage 1 mostly within 20, stage 2 ~65
COMPLAINT_CLOSE_GAMMA = np.array([[2.5, 5.0], [6.0, 9.0], [5.0, 8.0]])
COMPLAINT_OUTCOMES = ("UPHELD", "PARTIALLY_UPHELD", "NOT_UPHELD", "WITHDRAWN")
COMPLAINT_OUTCOME_P = np.array([0.25, 0.25, 0.45, 0.05])

COMPLIMENTS_A_MONTH = 8.0

WORKING_DAYS_A_MONTH = 253 / 12
AUGUST_FACTOR = 0.75
CHRISTMAS_FACTOR = 0.4  # 20-31 December


def _path(points: tuple[tuple[date, float], ...], when: Days) -> Floats:
    """Piecewise-linear interpolation of a dated path (held flat beyond its ends)."""
    xs = np.array([np.datetime64(d, "D") for d, _ in points]).astype(np.int64)
    ys = np.array([v for _, v in points], dtype=np.float64)
    return np.interp(np.asarray(when, dtype=DAY).astype(np.int64), xs, ys)


def _fte_means() -> tuple[float, float]:
    """Expected FTE of a permanent and an agency social worker."""
    return float(FTE_VALUES @ FTE_P[False]), float(FTE_VALUES @ FTE_P[True])


def _sw_agency_share(target: Floats) -> Floats:
    """Agency share of case-holding social workers' head count giving ``target`` agency share
    of all qualified social workers' FTE (team managers included, at their fixed share)."""
    perm, agency = _fte_means()
    a, b = ROLE_HEADS[SW_ROLE] * agency, ROLE_HEADS[SW_ROLE] * perm
    manager_fte = ROLE_HEADS[TM_ROLE] * float(FTE_VALUES @ MANAGER_FTE_P)
    manager_agency = manager_fte * FIXED_AGENCY[TM_ROLE]
    # target * (q a + (1 - q) b + M) = q a + M_agency, solved for q
    share = (target * b + target * manager_fte - manager_agency) / (a - target * a + target * b)
    return np.clip(share, 0.0, 1.0)


def _group_targets(when: Days, scale: float) -> Floats:
    """Target head count of each group (rows: role, agency) on each day: shape (n, 6)."""
    q = _sw_agency_share(_path(AGENCY_PATH, when))
    out = np.empty((q.size, 6))
    for role, heads in ROLE_HEADS.items():
        share = q if role == SW_ROLE else np.full(q.size, FIXED_AGENCY[role])
        out[:, 2 * role] = heads * scale * (1 - share)
        out[:, 2 * role + 1] = heads * scale * share
    return out


def _month_starts(first: date, last: date) -> Days:
    """The first day of every month from ``first``'s month to ``last``'s."""
    months = np.arange(
        np.datetime64(first, "M"), np.datetime64(last, "M") + 1, dtype="datetime64[M]"
    )
    return months.astype(DAY)


@dataclass(frozen=True)
class Workforce:
    """Every social-work staff member who was in post at some point of the simulation.

    ``staff`` columns: prof_professional_id, prof_team, prof_professional_job_title,
    prof_full_time_equivalency, prof_agency_worker_flag, prof_case_holding, prof_qualified_sw
    (as in the extract), start (Date: first day in post), left (Date: last day in post, null
    while still in post at the span's end), load (Float64: the worker's persistent caseload
    factor, 0 for non-case-holders).
    """

    staff: pl.DataFrame
    seed: int

    def snapshot(self, month_end: date) -> pl.DataFrame:
        """The staff in post on ``month_end``, as the workforce extract shows them."""
        in_post = self.staff.with_row_index("_row").filter(
            (pl.col("start") <= month_end)
            & (pl.col("left").is_null() | (pl.col("left") >= month_end))
        )
        month = month_end.year * 12 + month_end.month - 1
        # draws per staff member ever, indexed by row, so a worker's caseload does not depend
        # on who else is in post: a uniform fixed for the whole simulation (the worker's place
        # in the caseload distribution) and a gamma wobble drawn afresh each month
        noise = np.random.default_rng([self.seed]).random(self.staff.height)
        rng = np.random.default_rng([self.seed, month])
        wobble = rng.gamma(1 / CASELOAD_MONTH_SD**2, CASELOAD_MONTH_SD**2, self.staff.height)

        rows = in_post["_row"].to_numpy().astype(np.int64)
        fte = in_post["prof_full_time_equivalency"].to_numpy()
        load = in_post["load"].to_numpy()
        start = in_post["start"].to_numpy().astype(DAY)
        served = (np.datetime64(month_end, "D") - start).astype(np.int64)
        ramp = np.clip((served + 15) / RAMP_DAYS, 0.0, 1.0)
        mean = _path(CASELOAD_PATH, np.array([month_end], dtype=DAY))[0]
        expected = fte * mean * load * ramp * wobble[rows]
        # a Poisson count by inverse transform of this worker's uniform draw
        cases = _poisson_quantile(expected, noise[rows])
        holding = in_post["prof_case_holding"].to_numpy()
        caseload = pl.Series(
            "prof_professional_caseload", np.where(holding, cases, 0), dtype=pl.Int64
        )
        return (
            in_post.with_columns(
                pl.when(pl.col("prof_case_holding")).then(caseload).alias(caseload.name)
            )
            .select(WORKFORCE_COLUMNS)
            .sort("prof_professional_id")
        )


WORKFORCE_COLUMNS = [
    "prof_professional_id",
    "prof_team",
    "prof_professional_job_title",
    "prof_full_time_equivalency",
    "prof_agency_worker_flag",
    "prof_case_holding",
    "prof_professional_caseload",
    "prof_qualified_sw",
]


def _poisson_quantile(mean: Floats, u: Floats) -> Ints:
    """The Poisson(mean) quantile of each uniform ``u`` (vectorised; means up to a few
    hundred)."""
    top = int(np.ceil(mean.max() * 2 + 20)) if mean.size else 1
    k = np.arange(top + 1)
    safe = np.maximum(mean, 1e-12)[:, None]
    logpmf = k * np.log(safe) - safe - np.cumsum(np.log(np.maximum(k, 1)))
    cdf = np.cumsum(np.exp(logpmf), axis=1)
    found: Ints = (cdf < u[:, None]).sum(axis=1).astype(np.int64)
    return np.where(mean > 0, np.minimum(found, top), 0)


def _new_staff(
    rng: np.random.Generator, group: Ints, start: Days, tenure_from: Days, cal: WorkingCalendar
) -> dict[str, Any]:
    """Attributes of staff in ``group`` (2 * role + agency) starting on ``start``; tenures are
    counted from ``tenure_from`` (the start, or for the staff already in post on the first
    day, that day: tenure is memoryless)."""
    n = group.size
    role, agency = group // 2, (group % 2).astype(bool)
    hazard = np.where(agency, TURNOVER[True], TURNOVER[False])
    tenure = np.maximum(rng.exponential(365.25 / hazard), MIN_TENURE_DAYS).astype(np.int64)
    left = cal.add(np.asarray(tenure_from, dtype=DAY) + tenure, 0) - 1

    title = np.where(
        agency,
        rng.choice(3, n, p=SW_TITLE_P[True]),
        rng.choice(3, n, p=SW_TITLE_P[False]),
    )
    title = np.select([role == TM_ROLE, role == FSW_ROLE], [3, 4], title)
    team = np.select(
        [role == SW_ROLE, role == TM_ROLE],
        [
            rng.choice(len(TEAMS), n, p=SW_TEAM_WEIGHTS),
            rng.choice(len(TEAMS), n, p=TM_TEAM_WEIGHTS),
        ],
        rng.choice(len(TEAMS), n, p=FSW_TEAM_WEIGHTS),
    )
    fte_index = np.where(agency, rng.choice(4, n, p=FTE_P[True]), rng.choice(4, n, p=FTE_P[False]))
    fte_index = np.where(role == TM_ROLE, rng.choice(4, n, p=MANAGER_FTE_P), fte_index)
    shape = 1 / CASELOAD_WORKER_SD**2
    load = rng.gamma(shape, 1 / shape, n) * TITLE_LOAD[title]
    return {
        "group": group,
        "start": np.asarray(start, dtype=DAY),
        "left": left,
        "title": title,
        "team": team,
        "fte": FTE_VALUES[fte_index],
        "load": load,
    }


def simulate_workforce(rng: np.random.Generator, span: Span, cal: WorkingCalendar) -> Workforce:
    """Staff in post from ``span.sim_start`` to ``span.end``, month by month."""
    first = np.datetime64(span.sim_start, "D")
    end = np.datetime64(span.end, "D")

    # staff in post on the first day: a stationary pool, so time in post so far and time
    # still to serve are both exponential
    targets = _group_targets(np.array([first]), span.scale)[0]
    group = np.repeat(np.arange(6), np.round(targets).astype(np.int64))
    hazard = np.where(group % 2 == 1, TURNOVER[True], TURNOVER[False])
    served = rng.exponential(365.25 / hazard).astype(np.int64)
    chunks = [_new_staff(rng, group, first - served, np.full(group.size, first), cal)]

    months = _month_starts(span.sim_start, span.end)
    months_end = (months.astype("datetime64[M]") + 1).astype(DAY) - 1
    month_targets = _group_targets(months, span.scale)
    for m, month in enumerate(months):
        day = max(month, first)
        groups = np.concatenate([c["group"] for c in chunks])
        start = np.concatenate([c["start"] for c in chunks])
        left = np.concatenate([c["left"] for c in chunks])
        here = (start <= day) & (left >= day)
        in_post = np.bincount(groups[here], minlength=6)
        gap = np.maximum(np.round(month_targets[m] - in_post), 0).astype(np.int64)
        hires = rng.binomial(gap, FILL)
        if hires.sum() == 0:
            continue
        group = np.repeat(np.arange(6), hires)
        workdays = cal.working_days(day.item(), min(months_end[m], end).item())
        starts = workdays[rng.integers(0, workdays.size, group.size)]
        chunks.append(_new_staff(rng, group, starts, starts, cal))

    pool = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
    order = np.lexsort((rng.random(pool["group"].size), pool["start"]))
    pool = {key: value[order] for key, value in pool.items()}
    role, agency = pool["group"] // 2, (pool["group"] % 2).astype(bool)
    n = role.size
    ids = np.char.add("W", np.char.zfill(np.arange(101, 101 + n).astype(str), 5))
    left = pool["left"]
    staff = pl.DataFrame(
        {
            "prof_professional_id": pl.Series(ids.tolist(), dtype=pl.String),
            "prof_team": pl.Series(np.array(TEAMS)[pool["team"]].tolist(), dtype=pl.String),
            "prof_professional_job_title": pl.Series(
                np.array(TITLES)[pool["title"]].tolist(), dtype=pl.String
            ),
            "prof_full_time_equivalency": pl.Series(pool["fte"], dtype=pl.Float64),
            "prof_agency_worker_flag": pl.Series(agency, dtype=pl.Boolean),
            "prof_case_holding": pl.Series(role == SW_ROLE, dtype=pl.Boolean),
            "prof_qualified_sw": pl.Series(role != FSW_ROLE, dtype=pl.Boolean),
            "start": days(pool["start"]),
            "left": days(left),
            "load": pl.Series(pool["load"], dtype=pl.Float64),
        }
    ).with_columns(pl.when(pl.col("left") <= span.end).then(pl.col("left")).alias("left"))
    seed = int(rng.integers(0, 2**63 - 1))
    return Workforce(staff=staff, seed=seed)


# --- audits, complaints, compliments -------------------------------------------------------


def _working_days(span: Span, cal: WorkingCalendar) -> tuple[Days, Floats, Ints]:
    """Working days of the span, each day's seasonal weight and its month number (0 = the
    span's first month)."""
    workdays = cal.working_days(span.sim_start, span.end)
    month = workdays.astype("datetime64[M]")
    month_of_year = month.astype(np.int64) % 12 + 1
    day_of_month = (workdays - month.astype(DAY)).astype(np.int64) + 1
    weight = np.ones(workdays.size)
    weight[month_of_year == 8] = AUGUST_FACTOR
    weight[(month_of_year == 12) & (day_of_month >= 20)] = CHRISTMAS_FACTOR
    index = (month - np.datetime64(span.sim_start, "M")).astype(np.int64)
    return workdays, weight, index


def _sample_days(
    rng: np.random.Generator, workdays: Days, weight: Floats, month: Ints, counts: Ints
) -> Days:
    """``counts[m]`` working days of each month m, drawn in proportion to ``weight``, sorted."""
    cum = np.cumsum(weight)
    month_hi = np.bincount(month, weights=weight, minlength=counts.size).cumsum()
    month_lo = month_hi - np.bincount(month, weights=weight, minlength=counts.size)
    which = np.repeat(np.arange(counts.size), counts)
    u = month_lo[which] + rng.random(which.size) * (month_hi[which] - month_lo[which])
    picked = np.minimum(np.searchsorted(cum, u, side="right"), workdays.size - 1)
    return np.sort(workdays[picked])


def _arrivals(rng: np.random.Generator, span: Span, cal: WorkingCalendar, a_month: float) -> Days:
    """Random (Poisson) arrivals on working days at ``a_month`` a month at scale 1."""
    workdays, weight, month = _working_days(span, cal)
    expected = np.bincount(month, weights=weight) * a_month * span.scale / WORKING_DAYS_A_MONTH
    return _sample_days(rng, workdays, weight, month, rng.poisson(expected))


def _ids(prefix: str, n: int) -> pl.Series:
    return pl.Series(np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), 6)))


def simulate_audits(
    rng: np.random.Generator, span: Span, cal: WorkingCalendar, known: pl.DataFrame
) -> TruthTable:
    """Case file audits: a monthly quota of about 27 at scale 1, each of a child known by then
    (``known``: person_id String, date Date; preferring children known in the past year)."""
    workdays, weight, month = _working_days(span, cal)
    quota = np.bincount(month, weights=weight) * AUDITS_A_MONTH * span.scale
    quota = quota / WORKING_DAYS_A_MONTH * rng.normal(1.0, AUDIT_QUOTA_SD, quota.size)
    counts = np.maximum(np.round(quota), 0).astype(np.int64)
    when = _sample_days(rng, workdays, weight, month, counts)
    n = when.size

    ordered = known.select("person_id", "date").drop_nulls().sort("date")
    known_days = ordered["date"].to_numpy().astype(DAY)
    people = ordered["person_id"].to_numpy()
    hi = np.searchsorted(known_days, when, side="right")
    lo = np.searchsorted(known_days, when - AUDIT_RECENT_DAYS, side="left")
    lo = np.where(lo < hi, lo, 0)
    pick = lo + np.floor(rng.random(n) * (hi - lo)).astype(np.int64)
    if people.size:
        chosen = pl.Series(people[np.minimum(pick, people.size - 1)], dtype=pl.String)
        person = chosen.zip_with(pl.Series(hi > 0), pl.Series([None] * n, dtype=pl.String))
    else:
        person = pl.Series([None] * n, dtype=pl.String)

    grade = rng.choice(len(AUDIT_GRADES), n, p=AUDIT_GRADE_P)
    team = rng.choice(len(TEAMS), n, p=AUDIT_TEAM_WEIGHTS)
    audit_day = days(when)
    frame = pl.DataFrame(
        {
            "audi_audit_id": _ids("AU", n),
            "audi_audit_date": audit_day,
            "audi_grade": pl.Series(np.array(AUDIT_GRADES)[grade].tolist(), dtype=pl.String),
            "audi_person_id": person,
            "audi_team": pl.Series(np.array(TEAMS)[team].tolist(), dtype=pl.String),
            "_start": audit_day,
            "_end": audit_day,
        }
    )
    return TruthTable(frame)


def simulate_complaints(rng: np.random.Generator, span: Span, cal: WorkingCalendar) -> TruthTable:
    """Complaints, about 10 a month at scale 1; closed some working days after receipt (the
    outcome and closure date stay blank for those still open at the span's end)."""
    received = _arrivals(rng, span, cal, COMPLAINTS_A_MONTH)
    n = received.size
    stage = rng.choice(len(COMPLAINT_STAGES), n, p=COMPLAINT_STAGE_P)
    outcome = rng.choice(len(COMPLAINT_OUTCOMES), n, p=COMPLAINT_OUTCOME_P)
    shape, scale = COMPLAINT_CLOSE_GAMMA[stage, 0], COMPLAINT_CLOSE_GAMMA[stage, 1]
    took = rng.gamma(shape, scale) * np.where(outcome == 3, 0.5, 1.0)  # withdrawn: sooner
    closed = cal.add(received, np.maximum(np.round(took), 1).astype(np.int64))
    is_open = closed > np.datetime64(span.end, "D")

    received_day = days(received)
    closed_day = days(closed)
    outcomes = pl.Series(np.array(COMPLAINT_OUTCOMES)[outcome].tolist(), dtype=pl.String)
    frame = pl.DataFrame(
        {
            "comp_complaint_id": _ids("CMP", n),
            "comp_received_date": received_day,
            "comp_stage": pl.Series(np.array(COMPLAINT_STAGES)[stage].tolist(), dtype=pl.String),
            "comp_outcome": outcomes,
            "comp_closed_date": closed_day,
            "_open": pl.Series(is_open, dtype=pl.Boolean),
        }
    )
    frame = frame.with_columns(
        pl.when(~pl.col("_open")).then(pl.col(c)).alias(c)
        for c in ("comp_outcome", "comp_closed_date")
    ).with_columns(
        pl.col("comp_received_date").alias("_start"), pl.col("comp_closed_date").alias("_end")
    )
    return TruthTable(frame.drop("_open"), reveal={"comp_outcome": "comp_closed_date"})


def simulate_compliments(rng: np.random.Generator, span: Span, cal: WorkingCalendar) -> TruthTable:
    """Compliments, about 8 a month at scale 1, each credited to a team."""
    received = _arrivals(rng, span, cal, COMPLIMENTS_A_MONTH)
    n = received.size
    team = rng.choice(len(TEAMS), n, p=COMPLIMENT_TEAM_WEIGHTS)
    received_day = days(received)
    frame = pl.DataFrame(
        {
            "cmpl_compliment_id": _ids("CML", n),
            "cmpl_received_date": received_day,
            "cmpl_team": pl.Series(np.array(TEAMS)[team].tolist(), dtype=pl.String),
            "_start": received_day,
            "_end": received_day,
        }
    )
    return TruthTable(frame)
