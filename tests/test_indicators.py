"""Every indicator of the catalogue against hand-built extracts, answers worked out by hand.

Each themed store below is a tiny extract (or two) written as CSV text, ingested into a processed
store exactly as ``safeguard ingest`` would, then computed with the engine for the catalogue's 24
months. The expected figures follow ``shared/spec/indicators.md`` word for word; the comment above
each table row and each expected figure says why. Working days are Monday to Friday less England
bank holidays; around the cases here that means:

    Christmas 2015: Fri 25 Dec and Mon 28 Dec (substitute Boxing Day), Fri 1 Jan 2016
    Easter 2016:    Fri 25 Mar (Good Friday) and Mon 28 Mar (Easter Monday)
    May 2015:       Mon 4 May (early May bank holiday)

"Elapsed working days from A to B" counts the working days d with A < d <= B.

The cases first written as expected failures (the engine then disagreed with the spec) now
pass: a Saturday start's first review, columns never extracted, reviews with no plan or
period, and the 18-month share counted in children.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from safeguard.indicators.catalogue import Population, load_authority, load_catalogue
from safeguard.indicators.engine import calendar_for_months, compute, month_list
from safeguard.indicators.rules import RULES, Context
from safeguard.ingest.stage import ingest
from safeguard.periods import Month
from safeguard.schema import Contract
from safeguard.store import Store
from tests.conftest import PIPELINES, csv_text

CATALOGUE = load_catalogue(PIPELINES)
AUTHORITY = load_authority(PIPELINES)
MID_2015 = 35_276  # children 0-17, used for April 2015 to March 2016
MID_2016 = 34_913  # used for April 2016 to March 2017

OK, NOT_APPLICABLE, NOT_AVAILABLE = "ok", "not applicable", "not available"
EMPTY_DENOMINATOR = "nothing in the denominator this month"

Extract = tuple[str, dict[str, str]]


# --- building and reading stores ------------------------------------------------------------------


def write_folder(raw: Path, month: str, tables: dict[str, str]) -> Path:
    folder = raw / month
    folder.mkdir(parents=True, exist_ok=True)
    for stem, text in tables.items():
        (folder / f"{stem}.csv").write_text(csv_text(text), encoding="utf-8")
    return folder


def ingest_all(root: Path, contract: Contract, *extracts: Extract) -> Store:
    """Ingest each extract in turn; every one must load cleanly (no issue of any kind)."""
    processed = root / "processed"
    for month, tables in extracts:
        folder = write_folder(root / "raw", month, tables)
        outcome = ingest(folder, Month.parse(month), contract, processed)
        issues = outcome.report.issues.select("file", "line", "column", "rule").rows()
        assert outcome.action == "written", issues
        assert issues == []
    return Store(processed)


@dataclass(frozen=True)
class Built:
    """A store and the engine's series for the 24 months ending ``month``."""

    store: Store
    month: Month
    series: pl.DataFrame

    def figure(self, indicator: str, month: str) -> dict[str, Any]:
        first = Month.parse(month).first_day
        found = self.series.filter(
            (pl.col("indicator") == indicator) & (pl.col("month") == first)
        ).to_dicts()
        assert len(found) == 1, f"{indicator} {month}: {found}"
        return found[0]

    def rows(self, indicator: str, month: str, **parameters: Any) -> dict[str, dict[str, Any]]:
        """The rule's record rows for one month, by record id (the ``explain`` view)."""
        frame = rule_frame(self.store, indicator, self.month, **parameters)
        first = Month.parse(month).first_day
        chosen = frame.filter(pl.col("month") == first).to_dicts()
        by_record = {row["record"]: row for row in chosen}
        assert len(by_record) == len(chosen), "a record counted twice in one month"
        return by_record


def rule_frame(store: Store, indicator: str, month: Month, **parameters: Any) -> pl.DataFrame:
    """Call an indicator's rule directly, with the context the engine would build."""
    spec = CATALOGUE.indicators[indicator]
    months = month_list(month, CATALOGUE.months)
    ctx = Context(
        store,
        months,
        calendar_for_months(months, AUTHORITY),
        parameters={**spec.parameters, **parameters},
    )
    return RULES[spec.rule](ctx).collect()


def build(root: Path, contract: Contract, month: Month, *extracts: Extract) -> Built:
    store = ingest_all(root, contract, *extracts)
    return Built(store, month, compute(store, CATALOGUE, AUTHORITY, month).series)


# --- expected figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Want:
    status: str
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    reason: str = ""


def count(n: int) -> Want:
    return Want(OK, n, n, None)


def pct(numerator: float, denominator: float) -> Want:
    return Want(OK, 100 * numerator / denominator, numerator, denominator)


def ratio(numerator: float, denominator: float) -> Want:
    return Want(OK, numerator / denominator, numerator, denominator)


def rate(numerator: int, population: int) -> Want:
    return Want(OK, 10_000 * numerator / population, numerator, population / 10_000)


def not_applicable() -> Want:
    return Want(NOT_APPLICABLE, None, 0, 0, EMPTY_DENOMINATOR)


def not_available(reason: str) -> Want:
    return Want(NOT_AVAILABLE, None, None, None, reason)


def check(got: dict[str, Any], want: Want) -> None:
    assert (got["status"], got["reason"]) == (want.status, want.reason)
    for key in ("value", "numerator", "denominator"):
        expected = getattr(want, key)
        if expected is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(expected, rel=1e-9), key


# === front door: contacts and referrals (extract 2016-03, window from April 2014) =================

FRONT_PERSON = """
    pers_person_id
    P1
    P2
    P3
    P4
    P5
    P6
    P10
    P11
    P12
    P13
    P14
    P15
"""
# Sat 5 Mar 2016 belongs to Mon 7 Mar. Good Friday 25 Mar 2016 belongs to Tue 29 Mar (Easter
# Monday 28 Mar is a holiday). Christmas Day 2015 belongs to Tue 29 Dec (26-27 weekend, 28 the
# substitute Boxing Day).
#   C1 Sat, decided Mon 7 by a qualified worker         same working day        numerator
#   C2 Sat, decided Tue 8                               a later working day     not
#   C3 Mon 7, no decision                                                       not
#   C4 Mon 7, decided Mon 7 by an unqualified worker                            not
#   C5 Wed 9, decided Wed 9                                                     numerator
#   C6 Good Friday, decided Tue 29 Mar                  Easter: same day        numerator
#   C7 Mon 29 Feb 23:30, decided Tue 1 Mar              a later working day     not (February)
#   C8 Thu 24 Dec (a working day), decided Tue 29 Dec   a later working day     not (December)
#   C9 Fri 25 Dec, decided Tue 29 Dec                   Christmas: same day     numerator (Dec)
# Outcomes NEW_REFERRAL: C1 and C6 in March, C9 in December.
FRONT_CONTACTS = """
    cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome,cont_decision_datetime,cont_decision_by_qualified
    C1,P1,2016-03-05 10:00,NEW_REFERRAL,2016-03-07 09:30,Y
    C2,P2,2016-03-05 11:00,EXISTING_CASE,2016-03-08 10:00,Y
    C3,P3,2016-03-07 09:00,ADVICE,,
    C4,P4,2016-03-07 14:00,NFA,2016-03-07 16:00,N
    C5,P5,2016-03-09 09:00,EARLY_HELP,2016-03-09 17:00,Y
    C6,P6,2016-03-25 11:00,NEW_REFERRAL,2016-03-29 10:00,Y
    C7,P1,2016-02-29 23:30,OTHER,2016-03-01 08:00,Y
    C8,P2,2015-12-24 16:00,EXISTING_CASE,2015-12-29 09:00,Y
    C9,P3,2015-12-25 10:00,NEW_REFERRAL,2015-12-29 11:00,Y
"""
# 29 Feb 2016 minus 12 months is 28 Feb 2015; 31 Mar 2016 minus 12 months is 31 Mar 2015.
#   R2 (P10, 29 Feb 2016): previous R1 28 Feb 2015 >= 28 Feb 2015         re-referral
#   R4 (P11, 29 Feb 2016): previous R3 27 Feb 2015, the day before        not
#   R5 (P12, 10 Feb 2016): no earlier referral                            not; NFA
#   R6, R7 (P13, both 15 Feb 2016): the same day is not "before"          not
#   R8 (P12, 10 Mar 2016): previous R5 10 Feb 2016                        re-referral; NFA
#   R9 (P14, 31 Mar 2016): previous R10 31 Mar 2015, exactly 12 months    re-referral
#   R11 (P15, 31 Mar 2016): previous R12 30 Mar 2015                      not; NFA blank = not
FRONT_REFERRALS = """
    cine_referral_id,cine_person_id,cine_referral_date,cine_referral_nfa
    R1,P10,2015-02-28,N
    R2,P10,2016-02-29,N
    R3,P11,2015-02-27,N
    R4,P11,2016-02-29,N
    R5,P12,2016-02-10,Y
    R6,P13,2016-02-15,N
    R7,P13,2016-02-15,N
    R8,P12,2016-03-10,Y
    R9,P14,2016-03-31,N
    R10,P14,2015-03-31,N
    R11,P15,2016-03-31,
    R12,P15,2015-03-30,N
"""


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, contract: Contract) -> Built:
    tables = {"person": FRONT_PERSON, "contacts": FRONT_CONTACTS, "referrals": FRONT_REFERRALS}
    return build(tmp_path_factory.mktemp("front"), contract, Month(2016, 3), ("2016-03", tables))


# === assessments (extract 2016-03) ===============================================================

