"""Children looked after in Demoshire: periods of care as SSDA903 episodes, and their reviews.

The model works on one row per period of care, then expands it:

- *Who.* The stock already in care on ``span.sim_start`` comes from simulating 18 years of
  earlier entries and keeping those still in care; they are minted as new children ("PLA" ids).
  Entrants are chosen among referred children (``candidates``) month by month at a gently rising
  rate, weighted towards the national age mix of children starting to be looked after. A few
  children who went home come back into care later (a second period).
- *How long, and how it ends.* By pathway: adoption (children under 4: placement order, an
  adoptive placement, the adoption order), care until 18, remand (short), otherwise a
  long-tailed stay ending in a return home, special guardianship, a residence order and so on.
  Every period ends by the 18th birthday at the latest.
- *Episodes.* One row per change of legal status (emergency protection -> interim care order
  -> care or placement order; section 20 -> interim care order) or placement (an early move
  from the first placement, further moves at a per-child rate, the adoptive placement, a
  return to parents or a move to semi-independent living before the end), chained with no gap.
- *Reviews.* The first within 20 working days of the start, the second within 3 months of the
  first, then every 6 months; about 90% on or before the due date.

Birthdays follow the 1 March convention for children born on 29 February.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from safeguard.calendar import WorkingCalendar, bank_holidays
from safeguard.demo.common import DAY, People, Span, TruthTable, days

Cols = dict[str, np.ndarray]

# ---------------------------------------------------------------------------------------------
# Volumes (scale 1). Starts per month at October 2015, growing a little each year; the stock
# at the start of the simulation comes from the same rate run backwards for 18 years.
REF_MONTH = np.datetime64("2015-10", "M")
STARTS_PER_MONTH = 11.8
GROWTH_PER_YEAR = 0.06
BURN_IN_MONTHS = 18 * 12
REENTRY_SHARE = 0.06  # share of starts that are a return to care (kept off the entrant rate)
REENTRY_P = 0.13  # chance that a child who went home (in the span) comes back into care
ENTRY_MARGIN_DAYS = 45  # nobody comes into care in the last weeks before turning 18

# Age at entry (national mix of children starting to be looked after): bands in years.
ENTRY_AGE_BANDS = ((0, 1), (1, 5), (5, 10), (10, 16), (16, 18))
ENTRY_AGE_SHARE = (0.20, 0.17, 0.19, 0.31, 0.13)

# Duration of the "other" pathway (return home, special guardianship ...): lognormal, days.
OTHER_MEDIAN_DAYS = 230.0
OTHER_SIGMA = 1.2
ADOPT_P_BY_AGE = np.array([0.42, 0.28, 0.15, 0.08])  # age at entry 0, 1, 2, 3
TO18_P_BY_BAND = np.array([0.10, 0.22, 0.32, 0.45])  # stays until 18, by age band at entry

# Placement moves: an early move out of the first placement, then moves at a per-child rate.
EARLY_MOVE_P = 0.30
MOVES_PER_YEAR = 0.44
MOVE_RATE_SHAPE = 0.5  # gamma shape of the per-child rate multiplier (mean 1): most are stable
LINKED_MOVE_P = (0.35, 0.30, 0.10)  # a move on the same day as legal change 1, 2, 3 (RNE T)

# Reviews.
REVIEW_ON_TIME_P = 0.90
IROS_PER_SCALE = 7
IRO_CHANGE_P = 0.08

# Age bands for code tables: 0-4, 5-9, 10-15, 16-17.
BAND_EDGES = np.array([5, 10, 16])

LEGAL_START: tuple[dict[str, float], ...] = (
    {"C2": 0.52, "V2": 0.38, "L1": 0.05, "L2": 0.03, "L3": 0.005, "C1": 0.015},
    {"C2": 0.45, "V2": 0.44, "L1": 0.06, "L2": 0.03, "L3": 0.005, "C1": 0.015},
    {
        "C2": 0.36,
        "V2": 0.50,
        "L1": 0.06,
        "L2": 0.015,
        "L3": 0.005,
        "C1": 0.01,
        "J1": 0.04,
        "J2": 0.005,
        "J3": 0.005,
    },
    {
        "C2": 0.12,
        "V2": 0.72,
        "L1": 0.04,
        "L2": 0.005,
        "C1": 0.005,
        "J1": 0.08,
        "J2": 0.015,
        "J3": 0.015,
    },
)
PLACEMENT: tuple[dict[str, float], ...] = (
    {
        "U6": 0.45,
        "U4": 0.15,
        "U3": 0.12,
        "U1": 0.05,
        "U5": 0.04,
        "U2": 0.02,
        "R3": 0.04,
        "P1": 0.05,
        "K2": 0.005,
        "Z1": 0.01,
        "T0": 0.005,
    },
    {
        "U6": 0.38,
        "U4": 0.25,
        "U3": 0.10,
        "U1": 0.08,
        "U5": 0.01,
        "K2": 0.08,
        "P1": 0.05,
        "S1": 0.02,
        "R1": 0.005,
        "Z1": 0.01,
        "R2": 0.005,
    },
    {
        "U6": 0.32,
        "U4": 0.20,
        "U3": 0.08,
        "U1": 0.06,
        "K2": 0.20,
        "S1": 0.03,
        "P1": 0.04,
        "K1": 0.01,
        "R1": 0.01,
        "Z1": 0.01,
        "T4": 0.005,
        "R2": 0.005,
    },
    {
        "U6": 0.25,
        "U4": 0.12,
        "U3": 0.05,
        "U1": 0.04,
        "K2": 0.18,
        "H5": 0.18,
        "P2": 0.10,
        "P1": 0.03,
        "R5": 0.01,
        "K1": 0.01,
        "Z1": 0.01,
        "R1": 0.01,
        "P3": 0.01,
    },
)
REMAND_PLACEMENT = {"K2": 0.45, "U6": 0.40, "K1": 0.15}
ADOPTIVE_PLACEMENT = {"A6": 0.75, "A5": 0.25}  # placement order
CONSENT_PLACEMENT = {"A4": 0.70, "A3": 0.30}  # placed with parental consent (section 20)
INDEPENDENCE_PLACEMENT = {"H5": 0.6, "P2": 0.4}

REC_ADOPTED = {"E11": 0.85, "E12": 0.15}
REC_REMAND = {"E14": 0.70, "E9": 0.15, "E8": 0.15}
REC_AGED_18 = {"E17": 0.22, "E5": 0.33, "E6": 0.08, "E8": 0.25, "E7": 0.04, "E13": 0.05, "E3": 0.03}
REC_OTHER: tuple[dict[str, float], ...] = (
    # young children who were looked after for a while: more special guardianship
    {
        "E4A": 0.35,
        "E4B": 0.05,
        "E13": 0.08,
        "E41": 0.10,
        "E45": 0.08,
        "E46": 0.03,
        "E47": 0.10,
        "E48": 0.02,
        "E8": 0.12,
        "E3": 0.04,
        "E16": 0.02,
        "E2": 0.01,
    },
    # under 10
    {
        "E4A": 0.45,
        "E4B": 0.12,
        "E13": 0.10,
        "E41": 0.04,
        "E45": 0.03,
        "E46": 0.01,
        "E47": 0.05,
        "E48": 0.01,
        "E8": 0.11,
        "E3": 0.04,
        "E16": 0.02,
        "E2": 0.003,
    },
    # 10-15
    {
        "E4A": 0.45,
        "E4B": 0.12,
        "E13": 0.10,
        "E41": 0.03,
        "E45": 0.02,
        "E47": 0.04,
        "E8": 0.12,
        "E3": 0.04,
        "E9": 0.03,
        "E16": 0.02,
        "E2": 0.003,
    },
    # 16-17
    {
        "E4A": 0.30,
        "E4B": 0.10,
        "E5": 0.15,
        "E6": 0.05,
        "E13": 0.10,
        "E8": 0.16,
        "E9": 0.03,
        "E3": 0.04,
        "E45": 0.02,
        "E47": 0.01,
        "E41": 0.01,
        "E16": 0.01,
        "E15": 0.02,
    },
)
RETURNED_HOME = ("E4A", "E4B", "E13", "E41", "E8")

PARTICIPATION = {
    "PN1": 0.42,
    "PN2": 0.12,
    "PN3": 0.10,
    "PN4": 0.13,
    "PN5": 0.11,
    "PN6": 0.08,
    "PN7": 0.04,
}
SEX = {"M": 0.55, "F": 0.45}
ETHNICITY = {
    "WBRI": 0.855,
    "WIRI": 0.003,
    "WOTH": 0.035,
    "WIRT": 0.012,
    "WROM": 0.006,
    "MWBC": 0.025,
    "MWBA": 0.01,
    "MWAS": 0.008,
    "MOTH": 0.014,
    "AIND": 0.003,
    "APKN": 0.003,
    "ABAN": 0.002,
    "AOTH": 0.004,
    "BCRB": 0.002,
    "BAFR": 0.004,
    "BOTH": 0.002,
    "CHNE": 0.001,
    "OOTH": 0.006,
    "REFU": 0.002,
    "NOBT": 0.004,
}
DISABILITY_P = 0.08


def simulate_looked_after(
    rng: np.random.Generator, span: Span, cal: WorkingCalendar, candidates: pl.DataFrame
) -> tuple[dict[str, TruthTable], People]:
    """Periods of care (as episodes) and reviews for Demoshire, and the children minted for the
    stock already in care on ``span.sim_start``.

    ``candidates`` (person_id String, dob Date, date Date): referred children who could come
    into care on or after ``date``. Returns ``{"cla_episodes", "cla_reviews"}`` truth tables and
    the minted children.
    """
    end = np.datetime64(span.end, "D")
    stock, people = _stock(rng, span)
    entrants = _entrants(rng, span, candidates)
    periods = _concat(stock, entrants)
    periods = _take(periods, _non_overlapping(periods))
    again = _reentries(rng, periods, end)
    periods = _concat(periods, again)
    periods = _take(periods, _non_overlapping(periods))

    episodes = _episodes(rng, periods, end)
    reviews = _reviews(rng, span, cal, periods)
    tables = {
        "cla_episodes": TruthTable(
            episodes,
            reveal={"clae_cla_episode_ceased_reason": "clae_cla_episode_ceased_date"},
        ),
        "cla_reviews": TruthTable(reviews),
    }
    return tables, people


# --- dates ------------------------------------------------------------------------------------


def _birthday(dob: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    """The day a child born on ``dob`` turns ``years`` (29 February -> 1 March)."""
    dob = np.asarray(dob, dtype=DAY)
    month = dob.astype("datetime64[M]")
    offset = dob - month.astype(DAY)
    return np.asarray((month + 12 * np.asarray(years)).astype(DAY) + offset, dtype=DAY)


def _age(dob: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Age in whole years on ``when``."""
    dob = np.asarray(dob, dtype=DAY)
    when = np.asarray(when, dtype=DAY)
    years = when.astype("datetime64[Y]").astype(np.int64) - dob.astype("datetime64[Y]").astype(
        np.int64
    )
    return np.asarray(years - (_birthday(dob, years) > when), dtype=np.int64)


