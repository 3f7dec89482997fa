"""Working days by the spec's convention, worked out by hand against a 2015-2016 calendar."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_add_rolls_a_weekend_forward_then_counts() -> None:
    days = np.array(["2015-10-10", "2015-10-12", "2015-12-24"], dtype="datetime64[D]")
    # Sat 10 Oct rolls to Mon 12 Oct; +1 -> Tue 13. Thu 24 Dec +1 -> Tue 29 Dec.
    assert CAL.add(days, 1).astype(str).tolist() == ["2015-10-13", "2015-10-13", "2015-12-29"]
    assert CAL.next_working_day(days).astype(str).tolist() == [
        "2015-10-12",
        "2015-10-12",
        "2015-12-24",
    ]


def test_closure_days_are_not_working_days() -> None:
    from datetime import date

    closed = WorkingCalendar(2015, 2015, closures=[date(2015, 12, 24)])
    assert int(closed.elapsed(d("2015-12-23"), d("2015-12-29"))) == 1
    # Mon 21 - Thu 24, then Tue 29 - Thu 31: Fri 25 and Mon 28 are bank holidays
    assert len(CAL.working_days(date(2015, 12, 21), date(2015, 12, 31))) == 7