ASSESS_PERSON = "pers_person_id\n" + "\n".join(f"P{i}" for i in range(1, 15))
# Authorised in January 2016 (elapsed working days from start to authorisation):
#   A1 INITIAL Fri 18 Dec -> Wed 6 Jan: 21-24, 29-31 Dec, 4-6 Jan = 10    within 10
#   A2 INITIAL Fri 18 Dec -> Thu 7 Jan = 11                               over
#   A3 CORE Tue 1 Dec -> Fri 22 Jan = 35 (Christmas days not counted)     within 35
#   A4 CORE Tue 1 Dec -> Mon 25 Jan = 36                                  over
#   A5 blank type (SINGLE) Mon 16 Nov -> Thu 21 Jan = 45                  within 45
#   A6 SINGLE Mon 16 Nov -> Fri 22 Jan = 46                               over
#   A7 INITIAL Mon 4 Jan -> Tue 5 Jan = 1                                 within
# Authorised in February 2016: A12 CORE started and authorised Mon 29 Feb = 0, within.
# Authorised in March 2016 (Easter: Good Friday 25 and Easter Monday 28 March are not counted):
#   A9 INITIAL Fri 12 Feb -> Wed 2 Mar = 13                                over
#   A13 INITIAL Tue 15 Mar -> Thu 31 Mar: 16-18, 21-24, 29-31 = 10         within
#   A14 INITIAL Mon 14 Mar -> Thu 31 Mar = 11                              over
# Open at a month end (start on or before it, no authorisation on or before it):
#   end of Feb (Mon 29): A8 INITIAL from Mon 15 Feb = 10 (not over 10); A9 from Fri 12 Feb = 11
#     (overdue); A10 blank from Mon 4 Jan = 40 (not over 45); A12 authorised on 29 Feb is not open
#   end of Mar (Thu 31): A8 = 31 (overdue); A10 = 61 (overdue); A11 CORE from 31 Mar = 0
ASSESS_ASSESSMENTS = """
    cina_assessment_id,cina_person_id,cina_referral_id,cina_assessment_start_date,cina_assessment_auth_date,cina_assessment_type
    A1,P1,R1,2015-12-18,2016-01-06,INITIAL
    A2,P2,,2015-12-18,2016-01-07,INITIAL
    A3,P3,,2015-12-01,2016-01-22,CORE
    A4,P4,,2015-12-01,2016-01-25,CORE
    A5,P5,,2015-11-16,2016-01-21,
    A6,P6,,2015-11-16,2016-01-22,SINGLE
    A7,P7,,2016-01-04,2016-01-05,INITIAL
    A8,P8,,2016-02-15,,INITIAL
    A9,P9,,2016-02-12,2016-03-02,INITIAL
    A10,P10,,2016-01-04,,
    A11,P11,,2016-03-31,,CORE
    A12,P12,,2016-02-29,2016-02-29,CORE
    A13,P13,,2016-03-15,2016-03-31,INITIAL
    A14,P14,,2016-03-14,2016-03-31,INITIAL
"""
# R1 only serves the "measured from the referral" option: Thu 10 Dec -> Wed 6 Jan = 16.
ASSESS_REFERRALS = """
    cine_referral_id,cine_person_id,cine_referral_date
    R1,P1,2015-12-10
"""


@pytest.fixture(scope="module")
def assess(tmp_path_factory: pytest.TempPathFactory, contract: Contract) -> Built:
    tables = {
        "person": ASSESS_PERSON,
        "assessments": ASSESS_ASSESSMENTS,
        "referrals": ASSESS_REFERRALS,
    }
    return build(tmp_path_factory.mktemp("assess"), contract, Month(2016, 3), ("2016-03", tables))


# === section 47 and child protection (extract 2016-04, window from May 2014) ======================

CP_PERSON = "pers_person_id\n" + "\n".join(
    [f"P{i}" for i in range(1, 10)] + [f"P{i}" for i in range(20, 30)]
)
# March 2016: D1, D2 initiate S47s, D3 does not. December 2015: D4, D5 both initiate.
CP_STRATEGY = """
    stra_strategy_discussion_id,stra_person_id,stra_strategy_discussion_date,stra_s47_initiated,stra_s47_enquiry_id
    D1,P1,2016-03-10,Y,S1
    D2,P2,2016-03-10,Y,S2
    D3,P3,2016-03-15,N,
    D4,P4,2015-12-14,Y,S3
    D5,P5,2015-12-14,Y,S4
"""
# Started: Mar 2016 S1, S2; Jan 2016 S5; Dec 2015 S3, S4; Apr 2015 S6.
CP_S47 = """
    s47e_s47_enquiry_id,s47e_person_id,s47e_s47_start_date
    S1,P1,2016-03-10
    S2,P2,2016-03-10
    S3,P4,2015-12-14
    S4,P5,2015-12-14
    S5,P8,2016-01-04
    S6,P9,2015-04-20
"""
# Elapsed working days from the S47 start to the conference:
#   I1 Thu 10 Mar -> Mon 4 Apr 2016: 11, 14-18, 21-24, 29-31 Mar, 1 Apr, 4 Apr = 15   within
#   I2 Thu 10 Mar -> Tue 5 Apr = 16                                                 over
#   I3 Mon 14 Dec -> Thu 7 Jan 2016: 15-18, 21-24, 29-31 Dec, 4-7 Jan = 15          within
#   I4 Mon 14 Dec -> Fri 8 Jan = 16 (blank transfer-in flag: not a transfer in)     over
#   I5 transfer in, no S47                                   excluded from both indicators
#   I6 no linked S47: an ICPC held, but out of the icpc_15wd denominator
#   I7 transfer in linked to S5 (1 working day): still excluded from both
#   I8 Mon 20 Apr -> Mon 11 May 2015: 21-24, 27-30 Apr, 1, 5-8 May, 11 May = 14     within
CP_ICPCS = """
    icpc_icpc_id,icpc_person_id,icpc_s47_enquiry_id,icpc_icpc_date,icpc_icpc_transfer_in
    I1,P1,S1,2016-04-04,N
    I2,P2,S2,2016-04-05,N
    I3,P4,S3,2016-01-07,N
    I4,P5,S4,2016-01-08,
    I5,P6,,2016-01-12,Y
    I6,P7,,2016-01-20,N
    I7,P8,S5,2016-01-05,Y
    I8,P9,S6,2015-05-11,N
"""
#   PL1  P20 1 Jun 2015 - 31 Mar 2016: ends on March's last day, so not open at its end
#   PL2  P21 1 Jun 2015 - 1 Apr 2016: open at the end of March
#   PL3  P22 30 Sep 2014, open: 31 Mar 2016 minus 18 months = 30 Sep 2014, so 18 months+ in March
#   PL4  P23 1 Oct 2014, open: under 18 months in March; 30 Apr 2016 - 18 months = 30 Oct 2014
#   PL5  P24 Jun 2014 - Jan 2015, and PL6 P24 2 Nov 2015: second plan via the store (PL6 records
#        0 previous plans)
#   PL7  P25 1 Dec 2015 with 1 previous plan recorded: second via cppl_number_of_previous_plans
#   PL8  P26 Mon 14 Mar 2016 (0 previous), PL9 P27 Tue 15 Mar 2016 (blank): first plans
#   PL10 P28 1 Jan 2014 - 31 Dec 2015 = 729 days; PL11 P29 31 Dec 2013 - 31 Dec 2015 = 730 days
CP_PLANS = """
    cppl_cp_plan_id,cppl_person_id,cppl_cp_plan_start_date,cppl_cp_plan_end_date,cppl_number_of_previous_plans
    PL1,P20,2015-06-01,2016-03-31,0
    PL2,P21,2015-06-01,2016-04-01,0
    PL3,P22,2014-09-30,,0
    PL4,P23,2014-10-01,,
    PL5,P24,2014-06-01,2015-01-15,0
    PL6,P24,2015-11-02,,0
    PL7,P25,2015-12-01,,1
    PL8,P26,2016-03-14,,0
    PL9,P27,2016-03-15,,
    PL10,P28,2014-01-01,2015-12-31,0
    PL11,P29,2013-12-31,2015-12-31,0
"""
# Month end Thu 31 Mar 2016, Easter in between: from Tue 15 Mar the working days up to 31 Mar
# are 16-18, 21-24, 29-31 = 10 (25 and 28 Mar are holidays); from Mon 14 Mar, 11.
#   PL2 seen Tue 15 Mar: 10                                   visited in timescale
#   PL3 seen Mon 14 Mar: 11                                   not
#   PL4 visited 31 Mar but not seen; last seen 1 Mar          not
#   PL6 seen Tue 29 Mar, the day after Easter Monday          visited
#   PL7 no visit                                              not
#   PL8 started Mon 14 Mar (11 working days): in the denominator; seen 24 Mar     visited
#   PL9 started Tue 15 Mar (10 working days): not in the denominator at all
# Month end Thu 31 Dec 2015, Christmas in between: from Tue 15 Dec the working days up to 31 Dec
# are 16-18, 21-24, 29-31 = 10 (25 and 28 Dec are holidays); from Mon 14 Dec, 11.
#   PL1 seen Tue 15 Dec: 10                                   visited in timescale
#   PL2 seen Mon 14 Dec: 11                                   not
#   PL3, PL4, PL6 and PL7 (from 1 Dec: 20 working days old) no visit    not
CP_VISITS = """
    cppv_cp_visit_id,cppv_person_id,cppv_cp_plan_id,cppv_cp_visit_date,cppv_cp_visit_seen
    V1,P21,PL2,2016-03-15,Y
    V2,P22,PL3,2016-03-14,Y
    V3,P23,PL4,2016-03-31,N
    V4,P23,PL4,2016-03-01,Y
    V5,P24,PL6,2016-03-29,Y
    V7,P26,PL8,2016-03-24,Y
    V8,P27,PL9,2016-03-30,Y
    V9,P20,PL1,2015-12-15,Y
    V10,P21,PL2,2015-12-14,Y
"""
# Due: the recorded due date, else the first review 3 months after the plan start, each later one
# 6 months after the previous review.
#   RV6  PL3 20 Dec 2014, first: due 30 Dec 2014 (30 Sep + 3 months)        on time
#   RV7  PL3 20 Jun 2015: due 20 Jun 2015 (RV6 + 6 months), on the day      on time
#   RV8  PL3 18 Dec 2015: due 20 Dec 2015                                   on time
#   RV5  PL3 18 Mar 2016, recorded due 17 Mar (computed 18 Jun would pass)  late
#   RV12 PL4 5 Jan 2015, first: due 1 Jan 2015                              late
#   RV9  PL4 10 Mar 2016, recorded due 15 Mar (computed 5 Jul 2015 fails)   on time
#   RV3  PL2 31 Aug 2015, first: due 1 Sep 2015                             on time
#   RV10 PL2 29 Feb 2016: due 31 Aug 2015 + 6 months = 29 Feb 2016          on time
#   RV1  PL6 2 Feb 2016, first: due 2 Feb 2016 (2 Nov 2015 + 3 months)      on time
#   RV2  PL7 2 Mar 2016, first: due 1 Mar 2016                              late
#   RV11 PL8 21 Mar 2016, first: due 14 Jun 2016                            on time
CP_REVIEWS = """
    cppr_cp_review_id,cppr_person_id,cppr_cp_plan_id,cppr_cp_review_date,cppr_cp_review_due
    RV6,P22,PL3,2014-12-20,
    RV7,P22,PL3,2015-06-20,
    RV8,P22,PL3,2015-12-18,
    RV5,P22,PL3,2016-03-18,2016-03-17
    RV12,P23,PL4,2015-01-05,
    RV9,P23,PL4,2016-03-10,2016-03-15
    RV3,P21,PL2,2015-08-31,
    RV10,P21,PL2,2016-02-29,
    RV1,P24,PL6,2016-02-02,
    RV2,P25,PL7,2016-03-02,
    RV11,P26,PL8,2016-03-21,
"""


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory, contract: Contract) -> Built:
    tables = {
        "person": CP_PERSON,
        "strategy_discussions": CP_STRATEGY,
        "s47_enquiries": CP_S47,
        "icpcs": CP_ICPCS,
        "cp_plans": CP_PLANS,
        "cp_visits": CP_VISITS,
        "cp_reviews": CP_REVIEWS,
    }
    return build(tmp_path_factory.mktemp("cp"), contract, Month(2016, 4), ("2016-04", tables))


