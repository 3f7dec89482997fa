"""What every part of the Demoshire simulation shares: the span, the calendar, truth tables.

A *truth table* holds every record the authority's system will ever hold, with every value as
finally recorded, plus two bookkeeping columns:

- ``_start`` (Date): the day the record comes into existence (it appears in every extract
  closing on or after this day, while inside that extract's window);
- ``_end`` (Date, null while open): the day the record stops being open.

``reveal`` names columns that are only known once a date column has passed (a closure reason
with its closure date, an assessment outcome with its authorisation date). The snapshot for an
extract closing at month end E blanks every Date/Datetime value after E and every revealed
column whose date is after E, so each extract shows the system as it stood at E.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from safeguard.calendar import WorkingCalendar

DAY = "datetime64[D]"


@dataclass(frozen=True)
class Span:
    """The simulated period and the authority's size."""

    sim_start: date  # first simulated day: a burn-in before the first extract
    end: date  # last simulated day (the last extract's month end)
    scale: float = 1.0  # 1 = a county (0-17 population 35,276); 10 = the largest authority

    @property
    def population(self) -> int:
        return round(35_276 * self.scale)


@dataclass
class TruthTable:
    """Every record of one extract table over the whole simulation (see module docstring)."""

    frame: pl.DataFrame
    reveal: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class People:
    """Children minted by one part of the simulation, for person.csv.

    Columns: pers_person_id (String), pers_sex (String: M/F/U), pers_ethnicity (String: CIN
    code), pers_dob (Date; for an unborn child the expected birth day), pers_unborn (Boolean:
    the child was unborn at first contact), pers_disability (Boolean or null).
    """

    frame: pl.DataFrame


def days(values: np.ndarray) -> pl.Series:
    """numpy datetime64[D] -> a polars Date series."""
    return pl.Series(np.asarray(values, dtype=DAY)).cast(pl.Date)


def calendar_for(span: Span) -> WorkingCalendar:
    return WorkingCalendar(span.sim_start.year - 1, span.end.year + 1)
