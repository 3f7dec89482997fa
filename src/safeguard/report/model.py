"""The report model: everything a renderer needs, already formatted, and nothing else.

Renderers (HTML, PDF, DOCX) do no arithmetic and no wording: they lay out these fields. Every
chart carries its alt text and its data table, so each format says the same thing. No field
holds a child's identifier.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar


@dataclass(frozen=True)
class Section:
    """One section of the paper's body. ``placeholder`` marks text an officer must write."""

    key: str
    heading: str
    paragraphs: tuple[str, ...]
    placeholder: bool = False
    first_number: int = 0  # the paper's number of the first paragraph; 0: not numbered


@dataclass(frozen=True)
class ScoreRow:
    """One indicator's line in the Appendix A scorecard (every value already formatted)."""

    indicator: str
    title: str
    value: str  # "97.4%", "234", or "not available" with the reason in ``note``
    previous: str
    last_year: str
    target: str  # "95.0%" or "" when none
    rag: str  # "Green", "Amber", "Red" or "" (a word, never a colour alone)
    spc_letters: str  # "H P", "-", ...
    spc_words: str
    england: str
    region: str
    neighbours: str  # statistical-neighbour mean
    comparator_year: str  # "2013-14" style label, or ""
    footnote: int  # number of the definition footnote
    note: str = ""  # why a value is missing, comparator caveats
    kind: str = ""  # "flow", "snapshot", "rolling" or "share" (the catalogue's kind)
    window_label: str = ""  # "12 months to Oct 2015" beside a rolling figure's value, else ""
    stage: str = ""  # the journey stage's heading ("Front door"), "" when the catalogue has none
    numerator: str = ""  # "140" of a share or rate, "" for a count or when not available
    denominator: str = ""  # "192", or the population for a rate
    direction: str = ""  # since the previous month: "up", "down", "level", "" when unknown
    direction_tone: str = ""  # "good", "bad" or "neutral" (polarity neutral, or level)
    direction_words: str = ""  # the arrow in words: "Up on the previous month (better)"
    variation: str = ""  # Making Data Count variation icon: "concern_high", ...; "" for none
    variation_words: str = ""  # "Special cause concern (high)", or why there is no SPC
    assurance: str = ""  # "consistently_pass", "consistently_fail", "inconsistent" or ""
    assurance_words: str = ""  # "Target consistently met", ...


@dataclass(frozen=True)
class ChartPoint:
    month: str  # "Oct 2015"
    value: str  # formatted, "" when not available
    note: str = ""  # "special cause (shift)", "not available: ..."


@dataclass(frozen=True)
class Chart:
    """A chart of one indicator with the same information as text."""

    indicator: str
    title: str
    svg: str  # an SVG document (for HTML and PDF)
    png: bytes  # the same chart as PNG (for DOCX)
    alt: str  # alt text, written from the same data as the chart
    points: tuple[ChartPoint, ...]  # the data table shown beside the chart
    width_cm: float = 16.0
    stage: str = ""  # the journey stage the chart is grouped under ("Front door")


@dataclass(frozen=True)
class Footnote:
    number: int
    text: str


@dataclass(frozen=True)
class Table:
    """A plain data table (a breakdown, the data-quality annex): header row plus rows."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""  # printed under the table ("" for none)


@dataclass(frozen=True)
class ReportModel:
    """The whole committee paper."""

    title: str  # "Children's safeguarding performance data"
    council: str
    month_label: str  # "October 2015"
    audience: str  # "public" or "internal"
    header: tuple[tuple[str, str], ...]  # (label, value): Meeting, Meeting date, Title, Report by
    sections: tuple[Section, ...]  # the body, Classification ... Background papers
    positives: tuple[str, ...]
    challenges: tuple[str, ...]
    scorecard: tuple[ScoreRow, ...]
    charts: tuple[Chart, ...]
    commentary: tuple[tuple[str, str], ...]  # (indicator title, generated sentence)
    footnotes: tuple[Footnote, ...]
    annex: tuple[Table, ...]  # the data-quality annex
    breakdowns: tuple[Table, ...] = ()  # the tables behind the figures, after the exceptions
    banner: str = ""  # "INTERNAL: not for publication" on every page when internal
    detail: str = "summary"
    positives_first: int = 0  # the paragraph number of the first positive; 0: not numbered
    challenges_first: int = 0  # "summary": small-multiple charts; "full": a chart and table a page
    language: str = "en-GB"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json_ready(self) -> dict[str, Any]:
        """Plain data for a template engine (PNG bytes left out)."""
        data = asdict(self)
        for chart in data["charts"]:
            chart.pop("png", None)
        return data


# what XML 1.0 (and so DOCX, and HTML's parsers) cannot hold: C0 controls but tab, newline and
# carriage return, and the two non-characters; a vertical tab pasted from Word is one
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
T = TypeVar("T")


def xml_safe(value: T) -> T:
    """``value`` (the report model, or any part of it) with every string cleaned of the
    characters XML cannot hold, each replaced by a space: text from an extract or a narrative
    can never stop a format from being written. Bytes (a chart's PNG) are left alone."""
    if isinstance(value, str):
        return _NOT_XML.sub(" ", value)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: xml_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(xml_safe(item) for item in value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [xml_safe(item) for item in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {key: xml_safe(item) for key, item in value.items()}  # type: ignore[return-value]
    return value