# === children looked after (extract 2016-03, window from April 2014) ==============================

CLA_PERSON = "pers_person_id\n" + "\n".join(f"K{i}" for i in range(1, 9))
# Periods of care (runs with no gap) and placements (runs joined by start reason L):
#   K1 E1 S May-Aug 2015, E2 L Aug-Oct (same placement), E3 P Oct-Jan (new placement), E4 L
#      Jan 2016 open (same placement as E3): one period from May 2015, 2 placements
#   K2 E5 S Jun 2015, E6 P Sep, E7 P Dec open: one period from Jun 2015, 3 placements
#   K3 E8 S 15 Apr - 1 Jul 2015; gap; E9 S 5 Jul - 1 Nov, E10 L open: 2 periods (Apr 2015 ended
#      Jul 2015; Jul 2015 open), 2 placements
#   K4 E11 S Oct 2015 - 1 Feb 2016, E12 L to 31 Mar 2016: one period from Oct 2015 ending on
#      March's last day (not looked after at the end of March), 1 placement
#   K5 E13 S Jun 2014 - 31 Mar 2015, E14 P 31 Mar - 1 Sep 2015, E15 P open: one period from Jun
#      2014, 3 placements (E13 ends before April 2015)
#   K6, K7 S Mon 14 Dec 2015 open; K8 S Sat 2 Jan 2016 open: one placement each
CLA_EPISODES = """
    clae_cla_episode_id,clae_person_id,clae_cla_episode_start_date,clae_cla_episode_start_reason,clae_cla_episode_ceased_date
    E1,K1,2015-05-01,S,2015-08-01
    E2,K1,2015-08-01,L,2015-10-01
    E3,K1,2015-10-01,P,2016-01-10
    E4,K1,2016-01-10,L,
    E5,K2,2015-06-01,S,2015-09-01
    E6,K2,2015-09-01,P,2015-12-01
    E7,K2,2015-12-01,P,
    E8,K3,2015-04-15,S,2015-07-01
    E9,K3,2015-07-05,S,2015-11-01
    E10,K3,2015-11-01,L,
    E11,K4,2015-10-01,S,2016-02-01
    E12,K4,2016-02-01,L,2016-03-31
    E13,K5,2014-06-01,S,2015-03-31
    E14,K5,2015-03-31,P,2015-09-01
    E15,K5,2015-09-01,P,
    E16,K6,2015-12-14,S,
    E17,K7,2015-12-14,S,
    E18,K8,2016-01-02,S,
"""
# Due: recorded, else 20 working days after the period starts, then 3 months after the first,
# then 6 months after the previous.
#   CR1 K2 Mon 29 Jun 2015: 20 working days after Mon 1 Jun = Mon 29 Jun       on time
#   CR2 K2 30 Sep 2015: due 29 Sep (CR1 + 3 months)                           late
#   CR3 K2 30 Mar 2016: due 30 Mar 2016 (CR2 + 6 months)                      on time
#   CR4 K6 Thu 14 Jan 2016: 20 working days after Mon 14 Dec 2015 are 15-18, 21-24, 29-31 Dec,
#       4-8, 11-14 Jan (Christmas holidays skipped) = Thu 14 Jan             on time
#   CR5 K7 Fri 15 Jan 2016: same start, a day later                           late
#   CR6 K8 Mon 1 Feb 2016: the period starts Sat 2 Jan, so Mon 4 Jan is the 1st working day
#       after it and Fri 29 Jan the 20th: due 29 Jan                          late
#   CR7 K1 10 Mar 2016, recorded due 31 Mar (computed: June 2015)             on time
#   CR8 K5 15 Mar 2016, recorded due 14 Mar                                   late
#   CR9 K6 14 Mar 2016, second review: due 14 Apr (CR4 + 3 months)            on time
# Participation: PN1-PN6 took part; PN0 (under 4) and a blank code are out of the denominator;
# PN7 is in the denominator only.
CLA_REVIEWS = """
    clar_cla_review_id,clar_person_id,clar_cla_review_date,clar_cla_review_due_date,clar_cla_review_participation
    CR1,K2,2015-06-29,,PN2
    CR2,K2,2015-09-30,,PN4
    CR3,K2,2016-03-30,,PN1
    CR4,K6,2016-01-14,,PN7
    CR5,K7,2016-01-15,,PN3
    CR6,K8,2016-02-01,,PN0
    CR7,K1,2016-03-10,2016-03-31,PN0
    CR8,K5,2016-03-15,2016-03-14,
    CR9,K6,2016-03-14,,PN7
"""


@pytest.fixture(scope="module")
def cla(tmp_path_factory: pytest.TempPathFactory, contract: Contract) -> Built:
    tables = {"person": CLA_PERSON, "cla_episodes": CLA_EPISODES, "cla_reviews": CLA_REVIEWS}
    return build(tmp_path_factory.mktemp("cla"), contract, Month(2016, 3), ("2016-03", tables))


# === workforce and quality (extracts 2016-01 and 2016-03; none for February) ======================

WORKFORCE_HEADER = (
    "prof_professional_id,prof_team,prof_full_time_equivalency,prof_agency_worker_flag,"
    "prof_case_holding,prof_professional_caseload,prof_qualified_sw"
)
# January snapshot. Agency share of qualified social workers' FTE: W2 0.5 + W3 0.8 agency of
# W1 1.0 + W2 0.5 + W3 0.8 = 1.3 / 2.3 = 56.52% (W4 is not qualified; by headcount it would be
# 2/3). Caseload: case-holders W1, W2, W4 hold 20 + 12 + 15 = 47 cases on 1.0 + 0.5 + 1.0 = 2.5
# FTE = 18.8 (W3 holds no cases).
WORKFORCE_JAN = f"""
    {WORKFORCE_HEADER}
    W1,Team A,1.0,N,Y,20,Y
    W2,Team A,0.5,Y,Y,12,Y
    W3,Team B,0.8,Y,N,0,Y
    W4,Team B,1.0,N,Y,15,N
"""
# March snapshot: W2 has left (the store keeps W2's January row, which must not count here);
# W5 has joined. Agency: (0.8 + 0.6) / (1.0 + 0.8 + 0.6) = 1.4 / 2.4 = 58.33%. Caseload:
# (22 + 18 + 9) / (1.0 + 1.0 + 0.6) = 49 / 2.6 = 18.85.
WORKFORCE_MAR = f"""
    {WORKFORCE_HEADER}
    W1,Team A,1.0,N,Y,22,Y
    W3,Team B,0.8,Y,N,0,Y
    W4,Team B,1.0,N,Y,18,N
    W5,Team B,0.6,Y,Y,9,Y
"""
# March 2016: 4 audits, AU1 OUTSTANDING and AU2 GOOD = 2/4; January: AU5 GOOD = 1/1.
AUDITS = """
    audi_audit_id,audi_audit_date,audi_grade
    AU1,2016-03-01,OUTSTANDING
    AU2,2016-03-09,GOOD
    AU3,2016-03-16,REQUIRES_IMPROVEMENT
    AU4,2016-03-31,INADEQUATE
    AU5,2016-01-15,GOOD
"""
COMPLAINTS_HEADER = "comp_complaint_id,comp_received_date,comp_stage,comp_outcome,comp_closed_date"
# January's extract: CP3 (stage 2) received and still open.
COMPLAINTS_JAN = f"""
    {COMPLAINTS_HEADER}
    CP3,2016-01-10,2,,
"""
# Received: Dec 2015 CP6; Jan CP3 (stage 2); Feb CP4; Mar CP1, CP2 (2), CP5 (2).
# Closed as UPHELD: Feb CP6; Mar CP1 and CP3 (closed in March's extract). CP5 is only partially
# upheld, CP4 not upheld.
COMPLAINTS_MAR = f"""
    {COMPLAINTS_HEADER}
    CP1,2016-03-02,1,UPHELD,2016-03-20
    CP2,2016-03-05,2,,
    CP3,2016-01-10,2,UPHELD,2016-03-01
    CP4,2016-02-10,1,NOT_UPHELD,2016-03-10
    CP5,2016-03-15,2,PARTIALLY_UPHELD,2016-03-30
    CP6,2015-12-01,1,UPHELD,2016-02-12
"""
# March: CM1, CM2 (31 Mar); February: CM3 (29 Feb).
COMPLIMENTS = """
    cmpl_compliment_id,cmpl_received_date
    CM1,2016-03-03
    CM2,2016-03-31
    CM3,2016-02-29
"""


