#!/usr/bin/env python3
"""Deterministic generator for the 'Demoshire' mini example extracts.

Entirely fictional data. Standard library only, fixed random seed: running it
twice writes byte-identical files.

    python3 make_mini.py            # writes 2015-09/ and 2015-10/ next to this file

The 2015-09 extract is clean. The 2015-10 extract is a later snapshot of the same
system (every 2015-09 record, October's new records, a few corrections) with
exactly four planted problems; README.md lists them with line numbers.
"""
import csv
import datetime as dt
import os
from calendar import monthrange
import random

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 27
R = random.Random(SEED)

D = dt.date
DAY = dt.timedelta(days=1)
WIN_START = D(2014, 4, 1)    # start of the event window of both extracts
SEP_END = D(2015, 9, 30)
OCT_END = D(2015, 10, 31)
MIN_DOB = D(1997, 11, 1)     # everyone is under 18 on 2015-10-31

# England and Wales bank holidays (gov.uk), 2010-2016.
_BH = """
2010-01-01 2010-04-02 2010-04-05 2010-05-03 2010-05-31 2010-08-30 2010-12-27 2010-12-28
2011-01-03 2011-04-22 2011-04-25 2011-04-29 2011-05-02 2011-05-30 2011-08-29 2011-12-26 2011-12-27
2012-01-02 2012-04-06 2012-04-09 2012-05-07 2012-06-04 2012-06-05 2012-08-27 2012-12-25 2012-12-26
2013-01-01 2013-03-29 2013-04-01 2013-05-06 2013-05-27 2013-08-26 2013-12-25 2013-12-26
2014-01-01 2014-04-18 2014-04-21 2014-05-05 2014-05-26 2014-08-25 2014-12-25 2014-12-26
2015-01-01 2015-04-03 2015-04-06 2015-05-04 2015-05-25 2015-08-31 2015-12-25 2015-12-28
2016-01-01 2016-03-25 2016-03-28 2016-05-02 2016-05-30 2016-08-29 2016-12-26 2016-12-27
"""
BANK_HOLIDAYS = frozenset(D.fromisoformat(s) for s in _BH.split())

# Column lists: exactly the R and O columns of extracts.md, in spec order.
COLUMNS = {
    'person.csv': ['pers_person_id', 'pers_sex', 'pers_ethnicity', 'pers_dob',
                   'pers_expected_dob', 'pers_death_date', 'pers_disability'],
    'contacts.csv': ['cont_contact_id', 'cont_person_id', 'cont_contact_date',
                     'cont_contact_source_code', 'cont_contact_outcome',
                     'cont_decision_datetime', 'cont_decision_by_qualified'],
    'referrals.csv': ['cine_referral_id', 'cine_person_id', 'cine_referral_date',
                      'cine_referral_source_code', 'cine_referral_nfa',
                      'cine_cin_primary_need_code', 'cine_close_date', 'cine_close_reason',
                      'cine_referral_team', 'cine_referral_worker_id', 'cine_contact_id'],
    'assessments.csv': ['cina_assessment_id', 'cina_person_id', 'cina_referral_id',
                        'cina_assessment_start_date', 'cina_assessment_auth_date',
                        'cina_assessment_type', 'cina_assessment_child_seen',
                        'cina_assessment_outcome_nfa', 'cina_assessment_team',
                        'cina_assessment_worker_id'],
    'strategy_discussions.csv': ['stra_strategy_discussion_id', 'stra_person_id',
                                 'stra_strategy_discussion_date', 'stra_s47_initiated',
                                 'stra_s47_enquiry_id', 'stra_referral_id', 'stra_team'],
    's47_enquiries.csv': ['s47e_s47_enquiry_id', 's47e_person_id', 's47e_referral_id',
                          's47e_s47_start_date', 's47e_s47_end_date', 's47e_s47_nfa',
                          's47e_icpc_not_required', 's47e_team', 's47e_worker_id'],
    'icpcs.csv': ['icpc_icpc_id', 'icpc_person_id', 'icpc_s47_enquiry_id', 'icpc_icpc_date',
                  'icpc_icpc_transfer_in', 'icpc_icpc_outcome_cp_flag', 'icpc_cp_plan_id'],
    'cp_plans.csv': ['cppl_cp_plan_id', 'cppl_person_id', 'cppl_cp_plan_start_date',
                     'cppl_cp_plan_end_date', 'cppl_cp_plan_initial_category',
                     'cppl_cp_plan_latest_category', 'cppl_icpc_id',
                     'cppl_number_of_previous_plans', 'cppl_cp_plan_team',
                     'cppl_cp_plan_worker_id'],
    'cp_visits.csv': ['cppv_cp_visit_id', 'cppv_person_id', 'cppv_cp_plan_id',
                      'cppv_cp_visit_date', 'cppv_cp_visit_seen', 'cppv_cp_visit_seen_alone'],
    'cp_reviews.csv': ['cppr_cp_review_id', 'cppr_person_id', 'cppr_cp_plan_id',
                       'cppr_cp_review_date', 'cppr_cp_review_due'],
    'cla_episodes.csv': ['clae_cla_episode_id', 'clae_person_id', 'clae_cla_episode_start_date',
                         'clae_cla_episode_start_reason', 'clae_cla_legal_status',
                         'clae_cla_placement_type', 'clae_cla_episode_ceased_date',
                         'clae_cla_episode_ceased_reason'],
    'cla_reviews.csv': ['clar_cla_review_id', 'clar_person_id', 'clar_cla_review_date',
                        'clar_cla_review_due_date', 'clar_cla_review_participation',
                        'clar_iro_id'],
    'workforce.csv': ['prof_professional_id', 'prof_team', 'prof_professional_job_title',
                      'prof_full_time_equivalency', 'prof_agency_worker_flag',
                      'prof_case_holding', 'prof_professional_caseload', 'prof_qualified_sw'],
    'audits.csv': ['audi_audit_id', 'audi_audit_date', 'audi_grade', 'audi_person_id',
                   'audi_team'],
    'complaints.csv': ['comp_complaint_id', 'comp_received_date', 'comp_stage', 'comp_outcome',
                       'comp_closed_date'],
    'compliments.csv': ['cmpl_compliment_id', 'cmpl_received_date', 'cmpl_team'],
}
FILES = list(COLUMNS)
PREFIX = {'person.csv': 'P', 'contacts.csv': 'C', 'referrals.csv': 'R', 'assessments.csv': 'A',
          'strategy_discussions.csv': 'SD', 's47_enquiries.csv': 'S47', 'icpcs.csv': 'IC',
          'cp_plans.csv': 'CP', 'cp_visits.csv': 'CPV', 'cp_reviews.csv': 'CPR',
          'cla_episodes.csv': 'E', 'cla_reviews.csv': 'CLR', 'workforce.csv': 'W',
          'audits.csv': 'AU', 'complaints.csv': 'CMP', 'compliments.csv': 'CML'}
EXTRA_OCT_WORKFORCE_COLUMN = 'prof_notes'   # planted problem 4

# --------------------------------------------------------------------------- calendar

def is_wd(d):
    return d.weekday() < 5 and d not in BANK_HOLIDAYS


def wd_ge(d):
    """d if it is a working day, else the next working day."""
    while not is_wd(d):
        d += DAY
    return d


def add_wd(d, n):
    d = wd_ge(d)
    for _ in range(n):
        d = wd_ge(d + DAY)
    return d


def sub_wd(d, n):
    while not is_wd(d):
        d -= DAY
    for _ in range(n):
        d -= DAY
        while not is_wd(d):
            d -= DAY
    return d


def rand_wd(a, b):
    days = [a + i * DAY for i in range((b - a).days + 1)]
    days = [x for x in days if is_wd(x)]
    return R.choice(days) if days else wd_ge(a)


