"""safeguard report end to end on the bundled mini extracts."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from safeguard.cli import cli
from tests.conftest import EXAMPLES, PIPELINES, report

FILES = ["data.csv", "data.xlsx", "paper.docx", "paper.html", "paper.pdf"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store") / "processed"
    runner = CliRunner()
    for month in ("2015-09", "2015-10"):
        result = runner.invoke(
            cli,
            [
                "--pipelines",
                str(PIPELINES),
                "ingest",
                str(EXAMPLES / month),
                "--processed-dir",
                str(root),
            ],
        )
        assert result.exit_code == 0, result.output
    return root


def texts(folder: Path) -> str:
    """Every output as text: HTML, CSV and the DOCX's XML."""
    parts = [(folder / name).read_text(encoding="utf-8") for name in ("paper.html", "data.csv")]
    with zipfile.ZipFile(folder / "paper.docx") as docx:
        parts += [docx.read(n).decode("utf-8") for n in docx.namelist() if n.endswith(".xml")]
    return "\n".join(parts)


def test_the_public_paper_in_every_format_and_no_child_ids(store: Path, tmp_path: Path) -> None:
    output = report(store, tmp_path)
    folder = tmp_path / "2015-10"
    assert output.splitlines()[0] == f"The public paper for 2015-10 is in {folder}:"
    assert sorted(p.name for p in folder.iterdir()) == FILES
    everything = texts(folder)
    assert "Appendix A: performance data, October 2015" in everything
    person_ids = set(re.findall(r"P\d{6}", (EXAMPLES / "2015-10" / "person.csv").read_text()))
    assert person_ids and not person_ids & set(re.findall(r"P\d{6}", everything))
    assert "INTERNAL" not in everything


def test_the_internal_paper_is_marked_and_has_team_detail(store: Path, tmp_path: Path) -> None:
    report(store, tmp_path, "--audience", "internal")
    folder = tmp_path / "2015-10"
    assert (folder / "data_by_team.csv").is_file()
    assert "INTERNAL: not for publication" in (folder / "paper.html").read_text()


def test_the_same_inputs_give_the_same_bytes_and_keep_the_narrative(
    store: Path, tmp_path: Path
) -> None:
    (tmp_path / "2015-10").mkdir()
    (tmp_path / "2015-10" / "narrative.yaml").write_text("meeting: Scrutiny committee\n")
    report(store, tmp_path)
    first = {n: (tmp_path / "2015-10" / n).read_bytes() for n in FILES}
    report(store, tmp_path)
    second = {n: (tmp_path / "2015-10" / n).read_bytes() for n in FILES}
    assert first == second
    assert (tmp_path / "2015-10" / "narrative.yaml").read_text() == "meeting: Scrutiny committee\n"
    assert "Scrutiny committee" in (tmp_path / "2015-10" / "paper.html").read_text()


def test_the_analyst_workbook_follows_the_paper(store: Path, tmp_path: Path) -> None:
    import openpyxl

    report(store, tmp_path)
    book = openpyxl.load_workbook(tmp_path / "2015-10" / "data.xlsx")
    assert book.sheetnames == [
        "README",
        "Dashboard",
        "By month",
        "Tidy",
        "Definitions",
        "Breakdowns",
    ]
    # one row per indicator of the paper's scorecard, in its order (by journey stage, which
    # the catalogue already follows)
    card = (store / "indicators" / "2015-10" / "scorecard.csv").read_text(encoding="utf-8")
    order = [line.split(",")[0] for line in card.splitlines()[1:]]
    header = [cell.value for cell in book["Dashboard"][1]]
    codes = [row[header.index("Code")] for row in book["Dashboard"].iter_rows(2, values_only=True)]
    assert codes == order
    months = [cell.value for cell in book["By month"][1] if cell.value[:3] in ("Nov", "Oct")]
    assert months[0] == "Nov 2013" and months[-1] == "Oct 2015"
    data = (tmp_path / "2015-10" / "data.csv").read_text(encoding="utf-8").splitlines()
    assert len(data) == 1 + 24 * len(order)