@pytest.fixture(scope="module")
def staff(tmp_path_factory: pytest.TempPathFactory, contract: Contract) -> Built:
    january = {"workforce": WORKFORCE_JAN, "complaints": COMPLAINTS_JAN}
    march = {
        "workforce": WORKFORCE_MAR,
        "audits": AUDITS,
        "complaints": COMPLAINTS_MAR,
        "compliments": COMPLIMENTS,
    }
    return build(
        tmp_path_factory.mktemp("staff"),
        contract,
        Month(2016, 3),
        ("2016-01", january),
        ("2016-03", march),
    )


# === the figures, month by month ==================================================================


def case(store: str, indicator: str, month: str, want: Want, label: str = "", **kw: Any) -> Any:
    name = f"{indicator}-{month}" + (f"-{label}" if label else "")
    return pytest.param(store, indicator, month, want, id=name, **kw)


CASES = [
    # --- front door ---
    # March: C1-C6 received; February: C7; January: none (a count of 0 is a real 0).
    case("front", "contacts", "2016-03", count(6)),
    case("front", "contacts", "2016-02", count(1)),
    case("front", "contacts", "2016-01", count(0)),
    case("front", "contacts", "2015-12", count(2)),
    # March: C1 (Saturday -> Monday), C5, C6 (Good Friday -> Tuesday) of 6 = 50.0%.
    case("front", "contacts_screened_same_day_pct", "2016-03", pct(3, 6)),
    # February: C7 decided the next working day = 0 of 1 = 0.0% (a real 0, not "not applicable").
    case("front", "contacts_screened_same_day_pct", "2016-02", pct(0, 1)),
    # December: C9 (Christmas Day -> Tue 29 Dec) yes, C8 (Thu 24 Dec -> Tue 29 Dec) no = 50.0%.
    case("front", "contacts_screened_same_day_pct", "2015-12", pct(1, 2)),
    # January: no contacts, so the percentage has no denominator.
    case("front", "contacts_screened_same_day_pct", "2016-01", not_applicable()),
    # March: C1 and C6 became new referrals, of 6 = 33.3%; December: C9 of 2 = 50.0%.
    case("front", "contacts_to_referral_pct", "2016-03", pct(2, 6)),
    case("front", "contacts_to_referral_pct", "2015-12", pct(1, 2)),
    case("front", "contacts_to_referral_pct", "2016-01", not_applicable()),
    # February 2016: R2, R4, R5, R6, R7; March: R8, R9, R11; February 2015: R1, R3.
    case("front", "referrals", "2016-02", count(5)),
    case("front", "referrals", "2016-03", count(3)),
    case("front", "referrals", "2015-02", count(2)),
    case("front", "referrals", "2016-01", count(0)),
    # Referrals per 10,000, rolling 12 months (DfE counts a year's referrals): April 2015 -
    # March 2016 holds R2, R4-R7 (February, R2 on the leap day) and R8, R9, R11 (March) = 8,
    # per mid-2015 35,276: 8 x 10,000 / 35,276 = 2.27. March 2015 - February 2016 adds R10 and
    # R12 (March 2015) and loses March 2016: 2 + 5 = 7.
    case("front", "referrals_rate_per_10k", "2016-03", rate(8, MID_2015), "leap-day"),
    case("front", "referrals_rate_per_10k", "2016-02", rate(7, MID_2015)),
    # February 2016: only R2 (28 Feb 2015 = 29 Feb 2016 minus 12 months) = 1/5 = 20.0%.
    case("front", "rereferrals_12m_pct", "2016-02", pct(1, 5), "leap-day"),
    # March 2016: R8 and R9 (exactly 12 months) of 3 = 66.7%.
    case("front", "rereferrals_12m_pct", "2016-03", pct(2, 3)),
    # April 2015 is the first month with 12 months of history (the extract reaches back to April
    # 2014) and has no referrals; March 2015 would need March 2014, before the window.
    case("front", "rereferrals_12m_pct", "2015-04", not_applicable(), "first-month"),
    case(
        "front",
        "rereferrals_12m_pct",
        "2015-03",
        not_available("needs 12 months of history before the month; the extracts start April 2014"),
        "history",
    ),
    # NFA: February R5 of 5 = 20.0%; March R8 of 3 (R11's blank flag is not Y) = 33.3%.
    case("front", "referrals_nfa_pct", "2016-02", pct(1, 5)),
    case("front", "referrals_nfa_pct", "2016-03", pct(1, 3)),
    # No extract of this store has held audits.csv: not available, never 0.
    case("front", "audits", "2016-03", not_available("no extract has held audits.csv"), "missing"),
    case(
        "front",
        "audits_good_or_better_pct",
        "2016-03",
        not_available("no extract has held audits.csv"),
        "missing",
    ),
    # --- assessments ---
    # January: A1-A7 authorised; February: A12; March: A9, A13, A14; December: none.
    case("assess", "assessments_completed", "2016-01", count(7)),
    case("assess", "assessments_completed", "2016-02", count(1)),
    case("assess", "assessments_completed", "2016-03", count(3)),
    case("assess", "assessments_completed", "2015-12", count(0)),
    # January: A1, A3, A5, A7 within their timescales, of 7 = 57.1%.
    case("assess", "assessments_in_timescale_pct", "2016-01", pct(4, 7)),
    case("assess", "assessments_in_timescale_pct", "2016-02", pct(1, 1)),
    case("assess", "assessments_in_timescale_pct", "2016-03", pct(1, 3)),
    # Single (a blank type is single): January A5 (blank, 45) within, A6 (46) over = 50.0%.
    case("assess", "single_assessments_45wd_pct", "2016-01", pct(1, 2), "blank-is-single"),
    case("assess", "single_assessments_45wd_pct", "2016-02", not_applicable()),
    # Initial: January A1 (10, Christmas) and A7 within, A2 (11) over = 66.7%; March A9 over.
    case("assess", "initial_assessments_10wd_pct", "2016-01", pct(2, 3), "christmas"),
    # March: A13 (10 over Easter) within, A9 and A14 over = 33.3%.
    case("assess", "initial_assessments_10wd_pct", "2016-03", pct(1, 3), "easter"),
    # Core: January A3 (35) within, A4 (36) over = 50.0%; February A12 (0) within = 100.0%.
    case("assess", "core_assessments_35wd_pct", "2016-01", pct(1, 2), "christmas"),
    case("assess", "core_assessments_35wd_pct", "2016-02", pct(1, 1)),
    case("assess", "core_assessments_35wd_pct", "2016-03", not_applicable()),
    # Open and overdue: end of Feb A9 only; end of March A8 and A10; ends of Dec and Jan none.
    case("assess", "assessments_open_overdue", "2016-02", count(1)),
    case("assess", "assessments_open_overdue", "2016-03", count(2)),
    case("assess", "assessments_open_overdue", "2016-01", count(0)),
    case("assess", "assessments_open_overdue", "2015-12", count(0)),
    # --- section 47 and child protection ---
    # March 2016: D1, D2, D3; D3 led to no S47 = 1/3 = 33.3%. December: D4, D5 = 0/2.
    case("cp", "strategy_discussions", "2016-03", count(3)),
    case("cp", "strategy_discussions", "2015-12", count(2)),
    case("cp", "strategy_discussions_no_s47_pct", "2016-03", pct(1, 3)),
    case("cp", "strategy_discussions_no_s47_pct", "2015-12", pct(0, 2)),
    case("cp", "strategy_discussions_no_s47_pct", "2016-01", not_applicable()),
    case("cp", "s47_enquiries", "2016-03", count(2)),
    case("cp", "s47_enquiries", "2016-01", count(1)),
    case("cp", "s47_enquiries", "2015-12", count(2)),
    case("cp", "s47_enquiries", "2015-04", count(1)),
    # Rolling 12 months: April 2015 - March 2016 holds S1-S6 = 6, per mid-2015 35,276 children:
    # 6 x 10,000 / 35,276 = 1.70. April 2016: May 2015 - April 2016 holds S1-S5 = 5, and April
    # 2016 is in financial year 2016/17, so mid-2016 34,913: 5 x 10,000 / 34,913 = 1.43.
    case("cp", "s47_rate_per_10k", "2016-03", rate(6, MID_2015), "mid-2015"),
    case("cp", "s47_rate_per_10k", "2016-04", rate(5, MID_2016), "mid-2016"),
    # April 2015 is the first month with 11 earlier months in the window (May 2014): S6 only.
    case("cp", "s47_rate_per_10k", "2015-04", rate(1, MID_2015)),
    case(
        "cp",
        "s47_rate_per_10k",
        "2015-03",
        not_available("needs 11 months of history before the month; the extracts start May 2014"),
    ),
    # ICPCs: January I3, I4, I6 (I5 and I7 are transfer-ins); April I1, I2; May 2015 I8.
    case("cp", "icpcs", "2016-01", count(3), "transfer-ins-excluded"),
    case("cp", "icpcs", "2016-04", count(2)),
    case("cp", "icpcs", "2015-12", count(0)),
    # Within 15 working days: January I3 (15 over Christmas) of I3, I4 (I6 has no S47) = 50.0%.
    case("cp", "icpc_15wd_pct", "2016-01", pct(1, 2), "christmas"),
    # April: I1 (15 over Easter) of I1, I2 = 50.0%; May 2015: I8 (14, May Day skipped) = 100%.
    case("cp", "icpc_15wd_pct", "2016-04", pct(1, 2), "easter"),
    case("cp", "icpc_15wd_pct", "2015-05", pct(1, 1)),
    case("cp", "icpc_15wd_pct", "2015-12", not_applicable()),
    # Children on a plan at the end of March: P21-P27 = 7 (PL1 ends on 31 March: not open). End
    # of April: PL2 ended 1 April, so 6. End of February 6: PL1-PL4, PL6, PL7.
    case("cp", "cp_plans_open", "2016-03", count(7), "ends-on-month-end"),
    case("cp", "cp_plans_open", "2016-04", count(6), "ended-day-after"),
    case("cp", "cp_plans_open", "2016-02", count(6)),
    # Rates: March 7 x 10,000 / 35,276 = 1.98; April 6 x 10,000 / 34,913 = 1.72.
    case("cp", "cp_rate_per_10k", "2016-03", rate(7, MID_2015), "mid-2015"),
    case("cp", "cp_rate_per_10k", "2016-04", rate(6, MID_2016), "mid-2016"),
    case("cp", "cp_plans_started", "2016-03", count(2)),
    case("cp", "cp_plans_started", "2015-06", count(2)),
    case("cp", "cp_plans_started", "2015-11", count(1)),
    case("cp", "cp_plans_started", "2016-04", count(0)),
    case("cp", "cp_plans_ended", "2016-03", count(1)),
    case("cp", "cp_plans_ended", "2016-04", count(1)),
    case("cp", "cp_plans_ended", "2015-12", count(2)),
    # Started April 2015 - March 2016: PL1, PL2, PL6, PL7, PL8, PL9; second or subsequent PL6
    # (earlier PL5 in the store, 17 months before) and PL7 (1 previous recorded) = 2/6 = 33.3%.
    case("cp", "cp_second_subsequent_pct", "2016-03", pct(2, 6)),
    case("cp", "cp_second_subsequent_pct", "2016-04", pct(2, 6)),
    # November 2014 - October 2015: PL1 and PL2 only, both first plans = 0.0%.
    case("cp", "cp_second_subsequent_pct", "2015-10", pct(0, 2)),
    # 18 months or more: March PL3 (30 Sep 2014 = 31 Mar 2016 - 18 months) of 7 open plans;
    # April PL3 and PL4 (on or before 30 Oct 2014) of 6.
    case("cp", "cp_open_18m_plus", "2016-03", count(1)),
    case("cp", "cp_open_18m_plus", "2016-04", count(2)),
    case("cp", "cp_open_18m_plus_pct", "2016-03", pct(1, 7)),
    case("cp", "cp_open_18m_plus_pct", "2016-04", pct(2, 6)),
    # Ended April 2015 - March 2016: PL1 (304 days), PL10 (729: not more than 729), PL11 (730)
    # = 1/3 = 33.3%. April 2016 adds PL2 (305 days) = 1/4 = 25.0%.
    case("cp", "cp_ended_2y_plus_pct", "2016-03", pct(1, 3), "729-vs-730"),
    case("cp", "cp_ended_2y_plus_pct", "2016-04", pct(1, 4)),
    # March (Easter): PL2, PL6, PL8 visited of PL2, PL3, PL4, PL6, PL7, PL8 = 3/6 = 50.0%.
    case("cp", "cp_visits_in_timescale_pct", "2016-03", pct(3, 6), "easter"),
    # End of April (Sat 30 Apr): PL3, PL4, PL6-PL9 open; the last visits (March) are 21+ working
    # days before = 0/6. End of February: PL1-PL4, PL6, PL7, none visited since 14 Jan = 0/6.
    # End of December: PL1 (Christmas) of PL1-PL4, PL6, PL7 = 1/6 = 16.7%.
    case("cp", "cp_visits_in_timescale_pct", "2015-12", pct(1, 6), "christmas"),
    case("cp", "cp_visits_in_timescale_pct", "2016-04", pct(0, 6)),
    case("cp", "cp_visits_in_timescale_pct", "2016-02", pct(0, 6)),
    # Reviews: March RV9, RV11 on time of RV2, RV5, RV9, RV11 = 50.0%; February RV1, RV10
    # (29 Feb, due 31 Aug + 6 months = 29 Feb) = 100%; January 2015 RV12 late = 0.0%.
    case("cp", "cp_reviews_on_time_pct", "2016-03", pct(2, 4)),
    case("cp", "cp_reviews_on_time_pct", "2016-02", pct(2, 2), "leap-day-due"),
    case("cp", "cp_reviews_on_time_pct", "2015-12", pct(1, 1)),
    case("cp", "cp_reviews_on_time_pct", "2015-06", pct(1, 1)),
    case("cp", "cp_reviews_on_time_pct", "2015-01", pct(0, 1)),
    case("cp", "cp_reviews_on_time_pct", "2016-04", not_applicable()),
    # Before the window: computed to March 2016, the first month (April 2014) precedes May 2014.
    # (See test_a_month_before_the_window_is_not_available.)
    # --- children looked after ---
    # End of March: K1, K2, K3, K5, K6, K7, K8 = 7 (K4's period ended on 31 March). End of
    # February: all 8. End of December: K1-K7 = 7.
    case("cla", "cla_open", "2016-03", count(7), "ceased-on-month-end"),
    case("cla", "cla_open", "2016-02", count(8)),
    case("cla", "cla_open", "2015-12", count(7)),
    case("cla", "cla_rate_per_10k", "2016-03", rate(7, MID_2015)),
    case("cla", "cla_rate_per_10k", "2015-12", rate(7, MID_2015)),
    # Periods starting: Apr 2015 K3, May K1, Jun K2, Jul K3 again (after a gap), Oct K4 (K1's
    # E3 is only a placement change), Dec K6 and K7, Jan 2016 K8, Jun 2014 K5; none in August or
    # September (E2 L, E6 and E15 P) or March 2015 (K5's E14 continues the period).
    case("cla", "cla_started", "2015-04", count(1)),
    case("cla", "cla_started", "2015-07", count(1), "gap-new-period"),
    case("cla", "cla_started", "2015-08", count(0), "legal-status-change"),
    case("cla", "cla_started", "2015-09", count(0), "placement-change"),
    case("cla", "cla_started", "2015-10", count(1)),
    case("cla", "cla_started", "2015-12", count(2)),
    case("cla", "cla_started", "2016-01", count(1)),
    case("cla", "cla_started", "2015-03", count(0)),
    case("cla", "cla_started", "2014-06", count(1)),
    # Periods ending: Jul 2015 K3's first; Mar 2016 K4 (31 Mar); none in Feb 2016 (K4's E11 ends
    # 1 Feb but E12 carries the period on).
    case("cla", "cla_ceased", "2015-07", count(1)),
    case("cla", "cla_ceased", "2016-03", count(1)),
    case("cla", "cla_ceased", "2016-02", count(0)),
    case("cla", "cla_ceased", "2015-03", count(0)),
    # On time: June 2015 CR1 = 100%; September CR2 late = 0%; January 2016 CR4 (Christmas) of
    # CR4, CR5 = 50.0%; March CR3, CR7, CR9 of CR3, CR7, CR8, CR9 = 75.0%.
    case("cla", "cla_reviews_on_time_pct", "2015-06", pct(1, 1)),
    case("cla", "cla_reviews_on_time_pct", "2015-09", pct(0, 1)),
    case("cla", "cla_reviews_on_time_pct", "2016-01", pct(1, 2), "christmas"),
    case("cla", "cla_reviews_on_time_pct", "2016-03", pct(3, 4)),
    # February: CR6 held Mon 1 Feb, due Fri 29 Jan = 0/1.
    case(
        "cla",
        "cla_reviews_on_time_pct",
        "2016-02",
        pct(0, 1),
        "saturday-start",
    ),
    # Participation: March CR3 (PN1) of CR3, CR9 (PN7); CR7 (PN0) and CR8 (blank) left out =
    # 50.0%. January: CR5 (PN3) of CR4 (PN7), CR5 = 50.0%. February: only CR6, PN0 -> not
    # applicable. June 2015: CR1 PN2 = 100%.
    case("cla", "cla_review_participation_pct", "2016-03", pct(1, 2), "pn0-and-blank"),
    case("cla", "cla_review_participation_pct", "2016-01", pct(1, 2)),
    case("cla", "cla_review_participation_pct", "2016-02", not_applicable(), "only-pn0"),
    case("cla", "cla_review_participation_pct", "2015-06", pct(1, 1)),
    # 3+ placements overlapping April 2015 - March 2016: K2 only (K1 has 2 because E2 and E4 are
    # legal-status changes; K5's E13 ended 31 Mar 2015) of 7 looked after = 14.3%. March 2015 -
    # February 2016: K2 and K5 (E13 still overlaps) of 8 = 25.0%.
    case("cla", "cla_3plus_placements_pct", "2016-03", pct(1, 7), "l-joins"),
    case("cla", "cla_3plus_placements_pct", "2016-02", pct(2, 8), "window"),
    # --- workforce and quality ---
    # Agency FTE of qualified social workers: January 1.3 of 2.3 = 56.5%; March (its own
    # snapshot, without W2) 1.4 of 2.4 = 58.3%; February has no snapshot.
    case("staff", "agency_rate_fte", "2016-01", pct(1.3, 2.3)),
    case("staff", "agency_rate_fte", "2016-03", pct(1.4, 2.4), "own-snapshot"),
    case(
        "staff",
        "agency_rate_fte",
        "2016-02",
        not_available("no workforce snapshot in an extract for this month"),
        "no-snapshot",
    ),
    # Cases per case-holding FTE: January 47 / 2.5 = 18.8; March 49 / 2.6 = 18.85.
    case("staff", "average_caseload", "2016-01", ratio(47, 2.5)),
    case("staff", "average_caseload", "2016-03", ratio(49, 2.6), "own-snapshot"),
    case(
        "staff",
        "average_caseload",
        "2016-02",
        not_available("no workforce snapshot in an extract for this month"),
        "no-snapshot",
    ),
    # Audits: March AU1-AU4, OUTSTANDING + GOOD = 2/4; January AU5 GOOD; February none.
    case("staff", "audits", "2016-03", count(4)),
    case("staff", "audits", "2016-01", count(1)),
    case("staff", "audits", "2016-02", count(0)),
    case("staff", "audits_good_or_better_pct", "2016-03", pct(2, 4)),
    case("staff", "audits_good_or_better_pct", "2016-01", pct(1, 1)),
    case("staff", "audits_good_or_better_pct", "2016-02", not_applicable()),
    # Complaints received: Mar CP1, CP2, CP5; Feb CP4; Jan CP3; Dec CP6. Stage 2: Mar CP2, CP5;
    # Jan CP3. Closed as UPHELD: Mar CP1, CP3 (CP5 only partially); Feb CP6. Compliments: Mar
    # CM1, CM2; Feb CM3.
    case("staff", "complaints", "2016-03", count(3)),
    case("staff", "complaints", "2016-02", count(1)),
    case("staff", "complaints", "2016-01", count(1)),
    case("staff", "complaints", "2015-12", count(1)),
    case("staff", "complaints_stage2", "2016-03", count(2)),
    case("staff", "complaints_stage2", "2016-02", count(0)),
    case("staff", "complaints_stage2", "2016-01", count(1)),
    case("staff", "complaints_upheld", "2016-03", count(2)),
    case("staff", "complaints_upheld", "2016-02", count(1)),
    case("staff", "complaints_upheld", "2016-01", count(0)),
    case("staff", "compliments", "2016-03", count(2)),
    case("staff", "compliments", "2016-02", count(1)),
    # The workforce store has no contacts at all.
    case(
        "staff", "contacts", "2016-03", not_available("no extract has held contacts.csv"), "missing"
    ),
]