def _add_months(day: np.ndarray, months: int) -> np.ndarray:
    """The same day ``months`` calendar months later (clipped to the month's last day)."""
    day = np.asarray(day, dtype=DAY)
    month = day.astype("datetime64[M]")
    target = month + months
    last = (target + 1).astype(DAY) - np.timedelta64(1, "D")
    return np.asarray(np.minimum(target.astype(DAY) + (day - month.astype(DAY)), last), dtype=DAY)


def _band(age: np.ndarray) -> np.ndarray:
    """Age band for the code tables: 0-4, 5-9, 10-15, 16-17."""
    return np.asarray(np.searchsorted(BAND_EDGES, age, side="right"), dtype=np.int64)


def _monthly_rate(months: np.ndarray, scale: float) -> np.ndarray:
    """Periods of care starting per month, for months (datetime64[M])."""
    years = (months - REF_MONTH).astype(np.int64) / 12
    return np.asarray(STARTS_PER_MONTH * scale * np.exp(GROWTH_PER_YEAR * years))


# --- random codes -----------------------------------------------------------------------------


def _pick(rng: np.random.Generator, table: dict[str, float], size: int) -> np.ndarray:
    codes = np.array(list(table), dtype=object)
    p = np.array(list(table.values()))
    return np.asarray(codes[rng.choice(len(codes), size=size, p=p / p.sum())])