def add_months(d, m):
    y = d.year + (d.month - 1 + m) // 12
    mo = (d.month - 1 + m) % 12 + 1
    return D(y, mo, min(d.day, monthrange(y, mo)[1]))


def pick(weighted):
    """weighted: list of (value, weight)."""
    vals = [v for v, _ in weighted]
    wts = [w for _, w in weighted]
    return R.choices(vals, weights=wts)[0]


def age_on(p, d):
    if p['pers_dob'] is None:
        return -1
    b = p['pers_dob']
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


def cap(d, cut):
    return d if (d is not None and d <= cut) else None


# --------------------------------------------------------------------------- record store

T = {f: [] for f in FILES}
_seq = [0]


def rec(table, snap, key, **cols):
    """snap: 'S' = first appears in 2015-09, 'O' = new in 2015-10."""
    _seq[0] += 1
    r = {'_t': table, '_snap': snap, '_key': key, '_seq': _seq[0]}
    r.update(cols)
    T[table].append(r)
    return r


def snap_of(d):
    return 'S' if d <= SEP_END else 'O'


# --------------------------------------------------------------------------- code lists

ETHNICITY = [('WBRI', 74), ('WIRI', 1), ('WOTH', 4), ('WROM', 1), ('MWBC', 3), ('MWBA', 1),
             ('MWAS', 2), ('MOTH', 2), ('AIND', 2), ('APKN', 2), ('ABAN', 1), ('AOTH', 1),
             ('BCRB', 1), ('BAFR', 1), ('BOTH', 1), ('CHNE', 1), ('OOTH', 1), ('REFU', 1)]
SOURCES = [('1A', 5), ('1B', 3), ('1C', 2), ('1D', 2), ('2A', 14), ('2B', 3), ('3A', 4),
           ('3B', 4), ('3C', 2), ('3D', 3), ('3E', 5), ('3F', 3), ('4', 2), ('5A', 6),
           ('5B', 2), ('5C', 3), ('6', 24), ('7', 2), ('8', 4), ('9', 2), ('10', 3)]
NEEDS = [('N1', 52), ('N2', 4), ('N3', 5), ('N4', 11), ('N5', 13), ('N6', 3), ('N7', 1),
         ('N8', 3), ('N9', 5), ('N0', 3)]
OUTCOMES = [('NEW_REFERRAL', 56), ('EARLY_HELP', 15), ('ADVICE', 15), ('NFA', 8),
            ('OTHER', 4), ('EXISTING_CASE', 5)]
CP_CATS = [('NEG', 45), ('EMO', 33), ('PHY', 10), ('SAB', 5), ('MUL', 7)]
GRADES = [('OUTSTANDING', 5), ('GOOD', 40), ('REQUIRES_IMPROVEMENT', 42), ('INADEQUATE', 13)]
COMP_OUTCOMES = [('UPHELD', 20), ('PARTIALLY_UPHELD', 25), ('NOT_UPHELD', 45), ('WITHDRAWN', 10)]
PARTICIPATION = [('PN1', 40), ('PN2', 10), ('PN3', 5), ('PN4', 15), ('PN5', 15), ('PN6', 10),
                 ('PN7', 5)]

TEAM_N = 'Assessment North'
TEAM_S = 'Assessment South'
TEAM_CP = 'Child Protection'
TEAM_CLA = 'Children in Care, Leaving Care'     # a quoted comma in the CSVs
TEAM_DCT = 'Disabled Children'
TEAM_MASH = 'MASH'
TEAM_QA = 'Safeguarding and Quality'
TEAMS = [TEAM_MASH, TEAM_N, TEAM_S, TEAM_CP, TEAM_CLA, TEAM_DCT, TEAM_QA]

# --------------------------------------------------------------------------- workforce

WORKERS = {}      # team -> list of case-holding worker records
IROS = []
CHAIRS = []


def make_workforce():
    plan = [  # team, title, count, case_holding, qualified
        (TEAM_MASH, 'Social Worker', 8, 'Y', 'Y'), (TEAM_MASH, 'Team Manager', 1, 'N', 'Y'),
        (TEAM_N, 'Social Worker', 14, 'Y', 'Y'), (TEAM_N, 'Senior Social Worker', 4, 'Y', 'Y'),
        (TEAM_N, 'Family Support Worker', 2, 'Y', 'N'), (TEAM_N, 'Team Manager', 2, 'N', 'Y'),
        (TEAM_S, 'Social Worker', 13, 'Y', 'Y'), (TEAM_S, 'Senior Social Worker', 4, 'Y', 'Y'),
        (TEAM_S, 'Family Support Worker', 2, 'Y', 'N'), (TEAM_S, 'Team Manager', 2, 'N', 'Y'),
        (TEAM_CP, 'Social Worker', 14, 'Y', 'Y'), (TEAM_CP, 'Advanced Practitioner', 4, 'Y', 'Y'),
        (TEAM_CP, 'Team Manager', 2, 'N', 'Y'),
        (TEAM_CLA, 'Social Worker', 16, 'Y', 'Y'), (TEAM_CLA, 'Senior Social Worker', 4, 'Y', 'Y'),
        (TEAM_CLA, 'Personal Adviser', 3, 'Y', 'N'), (TEAM_CLA, 'Team Manager', 2, 'N', 'Y'),
        (TEAM_DCT, 'Social Worker', 6, 'Y', 'Y'), (TEAM_DCT, 'Team Manager', 1, 'N', 'Y'),
        (TEAM_QA, 'Independent Reviewing Officer', 6, 'N', 'Y'),
        (TEAM_QA, 'Child Protection Chair', 4, 'N', 'Y'), (TEAM_QA, 'Service Manager', 1, 'N', 'Y'),
    ]
    staff = []
    for team, title, n, holding, qual in plan:
        for _ in range(n):
            staff.append((team, title, holding, qual))
    n = len(staff)
    agency = set(R.sample(range(n), round(0.35 * n)))
    for i, (team, title, holding, qual) in enumerate(staff):
        w = rec('workforce.csv', 'S', D(2015, 9, 30), prof_team=team,
                prof_professional_job_title=title,
                prof_full_time_equivalency=pick([('1.0', 70), ('0.8', 18), ('0.6', 12)]),
                prof_agency_worker_flag='Y' if i in agency else 'N',
                prof_case_holding=holding,
                prof_professional_caseload=str(R.randint(15, 30)) if holding == 'Y' else None,
                prof_qualified_sw=qual)
        if holding == 'Y':
            WORKERS.setdefault(team, []).append(w)
        if title == 'Independent Reviewing Officer':
            IROS.append(w)
        if title == 'Child Protection Chair':
            CHAIRS.append(w)
    # two new starters in October (new ids; nobody else's record changes)
    for team in (TEAM_CP, TEAM_S):
        rec('workforce.csv', 'O', D(2015, 10, 31), prof_team=team,
            prof_professional_job_title='Social Worker', prof_full_time_equivalency='1.0',
            prof_agency_worker_flag='Y', prof_case_holding='Y',
            prof_professional_caseload=str(R.randint(15, 20)), prof_qualified_sw='Y')


def worker(team):
    return R.choice(WORKERS[team])


# --------------------------------------------------------------------------- people

POOL = []          # people who may get another contact


