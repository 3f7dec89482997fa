"""The paper's words and HTML: commentary rules, narrative, templates (golden file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from safeguard.errors import ConfigError
from safeguard.report.commentary import positives_and_challenges, sentence, year_label
from safeguard.report.html import render_html
from safeguard.report.narrative import load_narrative, paragraphs
from safeguard.report.sample import sample_model
from tests.conftest import ROOT

GOLDEN = Path(__file__).parent / "golden"
TEMPLATES = ROOT / "templates"


def row(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "title": "Contacts screened the same working day",
        "unit": "percent",
        "decimals": 1,
        "polarity": "higher",
        "status": "ok",
        "reason": "",
        "value": 97.36,
        "previous_value": 97.63,
        "target": 95.0,
        "rag": "Green",
        "spc_variation": "common_cause",
        "dfe_england": None,
        "dfe_year": None,
    }
    base.update(changes)
    return base


def test_a_sentence_in_the_register_of_the_paper() -> None:
    assert sentence(row(), "October 2015", "September 2015") == (
        "Contacts screened the same working day: 97.4% in October 2015, down from 97.6% in "
        "September 2015; within its usual range over the last two years; meeting the target "
        "of 95.0%."
    )


def test_special_cause_target_and_comparator_words() -> None:
    text = sentence(
        row(
            title="Re-referrals within 12 months",
            value=24.4,
            previous_value=20.0,
            polarity="lower",
            target=22.0,
            spc_variation="concern_high",
            dfe_england=23.5,
            dfe_year="2014",
        ),
        "October 2015",
        "September 2015",
    )
    assert text == (
        "Re-referrals within 12 months: 24.4% in October 2015, up from 20.0% in September 2015; "
        "a special cause concern (high) against the last two years' pattern; short of the target "
        "of 22.0%; England 23.5% in 2013-14."
    )


def test_a_figure_not_available_says_why() -> None:
    text = sentence(
        row(status="not available", value=None, reason="no extract has held audits.csv"),
        "October 2015",
        "September 2015",
    )
    assert text == (
        "Contacts screened the same working day: not available for October 2015 "
        "(no extract has held audits.csv)."
    )


def test_positives_and_challenges() -> None:
    rows = [
        row(title="A"),
        row(title="B", rag="Red"),
        row(title="C", rag=None, spc_variation="improvement_low"),
        row(title="D", rag=None),
    ]
    positives, challenges = positives_and_challenges(rows, "October 2015", "September 2015")
    assert [p.split(":")[0] for p in positives] == ["A", "C"]
    assert [c.split(":")[0] for c in challenges] == ["B"]


def test_year_labels() -> None:
    assert (year_label("2014"), year_label("2015-16")) == ("2013-14", "2015-16")


def test_narrative_rejects_unknown_sections_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "narrative.yaml"
    path.write_text("meeting: Scrutiny\nfinancial: none\n")
    with pytest.raises(ConfigError, match="financial: Extra inputs are not permitted"):
        load_narrative(path)
    assert load_narrative(tmp_path / "absent.yaml").meeting is None
    assert paragraphs("One.\n\nTwo.") == ("One.", "Two.")
    assert paragraphs(["A", "B\n\nC"]) == ("A", "B", "C")


def test_the_html_paper_matches_its_golden_file(tmp_path: Path) -> None:
    out = render_html(
        sample_model(3, "internal"), tmp_path / "paper.html", template_dirs=[TEMPLATES]
    )
    golden = GOLDEN / "sample_paper.html"
    if os.environ.get("SAFEGUARD_UPDATE_GOLDEN"):
        golden.write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    assert out.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8"), (
        "the HTML changed: review it, then run with SAFEGUARD_UPDATE_GOLDEN=1"
    )


def test_the_html_is_accessible_in_its_structure(tmp_path: Path) -> None:
    html = render_html(
        sample_model(3, "public"), tmp_path / "p.html", template_dirs=[TEMPLATES]
    ).read_text()
    assert '<html lang="en-GB">' in html
    assert html.count("<img ") == html.count(' alt="') == 1
    assert '<th scope="col">Indicator</th>' in html
    assert 'class="placeholder">[To be completed by Finance]' in html
    assert "INTERNAL" not in html


def test_a_council_template_comes_first_and_templates_fail_loudly(tmp_path: Path) -> None:
    council = tmp_path / "council"
    council.mkdir()
    (council / "paper.html.j2").write_text("{{ model.council }} own layout\n")
    out = render_html(sample_model(), tmp_path / "a.html", template_dirs=[council, TEMPLATES])
    assert out.read_text() == "Demoshire Council own layout\n"
    (council / "paper.html.j2").write_text("{{ model.counsil }}\n")
    with pytest.raises(UndefinedError, match="counsil"):
        render_html(sample_model(), tmp_path / "b.html", template_dirs=[council, TEMPLATES])