def _pick_by_band(
    rng: np.random.Generator, tables: tuple[dict[str, float], ...], band: np.ndarray
) -> np.ndarray:
    u = rng.random(len(band))
    out = np.empty(len(band), dtype=object)
    for b, table in enumerate(tables):
        chosen = band == b
        codes = np.array(list(table), dtype=object)
        cum = np.cumsum(list(table.values()))
        at = np.searchsorted(cum / cum[-1], u[chosen], side="right")
        out[chosen] = codes[np.minimum(at, len(codes) - 1)]
    return out


def _numbered(prefix: str, width: int, n: int | None = None) -> pl.Expr:
    """Ids prefix + 1, 2, 3 ... zero-padded to ``width`` digits, one per row (or ``n``)."""
    count = pl.len() if n is None else pl.lit(n)
    number = pl.int_range(1, count + 1, dtype=pl.Int64).cast(pl.String).str.zfill(width)
    return pl.concat_str(pl.lit(prefix), number)


def _integers(rng: np.random.Generator, low: int, high: int, size: int) -> np.ndarray:
    return np.asarray(rng.integers(low, high, size=size), dtype=np.int64)


# --- periods of care --------------------------------------------------------------------------


def _take(cols: Cols, which: np.ndarray) -> Cols:
    return {name: values[which] for name, values in cols.items()}