def test_a_missing_narrative_file_is_a_usage_error(store: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--pipelines",
            str(PIPELINES),
            "report",
            "--month",
            "2015-10",
            "--processed-dir",
            str(store),
            "--reports-dir",
            str(tmp_path),
            "--narrative",
            str(tmp_path / "no.yaml"),
        ],
    )
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_without_reference_data_the_paper_says_so_once_and_names_no_path(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: eight scorecard rows printed a machine path; now one sentence, in the key."""
    from safeguard.indicators.scorecard import NOT_HELD

    empty = tmp_path / "reference"
    empty.mkdir()
    monkeypatch.setenv("SAFEGUARD_REFERENCE_DIR", str(empty))
    report(store, tmp_path / "reports", "--format", "html", "--format", "docx")
    folder = tmp_path / "reports" / "2015-10"
    html = (folder / "paper.html").read_text(encoding="utf-8")
    assert html.count("safeguard reference update") == 1  # once, in the scorecard's key
    assert NOT_HELD.replace("`", "") in html.replace("`", "")
    assert "latest published figures" not in html
    docx = zipfile.ZipFile(folder / "paper.docx").read("word/document.xml").decode()
    assert re.sub("<[^>]+>", "", docx).count("safeguard reference update") == 1
    for text in (html, docx):
        assert str(tmp_path) not in text and str(empty) not in text


def test_the_members_paper_is_short_with_a_one_page_dashboard(store: Path, tmp_path: Path) -> None:
    """Issue 13: the full catalogue's dashboard on one landscape page, charts as small
    multiples, the paper at most 16 pages; --detail full keeps a chart and its table a page."""
    import pikepdf

    from safeguard.indicators.catalogue import load_catalogue
    from tests.test_report_pdf import page_texts, squash

    catalogue = load_catalogue(PIPELINES)
    report(store, tmp_path / "summary")
    paper = tmp_path / "summary" / "2015-10" / "paper.pdf"
    texts = page_texts(paper)
    assert len(texts) <= 16
    dashboards = [i for i, text in enumerate(texts) if "Dashboard:" in text]
    assert len(dashboards) == 1
    page = texts[dashboards[0]]
    assert len(catalogue.indicators) == 44
    for number, spec in enumerate(catalogue.indicators.values(), start=1):
        assert squash(spec.title) + str(number) in page, spec.title
    for stage in ("Frontdoor", "Assessment", "Childprotection", "Childrenlookedafter"):
        assert stage in page
    assert "Datafor" not in "".join(texts)  # no chart data tables in the members' paper
    with pikepdf.open(paper) as pdf:
        landscape = pdf.pages[dashboards[0]].mediabox
        assert float(landscape[2]) > float(landscape[3])

    report(store, tmp_path / "full", "--detail", "full")
    full = page_texts(tmp_path / "full" / "2015-10" / "paper.pdf")
    assert len(full) > len(texts)
    assert "Dataforthechart:" in "".join(full)


def test_the_cover_report_numbers_its_paragraphs_and_names_the_contact(
    store: Path, tmp_path: Path
) -> None:
    """As the seed paper: a contact officer in the report details, and paragraphs numbered
    through the paper from "Alternative options", positives and challenges included."""
    (tmp_path / "2015-10").mkdir()
    (tmp_path / "2015-10" / "narrative.yaml").write_text(
        "contact_officer: Jo Bloggs, head of safeguarding and quality, 01234 567890\n"
        "purpose: To note performance.\n"
        "alternative_options: There are no alternative options.\n"
        "reasons_for_recommendations: To allow scrutiny.\n"
        "key_considerations:\n  - First consideration.\n  - Second consideration.\n"
        "community_impact: Monitoring matters.\n"
        "background_papers: None identified.\n",
        encoding="utf-8",
    )
    report(store, tmp_path)
    html = (tmp_path / "2015-10" / "paper.html").read_text(encoding="utf-8")
    assert "Contact officer" in html and "Jo Bloggs, head of safeguarding" in html
    assert '<ol start="1"><li>There are no alternative options.</li></ol>' in html
    assert '<ol start="2"><li>To allow scrutiny.</li></ol>' in html
    assert '<ol start="3"><li>First consideration.</li><li>Second consideration.</li></ol>' in html
    assert '<ol start="5"><li>' in html  # the positives, numbered on
    assert "<p>To note performance.</p>" in html  # the purpose is not numbered
    assert "<p>None identified.</p>" in html  # nor the background papers
    with zipfile.ZipFile(tmp_path / "2015-10" / "paper.docx") as docx:
        body = docx.read("word/document.xml").decode("utf-8")
    assert "1. There are no alternative options." in body
    assert "Jo Bloggs" in body


def test_the_public_outputs_withhold_small_counts_and_the_internal_show_them(
    store: Path, tmp_path: Path
) -> None:
    import openpyxl

    # strategy discussions in October 2015 in the mini extracts: 3
    report(
        store,
        tmp_path / "internal",
        "--audience",
        "internal",
        "--format",
        "data",
        "--format",
        "html",
    )
    inside = (tmp_path / "internal" / "2015-10" / "data.csv").read_text(encoding="utf-8")
    assert "strategy_discussions,Strategy discussions,2015-10-01,3.0,3.0,,3,ok" in inside
    html = (tmp_path / "internal" / "2015-10" / "paper.html").read_text(encoding="utf-8")
    row = html.split('scope="row">Strategy discussions <sup>', 1)[1].split("</tr>", 1)[0]
    assert "<strong>3</strong>" in row and "withheld" not in html
    report(store, tmp_path / "public")
    folder = tmp_path / "public" / "2015-10"
    data = (folder / "data.csv").read_text(encoding="utf-8")
    assert "strategy_discussions,Strategy discussions,2015-10-01,c,c,c,c,ok" in data
    assert "referrals_nfa_pct,Referrals with no further action,2015-10-01,0.0,0.0,9.0" in data
    html = (folder / "paper.html").read_text(encoding="utf-8")
    key = "c: a count of 1 to 5 (or a figure that would reveal one) withheld to protect privacy"
    assert key in html and "withheld (small number)" in html
    # the dashboard row: value, previous month and same month last year all "c"
    row = html.split('scope="row">Strategy discussions <sup>', 1)[1].split("</tr>", 1)[0]
    assert "<strong>c</strong>" in row
    book = openpyxl.load_workbook(folder / "data.xlsx")
    sheet = book["Dashboard"]
    header = [cell.value for cell in sheet[1]]
    line = next(
        r
        for r in sheet.iter_rows(2, values_only=True)
        if r[header.index("Code")] == "strategy_discussions"
    )
    assert line[header.index("Value")] == "c"
    assert line[header.index("SPC mean")] is None
    readme = {r[0]: r[1] for r in book["README"].iter_rows(values_only=True)}
    assert key in readme["Withheld"]


def test_behind_the_figures_breaks_down_the_dashboards_own_figures(
    store: Path, tmp_path: Path
) -> None:
    """Issue 13 part 5: the breakdowns in every format, each total the indicator's figure."""
    import openpyxl
    import polars as pl

    report(store, tmp_path, "--audience", "internal")
    folder = tmp_path / "2015-10"
    series = pl.read_csv(store / "indicators" / "2015-10" / "series.csv", try_parse_dates=True)
    frame = pl.read_csv(store / "indicators" / "2015-10" / "breakdowns.csv", try_parse_dates=True)
    october = series.filter(pl.col("month") == pl.date(2015, 10, 1))
    figure = dict(zip(october["indicator"], october["value"], strict=True))
    totals = frame.filter(
        (pl.col("period") == "month")
        & (pl.col("group") == "Total")
        & (pl.col("measure") == "count")
    )
    made = dict(zip(totals["breakdown"], totals["value"], strict=True))
    assert made["contacts_by_source"] == figure["contacts"]
    assert made["referrals_by_source"] == figure["referrals"]
    assert made["cp_plans_by_category"] == figure["cp_plans_open"]
    assert made["audits_by_grade"] == figure["audits"]
    all_teams = frame.filter((pl.col("group") == "All teams") & (pl.col("measure") == "mean"))
    assert all_teams["value"][0] == pytest.approx(figure["average_caseload"])

    html = (folder / "paper.html").read_text(encoding="utf-8")
    assert "<h3>Behind the figures</h3>" in html
    for caption in (
        "Contacts by source: October 2015 and the 12 months to October 2015",
        "Children on a child protection plan by category of abuse: at the end of October 2015 "
        "and a year earlier",
        "Caseloads by team, October 2015",
        "Social worker stability, October 2015",
    ):
        assert caption in html
    docx = zipfile.ZipFile(folder / "paper.docx").read("word/document.xml").decode()
    assert "Behind the figures" in docx and "Case audits by grade" in docx
    sheet = openpyxl.load_workbook(folder / "data.xlsx")["Breakdowns"]
    assert sheet["A1"].value == "Contacts by source: October 2015 and the 12 months to October 2015"


def test_narrative_text_pasted_from_word_does_not_stop_the_docx(
    store: Path, tmp_path: Path
) -> None:
    """Issue 15: a vertical tab (Word's manual line break) in the narrative made the DOCX
    fail, so run wrote no paper. Characters XML cannot hold become spaces, in every format."""
    narrative = tmp_path / "narrative.yaml"
    narrative.write_text('purpose: "First line\\vsecond line \\x01 end"\n', encoding="utf-8")
    report(store, tmp_path / "out", "--narrative", str(narrative))
    folder = tmp_path / "out" / "2015-10"
    docx = zipfile.ZipFile(folder / "paper.docx").read("word/document.xml").decode()
    assert "First line second line   end" in docx
    assert "First line second line   end" in (folder / "paper.html").read_text(encoding="utf-8")