def new_person(d, age=None, unborn_ok=True, area=None, unborn=False):
    exp = None
    if unborn:
        exp = d + dt.timedelta(days=R.randint(150, 200))
        assert exp > OCT_END + 30 * DAY
    elif unborn_ok and age is None and R.random() < 0.07:
        exp = d + dt.timedelta(days=R.randint(60, 200))
        unborn = exp > OCT_END + 30 * DAY
    if unborn:
        dob = None
        sex = 'U'
        eth = 'NOBT'
        dis = None
    else:
        exp = None
        while True:
            a = age if age is not None else R.choices(
                range(17), weights=[12, 6, 6, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 5, 3])[0]
            dob = d - dt.timedelta(days=int(a * 365.25) + R.randint(20, 360))
            if MIN_DOB < dob < d:
                break
            age = None
        sex = pick([('M', 50), ('F', 49), ('U', 1)])
        eth = pick(ETHNICITY)
        dis = pick([('N', 88), ('Y', 7), (None, 5)])
    p = rec('person.csv', None, None, pers_sex=sex, pers_ethnicity=eth, pers_dob=dob,
            pers_expected_dob=exp, pers_death_date=None, pers_disability=dis)
    p['_area'] = area or R.choice([TEAM_N, TEAM_S])
    p['_ivals'] = []      # [start, end-or-None] of every referral / plan / care period
    p['_plans'] = []
    p['_last'] = d
    p['_iro'] = R.choice(IROS)
    return p


def busy(p, d):
    return any(s <= d and (e is None or e >= d) for s, e in p['_ivals'])


# --------------------------------------------------------------------------- CP plans

def review_date(due, start):
    if R.random() < 0.08:
        d = add_wd(due, R.randint(1, 10))          # late
    else:
        d = sub_wd(due, R.choice([0, 0, 1, 1, 2, 3, 5, 8]))
    return max(d, add_wd(start, 1))


def make_plan(p, start, cut, icpc=None, min_end=None, historic_end=None):
    prev = len(p['_plans'])
    init = pick(CP_CATS)
    latest = init if R.random() < 0.85 else R.choice([c for c, _ in CP_CATS if c != init])
    plan = rec('cp_plans.csv', snap_of(start), start, cppl_person_id=p,
               cppl_cp_plan_start_date=start, cppl_cp_plan_end_date=None,
               cppl_cp_plan_initial_category=init, cppl_cp_plan_latest_category=latest,
               cppl_icpc_id=icpc, cppl_number_of_previous_plans=str(prev),
               cppl_cp_plan_team=TEAM_CP, cppl_cp_plan_worker_id=worker(TEAM_CP))
    p['_plans'].append(plan)
    if icpc is not None:
        icpc['icpc_cp_plan_id'] = plan
    if historic_end is not None:                   # history only: no reviews or visits in window
        plan['cppl_cp_plan_end_date'] = historic_end
        p['_ivals'].append([start, historic_end])
        return historic_end
    # review schedule: first within 3 months, then every 6 months
    n_rev = pick([(1, 10), (2, 30), (3, 35), (4, 25)])
    sched = []
    due = add_months(start, 3)
    while True:
        rd = review_date(due, start)
        sched.append((rd, due))
        if len(sched) >= n_rev and (min_end is None or rd >= min_end):
            break
        due = add_months(rd, 6)
    true_end = sched[-1][0] if R.random() < 0.85 else add_wd(sched[-1][0], R.randint(10, 50))
    end = cap(true_end, cut)
    plan['cppl_cp_plan_end_date'] = end
    p['_ivals'].append([start, end])
    if end is None:                                # open: the schedule carries on
        while sched[-1][0] <= OCT_END:
            due = add_months(sched[-1][0], 6)
            sched.append((review_date(due, start), due))
    horizon = end if end is not None else OCT_END + DAY
    for rd, due in sched:
        if WIN_START <= rd <= OCT_END and rd <= horizon and rd > start:
            rec('cp_reviews.csv', snap_of(rd), rd, cppr_person_id=p, cppr_cp_plan_id=plan,
                cppr_cp_review_date=rd, cppr_cp_review_due=due)
    v = add_wd(start, R.randint(2, 8))
    while v < horizon and v <= OCT_END:
        if v >= WIN_START:
            if p['pers_dob'] is None or v < p['pers_dob']:
                seen, alone = None, None
            else:
                seen = pick([('Y', 92), ('N', 8)])
                alone = ('Y' if R.random() < 0.7 else 'N') if (seen == 'Y' and age_on(p, v) >= 5) else 'N'
            rec('cp_visits.csv', snap_of(v), v, cppv_person_id=p, cppv_cp_plan_id=plan,
                cppv_cp_visit_date=v, cppv_cp_visit_seen=seen, cppv_cp_visit_seen_alone=alone)
        v = add_wd(v, R.randint(30, 52))
    return end


# --------------------------------------------------------------------------- care

def placement(p, d):
    if age_on(p, d) >= 12 and R.random() < 0.25:
        return pick([('K2', 75), ('R1', 25)])
    return pick([('U1', 10), ('U2', 2), ('U3', 12), ('U4', 30), ('U5', 3), ('U6', 43)])


def make_care(p, start, cut, ls, min_first_end=None):
    """A period of care as SSDA903 episodes; returns (end-or-None, reason)."""
    s, rne, pl = start, 'S', placement(p, start)
    first = True
    end, reason = None, None
    n = 0
    while True:
        n += 1
        ep = rec('cla_episodes.csv', snap_of(s), s, clae_person_id=p,
                 clae_cla_episode_start_date=s, clae_cla_episode_start_reason=rne,
                 clae_cla_legal_status=ls, clae_cla_placement_type=pl,
                 clae_cla_episode_ceased_date=None, clae_cla_episode_ceased_reason=None)
        lo, hi = {'L1': (1, 4), 'J1': (10, 80), 'V2': (30, 220), 'C1': (50, 200),
                  'C2': (60, 320), 'E1': (60, 240)}[ls]
        c = wd_ge(s + dt.timedelta(days=R.randint(lo, hi)))
        if first and min_first_end is not None and c < min_first_end:
            c = wd_ge(min_first_end + dt.timedelta(days=R.randint(0, 240)))
        first = False
        if c <= s:
            c = add_wd(s, 1)
        if c > cut:
            break
        ep['clae_cla_episode_ceased_date'] = c
        r = R.random()
        nxt = None
        if ls == 'L1':
            nxt = (pick([('V2', 60), ('C1', 40)]), 'T')
        elif ls == 'J1':
            nxt = None if r < 0.7 else ('V2', 'L')
            exit_rec = 'E4A'
        elif ls == 'V2':
            nxt = None if r < 0.40 else (('V2', pick([('P', 85), ('B', 15)])) if r < 0.8 else ('C1', 'L'))
            exit_rec = 'E4A'
        elif ls == 'C1':
            nxt = ('C2', 'L') if r < 0.55 else (('C1', 'P') if r < 0.85 else None)
            exit_rec = 'E4A'
        elif ls == 'C2':
            if r < 0.70:
                nxt = ('C2', pick([('P', 80), ('B', 20)]))
            elif r < 0.82:
                nxt = ('E1', pick([('L', 70), ('U', 30)]))
            else:
                nxt = None
            exit_rec = pick([('E41', 50), ('E4A', 50)])
        else:  # E1
            nxt = None if r < 0.6 else ('E1', 'P')
            exit_rec = pick([('E11', 60), ('E12', 40)])
        if n >= 7:
            nxt = None
            exit_rec = {'E1': 'E11', 'C2': 'E41'}.get(ls, 'E4A')
        if nxt is None:
            ep['clae_cla_episode_ceased_reason'] = exit_rec
            end, reason = c, exit_rec
            break
        ep['clae_cla_episode_ceased_reason'] = 'X1'
        new_ls, rne = nxt
        if rne in ('P', 'T'):
            pl = placement(p, c)
        elif rne in ('B', 'U'):
            pl = {'U6': 'U4', 'U3': 'U1'}.get(pl, pl)
        ls = new_ls
        s = c
    p['_ivals'].append([start, end])
    # reviews: within 20 working days, then 3 months, then every 6 months
    due = add_wd(start, 20)
    i = 0
    while True:
        if R.random() < 0.08:
            rd = add_wd(due, R.randint(1, 10))
        else:
            rd = sub_wd(due, R.choice([0, 0, 1, 2, 3, 5]))
        rd = max(rd, add_wd(start, 1))
        if (end is not None and rd >= end) or rd > OCT_END:
            break
        if rd >= WIN_START:
            part = 'PN0' if age_on(p, rd) < 4 else pick(PARTICIPATION)
            rec('cla_reviews.csv', snap_of(rd), rd, clar_person_id=p, clar_cla_review_date=rd,
                clar_cla_review_due_date=due, clar_cla_review_participation=part,
                clar_iro_id=p['_iro'])
        due = add_months(rd, 3 if i == 0 else 6)
        i += 1
    return end, reason


