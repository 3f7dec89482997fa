from datetime import date

import pytest

from safeguard.periods import Month


def test_parse_and_bounds() -> None:
    month = Month.parse("2016-02")
    assert (month.first_day, month.last_day) == (date(2016, 2, 1), date(2016, 2, 29))  # leap year
    assert Month.parse("2015-02").last_day == date(2015, 2, 28)
    assert str(Month.parse(" 2015-10 ")) == "2015-10"


@pytest.mark.parametrize("text", ["2015-13", "2015-00", "201510", "2015-1", "Oct 2015", "15-10"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Month.parse(text)


def test_shift_and_order() -> None:
    assert Month(2015, 10).shift(-12) == Month(2014, 10)
    assert Month(2015, 1).shift(-1) == Month(2014, 12)
    assert Month(2015, 12).shift(1) == Month(2016, 1)
    assert sorted([Month(2016, 1), Month(2015, 12)]) == [Month(2015, 12), Month(2016, 1)]
