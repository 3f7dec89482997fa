"""The paper's words and HTML: commentary rules, narrative, templates (golden file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from safeguard.errors import ConfigError
from safeguard.report.commentary import (
    exceptions,
    positives_and_challenges,
    sentence,
    year_label,
)
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
        row(title="A"),  # steady and on target: not an exception
        row(title="B", rag="Red", value=90.0, previous_value=90.0),
        row(title="C", rag=None, target=None, spc_variation="improvement_low", polarity="lower"),
        row(title="D", rag=None, target=None),
    ]
    positives, challenges = positives_and_challenges(rows, "October 2015", "October 2014")
    assert [p.split(":")[0] for p in positives] == ["C"]
    assert [c.split(":")[0] for c in challenges] == ["B"]


def test_exceptions_word_for_word() -> None:
    """Each rule's words and question, and never a contradiction."""
    on_plan = row(
        indicator="cp_plans_open",
        title="Children on a child protection plan",
        unit="count",
        decimals=0,
        polarity="neutral",
        value=234.0,
        previous_value=220.0,
        last_year_value=165.0,
        target=None,
        rag=None,
        spc_variation="neutral_high",
    )  # 234 / 165 = +42%: a large change of a volume, and a special cause high
    agency = row(
        indicator="agency_rate_fte",
        title="Agency social workers",
        unit="percent",
        polarity="lower",
        value=38.5,
        previous_value=40.0,
        last_year_value=45.0,
        target=25.0,
        tolerance=5.0,
        rag="Red",
        spc_variation="improvement_low",
    )  # improving (special cause low) but still Red: a positive, with the target said
    amber = row(value=93.0, previous_value=96.0, tolerance=3.0, rag="Amber")
    # 93.0 is 2.0 short of 95: Amber; September's 96.0 was Green: newly missed
    met = row(value=95.5, previous_value=94.0, tolerance=1.0, rag="Green")
    # September's 94.0 was Amber (1.0 short, within the tolerance of 1.0): newly met
    steady = row(spc_assurance="consistently_pass")
    quiet = row()  # Green, common cause, no assurance, no year-ago value: nothing to say
    found = exceptions([on_plan, agency, amber, met, steady, quiet], "October 2015", "October 2014")
    assert [(f.indicator, f.kind) for f in found] == [
        ("cp_plans_open", "change"),
        ("agency_rate_fte", "positive"),
        ("Contacts screened the same working day", "challenge"),
        ("Contacts screened the same working day", "positive"),
        ("Contacts screened the same working day", "positive"),
    ]
    assert found[0].text == (
        "Children on a child protection plan: 234 in October 2015; unusually high against the "
        "last two years' pattern; +42% on October 2014 (165)."
    )
    assert found[0].question == (
        "What is driving the change in children on a child protection plan, and can the "
        "service meet the demand?"
    )
    assert found[1].text == (
        "Agency social workers: 38.5% in October 2015; a special cause improvement (low) "
        "against the last two years' pattern; short of the target of 25.0% (Red)."
    )  # 38.5 - 45.0 = -6.5 points: not a large change (10 points)
    assert found[1].question == (
        "What has driven the improvement in agency social workers, and can it be sustained?"
    )
    assert found[2].reasons == ("RAG Amber", "target newly missed")
    assert found[2].text == (
        "Contacts screened the same working day: 93.0% in October 2015; within its tolerance "
        "of the target of 95.0% (Amber)."
    )
    assert found[2].question == (
        "What is the plan to bring contacts screened the same working day back to target, "
        "and by when?"
    )
    assert found[3].text.endswith("; meeting the target of 95.0% again.")
    assert found[4].question == (
        "What keeps contacts screened the same working day consistently on target, and is it "
        "at risk?"
    )


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
    # a failing template is configuration (exit 2) naming it, never "a bug" (issue 15)
    (council / "paper.html.j2").write_text("{{ model.counsil }}\n")
    with pytest.raises(ConfigError, match="counsil") as undefined:
        render_html(sample_model(), tmp_path / "b.html", template_dirs=[council, TEMPLATES])
    assert isinstance(undefined.value.__context__, UndefinedError)
    (council / "paper.html.j2").write_text("line one\n{% for x in %}\n")
    with pytest.raises(ConfigError, match=r"paper.html.j2, line 2 does not parse"):
        render_html(sample_model(), tmp_path / "c.html", template_dirs=[council, TEMPLATES])
    assert not (tmp_path / "b.html").exists() and not (tmp_path / "c.html").exists()