def _concat(a: Cols, b: Cols) -> Cols:
    return {name: np.concatenate([a[name], b[name]]) for name in a}


def _entry_ages(rng: np.random.Generator, size: int) -> np.ndarray:
    """Age at entry in days, from the national mix (under-1s mostly in their first weeks)."""
    band = rng.choice(len(ENTRY_AGE_SHARE), size=size, p=np.array(ENTRY_AGE_SHARE))
    low = np.array([lo for lo, _ in ENTRY_AGE_BANDS])[band] * 365.25
    high = np.array([hi for _, hi in ENTRY_AGE_BANDS])[band] * 365.25
    high = np.where(band == len(ENTRY_AGE_BANDS) - 1, high - ENTRY_MARGIN_DAYS - 1, high)
    u = rng.random(size)
    u = np.where(band == 0, u**2, u)
    return np.asarray(np.floor(low + u * (high - low)), dtype=np.int64)


def _stock(rng: np.random.Generator, span: Span) -> tuple[Cols, People]:
    """Children in care on sim_start: 18 years of earlier entries, the survivors minted."""
    sim_start = np.datetime64(span.sim_start, "D")
    first = sim_start.astype("datetime64[M]") - BURN_IN_MONTHS
    months = first + np.arange(BURN_IN_MONTHS)
    counts = rng.poisson(_monthly_rate(months, span.scale))
    month = np.repeat(months, counts)
    length = ((month + 1).astype(DAY) - month.astype(DAY)).astype(np.int64)
    start = month.astype(DAY) + np.floor(rng.random(len(month)) * length).astype(np.int64)
    dob = start - _entry_ages(rng, len(start))
    cols = _model(rng, np.full(len(start), "", dtype=object), dob, start)
    cols = _take(cols, (cols["start"] < sim_start) & (cols["start"] + cols["length"] > sim_start))

    n = len(cols["start"])
    order = np.lexsort((cols["dob"], cols["start"]))
    cols = _take(cols, order)
    cols["person"] = pl.select(_numbered("PLA", 6, n)).to_series().to_numpy().astype(object)
    people = pl.DataFrame(
        {
            "pers_person_id": pl.Series(cols["person"], dtype=pl.String),
            "pers_sex": pl.Series(_pick(rng, SEX, n), dtype=pl.String),
            "pers_ethnicity": pl.Series(_pick(rng, ETHNICITY, n), dtype=pl.String),
            "pers_dob": days(cols["dob"]),
            "pers_unborn": pl.Series(np.zeros(n, dtype=bool), dtype=pl.Boolean),
            "pers_disability": pl.Series(rng.random(n) < DISABILITY_P, dtype=pl.Boolean),
        }
    )
    return cols, People(people)


