"""What officers write for a meeting: the header details and the body sections.

Read from ``narrative.yaml`` next to the month's report (``reports/YYYY-MM/narrative.yaml``)
or the file named with ``--narrative``. A section left out appears in the paper as a marked
placeholder naming who writes it.
"""

from __future__ import annotations

from pathlib import Path

from safeguard.models import StrictModel
from safeguard.schema import load_model

Text = str | list[str] | None


class Narrative(StrictModel):
    meeting: str | None = None
    meeting_date: str | None = None
    report_by: str | None = None
    contact_officer: str | None = None  # "Jo Bloggs, head of safeguarding, 01234 567890"
    classification: Text = None
    key_decision: Text = None
    wards_affected: Text = None
    purpose: Text = None
    recommendations: Text = None
    alternative_options: Text = None
    reasons_for_recommendations: Text = None
    key_considerations: Text = None
    community_impact: Text = None
    equality_duty: Text = None
    financial_implications: Text = None
    legal_implications: Text = None
    risk_management: Text = None
    consultees: Text = None
    appendices: Text = None
    background_papers: Text = None


# (field, heading, who writes it when it is missing)
SECTIONS = [
    ("classification", "Classification", "the report author"),
    ("key_decision", "Key decision", "the report author"),
    ("wards_affected", "Wards affected", "the report author"),
    ("purpose", "Purpose", "the report author"),
    ("recommendations", "Recommendations", "the report author"),
    ("alternative_options", "Alternative options", "the report author"),
    ("reasons_for_recommendations", "Reasons for recommendations", "the report author"),
    ("key_considerations", "Key considerations", "the head of service"),
    ("community_impact", "Community impact", "the report author"),
    ("equality_duty", "Equality duty", "the equalities officer"),
    ("financial_implications", "Financial implications", "Finance"),
    ("legal_implications", "Legal implications", "Legal services"),
    ("risk_management", "Risk management", "the report author"),
    ("consultees", "Consultees", "the report author"),
    ("appendices", "Appendices", "the report author"),
    ("background_papers", "Background papers", "the report author"),
]


def paragraphs(text: Text) -> tuple[str, ...]:
    if text is None:
        return ()
    items = [text] if isinstance(text, str) else text
    return tuple(p.strip() for item in items for p in item.split("\n\n") if p.strip())


def load_narrative(path: Path | None) -> Narrative:
    """The meeting's narrative; an absent default file gives an empty one (all placeholders)."""
    return Narrative() if path is None else load_model(path, Narrative, optional=True)