# --------------------------------------------------------------------------- referral chains

def assessment(p, ref, start, typ, cut, team, dur, outcome=None):
    if start > cut:
        return None
    auth = cap(add_wd(start, dur), cut)
    seen = None if (p['pers_dob'] is None or start < p['pers_dob']) else pick([('Y', 93), ('N', 7)])
    a = rec('assessments.csv', snap_of(start), start, cina_person_id=p, cina_referral_id=ref,
            cina_assessment_start_date=start, cina_assessment_auth_date=auth,
            cina_assessment_type=typ, cina_assessment_child_seen=seen,
            cina_assessment_outcome_nfa=(outcome if auth is not None else None),
            cina_assessment_team=team, cina_assessment_worker_id=worker(team))
    a['_auth_true'] = add_wd(start, dur)
    return a


def initial_dur():
    return pick([(R.randint(3, 10), 65), (R.randint(11, 25), 35)])


def choose_path(p):
    paths = [('nfa', 11), ('noassess', 12), ('cin', 30), ('sd_only', 13), ('s47', 20),
             ('cla', 12), ('transfer', 0.5)]
    if p['pers_dob'] is None:
        paths = [x for x in paths if x[0] != 'cla']
    return pick(paths)


def make_referral(p, d, cut, contact=None, source=None, force=None, team=None):
    team = team or p['_area']
    ref = rec('referrals.csv', snap_of(d), d, cine_person_id=p, cine_referral_date=d,
              cine_referral_source_code=source or pick(SOURCES), cine_referral_nfa='N',
              cine_cin_primary_need_code=pick(NEEDS), cine_close_date=None,
              cine_close_reason=None, cine_referral_team=team,
              cine_referral_worker_id=worker(team), cine_contact_id=contact)
    ref['_dmy'] = {c for c in ('cine_referral_date', 'cine_close_date') if R.random() < 0.10}
    ival = [d, None]
    p['_ivals'].append(ival)
    path = force or choose_path(p)
    ref['_path'] = path
    end, reason = run_path(p, ref, d, cut, path, team, force_icpc=(force == 's47plan'))
    if end is not None:
        close = cap(end if path == 'nfa' else add_wd(end, R.randint(0, 10)), cut)
        if close is not None:
            ref['cine_close_date'] = close
            ref['cine_close_reason'] = reason
            ival[1] = close
    return ref


def run_path(p, ref, d, cut, path, team, force_icpc=False):
    """Returns (date the work ended or None if still open, close reason)."""
    if path == 'nfa':
        ref['cine_referral_nfa'] = 'Y'
        ref['cine_cin_primary_need_code'] = pick([('N9', 60), ('N0', 20), ('N1', 20)])
        return d, 'RC8'
    if path == 'noassess':
        return add_wd(d, R.randint(3, 25)), pick([('RC5', 40), ('RC7', 60)])
    if path == 'transfer':
        icd = add_wd(d, R.randint(5, 12))
        if icd > cut:
            return None, None
        ic = rec('icpcs.csv', snap_of(icd), icd, icpc_person_id=p, icpc_s47_enquiry_id=None,
                 icpc_icpc_date=icd, icpc_icpc_transfer_in='Y', icpc_icpc_outcome_cp_flag='Y',
                 icpc_cp_plan_id=None)
        pe = make_plan(p, icd, cut, icpc=ic)
        return (add_wd(pe, R.randint(10, 50)) if pe else None), 'RC7'

    a_start = add_wd(d, pick([(0, 2), (1, 3), (2, 2), (3, 1), (4, 1), (5, 1)]))
    if path in ('s47', 's47plan'):
        sd_team = TEAM_CP if R.random() < 0.4 else team
        with_initial = R.random() < 0.8
        sdd = add_wd(a_start if with_initial else d, R.randint(0, 3))
        if with_initial:
            a1 = assessment(p, ref, a_start, 'INITIAL', cut, team,
                            dur=len_wd(a_start, sdd), outcome='N')
            if a1 is None:
                return None, None
        if sdd > cut:
            return None, None
        sd = rec('strategy_discussions.csv', snap_of(sdd), sdd, stra_person_id=p,
                 stra_strategy_discussion_date=sdd, stra_s47_initiated='Y',
                 stra_s47_enquiry_id=None, stra_referral_id=ref, stra_team=sd_team)
        icpc_wanted = force_icpc or R.random() < 0.62
        n_icpc = pick([(R.randint(5, 15), 85), (R.randint(16, 25), 15)])
        if icpc_wanted:
            s47_end_true = add_wd(sdd, R.randint(3, n_icpc))
        else:
            s47_end_true = add_wd(sdd, R.randint(4, 20))
        s47_end = cap(s47_end_true, cut)
        s47 = rec('s47_enquiries.csv', snap_of(sdd), sdd, s47e_person_id=p,
                  s47e_referral_id=ref, s47e_s47_start_date=sdd, s47e_s47_end_date=s47_end,
                  s47e_s47_nfa=None, s47e_icpc_not_required=None, s47e_team=sd_team,
                  s47e_worker_id=worker(sd_team))
        sd['stra_s47_enquiry_id'] = s47
        core = assessment(p, ref, sdd, 'CORE', cut, team, dur=R.randint(15, 40),
                          outcome='N' if icpc_wanted else pick([('Y', 50), ('N', 50)]))
        core_end = core['_auth_true']
        if s47_end is None:
            return None, None
        if not icpc_wanted:
            s47['s47e_icpc_not_required'] = 'Y'
            s47['s47e_s47_nfa'] = pick([('Y', 50), ('N', 50)])
            end = max(core_end, s47_end) if core['cina_assessment_outcome_nfa'] == 'Y' \
                else add_wd(core_end, R.randint(20, 150))
            return end, ('RC8' if core['cina_assessment_outcome_nfa'] == 'Y' else 'RC7')
        s47['s47e_icpc_not_required'] = 'N'
        s47['s47e_s47_nfa'] = 'N'
        icd = add_wd(sdd, n_icpc)
        if icd > cut:
            return None, None
        cp_yes = force_icpc or R.random() < 0.88
        ic = rec('icpcs.csv', snap_of(icd), icd, icpc_person_id=p, icpc_s47_enquiry_id=s47,
                 icpc_icpc_date=icd, icpc_icpc_transfer_in='N',
                 icpc_icpc_outcome_cp_flag='Y' if cp_yes else 'N', icpc_cp_plan_id=None)
        if not cp_yes:
            return max(core_end, add_wd(icd, R.randint(20, 120))), 'RC7'
        pe = make_plan(p, icd, cut, icpc=ic)
        if pe is None:
            return None, None
        return max(core_end, add_wd(pe, R.randint(10, 60))), 'RC7'

    single = path in ('cin', 'sd_only') and R.random() < 0.06
    if single:
        a1 = assessment(p, ref, a_start, None, cut, team, dur=R.randint(15, 45),
                        outcome=pick([('Y', 40), ('N', 60)]))
    else:
        a1 = assessment(p, ref, a_start, 'INITIAL', cut, team, dur=initial_dur(),
                        outcome='N' if path == 'cla' else pick([('Y', 42), ('N', 58)]))
    if a1 is None:
        return None, None
    last = a1['_auth_true']
    if path == 'sd_only':
        sdd = add_wd(a_start, R.randint(0, 5))
        if sdd > cut:
            return None, None
        last = max(last, sdd)
        rec('strategy_discussions.csv', snap_of(sdd), sdd, stra_person_id=p,
            stra_strategy_discussion_date=sdd, stra_s47_initiated='N', stra_s47_enquiry_id=None,
            stra_referral_id=ref, stra_team=pick([(team, 60), (TEAM_CP, 40)]))
    if path == 'cla':
        cs = add_wd(d, R.randint(1, 30))
        if R.random() < 0.2 and a1['cina_assessment_auth_date'] is not None:
            core = assessment(p, ref, add_wd(last, R.randint(0, 3)), 'CORE', cut, team,
                              dur=R.randint(20, 40), outcome='N')
            if core is not None:
                last = core['_auth_true']
        if cs > cut:
            return None, None
        age = age_on(p, cs)
        ls = pick([('V2', 55), ('C1', 25), ('L1', 12)] + ([('J1', 8)] if age >= 12 else []))
        ce, rec_reason = make_care(p, cs, cut, ls)
        if ce is None:
            return None, None
        reason = {'E11': 'RC1', 'E12': 'RC1', 'E41': 'RC3'}.get(rec_reason, 'RC7')
        return max(ce, last), reason
    # cin / sd_only
    if a1['cina_assessment_auth_date'] is None:
        return None, None
    if a1['cina_assessment_outcome_nfa'] == 'Y':
        return last, pick([('RC8', 70), ('RC9', 30)])
    if R.random() < 0.08:
        core = assessment(p, ref, add_wd(last, R.randint(0, 5)), 'CORE', cut, team,
                          dur=R.randint(20, 40), outcome='N')
        if core is None:
            return None, None
        last = core['_auth_true']
    return add_wd(last, R.randint(30, 200)), 'RC7'