def _entrants(rng: np.random.Generator, span: Span, candidates: pl.DataFrame) -> Cols:
    """Children coming into care in the span, chosen among the candidates month by month."""
    sim_start = np.datetime64(span.sim_start, "D")
    end = np.datetime64(span.end, "D")
    pool = candidates.select("person_id", "dob", "date").drop_nulls().sort("date", "person_id")
    person = np.asarray(pool["person_id"].to_numpy(), dtype=object)
    dob = np.asarray(pool["dob"].to_numpy(), dtype=DAY)
    date = np.asarray(pool["date"].to_numpy(), dtype=DAY)
    n = len(date)

    # most come in within days of the referral; the rest after weeks or months of work
    quick = rng.random(n) < 0.45
    delay = np.where(
        quick, _integers(rng, 0, 8, n), np.minimum(rng.exponential(45.0, n), 365).astype(np.int64)
    )
    entry = np.maximum(date + delay, dob)
    ok = (
        (entry >= sim_start)
        & (entry <= end)
        & (entry <= _birthday(dob, 18) - np.timedelta64(ENTRY_MARGIN_DAYS, "D"))
    )
    person, dob, entry = person[ok], dob[ok], entry[ok]
    u = rng.random(n)[ok]
    if len(entry) == 0:
        return _model(rng, person, dob, entry)

    # weight each age band towards the national mix of entrants
    age = _age(dob, entry)
    edges = np.array([hi for _, hi in ENTRY_AGE_BANDS[:-1]])
    band = np.searchsorted(edges, age, side="right")
    have = np.bincount(band, minlength=len(ENTRY_AGE_SHARE)) / len(band)
    want = np.array(ENTRY_AGE_SHARE)
    weight = np.divide(want, have, out=np.zeros_like(want), where=have > 0)[band]

    month = entry.astype("datetime64[M]")
    slot = (month - month.min()).astype(np.int64)
    total = np.bincount(slot, weights=weight)
    rate = _monthly_rate(month, span.scale) * (1 - REENTRY_SHARE)
    share = np.divide(weight, total[slot], out=np.zeros_like(weight), where=total[slot] > 0)
    chosen = u < rate * share
    return _model(rng, person[chosen], dob[chosen], entry[chosen])


def _reentries(rng: np.random.Generator, periods: Cols, end: np.datetime64) -> Cols:
    """A few children who went home during the span come back into care later."""
    ended = periods["start"] + periods["length"]
    went_home = np.isin(periods["rec"], RETURNED_HOME) & (ended <= end)
    gap = np.maximum(rng.lognormal(np.log(240.0), 0.8, len(ended)), 14).astype(np.int64)
    again = ended + gap
    come_back = (
        went_home
        & (rng.random(len(ended)) < REENTRY_P)
        & (again <= end)
        & (again <= _birthday(periods["dob"], 18) - np.timedelta64(ENTRY_MARGIN_DAYS, "D"))
    )
    return _model(rng, periods["person"][come_back], periods["dob"][come_back], again[come_back])


def _non_overlapping(periods: Cols) -> np.ndarray:
    """Indices of the periods to keep: a child is in at most one period at a time (a period
    starting within a week of an earlier one's end, or before it, is dropped)."""
    frame = pl.DataFrame(
        {
            "i": np.arange(len(periods["start"])),
            "person": pl.Series(periods["person"], dtype=pl.String),
            "start": periods["start"].astype(np.int64),
            "end": (periods["start"] + periods["length"]).astype(np.int64),
        }
    ).sort("person", "start", "i")
    before = pl.col("end").cum_max().shift(1).over("person")
    kept = frame.filter(before.is_null() | (pl.col("start") > before + 7))
    return np.sort(kept["i"].to_numpy())


