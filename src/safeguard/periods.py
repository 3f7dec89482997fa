"""The reporting month as a value type. The library never reads the clock: months are inputs."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

MONTH_PATTERN = r"^(\d{4})-(\d{2})$"  # how a month is written, e.g. a monthly extract's key
_MONTH = re.compile(MONTH_PATTERN)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, written ``YYYY-MM``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1 to 12, got {self.month}")
        if not 1900 <= self.year <= 2999:
            raise ValueError(f"year out of range: {self.year}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """Parse ``YYYY-MM``; anything else raises ``ValueError`` with the expected form."""
        match = _MONTH.match(text.strip())
        if match is None:
            raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from ``first`` to ``last``, both included (none when ``last`` is earlier)."""
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return [first.shift(i) for i in range(count)]


def after_today(month: Month, today: date | None) -> bool:
    """True when ``month`` starts after ``today`` (the caller's date: the library never reads
    the clock). An extract or return for such a month is a mistyped name, never data."""
    return today is not None and month.first_day > today
