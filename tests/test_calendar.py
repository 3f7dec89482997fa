"""Working days by the spec's convention, worked out by hand against a 2015-2016 calendar."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from safeguard.calendar import WorkingCalendar

CAL = WorkingCalendar(2014, 2017)


def d(text: str) -> np.datetime64:
    return np.datetime64(text, "D")


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2015-10-05", "2015-10-05", 0),  # same day
        ("2015-10-09", "2015-10-12", 1),  # Friday to Monday
        ("2015-10-10", "2015-10-12", 1),  # Saturday to Monday
        ("2015-10-10", "2015-10-11", 0),  # Saturday to Sunday
        ("2015-10-01", "2015-10-15", 10),  # Thu 1 Oct + 10 working days = Thu 15 Oct
        # Christmas 2015: Fri 25 (bank holiday), Mon 28 (Boxing Day substitute)
        ("2015-12-24", "2015-12-29", 1),
        # Easter 2016: Good Friday 25 March, Easter Monday 28 March
        ("2016-03-24", "2016-03-29", 1),
        # leap day 2016 is a Monday and a working day
        ("2016-02-26", "2016-02-29", 1),
        ("2015-10-12", "2015-10-09", -1),  # end before start: minus (9 Oct, 12 Oct] = -1
    ],
)
def test_elapsed_working_days(start: str, end: str, expected: int) -> None:
    assert int(CAL.elapsed(d(start), d(end))) == expected


def test_add_counts_by_the_elapsed_convention() -> None:
    days = np.array(["2015-10-10", "2015-10-12", "2015-12-24"], dtype="datetime64[D]")
    # Sat 10 Oct + 1 -> Mon 12 Oct (Saturday to Monday is 1 working day); Mon 12 + 1 -> Tue 13;
    # Thu 24 Dec + 1 -> Tue 29 Dec (Christmas Day and the Boxing Day substitute are holidays)
    assert CAL.add(days, 1).astype(str).tolist() == ["2015-10-12", "2015-10-13", "2015-12-29"]
    # Sat 2 Jan 2016 + 20 -> Fri 29 Jan (Mon 4 Jan is the first)
    assert str(CAL.add(np.array(["2016-01-02"], dtype="datetime64[D]"), 20)[0]) == "2016-01-29"
    # minus: Sat 10 Oct - 1 -> Thu 8 Oct, since (Thu, Sat] holds one working day (Fri)
    assert str(CAL.add(np.array(["2015-10-10"], dtype="datetime64[D]"), -1)[0]) == "2015-10-08"
    assert CAL.next_working_day(days).astype(str).tolist() == [
        "2015-10-12",
        "2015-10-12",
        "2015-12-24",
    ]


@given(
    start=st.dates(min_value=date(2014, 1, 1), max_value=date(2016, 12, 31)),
    n=st.integers(min_value=-300, max_value=300),
)
def test_add_and_elapsed_agree(start: date, n: int) -> None:
    day = np.array([start], dtype="datetime64[D]")
    moved = CAL.add(day, n)
    if n != 0:
        assert int(CAL.elapsed(day, moved)[0]) == n
    assert bool(CAL.is_working_day(moved)[0])


@given(
    a=st.dates(min_value=date(2014, 1, 1), max_value=date(2016, 12, 31)),
    b=st.dates(min_value=date(2014, 1, 1), max_value=date(2016, 12, 31)),
)
def test_elapsed_is_antisymmetric(a: date, b: date) -> None:
    x, y = np.array([a], dtype="datetime64[D]"), np.array([b], dtype="datetime64[D]")
    assert int(CAL.elapsed(x, y)[0]) == -int(CAL.elapsed(y, x)[0])


def test_closure_days_are_not_working_days() -> None:
    closed = WorkingCalendar(2015, 2015, closures=[date(2015, 12, 24)])
    assert int(closed.elapsed(d("2015-12-23"), d("2015-12-29"))) == 1
    # Mon 21 - Thu 24, then Tue 29 - Thu 31: Fri 25 and Mon 28 are bank holidays
    assert len(CAL.working_days(date(2015, 12, 21), date(2015, 12, 31))) == 7