@pytest.mark.parametrize(("store", "indicator", "month", "want"), CASES)
def test_figure(
    store: str, indicator: str, month: str, want: Want, request: pytest.FixtureRequest
) -> None:
    built: Built = request.getfixturevalue(store)
    check(built.figure(indicator, month), want)


def test_every_catalogue_indicator_has_a_hand_built_ok_case() -> None:
    covered = {p.values[1] for p in CASES if p.values[3].status == OK}
    assert covered == set(CATALOGUE.indicators)
    assert len(covered) == 44


def test_percentages_and_rates_are_unrounded(cp: Built, cla: Built, staff: Built) -> None:
    # 6 x 10,000 / 35,276 = 1.700873...; 1 of 7 = 14.285714...%; 49 / 2.6 = 18.846153...
    assert cp.figure("s47_rate_per_10k", "2016-03")["value"] == pytest.approx(1.7008731149)
    assert cp.figure("s47_rate_per_10k", "2016-04")["value"] == pytest.approx(1.4321312978)
    assert cp.figure("cp_rate_per_10k", "2016-03")["denominator"] == pytest.approx(3.5276)
    assert cp.figure("cp_rate_per_10k", "2016-04")["denominator"] == pytest.approx(3.4913)
    assert cla.figure("cla_3plus_placements_pct", "2016-03")["value"] == pytest.approx(
        14.2857142857
    )
    assert staff.figure("agency_rate_fte", "2016-03")["value"] == pytest.approx(58.3333333333)
    assert staff.figure("average_caseload", "2016-03")["value"] == pytest.approx(18.8461538462)