def _model(
    rng: np.random.Generator, person: np.ndarray, dob: np.ndarray, start: np.ndarray
) -> Cols:
    """One row per period of care: its length, how it ends, and its legal and placement path.

    Times are days from the start of the period; -1 means "no such event".
    """
    n = len(start)
    dob = np.asarray(dob, dtype=DAY)
    start = np.asarray(start, dtype=DAY)
    age = _age(dob, start)
    band = _band(age)
    max_days = (_birthday(dob, 18) - start).astype(np.int64)
    none = np.full(n, -1, dtype=np.int64)

    ls0 = _pick_by_band(rng, LEGAL_START, band)
    remand = np.isin(ls0, ["J1", "J2", "J3"])
    emergency = np.isin(ls0, ["L1", "L2", "L3"])
    adopt = ~remand & (age < 4) & (rng.random(n) < ADOPT_P_BY_AGE[np.minimum(age, 3)])
    to18 = ~remand & ~adopt & (rng.random(n) < TO18_P_BY_BAND[band])

    # legal status: emergency protection ends in days (interim care order or section 20);
    # section 20 sometimes becomes an interim care order; an interim care order becomes a care
    # order (a placement order on the adoption pathway) when proceedings end
    t1 = np.where(emergency, _integers(rng, 1, 9, n), none)
    legal1 = np.where(rng.random(n) < np.where(adopt, 0.8, 0.55), "C2", "V2").astype(object)
    current = np.where(emergency, legal1, ls0)
    since = np.where(emergency, t1, 0)
    to_c2 = (current == "V2") & (rng.random(n) < np.where(adopt, 0.7, 0.18))
    t2 = np.where(to_c2, since + _integers(rng, 20, 200, n), none)
    c2_from = np.where(to_c2, t2, np.where(current == "C2", since, none))
    t3 = np.where(
        c2_from >= 0,
        c2_from + _integers(rng, 150, 330, n),
        np.where(adopt & (current == "C1"), _integers(rng, 60, 240, n), none),
    )
    legal3 = np.where(adopt, "E1", "C1").astype(object)

    # adoption: placed for adoption a few months after the order, adopted months later
    consent = adopt & (t3 < 0)  # section 20 throughout: placed with parental consent
    t_order = np.where(t3 >= 0, t3, _integers(rng, 60, 200, n))
    wait = np.clip(np.round(rng.lognormal(np.log(110.0), 0.5, n)), 14, 600).astype(np.int64)
    t_placed = t_order + wait
    adopt_length = t_placed + _integers(rng, 70, 330, n)
    adoptive = np.where(
        consent, _pick(rng, CONSENT_PLACEMENT, n), _pick(rng, ADOPTIVE_PLACEMENT, n)
    )

    remand_length = np.select(
        [ls0 == "J1", ls0 == "J2"],
        [_integers(rng, 5, 120, n), _integers(rng, 1, 4, n)],
        _integers(rng, 30, 200, n),
    )
    other_length = np.round(rng.lognormal(np.log(OTHER_MEDIAN_DAYS), OTHER_SIGMA, n))
    length = np.select(
        [remand, adopt, to18], [remand_length, adopt_length, max_days], other_length
    ).astype(np.int64)
    length = np.clip(length, 1, max_days)
    aged_18 = length >= max_days

    age_end = _age(dob, start + length)
    other_table = np.where(
        (age < 5) & (length >= 270), 0, np.searchsorted(np.array([10, 16]), age_end, "right") + 1
    )
    rec = np.select(
        [aged_18, adopt, remand],
        [_pick(rng, REC_AGED_18, n), _pick(rng, REC_ADOPTED, n), _pick(rng, REC_REMAND, n)],
        _pick_by_band(rng, REC_OTHER, other_table),
    )

    # a last placement with a fixed type: adoptive, back with parents, semi-independent
    home = (rec == "E4A") & (length > 120) & (rng.random(n) < 0.35)
    t_home = length - np.minimum(_integers(rng, 28, 180, n), length - 1)
    at_16 = (_birthday(dob, 16) - start).astype(np.int64)
    t_alone = np.maximum(length - _integers(rng, 60, 400, n), at_16)
    alone = aged_18 & (rng.random(n) < 0.45) & (t_alone > 0) & (t_alone < length)
    fixed_t = np.select([adopt & ~aged_18, home, alone], [t_placed, t_home, t_alone], none).astype(
        np.int64
    )
    fixed_pl = np.select(
        [adopt & ~aged_18, home, alone],
        [adoptive, np.full(n, "P1", dtype=object), _pick(rng, INDEPENDENCE_PLACEMENT, n)],
        np.full(n, None, dtype=object),
    )

    first_placement = np.where(
        remand, _pick(rng, REMAND_PLACEMENT, n), _pick_by_band(rng, PLACEMENT, band)
    )
    early = np.where(~remand & (rng.random(n) < EARLY_MOVE_P), _integers(rng, 2, 90, n), none)
    rate = MOVES_PER_YEAR * np.minimum(rng.gamma(MOVE_RATE_SHAPE, 1 / MOVE_RATE_SHAPE, n), 4.0)
    links = [rng.random(n) < p for p in LINKED_MOVE_P]

    return {
        "person": np.asarray(person, dtype=object),
        "dob": dob,
        "start": start,
        "length": length,
        "rec": rec.astype(object),
        "legal0": ls0,
        "placement0": first_placement.astype(object),
        "t1": t1,
        "legal1": legal1,
        "link1": links[0],
        "t2": t2,
        "legal2": np.full(n, "C2", dtype=object),
        "link2": links[1],
        "t3": t3,
        "legal3": legal3,
        "link3": links[2],
        "fixed_t": fixed_t,
        "fixed_pl": fixed_pl.astype(object),
        "early_t": early,
        "rate": rate,
    }


# --- episodes ---------------------------------------------------------------------------------


