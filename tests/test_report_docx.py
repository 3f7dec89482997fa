"""The Word paper: the DOCX accessibility checklist, page furniture, determinism, council styles."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_COLOR_INDEX
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

from safeguard.errors import ConfigError
from safeguard.report.docx import DASHBOARD_HEADER, TONE_COLOURS, render_docx
from safeguard.report.model import ReportModel, Section
from safeguard.report.sample import sample_model

BANNER = "INTERNAL: not for publication"
NS = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "pic": "http://schemas.openxmlformats.org/drawingml/2006/picture",
}


@pytest.fixture(scope="module")
def public() -> ReportModel:
    return sample_model(rows=12)


@pytest.fixture(scope="module")
def internal() -> ReportModel:
    return sample_model(rows=12, audience="internal")


@pytest.fixture(scope="module")
def rendered(
    tmp_path_factory: pytest.TempPathFactory, public: ReportModel, internal: ReportModel
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("docx")
    return {
        "public": render_docx(public, folder / "public.docx"),
        "internal": render_docx(internal, folder / "internal.docx"),
        "full": render_docx(dataclasses.replace(public, detail="full"), folder / "full.docx"),
    }


def open_doc(path: Path) -> Any:
    return docx.Document(str(path))


def headings(document: Any) -> list[tuple[str, str]]:
    return [
        (p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")
    ]


def header_texts(document: Any) -> list[str]:
    texts = []
    for section in document.sections:
        for header in (section.header, section.first_page_header, section.even_page_header):
            texts.append("\n".join(p.text for p in header.paragraphs))
    return texts


def section_paragraphs(document: Any, heading: str) -> list[Any]:
    """The paragraphs after the heading ``heading`` up to the next heading."""
    found, out = False, []
    for paragraph in document.paragraphs:
        if paragraph.style.name.startswith("Heading"):
            if found:
                break
            found = paragraph.text == heading
        elif found:
            out.append(paragraph)
    return out


EXPECTED_HEADINGS = [
    ("Heading 1", "Purpose"),
    ("Heading 1", "Financial implications"),
    ("Heading 1", "Key considerations"),
    ("Heading 2", "Positives"),
    ("Heading 2", "Challenges"),
    ("Heading 1", "Appendix A: performance data, October 2015"),
    ("Heading 2", "Indicator 0"),
    ("Heading 2", "Exceptions this month"),
    ("Heading 2", "Definitions"),
    ("Heading 1", "Data quality"),
]


@pytest.mark.parametrize("audience", ["public", "internal"])
def test_headings_use_built_in_styles_in_order(rendered: dict[str, Path], audience: str) -> None:
    document = open_doc(rendered[audience])
    assert headings(document) == EXPECTED_HEADINGS
    for name in ("Heading 1", "Heading 2"):
        style = document.styles[name]
        assert style.builtin
        assert style.style_id == name.replace(" ", "")
    title = [p for p in document.paragraphs if p.style.name == "Title"]
    assert [p.text for p in title] == ["Children's safeguarding performance data: October 2015"]


def test_positives_and_challenges_follow_the_key_considerations_section(
    tmp_path: Path, public: ReportModel
) -> None:
    sections = (
        Section("purpose", "Purpose", ("To review performance.",)),
        Section("key_considerations", "Key considerations", ("Performance held up.",)),
        Section("legal", "Legal implications", ("None.",)),
    )
    model = dataclasses.replace(public, sections=sections, challenges=())
    document = open_doc(render_docx(model, tmp_path / "paper.docx"))
    assert headings(document)[:5] == [
        ("Heading 1", "Purpose"),
        ("Heading 1", "Key considerations"),
        ("Heading 2", "Positives"),
        ("Heading 2", "Challenges"),
        ("Heading 1", "Legal implications"),
    ]
    positives = section_paragraphs(document, "Positives")
    assert [(p.style.name, p.text) for p in positives] == [("List Bullet", public.positives[0])]
    challenges = section_paragraphs(document, "Challenges")
    assert [(p.style.name, p.text) for p in challenges] == [("List Bullet", "None this month.")]


@pytest.mark.parametrize("audience", ["public", "internal"])
def test_every_picture_has_alt_text(
    rendered: dict[str, Path], audience: str, public: ReportModel
) -> None:
    document = open_doc(rendered[audience])
    body = document.element.body
    doc_prs = body.xpath(".//wp:docPr")
    assert len(doc_prs) == len(document.inline_shapes) == len(public.charts) == 1
    for doc_pr, chart in zip(doc_prs, public.charts, strict=True):
        assert doc_pr.get("descr") == chart.alt
        assert doc_pr.get("title") == chart.title
    for c_nv_pr in body.xpath(".//pic:cNvPr"):
        assert c_nv_pr.get("descr")


def test_pictures_fit_the_landscape_appendix(rendered: dict[str, Path]) -> None:
    document = open_doc(rendered["public"])
    first, appendix = document.sections
    assert first.orientation == WD_ORIENT.PORTRAIT
    assert (round(first.page_width.cm, 1), round(first.page_height.cm, 1)) == (21.0, 29.7)
    assert appendix.orientation == WD_ORIENT.LANDSCAPE
    assert appendix.page_width > appendix.page_height
    text_width = appendix.page_width - appendix.left_margin - appendix.right_margin
    (shape,) = document.inline_shapes
    assert 0 < shape.width <= text_width
    assert shape.width == docx.shared.Cm(16)  # the chart's own width when it fits


def test_a_chart_without_alt_text_is_refused(tmp_path: Path, public: ReportModel) -> None:
    chart = dataclasses.replace(public.charts[0], alt="  ")
    with pytest.raises(ValueError, match="no alt text"):
        render_docx(dataclasses.replace(public, charts=(chart,)), tmp_path / "paper.docx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("audience", ["public", "internal", "full"])
def test_every_table_has_a_repeating_header_row_and_no_merged_cells(
    rendered: dict[str, Path], audience: str, public: ReportModel
) -> None:
    document = open_doc(rendered[audience])
    tables = document.tables
    charts = len(public.charts) if audience == "full" else 0  # data tables: full detail only
    assert len(tables) == 1 + 1 + charts + len(public.annex)
    for table in tables:
        first = table.rows[0]._tr
        assert first.xpath("w:trPr/w:tblHeader"), table.rows[0].cells[0].text
        assert all(run.bold for cell in table.rows[0].cells for run in cell.paragraphs[0].runs)
        assert not table._tbl.xpath(".//w:gridSpan | .//w:vMerge | .//w:hMerge")
        for row in table.rows[1:]:
            assert not row._tr.xpath("w:trPr/w:tblHeader")


def test_header_block_table(rendered: dict[str, Path], public: ReportModel) -> None:
    document = open_doc(rendered["public"])
    council = document.paragraphs[0]
    assert council.text == "Demoshire Council"
    rows = [[cell.text for cell in row.cells] for row in document.tables[0].rows]
    assert rows == [
        ["Item", "Detail"],
        ["Meeting", "Children and young people scrutiny committee"],
        ["Meeting date", "Monday 25 January 2016"],
        ["Title of report", "Children's safeguarding performance data"],
        ["Report by", "Director for children's wellbeing"],
    ]
    assert [label for label, _ in public.header] == [row[0] for row in rows[1:]]


def test_scorecard_and_chart_tables(rendered: dict[str, Path], public: ReportModel) -> None:
    document = open_doc(rendered["public"])
    scorecard, annex = document.tables[1], document.tables[2]
    # the members' paper: no chart data tables (they are in the HTML and the workbook)
    assert len(document.tables) == 3
    assert [c.text for c in annex.rows[0].cells] == ["Extract", "File", "Rule", "Rows"]
    full = open_doc(rendered["full"])
    chart_data = full.tables[2]
    assert tuple(cell.text for cell in scorecard.rows[0].cells) == DASHBOARD_HEADER
    assert len(scorecard.rows) == 1 + 12
    first = [cell.text for cell in scorecard.rows[1].cells]
    assert first[:3] == ["Front door", "Indicator 0 1", "90.0%"]
    assert first[3:9] == [
        "90 / 100",
        "89.5%",
        "\N{UPWARDS ARROW} better",
        "88.0%",
        "95.0%",
        "Amber",
    ]
    assert first[9:11] == [
        "\N{BLACK CIRCLE} Common cause variation",
        "\N{BLACK SQUARE} Met only sometimes",
    ]
    assert first[11:] == ["91.2%", "92.0%"]
    # the stage only on its group's first row; the arrow coloured by its tone
    assert [row.cells[0].text for row in scorecard.rows[1:4]] == ["Front door", "", "Assessment"]
    arrow = scorecard.rows[1].cells[5].paragraphs[0].runs[0]
    assert arrow.font.color.rgb == TONE_COLOURS["good"]
    assert [[c.text for c in row.cells] for row in chart_data.rows] == [
        ["Month", "Value", "Note"],
        ["Sep 2015", "89.5%", ""],
        ["Oct 2015", "90.0%", ""],
    ]
    captions = [p.text for p in document.paragraphs if p.style.name == "Caption"]
    assert "Data for the chart: Indicator 0" not in captions
    assert "Data for the chart: Indicator 0" in [
        p.text for p in full.paragraphs if p.style.name == "Caption"
    ]
    assert "Rows quarantined by rule" in captions
    annex = document.tables[-1]
    assert [c.text for c in annex.rows[1].cells] == [
        "2015-10",
        "contacts.csv",
        "invalid-datetime",
        "1",
    ]


def test_commentary_then_numbered_definitions(rendered: dict[str, Path]) -> None:
    document = open_doc(rendered["public"])
    commentary = section_paragraphs(document, "Exceptions this month")
    assert [p.text for p in commentary] == ["90.0% in October 2015, below the 95% target."]
    definitions = section_paragraphs(document, "Definitions")
    assert [p.style.name for p in definitions] == ["List Number"] * 12
    assert definitions[0].text == "Definition of indicator 0."


def test_placeholder_is_bracketed_and_highlighted(rendered: dict[str, Path]) -> None:
    document = open_doc(rendered["public"])
    (paragraph,) = section_paragraphs(document, "Financial implications")
    assert paragraph.text == "[To be completed by Finance]"
    assert paragraph.runs
    for run in paragraph.runs:
        assert run.bold
        assert run.font.highlight_color == WD_COLOR_INDEX.YELLOW
    (purpose,) = section_paragraphs(document, "Purpose")
    assert all(run.font.highlight_color is None for run in purpose.runs)


def test_placeholder_without_brackets_gets_them(tmp_path: Path, public: ReportModel) -> None:
    section = Section("legal", "Legal implications", ("Legal services to complete",), True)
    model = dataclasses.replace(public, sections=(section,))
    document = open_doc(render_docx(model, tmp_path / "paper.docx"))
    (paragraph,) = section_paragraphs(document, "Legal implications")
    assert paragraph.text == "[Legal services to complete]"


def test_banner_in_every_header_only_when_internal(rendered: dict[str, Path]) -> None:
    internal = open_doc(rendered["internal"])
    assert len(internal.sections) == 2
    for section in internal.sections:
        assert BANNER in [p.text for p in section.header.paragraphs]
    assert internal.paragraphs[0].text == BANNER  # and in the title area
    assert internal.core_properties.content_status == BANNER
    public = open_doc(rendered["public"])
    assert not any(BANNER in text for text in header_texts(public))
    assert not any(BANNER in p.text for p in public.paragraphs)


@pytest.mark.parametrize("audience", ["public", "internal"])
def test_footer_numbers_pages_with_fields(rendered: dict[str, Path], audience: str) -> None:
    document = open_doc(rendered[audience])
    for section in document.sections:
        footer = section.footer._element
        assert [i.strip() for i in footer.xpath(".//w:instrText/text()")] == ["PAGE", "NUMPAGES"]
        assert "".join(footer.xpath(".//w:t/text()")) == "Page 1 of 1"


def test_title_and_language(rendered: dict[str, Path]) -> None:
    document = open_doc(rendered["public"])
    properties = document.core_properties
    assert properties.title == "Children's safeguarding performance data \N{EN DASH} October 2015"
    assert properties.subject
    assert properties.language == "en-GB"
    assert properties.created == properties.modified
    assert (properties.created.year, properties.created.month) == (2015, 10)
    styles = document.styles.element
    (lang,) = styles.xpath("w:docDefaults/w:rPrDefault/w:rPr/w:lang")
    assert lang.get(qn("w:val")) == "en-GB"


def test_two_renders_are_byte_identical(tmp_path: Path, internal: ReportModel) -> None:
    first = render_docx(internal, tmp_path / "one.docx").read_bytes()
    second = render_docx(internal, tmp_path / "two.docx").read_bytes()
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as package:
        names = package.namelist()
        assert names[0] == "[Content_Types].xml"
        assert names[1:] == sorted(names[1:])
        assert {info.date_time for info in package.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.docx", "two.docx"]


def test_output_replaced_atomically(tmp_path: Path, public: ReportModel) -> None:
    out = tmp_path / "new" / "paper.docx"
    out.parent.mkdir()
    out.write_bytes(b"old")
    assert render_docx(public, out) == out
    assert zipfile.is_zipfile(out)
    assert [p.name for p in out.parent.iterdir()] == ["paper.docx"]


def make_reference(path: Path) -> Path:
    reference = docx.Document()
    normal = reference.styles["Normal"]
    normal.font.name = "Courier New"
    normal.font.size = Pt(10)
    reference.styles["Heading 1"].font.color.rgb = RGBColor(0x80, 0x00, 0x00)
    reference.add_paragraph("Template instructions: delete this text.")
    reference.save(str(path))
    return path


def test_reference_docx_styles_are_kept(tmp_path: Path, internal: ReportModel) -> None:
    reference = make_reference(tmp_path / "council.docx")
    out = render_docx(internal, tmp_path / "paper.docx", reference_docx=reference)
    document = open_doc(out)
    assert document.styles["Normal"].font.name == "Courier New"
    assert document.styles["Normal"].font.size == Pt(10)
    assert document.styles["Heading 1"].font.color.rgb == RGBColor(0x80, 0x00, 0x00)
    assert not any("Template instructions" in p.text for p in document.paragraphs)
    assert headings(document) == EXPECTED_HEADINGS
    assert document.core_properties.language == "en-GB"
    again = render_docx(internal, tmp_path / "again.docx", reference_docx=reference)
    assert again.read_bytes() == out.read_bytes()


def test_reference_without_the_styles_gets_them_copied(tmp_path: Path, public: ReportModel) -> None:
    """A council template made in Word often defines only the styles it uses."""
    reference = docx.Document()
    for name in ("Heading 2", "List Bullet", "List Number", "Caption", "Table Grid", "Title"):
        element = reference.styles[name].element
        element.getparent().remove(element)
    (numbering,) = [rid for rid, rel in reference.part.rels.items() if rel.reltype == RT.NUMBERING]
    reference.part.drop_rel(numbering)
    path = tmp_path / "bare.docx"
    reference.save(str(path))
    document = open_doc(render_docx(public, tmp_path / "paper.docx", reference_docx=path))
    assert headings(document) == EXPECTED_HEADINGS
    bullets = section_paragraphs(document, "Positives")
    assert [p.style.name for p in bullets] == ["List Bullet"]
    num_id = document.styles["List Bullet"].element.xpath("w:pPr/w:numPr/w:numId/@w:val")[0]
    numbering = document.part.numbering_part.element
    assert numbering.xpath(f'w:num[@w:numId="{num_id}"]/w:abstractNumId/@w:val')
    assert document.tables[1].style.name == "Table Grid"


def test_reference_dotx_and_council_header_are_used(tmp_path: Path, internal: ReportModel) -> None:
    reference = docx.Document()
    reference.sections[0].header.paragraphs[0].text = "Demoshire Council committee report"
    saved = io.BytesIO()
    reference.save(saved)
    template = tmp_path / "council.dotx"
    with (
        zipfile.ZipFile(io.BytesIO(saved.getvalue())) as source,
        zipfile.ZipFile(template, "w") as target,
    ):
        for info in source.infolist():
            blob = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                blob = blob.replace(b"document.main+xml", b"template.main+xml")
            target.writestr(info, blob)
    document = open_doc(render_docx(internal, tmp_path / "paper.docx", reference_docx=template))
    texts = [p.text for p in document.sections[0].header.paragraphs]
    assert texts == [BANNER, "Demoshire Council committee report"]
    assert document.sections[0].page_width == docx.shared.Inches(8.5)  # the template's page


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_unusable_reference_is_a_config_error(
    tmp_path: Path, public: ReportModel, content: bytes | None
) -> None:
    reference = tmp_path / "council.docx"
    if content is not None:
        reference.write_bytes(content)
    with pytest.raises(ConfigError, match="not a usable Word document"):
        render_docx(public, tmp_path / "out" / "paper.docx", reference_docx=reference)
    assert not (tmp_path / "out").exists()
