"""Demoshire: simulate the authority and write its monthly extracts.

The planted data-quality problems (all in the October 2015 extract, each corrected or caught up
in November's) are listed in ``PLANTED``; the README's demo section repeats them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from safeguard.demo.common import Span, TruthTable, calendar_for
from safeguard.demo.journeys import simulate_journeys
from safeguard.demo.looked_after import simulate_looked_after
from safeguard.demo.snapshot import Planted, extract_tables
from safeguard.demo.staff import (
    Workforce,
    simulate_audits,
    simulate_complaints,
    simulate_compliments,
    simulate_workforce,
)
from safeguard.errors import ConfigError
from safeguard.indicators.catalogue import Authority
from safeguard.periods import Month, months_between
from safeguard.schema import Contract

FIRST_MONTH = Month(2013, 4)
LAST_MONTH = Month(2017, 3)
# The simulation starts this long before the first extract, so the authority is in its steady
# state when the extracts begin, as a real one is: children already on plans of every length,
# periods of care and a workforce in post. Five years covers the longest child protection plans
# (lognormal, median 215 days: 2.4% last over two years, 0.1% over four), so "plans ended after
# 2 years or more" is in its steady state from the first extract; with two years it climbed
# from 0% to 3.5% through the extracts. (Periods of care and staff are seeded in steady state
# on the first simulated day: see looked_after.py and staff.py.)
BURN_IN_MONTHS = 60
OCTOBER = Month(2015, 10)

PLANTED = [
    Planted(
        OCTOBER,
        "contacts",
        "cont_decision_datetime",
        "31/09/2015 10:15",
        (pl.col("cont_contact_date").dt.date() == pl.date(2015, 10, 14)),
        "an impossible date (31 September) typed as a contact's decision date",
    ),
    Planted(
        OCTOBER,
        "referrals",
        "cine_referral_source_code",
        "11",
        (pl.col("cine_referral_date") == pl.date(2015, 10, 20)),
        "a referral source code that does not exist (11)",
    ),
    Planted(
        OCTOBER,
        "referrals",
        "cine_referral_id",
        None,
        (pl.col("cine_referral_date") >= pl.date(2015, 10, 26)) & pl.col("cine_referral_nfa"),
        "a late-recorded referral: dated October, first in the November extract",
    ),
    Planted(
        OCTOBER,
        "cp_plans",
        "cppl_cp_plan_initial_category",
        "NEG",
        (pl.col("cppl_cp_plan_start_date") >= pl.date(2015, 10, 1))
        & (pl.col("cppl_cp_plan_initial_category") != "NEG"),
        "a plan's category of abuse recorded wrongly, corrected in November",
    ),
]


# the figures `safeguard demo` prints for its month (the scorecard holds every indicator)
HEADLINE = [
    "contacts",
    "contacts_screened_same_day_pct",
    "contacts_to_referral_pct",
    "referrals",
    "rereferrals_12m_pct",
    "assessments_in_timescale_pct",
    "initial_assessments_10wd_pct",
    "strategy_discussions",
    "strategy_discussions_no_s47_pct",
    "cp_plans_open",
    "cp_rate_per_10k",
    "cla_open",
    "agency_rate_fte",
    "average_caseload",
    "audits",
    "audits_good_or_better_pct",
]


def demo_authority(authority: Authority, scale: float) -> Authority:
    """Demoshire's settings at a scale: its population grows with its volumes."""
    if scale == 1:
        return authority
    scaled = {
        year: round(count * scale) for year, count in authority.population.children_0_17.items()
    }
    population = authority.population.model_copy(update={"children_0_17": scaled})
    return authority.model_copy(update={"population": population})


@dataclass(frozen=True)
class World:
    """Everything Demoshire's system will ever hold."""

    truths: dict[str, TruthTable]
    people: pl.DataFrame
    workforce: Workforce


def simulate(seed: int, span: Span) -> World:
    """Run the whole simulation. Each part draws from its own seeded stream."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    cal = calendar_for(span)
    journeys = simulate_journeys(streams[0], span, cal)
    cla, cla_people = simulate_looked_after(streams[1], span, cal, journeys.known)
    truths = dict(journeys.tables)
    truths.update(cla)
    truths["audits"] = simulate_audits(streams[2], span, cal, journeys.known)
    truths["complaints"] = simulate_complaints(streams[3], span, cal)
    truths["compliments"] = simulate_compliments(streams[4], span, cal)
    workforce = simulate_workforce(streams[5], span, cal)
    people = pl.concat([journeys.people.frame, cla_people.frame], how="diagonal_relaxed")
    return World(truths, people, workforce)


MARKER = "DEMOSHIRE.txt"
MARKER_TEXT = (
    "Synthetic data written by `safeguard demo` for the fictional authority Demoshire.\n"
    "No real child is described here. Delete this folder before using it for real extracts.\n"
)


def check_demo_folder(folder: Path, what: str) -> None:
    """Refuse to write demo data where real data may be.

    A folder is the demo's when it is missing, empty, or carries the marker file.
    """
    if folder.exists() and not (folder / MARKER).is_file():
        real = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        if real:
            raise ConfigError(
                f"{folder} already holds {what} that the demo did not write "
                f"({', '.join(real[:3])}{', ...' if len(real) > 3 else ''}); "
                "the demo will not write over them: choose another folder"
            )


def mark_demo_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def write_extracts(world: World, contract: Contract, months: list[Month], out: Path) -> list[Path]:
    """Write one extract folder per month under ``out``; each folder replaced whole."""
    check_demo_folder(out, "extracts")
    mark_demo_folder(out)
    written = []
    for month in months:
        tables = extract_tables(
            world.truths, world.people, world.workforce, contract, month, PLANTED
        )
        tmp = out / f".tmp-{month}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, frame in tables.items():
            frame.write_csv(tmp / contract.tables[name].file)
        final = out / str(month)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        written.append(final)
    return written


def generate(
    out: Path,
    contract: Contract,
    *,
    seed: int = 2015,
    scale: float = 1.0,
    first: Month = FIRST_MONTH,
    last: Month = LAST_MONTH,
) -> list[Path]:
    """Simulate Demoshire and write its extracts for every month from ``first`` to ``last``."""
    # The simulated world does not depend on the months asked for: it always covers the
    # standard span (and more when asked), so any months of a seed are the same files.
    origin = min(first, FIRST_MONTH).shift(-BURN_IN_MONTHS)
    span = Span(origin.first_day, max(last, LAST_MONTH).last_day, scale)
    world = simulate(seed, span)
    return write_extracts(world, contract, months_between(first, last), out)