def _events(
    index: np.ndarray,
    t: np.ndarray,
    legal: np.ndarray | None = None,
    placement: np.ndarray | None = None,
    *,
    is_legal: bool,
    is_move: bool,
) -> pl.DataFrame:
    n = len(index)
    unset = np.full(n, None, dtype=object)
    return pl.DataFrame(
        {
            "p": pl.Series(index, dtype=pl.Int64),
            "t": pl.Series(t, dtype=pl.Int64),
            "legal": pl.Series(unset if legal is None else legal, dtype=pl.String),
            "placement": pl.Series(unset if placement is None else placement, dtype=pl.String),
            "is_legal": pl.Series(np.full(n, is_legal), dtype=pl.Boolean),
            "is_move": pl.Series(np.full(n, is_move), dtype=pl.Boolean),
        }
    )


def _episodes(rng: np.random.Generator, periods: Cols, end: np.datetime64) -> pl.DataFrame:
    n = len(periods["start"])
    index = np.arange(n)
    length = periods["length"]
    cutoff = np.where(periods["fixed_t"] > 0, periods["fixed_t"], length)

    parts = [
        _events(
            index,
            np.zeros(n),
            periods["legal0"],
            periods["placement0"],
            is_legal=False,
            is_move=False,
        )
    ]
    for k in (1, 2, 3):
        t = periods[f"t{k}"]
        has = (t > 0) & (t < length)
        parts.append(
            _events(index[has], t[has], periods[f"legal{k}"][has], is_legal=True, is_move=False)
        )
        linked = has & periods[f"link{k}"] & (t < cutoff)
        parts.append(_events(index[linked], t[linked], is_legal=False, is_move=True))
    early = periods["early_t"]
    has = (early > 0) & (early < cutoff)
    parts.append(_events(index[has], early[has], is_legal=False, is_move=True))
    counts = rng.poisson(periods["rate"] * np.maximum(cutoff - 1, 0) / 365.25)
    which = np.repeat(index, counts)
    t = 1 + np.floor(rng.random(len(which)) * (cutoff[which] - 1)).astype(np.int64)
    parts.append(_events(which, t, is_legal=False, is_move=True))
    fixed = periods["fixed_t"]
    has = (fixed > 0) & (fixed < length)
    parts.append(
        _events(
            index[has], fixed[has], placement=periods["fixed_pl"][has], is_legal=False, is_move=True
        )
    )

    events = (
        pl.concat(parts)
        .group_by("p", "t")
        .agg(
            pl.col("legal").drop_nulls().first(),
            pl.col("placement").drop_nulls().first(),
            pl.col("is_legal").any(),
            pl.col("is_move").any(),
        )
        .sort("p", "t")
    )

    # a move without a set placement type: draw one for the child's age on the day
    p = events["p"].to_numpy()
    t = events["t"].to_numpy()
    on = periods["start"][p] + t
    draw = _pick_by_band(rng, PLACEMENT, _band(_age(periods["dob"][p], on)))
    is_last = np.append(p[1:] != p[:-1], True)
    next_t = np.where(is_last, length[p], np.append(t[1:], 0))
    ceased = periods["start"][p] + next_t
    is_open = ceased > end
    reason = np.where(is_last, periods["rec"][p], "X1")

    frame = (
        events.with_columns(
            person=pl.Series(periods["person"][p], dtype=pl.String),
            start=days(on),
            ceased=days(ceased),
            reason=pl.Series(reason.astype(object), dtype=pl.String),
            draw=pl.Series(draw, dtype=pl.String),
            is_open=pl.Series(is_open, dtype=pl.Boolean),
        )
        .with_columns(
            pl.col("legal").forward_fill(),
            pl.when(pl.col("is_move") & pl.col("placement").is_null())
            .then(pl.col("draw"))
            .otherwise(pl.col("placement"))
            .forward_fill()
            .alias("placement"),
            pl.when(pl.col("t") == 0)
            .then(pl.lit("S"))
            .when(pl.col("is_move") & pl.col("is_legal"))
            .then(pl.lit("T"))
            .when(pl.col("is_move"))
            .then(pl.lit("P"))
            .otherwise(pl.lit("L"))
            .alias("rne"),
        )
        .filter(pl.col("start") <= pl.lit(end.astype(object), dtype=pl.Date))
        .with_columns(
            pl.when(pl.col("is_open")).then(None).otherwise(pl.col("ceased")).alias("ceased"),
            pl.when(pl.col("is_open")).then(None).otherwise(pl.col("reason")).alias("reason"),
        )
        .sort("start", "person")
    )
    return frame.select(
        _numbered("E", 7).alias("clae_cla_episode_id"),
        pl.col("person").alias("clae_person_id"),
        pl.col("start").alias("clae_cla_episode_start_date"),
        pl.col("rne").alias("clae_cla_episode_start_reason"),
        pl.col("legal").alias("clae_cla_legal_status"),
        pl.col("placement").alias("clae_cla_placement_type"),
        pl.col("ceased").alias("clae_cla_episode_ceased_date"),
        pl.col("reason").alias("clae_cla_episode_ceased_reason"),
        pl.col("start").alias("_start"),
        pl.col("ceased").alias("_end"),
    )