def len_wd(a, b):
    n = 0
    while a < b:
        a = add_wd(a, 1)
        n += 1
    return n


# --------------------------------------------------------------------------- contacts

def contact_dt(day):
    if is_wd(day):
        hh = pick([(8, 3), (9, 10), (10, 12), (11, 12), (12, 9), (13, 10), (14, 11), (15, 10),
                   (16, 8), (17, 5), (18, 2)])
    else:
        hh = R.randint(9, 21)
    mm = R.choice(range(0, 60, 5)) if R.random() < 0.7 else R.randint(0, 59)
    return dt.datetime(day.year, day.month, day.day, hh, mm)


def dt_fmt():
    return pick([('sp', 80), ('T', 10), ('dmy', 10)])


def make_contact(p, day, cut, force=None):
    cdt = contact_dt(day)
    if force:
        outcome = 'NEW_REFERRAL'
    elif busy(p, day):
        outcome = 'EXISTING_CASE'
    else:
        outcome = pick(OUTCOMES)
    r = R.random()
    if r < 0.80:
        dec = cdt + dt.timedelta(minutes=R.randint(10, 200))
        if dec.hour >= 19 or dec.date() != day:
            nd = add_wd(day + DAY, 0)
            dec = dt.datetime(nd.year, nd.month, nd.day, R.randint(9, 11), R.choice(range(0, 60, 5)))
    else:
        nd = add_wd(day, 1 if r < 0.95 else R.randint(2, 3))
        dec = dt.datetime(nd.year, nd.month, nd.day, R.randint(9, 16), R.choice(range(0, 60, 5)))
    if dec.date() > cut:   # decisions are recorded within the extract month
        dec = cdt + dt.timedelta(minutes=R.randint(15, 60))
    if not is_wd(day):     # out-of-hours contact: decided by the day team on the next working day
        nd = add_wd(day, 0)
        dec = dt.datetime(nd.year, nd.month, nd.day, R.randint(9, 10), R.choice(range(0, 60, 5)))
        if nd > cut:
            dec = None
    if R.random() < 0.02:
        dec = None
    source = pick(SOURCES) if R.random() < 0.98 else None
    c = rec('contacts.csv', snap_of(day), cdt, cont_person_id=p, cont_contact_date=cdt,
            cont_contact_source_code=source, cont_contact_outcome=outcome,
            cont_decision_datetime=dec,
            cont_decision_by_qualified=(pick([('Y', 97), ('N', 3)]) if dec else None))
    c['_dtfmt'] = {'cont_contact_date': dt_fmt(), 'cont_decision_datetime': dt_fmt()}
    p['_last'] = day
    if outcome == 'NEW_REFERRAL':
        rday = wd_ge(day) if R.random() < 0.85 else add_wd(day, 1)
        if rday > cut:
            rday = day
        make_referral(p, rday, cut, contact=c, source=source if source else None, force=force)
    return c


def weekly_slots(a, b, choices):
    out = []
    d = a
    while d <= b:
        we = min(d + 6 * DAY, b)
        for _ in range(R.choice(choices)):
            if R.random() < 0.03:
                out.append(d + R.randint(0, (we - d).days) * DAY)     # out of hours
            else:
                out.append(rand_wd(d, we))
        d += 7 * DAY
    return sorted(out)


def run_contacts(a, b, cut, forced):
    events = [(day, i, None, None) for i, day in enumerate(weekly_slots(a, b, [3, 4, 4, 5, 5, 6, 6]))]
    events += [(day, 10000 + i, p, f) for i, (day, p, f) in enumerate(forced)]
    events.sort(key=lambda e: (e[0], e[1]))
    for day, _, p, force in events:
        if p is None:
            if force is None and R.random() < 0.38:
                cands = [q for q in POOL if q['_last'] <= day - 30 * DAY
                         and (q['pers_dob'] is None or q['pers_dob'] < day)]
                p = R.choice(cands) if cands else None
            if p is None:
                p = new_person(day)
                POOL.append(p)
        make_contact(p, day, cut, force=force)
        if not any(q is p for q in POOL):
            POOL.append(p)


# --------------------------------------------------------------------------- the world