# --- the population a rate divides by -------------------------------------------------------------


def rates_with(cp: Built, held: dict[int, int]) -> pl.DataFrame:
    """The cp store's two rates to April 2016 for an authority holding only ``held``."""
    authority = AUTHORITY.model_copy(
        update={"population": Population(vintage="test", children_0_17=held)}
    )
    rates = ["s47_rate_per_10k", "cp_rate_per_10k"]
    return compute(cp.store, CATALOGUE, authority, Month(2016, 4), only=rates).series


def rate_in(series: pl.DataFrame, indicator: str, month: str) -> dict[str, Any]:
    first = Month.parse(month).first_day
    found = series.filter((pl.col("indicator") == indicator) & (pl.col("month") == first))
    return found.to_dicts()[0]


def test_a_rate_uses_the_latest_estimate_held_when_its_own_is_not_out(cp: Built) -> None:
    # Live, in May 2016: ONS has published mid-2015 but not mid-2016 (about a year late), so
    # April 2016 (financial year 2016/17) divides by mid-2015's 35,276 and says so; its figure
    # is a value, never "not available". S47 in May 2015 - April 2016: S1-S5 = 5, so
    # 5 x 10,000 / 35,276 = 1.417; children on a plan at the end of April 6 x 10,000 / 35,276.
    latest = "population: mid-2015 estimate, the latest held"
    series = rates_with(cp, {2013: 35_673, 2014: 35_508, 2015: MID_2015})
    check(rate_in(series, "s47_rate_per_10k", "2016-04"), replace(rate(5, MID_2015), reason=latest))
    check(rate_in(series, "cp_rate_per_10k", "2016-04"), replace(rate(6, MID_2015), reason=latest))
    assert rate_in(series, "s47_rate_per_10k", "2016-04")["value"] == pytest.approx(1.4173942624)
    # March 2016 is in 2015/16: its own estimate is held, so no note (6 x 10,000 / 35,276)
    check(rate_in(series, "s47_rate_per_10k", "2016-03"), rate(6, MID_2015))


def test_a_rate_never_uses_a_later_years_estimate(cp: Built) -> None:
    # Held: mid-2013 and mid-2016 only. March 2016 (2015/16) has no mid-2015: the latest held
    # before it is mid-2013's 35,673 (not mid-2016's, published after the year): 7 x 10,000 /
    # 35,673 = 1.962, the note saying mid-2015 is missing. April 2016 has its own mid-2016.
    series = rates_with(cp, {2013: 35_673, 2016: MID_2016})
    gap = "population: mid-2013 estimate (no mid-2015 estimate held)"
    check(rate_in(series, "cp_rate_per_10k", "2016-03"), replace(rate(7, 35_673), reason=gap))
    check(rate_in(series, "cp_rate_per_10k", "2016-04"), rate(6, MID_2016))
    # nothing held for the year or before it: not available, with the reason
    series = rates_with(cp, {2016: MID_2016})
    check(
        rate_in(series, "cp_rate_per_10k", "2016-03"),
        Want(NOT_AVAILABLE, reason="no mid-2015 or earlier population in authority.yaml"),
    )


# --- record rows and their reasons ----------------------------------------------------------------


def test_contact_reasons_and_working_days(front: Built) -> None:
    rows = front.rows("contacts_screened_same_day_pct", "2016-03")
    reasons = {record: row["reason"] for record, row in rows.items()}
    assert reasons == {
        "C1": "screened the same working day by a qualified worker",
        "C2": "decided on a later working day",
        "C3": "no decision recorded",
        "C4": "not decided by a qualified worker",
        "C5": "screened the same working day by a qualified worker",
        "C6": "screened the same working day by a qualified worker",
    }
    # Saturday 5 March belongs to Monday 7; Good Friday to Tuesday 29 March (after Easter Monday)
    assert rows["C1"]["working_day"] == date(2016, 3, 7)
    assert rows["C6"]["working_day"] == date(2016, 3, 29)
    december = front.rows("contacts_screened_same_day_pct", "2015-12")
    # Thursday 24 December is a working day; Christmas Day belongs to Tuesday 29 December
    assert december["C8"]["working_day"] == date(2015, 12, 24)
    assert december["C9"]["working_day"] == date(2015, 12, 29)
    assert [december["C8"]["numerator"], december["C9"]["numerator"]] == [False, True]


def test_rereferral_reasons_around_29_february(front: Built) -> None:
    rows = front.rows("rereferrals_12m_pct", "2016-02")
    assert rows["R2"]["twelve_months_earlier"] == date(2015, 2, 28)
    assert rows["R2"]["previous_referral"] == date(2015, 2, 28)
    assert rows["R2"]["reason"] == "re-referral: previous referral within 12 months"
    assert rows["R4"]["previous_referral"] == date(2015, 2, 27)
    assert rows["R4"]["reason"] == "previous referral more than 12 months before"
    for same_day in ("R5", "R6", "R7"):
        assert rows[same_day]["reason"] == "no earlier referral in the store"
        assert rows[same_day]["numerator"] is False
    march = front.rows("rereferrals_12m_pct", "2016-03")
    assert march["R9"]["twelve_months_earlier"] == date(2015, 3, 31)
    assert {r: row["numerator"] for r, row in march.items()} == {
        "R8": True,
        "R9": True,
        "R11": False,
    }


def test_months_after_the_last_extract_are_not_available(front: Built) -> None:
    later = compute(front.store, CATALOGUE, AUTHORITY, Month(2016, 5), only=["contacts"]).series
    april = later.filter(pl.col("month") == date(2016, 4, 1)).to_dicts()[0]
    assert (april["status"], april["reason"], april["value"]) == (
        NOT_AVAILABLE,
        "no extract covers this month yet",
        None,
    )
    march = later.filter(pl.col("month") == date(2016, 3, 1)).to_dicts()[0]
    assert (march["status"], march["value"]) == (OK, 6)


def test_a_month_before_the_window_is_not_available(cp: Built) -> None:
    # The 2016-04 extract reaches back to May 2014; computed to March 2016 the series starts in
    # April 2014, before it.
    series = compute(cp.store, CATALOGUE, AUTHORITY, Month(2016, 3), only=["cp_plans_started"])
    first, second = series.series.sort("month").head(2).to_dicts()
    assert first["month"] == date(2014, 4, 1)
    assert (first["status"], first["reason"]) == (
        NOT_AVAILABLE,
        "before the extracts' window (May 2014)",
    )
    assert (second["month"], second["status"], second["value"]) == (date(2014, 5, 1), OK, 0)


def test_assessment_working_days_and_types(assess: Built) -> None:
    rows = assess.rows("assessments_in_timescale_pct", "2016-01")
    seen = {r: (row["type"], row["timescale"], row["working_days"]) for r, row in rows.items()}
    assert seen == {
        "A1": ("INITIAL", 10, 10),
        "A2": ("INITIAL", 10, 11),
        "A3": ("CORE", 35, 35),
        "A4": ("CORE", 35, 36),
        "A5": ("SINGLE", 45, 45),  # blank type
        "A6": ("SINGLE", 45, 46),
        "A7": ("INITIAL", 10, 1),
    }
    assert rows["A1"]["reason"] == "within 10 working days"
    assert rows["A2"]["reason"] == "over 10 working days"
    march = assess.rows("initial_assessments_10wd_pct", "2016-03")
    assert {r: row["working_days"] for r, row in march.items()} == {"A9": 13, "A13": 10, "A14": 11}
    overdue = assess.rows("assessments_open_overdue", "2016-03")
    assert {r: row["working_days"] for r, row in overdue.items()} == {"A8": 31, "A10": 61}


