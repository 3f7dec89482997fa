"""Working days: Monday to Friday, not an England and Wales bank holiday (substitute days
included, from the ``holidays`` package), not an authority closure day. Vectorised with numpy.

Convention (spec "Elapsed working days from A to B"): the number of working days d with
A < d <= B. Same day = 0; Friday to Monday = 1; Saturday to Monday = 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import holidays
import numpy as np

DAY = "datetime64[D]"


def bank_holidays(first_year: int, last_year: int) -> list[date]:
    """England and Wales bank holidays (subdivision ENG), substitute days included."""
    found = holidays.country_holidays("GB", subdiv="ENG", years=range(first_year, last_year + 1))
    return sorted(found)


class WorkingCalendar:
    """Working-day arithmetic over numpy ``datetime64[D]`` arrays."""

    def __init__(self, first_year: int, last_year: int, closures: Iterable[date] = ()) -> None:
        self.first_year, self.last_year = first_year, last_year
        days = sorted(set(bank_holidays(first_year, last_year)) | set(closures))
        self.holidays = np.array(days, dtype=DAY)
        self._cal = np.busdaycalendar(weekmask="1111100", holidays=self.holidays)

    def is_working_day(self, days: np.ndarray) -> np.ndarray:
        return np.asarray(np.is_busday(np.asarray(days, dtype=DAY), busdaycal=self._cal))

    def elapsed(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Working days d with start < d <= end; when end is before start, minus the working
        days d with end < d <= start."""
        start = np.asarray(start, dtype=DAY)
        end = np.asarray(end, dtype=DAY)
        low, high = np.minimum(start, end), np.maximum(start, end)
        # busday_count counts [a, b); shifting both ends by one day gives (a, b]
        count = np.asarray(np.busday_count(low + 1, high + 1, busdaycal=self._cal))
        return np.where(end >= start, count, -count)

    def add(self, days: np.ndarray, n: np.ndarray | int) -> np.ndarray:
        """The working day ``n`` working days after each day (before, for negative ``n``), by
        the elapsed convention: ``elapsed(A, add(A, n)) == n``. So Saturday + 1 is Monday and
        Saturday + 20 is the 20th working day after it. ``n == 0`` gives the day itself when
        it is a working day, else the next working day."""
        start = np.asarray(days, dtype=DAY)
        steps = np.asarray(n)
        # rolling a non-working day back to the previous working day makes it count as 0
        moved = np.busday_offset(start, steps, roll="backward", busdaycal=self._cal)
        if np.any(steps == 0):
            forward = np.busday_offset(start, steps, roll="forward", busdaycal=self._cal)
            moved = np.where(steps == 0, forward, moved)
        return np.asarray(moved)

    def next_working_day(self, days: np.ndarray) -> np.ndarray:
        """Each day itself if it is a working day, else the next working day."""
        return self.add(days, 0)

    def working_days(self, first: date, last: date) -> np.ndarray:
        """Every working day from ``first`` to ``last`` inclusive."""
        every = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
        return np.asarray(every[self.is_working_day(every)])