def build():
    make_workforce()

    # children looked after since before the window
    for _ in range(34):
        p = new_person(WIN_START, age=R.randint(1, 15), unborn_ok=False, area=TEAM_CLA)
        lo = max(p['pers_dob'] + 60 * DAY, D(2010, 9, 1))
        s0 = rand_wd(lo, D(2014, 3, 20))
        ls = pick([('C2', 65), ('V2', 20), ('E1', 10), ('C1', 5)])
        make_care(p, s0, SEP_END, ls, min_first_end=WIN_START)
        POOL.append(p)

    # children on a CP plan since before the window (referral before the window too)
    forced = []
    for i in range(12):
        p = new_person(WIN_START, age=R.randint(3, 13) if i < 2 else R.randint(1, 13),
                       unborn_ok=False)
        lo = max(p['pers_dob'] + 30 * DAY, D(2013, 4, 2))
        if i < 2:   # whole history: an earlier plan that ended long before
            hs = rand_wd(max(p['pers_dob'] + 30 * DAY, D(2010, 6, 1)), D(2012, 3, 30))
            he = add_wd(hs, R.randint(120, 300))
            make_plan(p, hs, SEP_END, historic_end=he)
            lo = max(lo, he + 120 * DAY)
        assert lo < D(2014, 3, 1)
        ps = rand_wd(lo, D(2014, 3, 20))
        rd = sub_wd(ps, R.randint(15, 50))
        rd = max(rd, wd_ge(p['pers_dob'] + 7 * DAY))
        team = p['_area']
        ref = rec('referrals.csv', 'S', rd, cine_person_id=p, cine_referral_date=rd,
                  cine_referral_source_code=pick(SOURCES), cine_referral_nfa='N',
                  cine_cin_primary_need_code='N1', cine_close_date=None, cine_close_reason=None,
                  cine_referral_team=team, cine_referral_worker_id=worker(team),
                  cine_contact_id=None)
        ref['_dmy'] = {c for c in ('cine_referral_date', 'cine_close_date') if R.random() < 0.10}
        ref['_path'] = 'pre'
        pe = make_plan(p, ps, SEP_END, min_end=WIN_START + 20 * DAY)
        if pe is not None:
            close = cap(add_wd(pe, R.randint(10, 60)), SEP_END)
            if close:
                ref['cine_close_date'], ref['cine_close_reason'] = close, 'RC7'
        p['_ivals'].append([rd, ref['cine_close_date']])
        POOL.append(p)

    # children whose earlier plan ended before the window and who get a second plan in it
    for _ in range(3):
        p = new_person(WIN_START, age=R.randint(4, 11), unborn_ok=False)
        hs = rand_wd(max(p['pers_dob'] + 60 * DAY, D(2011, 1, 4)), D(2012, 12, 14))
        he = add_wd(hs, R.randint(100, 250))
        make_plan(p, hs, SEP_END, historic_end=he)
        forced.append((rand_wd(D(2014, 6, 2), D(2015, 6, 30)), p, 's47plan'))

    # special cases that chance might not produce: a transfer-in conference, two unborn children
    for day, path, unb in ((D(2014, 11, 12), 'transfer', False), (D(2015, 7, 14), 's47plan', True),
                           (D(2015, 9, 8), 'cin', True)):
        forced.append((day, new_person(day, unborn_ok=unb, unborn=unb), path))

    # 2014-04-01 .. 2015-09-30 (state frozen at 2015-09-30)
    run_contacts(WIN_START, SEP_END, SEP_END, forced)

    # a child who died: their one referral (a CIN case, no plan, no care) was closed with
    # RC2 on the date of death, after every other event of theirs
    dead = None
    for p in POOL:
        refs = [r for r in T['referrals.csv'] if r['cine_person_id'] is p]
        if p['pers_dob'] is None or len(refs) != 1 or len(p['_ivals']) != 1:
            continue
        r = refs[0]
        close = r['cine_close_date']
        if r['_path'] == 'cin' and close and p['_last'] <= close <= D(2015, 6, 30) \
                and close >= D(2015, 1, 1) and r['cine_close_reason'] == 'RC7':
            dead = p
            r['cine_close_reason'] = 'RC2'
            p['pers_death_date'] = close
            break
    assert dead is not None
    POOL[:] = [q for q in POOL if q is not dead]

    # October 2015: new records only
    oct_forced = [(D(2015, 10, 6), new_person(D(2015, 10, 6), unborn_ok=False), 's47'),
                  (D(2015, 10, 13), new_person(D(2015, 10, 13), unborn_ok=False), 'cla')]
    run_contacts(D(2015, 10, 1), OCT_END, OCT_END, oct_forced)

    # audits, complaints, compliments
    referred = [r for r in T['referrals.csv']]
    for phase_end, a, n in ((SEP_END, D(2014, 4, 7), 29), (OCT_END, D(2015, 10, 1), 2)):
        for _ in range(n):
            d = rand_wd(a, phase_end)
            if R.random() < 0.08:
                pid, team = None, pick([(TEAM_N, 1), (TEAM_S, 1), (TEAM_CP, 1), (TEAM_CLA, 1)])
            else:
                rr = R.choice([r for r in referred if r['cine_referral_date'] < d
                               and r['_snap'] == 'S' and r['cine_person_id'] is not dead])
                pid, team = rr['cine_person_id'], rr['cine_referral_team']
            rec('audits.csv', snap_of(d), d, audi_audit_date=d, audi_grade=pick(GRADES),
                audi_person_id=pid, audi_team=team)
        for _ in range({29: 28, 2: 2}[n]):
            d = rand_wd(a, phase_end)
            stage = pick([('1', 80), ('2', 15), ('3', 5)])
            closed = cap(add_wd(d, R.randint(8, 40)), phase_end)
            rec('complaints.csv', snap_of(d), d, comp_received_date=d, comp_stage=stage,
                comp_outcome=pick(COMP_OUTCOMES) if closed else None, comp_closed_date=closed)
        for _ in range({29: 19, 2: 2}[n]):
            d = rand_wd(a, phase_end)
            rec('compliments.csv', snap_of(d), d, cmpl_received_date=d,
                cmpl_team=pick([(TEAM_N, 3), (TEAM_S, 3), (TEAM_CP, 2), (TEAM_CLA, 3),
                                (TEAM_DCT, 2), (TEAM_MASH, 1)]))
    return dead


# --------------------------------------------------------------------------- corrections

CORRECTIONS = []   # (file, record, column, note); the 2015-09 value is in record['_sep']


def sep_override(r, col, sep_value, note):
    r.setdefault('_sep', {})[col] = sep_value
    CORRECTIONS.append((r['_t'], r, col, note))


def apply_corrections():
    refs = [r for r in T['referrals.csv'] if r['_snap'] == 'S']
    # 1. an NFA referral recorded as N in 2015-09, corrected to Y
    nfa = [r for r in refs if r['cine_referral_nfa'] == 'Y' and r['cine_referral_date'] >= D(2015, 7, 1)]
    sep_override(nfa[-1], 'cine_referral_nfa', 'N',
                 'NFA referral (closed on its referral date, RC8, no assessment) '
                 'wrongly recorded as N; corrected')
    # 2-3. the two latest referrals had no NFA decision recorded at 2015-09-30
    late = [r for r in refs if r['cine_referral_nfa'] == 'N' and r['_path'] != 'pre']
    late.sort(key=lambda r: (r['cine_referral_date'], r['_seq']))
    for r in late[-2:]:
        sep_override(r, 'cine_referral_nfa', None,
                     'referral of %s with no NFA decision recorded at 2015-09-30; recorded in October'
                     % r['cine_referral_date'].isoformat())
    # 4-5. two assessments open at 2015-09-30 authorised in October
    asmts = T['assessments.csv']
    later = {id(a['cina_referral_id']) for a in asmts
             if a['cina_assessment_type'] == 'CORE'}
    opened = [a for a in asmts if a['_snap'] == 'S' and a['cina_assessment_auth_date'] is None
              and (a['cina_assessment_type'] == 'CORE' or id(a['cina_referral_id']) not in later)
              and a['cina_assessment_start_date'] <= D(2015, 9, 25)]
    opened.sort(key=lambda a: (a['cina_assessment_start_date'], a['_seq']))
    assert len(opened) >= 2, opened
    for a in opened[-2:]:
        auth = max(add_wd(a['cina_assessment_start_date'], R.randint(6, 12)),
                   add_wd(D(2015, 10, 1), R.randint(0, 4)))
        assert auth <= OCT_END
        a['cina_assessment_auth_date'] = auth
        a['cina_assessment_outcome_nfa'] = 'N'
        sep_override(a, 'cina_assessment_auth_date', None,
                     'assessment open at 2015-09-30, authorised in October')
        sep_override(a, 'cina_assessment_outcome_nfa', None,
                     'outcome recorded when the assessment was authorised')
    # 6. a plan open at 2015-09-30 ended at its October review conference
    oct_reviews = [v for v in T['cp_reviews.csv'] if v['_snap'] == 'O']
    for rv in sorted(oct_reviews, key=lambda v: (v['cppr_cp_review_date'], v['_seq'])):
        plan = rv['cppr_cp_plan_id']
        if plan['_snap'] == 'S' and plan['cppl_cp_plan_end_date'] is None \
                and plan['cppl_cp_plan_start_date'] <= D(2015, 3, 31):
            end = rv['cppr_cp_review_date']
            plan['cppl_cp_plan_end_date'] = end
            sep_override(plan, 'cppl_cp_plan_end_date', None,
                         lambda rv=rv: 'plan open at 2015-09-30, ended at its review conference '
                         '(%s, %s)' % (rv['cppr_cp_review_date'].isoformat(), rv['_id']))
            for tbl, dcol in (('cp_visits.csv', 'cppv_cp_visit_date'),
                              ('cp_reviews.csv', 'cppr_cp_review_date')):
                pcol = 'cppv_cp_plan_id' if tbl == 'cp_visits.csv' else 'cppr_cp_plan_id'
                drop = [x for x in T[tbl] if x[pcol] is plan and x[dcol] >= end and x is not rv]
                assert all(x['_snap'] == 'O' for x in drop)
                T[tbl] = [x for x in T[tbl] if not any(x is y for y in drop)]
            break
    else:
        raise SystemExit('no plan to end')