# ---- the dashboard's arrows and icons ---------------------------------------------------------


@pytest.mark.parametrize(
    ("polarity", "now", "before", "expected"),
    [
        ("higher", 98.0, 97.0, ("up", "good", "Up on the previous month (better)")),
        ("higher", 96.0, 97.0, ("down", "bad", "Down on the previous month (worse)")),
        ("lower", 96.0, 97.0, ("down", "good", "Down on the previous month (better)")),
        ("lower", 98.0, 97.0, ("up", "bad", "Up on the previous month (worse)")),
        ("neutral", 98.0, 97.0, ("up", "neutral", "Up on the previous month")),
        ("neutral", 96.0, 97.0, ("down", "neutral", "Down on the previous month")),
        ("higher", 97.04, 96.96, ("level", "neutral", "Level with the previous month")),
    ],
)
def test_the_arrow_is_coloured_by_polarity(
    polarity: str, now: float, before: float, expected: tuple[str, str, str]
) -> None:
    from safeguard.report.build import direction

    assert direction(row(polarity=polarity, value=now, previous_value=before)) == expected


def test_no_arrow_without_both_months() -> None:
    from safeguard.report.build import direction

    assert direction(row(previous_value=None)) == ("", "", "")
    assert direction(row(status="not available", value=None)) == ("", "", "")


def test_a_dashboard_row_has_icon_words_never_bare_letters() -> None:
    from safeguard.report.build import _score_row

    card = row(
        indicator="contacts_screened_same_day_pct",
        last_year_value=96.0,
        spc_variation="concern_high",
        spc_assurance="consistently_fail",
        spc_words="Special cause concern (high); target consistently missed",
        spc_letters="H F",
        numerator=550.0,
        denominator=565.0,
        kind="share",
        window_label="",
    )
    shown = _score_row(card, 1, "Front door")
    assert shown.stage == "Front door"
    assert (shown.numerator, shown.denominator) == ("550", "565")
    assert shown.variation_words == "Special cause concern (high)"
    assert shown.assurance_words == "Consistently missed"
    rolling = _score_row(
        card
        | {
            "spc_variation": None,
            "spc_assurance": None,
            "spc_words": "not applicable: each point overlaps the previous 11 months",
        },
        2,
    )
    assert rolling.variation_words == "No SPC: overlapping windows"
    assert rolling.variation == rolling.assurance == ""


def test_a_rate_shows_its_population_as_denominator() -> None:
    from safeguard.report.build import _score_row

    card = row(
        indicator="cp_rate_per_10k",
        unit="rate_per_10k",
        value=72.85,
        numerator=257.0,
        denominator=3.5276,
        last_year_value=None,
        spc_assurance=None,
        spc_words=None,
        spc_letters=None,
    )
    assert (_score_row(card, 1).numerator, _score_row(card, 1).denominator) == ("257", "35,276")


def test_the_html_dashboard_groups_by_stage_with_words_for_screen_readers(
    tmp_path: Path,
) -> None:
    html = render_html(
        sample_model(12, "public"), tmp_path / "d.html", template_dirs=[TEMPLATES]
    ).read_text()
    assert html.count('<th scope="rowgroup" rowspan="2">') == 6  # six stages of two rows
    assert html.index(">Front door<") < html.index(">Assessment<") < html.index(">Quality<")
    assert html.count('<span class="visually-hidden">Up on the previous month (better)') == 12
    assert '<span class="change good"><span aria-hidden="true">\N{UPWARDS ARROW} better' in html
    assert html.count("Common cause variation</td>") == 12
    assert "- ?" not in html  # the icons in words, never bare letters