def test_assessment_timescale_measured_from_the_referral(assess: Built) -> None:
    # Configured to measure from the referral: A1's referral R1 (Thu 10 Dec) to Wed 6 Jan is 16
    # working days, over 10; A2 and A7 have no referral and no date to measure from.
    rows = assess.rows("initial_assessments_10wd_pct", "2016-01", timescale_from="referral")
    assert rows["A1"]["measured_from"] == date(2015, 12, 10)
    assert (rows["A1"]["working_days"], rows["A1"]["numerator"]) == (16, False)
    assert rows["A2"]["reason"] == "no date to measure from"
    assert not any(row["numerator"] for row in rows.values())


def test_icpc_records(cp: Built) -> None:
    rows = cp.rows("icpc_15wd_pct", "2016-01")
    assert set(rows) == {"I3", "I4", "I6"}  # transfer-ins I5 and I7 are not there at all
    assert (rows["I3"]["working_days"], rows["I3"]["numerator"]) == (15, True)
    assert (rows["I4"]["working_days"], rows["I4"]["numerator"]) == (16, False)
    assert rows["I6"]["denominator"] is False
    assert rows["I6"]["reason"] == "no linked S47 enquiry: not counted"
    april = cp.rows("icpc_15wd_pct", "2016-04")
    assert {r: row["working_days"] for r, row in april.items()} == {"I1": 15, "I2": 16}


def test_an_authority_closure_day_is_not_a_working_day(cp: Built) -> None:
    # With Fri 1 Apr 2016 configured as a closure day, I1 (Thu 10 Mar -> Mon 4 Apr) takes 14
    # working days and I2 (-> Tue 5 Apr) 15: both within 15 = 2/2 in April.
    closed = AUTHORITY.model_copy(update={"closures": (date(2016, 4, 1),)})
    series = compute(cp.store, CATALOGUE, closed, Month(2016, 4), only=["icpc_15wd_pct"]).series
    april = series.filter(pl.col("month") == date(2016, 4, 1)).to_dicts()[0]
    check(april, pct(2, 2))


def test_second_plan_reasons(cp: Built) -> None:
    rows = cp.rows("cp_second_subsequent_pct", "2016-03")
    reasons = {r: row["reason"] for r, row in rows.items()}
    assert reasons == {
        "PL1": "first plan",
        "PL2": "first plan",
        "PL6": "an earlier plan in the store",
        "PL7": "previous plans recorded",
        "PL8": "first plan",
        "PL9": "first plan",
    }


def test_cp_plan_durations(cp: Built) -> None:
    rows = cp.rows("cp_ended_2y_plus_pct", "2016-03")
    assert {r: (row["days"], row["numerator"]) for r, row in rows.items()} == {
        "PL1": (304, False),
        "PL10": (729, False),
        "PL11": (730, True),
    }


def test_cp_visit_records_over_easter(cp: Built) -> None:
    rows = cp.rows("cp_visits_in_timescale_pct", "2016-03")
    assert set(rows) == {"PL2", "PL3", "PL4", "PL6", "PL7", "PL8"}  # PL9 is 10 working days old
    assert rows["PL2"]["since_visit"] == 10
    assert rows["PL3"]["since_visit"] == 11
    assert rows["PL3"]["reason"] == "last visit 11 working days before the month end"
    assert rows["PL4"]["last_visit"] == date(2016, 3, 1)  # the unseen visit on 31 March is ignored
    assert rows["PL7"]["reason"] == "no visit recorded"
    assert rows["PL6"]["since_visit"] == 2
    december = cp.rows("cp_visits_in_timescale_pct", "2015-12")
    assert {r: row["since_visit"] for r, row in december.items() if row["last_visit"]} == {
        "PL1": 10,
        "PL2": 11,
    }


def test_cp_review_due_dates(cp: Built) -> None:
    frame = rule_frame(cp.store, "cp_reviews_on_time_pct", cp.month)
    due = dict(zip(frame["record"], frame["due"], strict=True))
    assert due == {
        "RV6": date(2014, 12, 30),
        "RV7": date(2015, 6, 20),
        "RV8": date(2015, 12, 20),
        "RV5": date(2016, 3, 17),
        "RV12": date(2015, 1, 1),
        "RV9": date(2016, 3, 15),
        "RV3": date(2015, 9, 1),
        "RV10": date(2016, 2, 29),
        "RV1": date(2016, 2, 2),
        "RV2": date(2016, 3, 1),
        "RV11": date(2016, 6, 14),
    }


def test_cla_review_due_dates(cla: Built) -> None:
    frame = rule_frame(cla.store, "cla_reviews_on_time_pct", cla.month)
    due = dict(zip(frame["record"], frame["due"], strict=True))
    assert {k: v for k, v in due.items() if k != "CR6"} == {
        "CR1": date(2015, 6, 29),
        "CR2": date(2015, 9, 29),
        "CR3": date(2016, 3, 30),
        "CR4": date(2016, 1, 14),
        "CR5": date(2016, 1, 14),
        "CR7": date(2016, 3, 31),
        "CR8": date(2016, 3, 14),
        "CR9": date(2016, 4, 14),
    }


def test_cla_first_review_due_after_a_saturday_start(cla: Built) -> None:
    # K8's period starts Sat 2 Jan 2016: Mon 4 Jan is 1 working day after it (Saturday to Monday
    # = 1), so the 20th is Fri 29 Jan. The engine says Mon 1 Feb.
    frame = rule_frame(cla.store, "cla_reviews_on_time_pct", cla.month)
    due = dict(zip(frame["record"], frame["due"], strict=True))
    assert due["CR6"] == date(2016, 1, 29)


def test_cla_participation_reasons(cla: Built) -> None:
    rows = cla.rows("cla_review_participation_pct", "2016-03")
    assert rows["CR7"]["reason"] == "PN0 (under 4): not counted"
    assert rows["CR8"]["reason"] == "no participation code: not counted"
    assert [rows[r]["denominator"] for r in ("CR3", "CR7", "CR8", "CR9")] == [
        True,
        False,
        False,
        True,
    ]


def test_cla_placements_per_child(cla: Built) -> None:
    march = cla.rows("cla_3plus_placements_pct", "2016-03")
    assert {r: row["placements"] for r, row in march.items()} == {
        "K1": 2,  # E1+E2, E3+E4: start reason L does not start a new placement
        "K2": 3,
        "K3": 2,  # the gap starts a new period, and so a new placement
        "K5": 2,  # E13 ended 31 March 2015, before the window
        "K6": 1,
        "K7": 1,
        "K8": 1,
    }
    february = cla.rows("cla_3plus_placements_pct", "2016-02")
    assert february["K5"]["placements"] == 3
    assert february["K4"]["placements"] == 1


def test_cla_periods(cla: Built) -> None:
    started = rule_frame(cla.store, "cla_started", cla.month)
    assert sorted(zip(started["record"], started["period_start"], strict=True)) == [
        ("K1#1", date(2015, 5, 1)),
        ("K2#1", date(2015, 6, 1)),
        ("K3#1", date(2015, 4, 15)),
        ("K3#2", date(2015, 7, 5)),
        ("K4#1", date(2015, 10, 1)),
        ("K5#1", date(2014, 6, 1)),
        ("K6#1", date(2015, 12, 14)),
        ("K7#1", date(2015, 12, 14)),
        ("K8#1", date(2016, 1, 2)),
    ]
    ceased = rule_frame(cla.store, "cla_ceased", cla.month)
    assert sorted(zip(ceased["record"], ceased["period_end"], strict=True)) == [
        ("K3#1", date(2015, 7, 1)),
        ("K4#1", date(2016, 3, 31)),
    ]


def test_workforce_uses_each_months_own_snapshot(staff: Built) -> None:
    march = staff.rows("agency_rate_fte", "2016-03")
    assert set(march) == {"W1", "W3", "W5"}  # W2 left; W4 is not a qualified social worker
    january = staff.rows("average_caseload", "2016-01")
    assert set(january) == {"W1", "W2", "W4"}  # W3 holds no cases


# --- records corrected in a later extract ---------------------------------------------------------


def test_a_later_extract_corrects_the_figures(tmp_path: Path, contract: Contract) -> None:
    person = "pers_person_id\nP1\nP2\n"
    header = "cine_referral_id,cine_person_id,cine_referral_date"
    a_header = (
        "cina_assessment_id,cina_person_id,cina_assessment_start_date,"
        "cina_assessment_auth_date,cina_assessment_type"
    )
    # February's extract: R1 10 Feb, R2 20 Feb; A1 INITIAL Thu 11 Feb -> Fri 26 Feb = 11, over.
    february = {
        "person": person,
        "referrals": f"{header}\nR1,P1,2016-02-10\nR2,P2,2016-02-20\n",
        "assessments": f"{a_header}\nA1,P1,2016-02-11,2016-02-26,INITIAL\n",
    }
    # March's extract corrects R1 to 1 March and A1's authorisation to Thu 25 Feb = 10, within.
    march = {
        "person": person,
        "referrals": f"{header}\nR1,P1,2016-03-01\nR2,P2,2016-02-20\n",
        "assessments": f"{a_header}\nA1,P1,2016-02-11,2016-02-25,INITIAL\n",
    }
    only = ["referrals", "initial_assessments_10wd_pct"]

    def figures(store: Store, month: Month) -> dict[tuple[str, str], tuple[Any, ...]]:
        series = compute(store, CATALOGUE, AUTHORITY, month, only=only).series
        return {
            (r["indicator"], f"{r['month']:%Y-%m}"): (r["status"], r["value"], r["denominator"])
            for r in series.to_dicts()
        }

    store = ingest_all(tmp_path, contract, ("2016-02", february))
    before = figures(store, Month(2016, 2))
    assert before[("referrals", "2016-02")] == (OK, 2, None)
    assert before[("initial_assessments_10wd_pct", "2016-02")] == (OK, 0.0, 1)

    store = ingest_all(tmp_path, contract, ("2016-03", march))
    after = figures(store, Month(2016, 3))
    assert after[("referrals", "2016-02")] == (OK, 1, None)  # R2 only
    assert after[("referrals", "2016-03")] == (OK, 1, None)  # R1, moved
    assert after[("initial_assessments_10wd_pct", "2016-02")] == (OK, 100.0, 1)