# --- reviews ----------------------------------------------------------------------------------


def _working_days(cal: WorkingCalendar, starts: np.ndarray) -> np.busdaycalendar:
    """The calendar's working days, with bank holidays added for the years before it that
    the stock's periods of care go back to."""
    holidays = cal.holidays
    if len(starts):
        first_year = int(starts.min().astype("datetime64[Y]").astype(np.int64)) + 1970
        if first_year < cal.first_year:
            older = np.array(bank_holidays(first_year, cal.first_year - 1), dtype=DAY)
            holidays = np.union1d(older, holidays)
    return np.busdaycalendar(weekmask="1111100", holidays=holidays)


def _reviews(
    rng: np.random.Generator, span: Span, cal: WorkingCalendar, periods: Cols
) -> pl.DataFrame:
    end = np.datetime64(span.end, "D")
    busdays = _working_days(cal, periods["start"])
    n_iro = max(IROS_PER_SCALE, round(IROS_PER_SCALE * span.scale))
    width = max(2, len(str(n_iro)))

    def held_for(due: np.ndarray) -> np.ndarray:
        size = len(due)
        on_time = rng.random(size) < REVIEW_ON_TIME_P
        early = np.busday_offset(
            due - _integers(rng, 0, 16, size), 0, roll="backward", busdaycal=busdays
        )
        late = np.busday_offset(
            due + _integers(rng, 1, 15, size), 0, roll="forward", busdaycal=busdays
        )
        return np.asarray(np.where(on_time, early, late), dtype=DAY)

    which = np.arange(len(periods["start"]))
    ends = periods["start"] + periods["length"]
    # the first review is due on the 20th working day after the period starts
    due = np.busday_offset(
        periods["start"] + np.timedelta64(1, "D"), 19, roll="forward", busdaycal=busdays
    )
    held = held_for(due)
    iro = _integers(rng, 1, n_iro + 1, len(which))
    found: list[tuple[np.ndarray, ...]] = []
    number = 1
    while len(which):
        keep = (held < ends[which]) & (held <= end)
        which, due, held, iro = which[keep], due[keep], held[keep], iro[keep]
        if not len(which):
            break
        found.append((which, np.full(len(which), number), due, held, iro))
        due = _add_months(held, 3 if number == 1 else 6)
        held = held_for(due)
        change = rng.random(len(which)) < IRO_CHANGE_P
        iro = np.where(change, _integers(rng, 1, n_iro + 1, len(which)), iro)
        number += 1

    if not found:
        nothing = np.zeros(0, np.int64)
        found.append((nothing, nothing, nothing.astype(DAY), nothing.astype(DAY), nothing))
    p, number_of, due_at, held_at, iro_of = (
        np.concatenate(parts) for parts in zip(*found, strict=True)
    )
    under_4 = held_at < _birthday(periods["dob"][p], 4)
    participation = np.where(under_4, "PN0", _pick(rng, PARTICIPATION, len(p))).astype(object)
    frame = pl.DataFrame(
        {
            "person": pl.Series(periods["person"][p], dtype=pl.String),
            "number": number_of,
            "held": days(held_at),
            "due": days(due_at),
            "participation": pl.Series(participation, dtype=pl.String),
            "iro": iro_of,
        }
    ).sort("held", "person", "number")
    frame = frame.with_columns(
        pl.concat_str(pl.lit("IRO"), pl.col("iro").cast(pl.String).str.zfill(width)).alias("iro")
    )
    return frame.select(
        _numbered("CLR", 7).alias("clar_cla_review_id"),
        pl.col("person").alias("clar_person_id"),
        pl.col("held").alias("clar_cla_review_date"),
        pl.col("due").alias("clar_cla_review_due_date"),
        pl.col("participation").alias("clar_cla_review_participation"),
        pl.col("iro").alias("clar_iro_id"),
        pl.col("held").alias("_start"),
        pl.col("held").alias("_end"),
    )