PLANTED = {}   # name -> record (lines are computed from the written files)


def plant_problems():
    # 1. contacts: a misspelt outcome code on an October contact that led to no referral
    cands = [c for c in T['contacts.csv'] if c['_snap'] == 'O'
             and c['cont_contact_outcome'] in ('ADVICE', 'EARLY_HELP', 'NFA', 'OTHER')]
    c = cands[len(cands) // 2]
    c['cont_contact_outcome'] = 'REFERAL'
    PLANTED['contacts'] = c
    # 2. referrals: a late-recorded June referral keyed with a date that does not exist
    referred = {id(r['cine_person_id']) for r in T['referrals.csv']}
    june = [c for c in T['contacts.csv'] if c['_snap'] == 'S'
            and D(2015, 6, 1) <= c['cont_contact_date'].date() <= D(2015, 6, 30)
            and c['cont_contact_outcome'] == 'ADVICE' and id(c['cont_person_id']) not in referred
            and c['cont_person_id']['pers_death_date'] is None]
    src = june[0]
    p = src['cont_person_id']
    team = p['_area']
    r = rec('referrals.csv', 'O', D(2015, 10, 21), cine_person_id=p,
            cine_referral_date='31/06/2015', cine_referral_source_code=src['cont_contact_source_code'],
            cine_referral_nfa='N', cine_cin_primary_need_code='N4', cine_close_date=None,
            cine_close_reason=None, cine_referral_team=team, cine_referral_worker_id=worker(team),
            cine_contact_id=None)
    r['_path'] = 'planted'
    PLANTED['referrals'] = r
    # 3. assessments: an October assessment authorised before it started
    cores = {id(a['cina_referral_id']) for a in T['assessments.csv'] if a['cina_assessment_type'] == 'CORE'}
    cands = [a for a in T['assessments.csv'] if a['_snap'] == 'O'
             and a['cina_assessment_type'] == 'INITIAL' and a['cina_assessment_auth_date'] is not None
             and a['cina_assessment_start_date'] >= add_wd(a['cina_referral_id']['cine_referral_date'], 2)
             and id(a['cina_referral_id']) not in cores]
    a = cands[0]
    a['cina_assessment_auth_date'] = sub_wd(a['cina_assessment_start_date'], 1)
    assert a['cina_assessment_auth_date'] >= a['cina_referral_id']['cine_referral_date']
    PLANTED['assessments'] = a


# --------------------------------------------------------------------------- writing

def assign_ids():
    # people: first appearance
    first = {}
    for f in FILES:
        if f == 'person.csv':
            continue
        for r in T[f]:
            for k, v in r.items():
                if isinstance(v, dict) and v.get('_t') == 'person.csv':
                    key = r['_key'].date() if isinstance(r['_key'], dt.datetime) else r['_key']
                    cur = first.get(id(v))
                    cand = (r['_snap'] == 'O', key, r['_seq'])
                    if cur is None or cand < cur:
                        first[id(v)] = cand
    people = [p for p in T['person.csv'] if id(p) in first]
    for p in people:
        p['_snap'] = 'O' if first[id(p)][0] else 'S'
        p['_key'] = first[id(p)][1]
    T['person.csv'] = people
    for f in FILES:
        T[f].sort(key=lambda r: (r['_snap'] == 'O', r['_key'], r['_seq']))
        n = 100 if f == 'person.csv' else 0
        width = 6
        for r in T[f]:
            n += R.randint(1, 19) if f == 'person.csv' else 1
            r['_id'] = '%s%0*d' % (PREFIX[f], width, n)


def cell(r, col, snap):
    if col == COLUMNS[r['_t']][0]:
        return r['_id']
    v = r.get(col)
    if snap == 'S' and col in r.get('_sep', {}):
        v = r['_sep'][col]
    if v is None:
        return ''
    if isinstance(v, dict):
        return v['_id']
    if isinstance(v, dt.datetime):
        f = r.get('_dtfmt', {}).get(col, 'sp')
        if f == 'T':
            return v.strftime('%Y-%m-%dT%H:%M:%S')
        if f == 'dmy':
            return v.strftime('%d/%m/%Y %H:%M')
        return v.strftime('%Y-%m-%d %H:%M')
    if isinstance(v, D):
        if col in r.get('_dmy', ()):
            return v.strftime('%d/%m/%Y')
        return v.isoformat()
    return str(v)


def write():
    for folder, snap in (('2015-09', 'S'), ('2015-10', 'O')):
        out = os.path.join(HERE, folder)
        os.makedirs(out, exist_ok=True)
        for f in FILES:
            cols = list(COLUMNS[f])
            extra = snap == 'O' and f == 'workforce.csv'
            with open(os.path.join(out, f), 'w', newline='', encoding='utf-8') as fh:
                w = csv.writer(fh, lineterminator='\n')
                w.writerow(cols + ([EXTRA_OCT_WORKFORCE_COLUMN] if extra else []))
                for r in T[f]:
                    if snap == 'S' and r['_snap'] != 'S':
                        continue
                    w.writerow([cell(r, c, snap) for c in cols] + ([''] if extra else []))


def read_back(folder, fname):
    """[(line number, row)] as written; line 1 is the header."""
    with open(os.path.join(HERE, folder, fname), newline='', encoding='utf-8') as fh:
        rd = csv.reader(fh)
        header = next(rd)
        out = [(1, header)]
        for row in rd:
            out.append((rd.line_num, row))
    return out


def locate(folder, fname, rid):
    for line, row in read_back(folder, fname)[1:]:
        if row[0] == rid:
            return line
    raise SystemExit('%s not found in %s/%s' % (rid, folder, fname))


def show(v):
    return '(blank)' if v == '' else '`%s`' % v


def write_readme():
    counts = {}
    for folder in ('2015-09', '2015-10'):
        for f in FILES:
            counts[folder, f] = len(read_back(folder, f)) - 1
    L = []
    a = L.append
    a('# Demoshire mini extracts (synthetic)')
    a('')
    a('Two monthly extracts of the fictional authority "Demoshire", in the format of '
      'the extract contract (`pipelines/extracts.yaml`, version 1). Every person, id, date, team and worker '
      'is invented. Written by `make_mini.py` (standard library only, `random.Random(%d)`, so a '
      're-run writes the same bytes); `tests/test_examples.py` checks the planted problems and corrections below through the real ingest.'
      % SEED)
    a('')
    a('- `2015-09/`: snapshot as at 2015-09-30. Clean: no row or file problems.')
    a('- `2015-10/`: snapshot as at 2015-10-31 of the same system: every 2015-09 row, unchanged and '
      'on the same line, except the corrections below; then the rows new in October. It contains '
      'exactly the four planted problems listed at the end.')
    a('')
    allr = {f: T[f] for f in FILES}
    pre_refs = sum(1 for r in allr['referrals.csv'] if isinstance(r['cine_referral_date'], D)
                   and r['cine_referral_date'] < WIN_START)
    pre_plans = sum(1 for r in allr['cp_plans.csv'] if r['cppl_cp_plan_start_date'] < WIN_START
                    and (r['cppl_cp_plan_end_date'] is None or r['cppl_cp_plan_end_date'] >= WIN_START))
    hist_plans = sum(1 for r in allr['cp_plans.csv'] if r['cppl_cp_plan_end_date'] is not None
                     and r['cppl_cp_plan_end_date'] < WIN_START)
    pre_eps = sum(1 for r in allr['cla_episodes.csv'] if r['clae_cla_episode_start_date'] < WIN_START)
    prevs = sorted({r['cppl_number_of_previous_plans'] for r in allr['cp_plans.csv']} - {'0'})
    n_second = sum(1 for r in allr['cp_plans.csv'] if r['cppl_number_of_previous_plans'] != '0')
    blank_type = [r for r in allr['assessments.csv'] if r['cina_assessment_type'] is None]
    transfer = [r for r in allr['icpcs.csv'] if r['icpc_icpc_transfer_in'] == 'Y']
    unborn = [r for r in allr['person.csv'] if r['pers_dob'] is None]
    dead = [r for r in allr['person.csv'] if r['pers_death_date'] is not None]
    ooh = [c for c in allr['contacts.csv'] if not is_wd(c['cont_contact_date'].date())]
    a('## The data')
    a('')
    a('- Window: events from 2014-04-01 to the month end, plus the records still open on 2014-04-01 '
      '(%d referrals and %d CP plans that started in 2013-14, %d care episodes that started in '
      '2010-14) and the whole CP plan history of every child with a plan: %d plans that ended in '
      '2012-13 belong to children with a later plan, and %d plans have '
      '`cppl_number_of_previous_plans` %s, matching the history in the file. Nothing is dated after '
      'the month end except `pers_expected_dob` of unborn children and the review due dates '
      '`cppr_cp_review_due` / `clar_cla_review_due_date`.'
      % (pre_refs, pre_plans, pre_eps, hist_plans, n_second, ' or '.join(prevs)))
    a('- Ids are strings with leading zeros: `P000123` person (not consecutive), `C000001` contact, '
      '`R`, `A`, `SD`, `S47`, `IC`, `CP`, `CPV`, `CPR`, `E`, `CLR`, `W` (workforce; also the worker and '
      'IRO ids), `AU`, `CMP`, `CML`. Ids follow the order in which records were first extracted.')
    a('- Chains: contact (NEW_REFERRAL) -> referral (`cine_contact_id`) -> INITIAL assessment -> '
      'strategy discussion -> s47 enquiry (start = discussion date) + CORE assessment -> ICPC -> CP '
      'plan (start = ICPC date) -> visits and reviews; referral -> care episodes (SSDA903 style, '
      '`X1` = a new episode starts the same day) -> CLA reviews. All references resolve, to records of '
      'the same child; a referral closes after everything linked to it. Referrals of one child never '
      'overlap; nor do plans or care episodes. A plan usually ends on the date of its last review '
      'conference (review date = end date); visits are strictly inside the plan.')
    a('- Special cases on purpose: %d assessments with a blank `cina_assessment_type` (SINGLE by '
      'default); %d transfer-in ICPC(s) with no s47; %d unborn children (`pers_expected_dob` after '
      '2015-10-31, `pers_dob` blank, sex U; child seen / visit seen blank); one child (%s) with '
      '`pers_death_date`, equal to the close date of their referral (reason RC2) and after all their '
      'events; the team `Children in Care, Leaving Care` contains a comma, so it is quoted; %d '
      'out-of-hours contacts on a weekend or bank holiday (referrals, assessments and everything else fall on '
      'Monday-Friday working days, England and Wales bank holidays excluded).'
      % (len(blank_type), len(transfer), len(unborn), dead[0]['_id'], len(ooh)))
    a('- Date forms: `YYYY-MM-DD`; about 10% of the dates in `contacts.csv` and `referrals.csv` are '
      '`DD/MM/YYYY`. `cont_contact_date` and `cont_decision_datetime` are date-times: mostly '
      '`2015-10-05 09:30`, some `2015-10-05T14:05:00`, some `05/10/2015 09:30`.')
    a('- Deliberately unrealistic: CP visits are about every 6-10 weeks (not every 10 working days) '
      'to keep the volumes small; workforce caseloads (15-30) do not add up to the cases in the '
      'other tables; the workforce snapshot is the same in both months apart from two October '
      'starters; nothing that was open on 2015-09-30 changes in October except the corrections below.')
    a('')
    a('## Volumes (data rows, header not counted)')
    a('')
    a('| file | 2015-09 | 2015-10 |')
    a('|---|---:|---:|')
    for f in FILES:
        a('| %s | %d | %d |' % (f, counts['2015-09', f], counts['2015-10', f]))
    a('')
    a('## Corrections in 2015-10 (same ids as in 2015-09)')
    a('')
    a('| file | id | line | column | 2015-09 | 2015-10 | what happened |')
    a('|---|---|---:|---|---|---|---|')
    for f, r, col, note in CORRECTIONS:
        if callable(note):     # needs ids, which are assigned after the corrections
            note = note()
        old = cell(r, col, 'S')
        new = cell(r, col, 'O')
        a('| %s | %s | %d | %s | %s | %s | %s |' % (f, r['_id'], locate('2015-10', f, r['_id']),
                                                 col, show(old), show(new), note))
    a('')
    a('The corrected rows are on the same line in both extracts. Visits of the ended plan dated on '
      'or after its end date were never written. No other 2015-09 row differs in 2015-10.')
    a('')
    a('## Planted problems in 2015-10')
    a('')
    a('Line numbers count the header as line 1 (no field contains a line break, so file line = '
      'record line). Field no. is the 1-based position of the column in the header.')
    a('')
    a('| # | file | line | field no. | column | value | problem |')
    a('|---|---|---:|---:|---|---|---|')
    probs = [('contacts', 'cont_contact_outcome', 'misspelt outcome code (not in the code list)'),
             ('referrals', 'cine_referral_date', 'no such day (June has 30 days)'),
             ('assessments', 'cina_assessment_auth_date',
              'authorisation date before `cina_assessment_start_date` (%s)')]
    n = 0
    for key, col, text in probs:
        r = PLANTED[key]
        f = r['_t']
        rows = read_back('2015-10', f)
        header = rows[0][1]
        line = locate('2015-10', f, r['_id'])
        row = dict(zip(header, dict(rows)[line]))
        if '%s' in text:
            text = text % row['cina_assessment_start_date']
        n += 1
        a('| %d | %s | %d | %d | %s | %s | %s (row %s) |' % (n, f, line, header.index(col) + 1, col,
                                                            show(row[col]), text, r['_id']))
    header = read_back('2015-10', 'workforce.csv')[0][1]
    a('| 4 | workforce.csv | 1 | %d | %s | %s | unknown extra column (header only; blank on every '
      'row) |' % (header.index(EXTRA_OCT_WORKFORCE_COLUMN) + 1, EXTRA_OCT_WORKFORCE_COLUMN,
                 show(EXTRA_OCT_WORKFORCE_COLUMN)))
    a('')
    a('Each of these tables has more than 110 valid rows, so one bad row is under 1% of its table.')
    a('The bad referral is a late-recorded June referral (new id, no contact, no assessment) and the '
      'bad contact led to no referral, so no other row depends on a quarantined one.')
    a('')
    a('## Deviation from the brief')
    a('')
    a('`workforce.csv` has %d / %d rows, not about 60: the brief also asks for at least 110 valid rows '
      'in every table with a planted problem, and workforce carries one. %d%% are agency staff.'
      % (counts['2015-09', 'workforce.csv'], counts['2015-10', 'workforce.csv'],
         round(100 * sum(1 for r in T['workforce.csv'] if r['prof_agency_worker_flag'] == 'Y')
               / len(T['workforce.csv']))))
    a('')
    with open(os.path.join(HERE, 'README.md'), 'w', encoding='utf-8') as fh:
        fh.write('\n'.join(L))


def main():
    build()
    apply_corrections()
    plant_problems()
    assign_ids()
    write()
    write_readme()
    print('wrote 2015-09/, 2015-10/ and README.md in', HERE)


if __name__ == '__main__':
    main()