# --- a missing column -----------------------------------------------------------------------------


def missing(label: str, tables: dict[str, str], indicator: str, column: str) -> Any:
    return pytest.param(tables, indicator, column, id=label)


MISSING_COLUMN_CASES = [
    # Contacts without cont_decision_by_qualified: the same-day screening figure cannot be made.
    missing(
        "contacts-no-qualified-flag",
        {
            "person": "pers_person_id\nP1\n",
            "contacts": (
                "cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome,"
                "cont_decision_datetime\nC1,P1,2016-03-01 09:00,NFA,2016-03-01 10:00\n"
            ),
        },
        "contacts_screened_same_day_pct",
        "cont_decision_by_qualified",
    ),
    missing(
        "plans-no-end-date-ended",
        {
            "person": "pers_person_id\nP1\n",
            "cp_plans": (
                "cppl_cp_plan_id,cppl_person_id,cppl_cp_plan_start_date\nPL1,P1,2016-01-04\n"
            ),
        },
        "cp_plans_ended",
        "cppl_cp_plan_end_date",
    ),
    missing(
        "reviews-no-participation",
        {
            "person": "pers_person_id\nK1\n",
            "cla_reviews": (
                "clar_cla_review_id,clar_person_id,clar_cla_review_date\nCR1,K1,2016-03-01\n"
            ),
        },
        "cla_review_participation_pct",
        "clar_cla_review_participation",
    ),
    missing(
        "complaints-no-stage",
        {"complaints": "comp_complaint_id,comp_received_date\nCP1,2016-03-01\n"},
        "complaints_stage2",
        "comp_stage",
    ),
    # Without icpc_s47_enquiry_id no conference can be linked to its S47: the engine reports
    # "not applicable" (an empty denominator), as if there were no conferences at all.
    missing(
        "icpcs-no-s47-link",
        {
            "person": "pers_person_id\nP1\n",
            "s47_enquiries": (
                "s47e_s47_enquiry_id,s47e_person_id,s47e_s47_start_date\nS1,P1,2016-03-01\n"
            ),
            "icpcs": "icpc_icpc_id,icpc_person_id,icpc_icpc_date\nI1,P1,2016-03-10\n",
        },
        "icpc_15wd_pct",
        "icpc_s47_enquiry_id",
    ),
    # Without prof_professional_caseload every caseload is read as 0.
    missing(
        "workforce-no-caseload",
        {
            "workforce": (
                "prof_professional_id,prof_full_time_equivalency,prof_agency_worker_flag,"
                "prof_case_holding\nW1,1.0,N,Y\n"
            ),
        },
        "average_caseload",
        "prof_professional_caseload",
    ),
    # Without clae_cla_episode_ceased_date no period of care can end.
    missing(
        "episodes-no-ceased-date",
        {
            "person": "pers_person_id\nK1\n",
            "cla_episodes": (
                "clae_cla_episode_id,clae_person_id,clae_cla_episode_start_date\nE1,K1,2016-03-01\n"
            ),
        },
        "cla_ceased",
        "clae_cla_episode_ceased_date",
    ),
    # Without cppl_cp_plan_end_date every plan ever started looks open.
    missing(
        "plans-no-end-date-open",
        {
            "person": "pers_person_id\nP1\n",
            "cp_plans": (
                "cppl_cp_plan_id,cppl_person_id,cppl_cp_plan_start_date\nPL1,P1,2016-01-04\n"
            ),
        },
        "cp_plans_open",
        "cppl_cp_plan_end_date",
    ),
    # Without clae_cla_episode_start_reason no episode can be known to be a legal-status change
    # (L), so placements cannot be told from episodes.
    missing(
        "episodes-no-start-reason",
        {
            "person": "pers_person_id\nK1\n",
            "cla_episodes": (
                "clae_cla_episode_id,clae_person_id,clae_cla_episode_start_date,"
                "clae_cla_episode_ceased_date\n"
                "E1,K1,2015-06-01,2015-09-01\nE2,K1,2015-09-01,2015-12-01\nE3,K1,2015-12-01,\n"
            ),
        },
        "cla_3plus_placements_pct",
        "clae_cla_episode_start_reason",
    ),
    # Neither a recorded due date nor the plan link: no due date can be known.
    missing(
        "cp-reviews-no-due-no-plan",
        {
            "person": "pers_person_id\nP1\nP2\n",
            "cp_plans": (
                "cppl_cp_plan_id,cppl_person_id,cppl_cp_plan_start_date\nPL1,P1,2015-06-01\n"
            ),
            "cp_reviews": (
                "cppr_cp_review_id,cppr_person_id,cppr_cp_review_date\n"
                "RV1,P1,2015-09-01\nRV2,P2,2016-03-01\n"
            ),
        },
        "cp_reviews_on_time_pct",
        "cppr_cp_plan_id",
    ),
]


@pytest.mark.parametrize(("tables", "indicator", "column"), MISSING_COLUMN_CASES)
def test_a_missing_column_is_not_available(
    tables: dict[str, str], indicator: str, column: str, tmp_path: Path, contract: Contract
) -> None:
    store = ingest_all(tmp_path, contract, ("2016-03", tables))
    series = compute(store, CATALOGUE, AUTHORITY, Month(2016, 3), only=[indicator]).series
    march = series.filter(pl.col("month") == date(2016, 3, 1)).to_dicts()[0]
    assert march["status"] == NOT_AVAILABLE, march
    assert column in march["reason"]
    assert march["value"] is None


def test_a_missing_optional_column_leaves_other_indicators_alone(
    tmp_path: Path, contract: Contract
) -> None:
    # Contacts without cont_decision_by_qualified: the counts still work.
    tables = {
        "person": "pers_person_id\nP1\n",
        "contacts": (
            "cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome\n"
            "C1,P1,2016-03-01 09:00,NEW_REFERRAL\n"
        ),
    }
    store = ingest_all(tmp_path, contract, ("2016-03", tables))
    only = ["contacts", "contacts_to_referral_pct", "contacts_screened_same_day_pct"]
    series = compute(store, CATALOGUE, AUTHORITY, Month(2016, 3), only=only).series
    march = {
        r["indicator"]: r for r in series.filter(pl.col("month") == date(2016, 3, 1)).to_dicts()
    }
    check(march["contacts"], count(1))
    check(march["contacts_to_referral_pct"], pct(1, 1))
    check(
        march["contacts_screened_same_day_pct"],
        not_available(
            "no extract of contacts.csv has held cont_decision_datetime, cont_decision_by_qualified"
        ),
    )


# --- reviews that cannot be tied to a plan or a period of care ------------------------------------


def test_unlinked_cp_reviews_are_not_chained_across_children(
    tmp_path: Path, contract: Contract
) -> None:
    # Both reviews lack a plan and a due date: neither has a due date it can meet (0 of 1 in
    # March); RV2 must not be "the review after" RV1, which is another child's.
    tables = {
        "person": "pers_person_id\nP1\nP2\n",
        "cp_plans": ("cppl_cp_plan_id,cppl_person_id,cppl_cp_plan_start_date\nPL1,P1,2015-06-01\n"),
        "cp_reviews": (
            "cppr_cp_review_id,cppr_person_id,cppr_cp_plan_id,cppr_cp_review_date,"
            "cppr_cp_review_due\nRV1,P1,,2015-09-01,\nRV2,P2,,2016-03-01,\n"
        ),
    }
    store = ingest_all(tmp_path, contract, ("2016-03", tables))
    series = compute(store, CATALOGUE, AUTHORITY, Month(2016, 3), only=["cp_reviews_on_time_pct"])
    march = series.series.filter(pl.col("month") == date(2016, 3, 1)).to_dicts()[0]
    check(march, pct(0, 1))


def test_cla_reviews_without_a_period_are_not_chained_across_children(
    tmp_path: Path, contract: Contract
) -> None:
    # K1 and K2 have reviews but no episode: no period of care, so no computed due date.
    tables = {
        "person": "pers_person_id\nK1\nK2\nK3\n",
        "cla_episodes": (
            "clae_cla_episode_id,clae_person_id,clae_cla_episode_start_date\nE1,K3,2015-06-01\n"
        ),
        "cla_reviews": (
            "clar_cla_review_id,clar_person_id,clar_cla_review_date\n"
            "CR1,K1,2016-01-04\nCR2,K2,2016-03-01\n"
        ),
    }
    store = ingest_all(tmp_path, contract, ("2016-03", tables))
    series = compute(store, CATALOGUE, AUTHORITY, Month(2016, 3), only=["cla_reviews_on_time_pct"])
    march = series.series.filter(pl.col("month") == date(2016, 3, 1)).to_dicts()[0]
    check(march, pct(0, 1))


def test_18_month_share_is_of_children_on_plans(tmp_path: Path, contract: Contract) -> None:
    # P1 has PL1 (from Jan 2014, 18 months+) and PL2 (Jan 2016) both open; P2 has PL3.
    # cp_plans_open at the end of March 2016 = 2 children; plans open 18 months+ = PL1 = 1;
    # 1 / 2 = 50.0%.
    tables = {
        "person": "pers_person_id\nP1\nP2\n",
        "cp_plans": (
            "cppl_cp_plan_id,cppl_person_id,cppl_cp_plan_start_date,cppl_cp_plan_end_date\n"
            "PL1,P1,2014-01-06,\nPL2,P1,2016-01-04,\nPL3,P2,2016-01-04,\n"
        ),
    }
    store = ingest_all(tmp_path, contract, ("2016-03", tables))
    only = ["cp_plans_open", "cp_open_18m_plus", "cp_open_18m_plus_pct"]
    series = compute(store, CATALOGUE, AUTHORITY, Month(2016, 3), only=only).series
    march = {
        r["indicator"]: r for r in series.filter(pl.col("month") == date(2016, 3, 1)).to_dicts()
    }
    check(march["cp_plans_open"], count(2))
    check(march["cp_open_18m_plus"], count(1))
    check(march["cp_open_18m_plus_pct"], pct(1, 2))
