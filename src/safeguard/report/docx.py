"""The editable Word paper: the same content as the HTML and PDF papers, for officers to finish.

Built with python-docx, from a council's own reference document when one is given (its styles,
page set-up, headers and footers apply; its body text is dropped), otherwise from python-docx's
default template with an A4, Arial 12 house style. Accessibility checklist (research section 1):
built-in Heading 1/2 styles, document title and language, alt text on every picture
(``wp:docPr/@descr``), a repeating header row (``w:tblHeader``) on every table, no merged cells,
and visibly marked placeholders for the sections other officers write.

The same model gives a byte-identical file: the dates in the document properties come from the
reporting month, not the clock, and the zip is rewritten with fixed timestamps.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import docx
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.parts.numbering import NumberingPart
from docx.shared import Cm, Length, Pt, RGBColor, Twips

from safeguard.errors import ConfigError
from safeguard.report.model import Chart, ReportModel, Table

if TYPE_CHECKING:
    from docx.document import Document
    from docx.section import _Footer, _Header
    from docx.styles.style import BaseStyle
    from docx.table import Table as DocxTable
    from docx.table import _Cell
    from docx.text.paragraph import Paragraph

DASHBOARD_HEADER = (
    "Stage",
    "Indicator",
    "This month",
    "Numerator / denominator",
    "Previous month",
    "Change",
    "Same month last year",
    "Target",
    "RAG",
    "Variation (SPC)",
    "Assurance (target)",
    "England",
    "Statistical neighbours",
)
# Share of the text width per dashboard column.
DASHBOARD_WIDTHS = (
    0.07, 0.17, 0.10, 0.07, 0.07, 0.06, 0.07, 0.05, 0.05, 0.12, 0.08, 0.04, 0.05,
)  # fmt: skip
DASHBOARD_SIZE = Pt(7)  # thirteen columns and the whole catalogue on one landscape page
CHART_TABLE_HEADER = ("Month", "Value", "Note")
ARROWS = {"up": "\N{UPWARDS ARROW}", "down": "\N{DOWNWARDS ARROW}", "level": "\N{RIGHTWARDS ARROW}"}
TONE_WORDS = {"good": "better", "bad": "worse"}
# Text colours with at least 4.5:1 contrast on white; the words say the same.
TONE_COLOURS = {
    "good": RGBColor(0x00, 0x5E, 0xA5),
    "bad": RGBColor(0xB3, 0x26, 0x1E),
    "neutral": RGBColor(0x50, 0x5A, 0x5F),
}
ICON_COLOURS = {
    "improvement": RGBColor(0x00, 0x72, 0xB2),
    "concern": RGBColor(0xD5, 0x5E, 0x00),
    "neutral": RGBColor(0x49, 0x00, 0x92),
    "common": RGBColor(0x7F, 0x7F, 0x7F),
}
KEY_NOTE = (
    "Change: \N{UPWARDS ARROW} better or \N{DOWNWARDS ARROW} worse by the figure's polarity; "
    "up or down where neither direction is better; level unchanged at the figure's decimals. "
    "RAG: Green meets the target, Amber is within its tolerance, Red is beyond it. Variation "
    "(Making Data Count, SPC): common cause, special cause improvement, special cause concern, "
    "or special cause where neither direction is better. Assurance, where there is a target: "
    "consistently met, consistently missed, or met only sometimes (the target lies within the "
    "process limits). Superscript numbers refer to the definitions."
)
HEADER_FILL = "F3F2F1"  # light grey behind header cells (black text on it: 18:1)
TEXT_COLOUR = RGBColor(0x0B, 0x0C, 0x0C)
HEADING_COLOUR = RGBColor(0x12, 0x43, 0x6D)  # Analysis Function dark blue, 10:1 on white
HOUSE_FONT = "Arial"
FALLBACK_DATE = datetime(2000, 1, 1, tzinfo=UTC)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
MAX_PICTURE_HEIGHT = 0.6  # share of the text height a chart may take
_TEMPLATE_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
_DOCUMENT_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_BRACKETED = re.compile(r"^\[.*\]$", re.S)


def render_docx(model: ReportModel, out: Path, *, reference_docx: Path | None = None) -> Path:
    """Write the paper for ``model`` to ``out`` (atomically) and return ``out``.

    ``reference_docx`` (a .docx or .dotx) supplies the styles, page set-up and page furniture;
    styles it lacks are copied in from python-docx's default template.
    """
    document = _open(reference_docx)
    _Writer(document, model).write()
    _set_properties(document, model)
    buffer = io.BytesIO()
    document.save(buffer)
    data = _normalise_zip(buffer.getvalue())
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".docx", dir=out.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


# -- opening the base document -----------------------------------------------------------------


def _open(reference: Path | None) -> Document:
    if reference is None:
        document = _house_template()
        section = document.sections[0]
        section.page_width, section.page_height = Twips(11906), Twips(16838)  # A4
        for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
            setattr(section, side, Cm(2.5))
        section.header_distance = section.footer_distance = Cm(1.25)
        return document
    try:
        document = docx.Document(io.BytesIO(_as_document(reference.read_bytes())))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"{reference}: not a usable Word document (.docx or .dotx): {exc}"
        ) from exc
    document.element.body.clear_content()  # keep the final w:sectPr (page set-up, furniture)
    return document


def _as_document(data: bytes) -> bytes:
    """A .dotx re-labelled as a .docx (python-docx refuses the template content type)."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        types = source.read("[Content_Types].xml")
        if _TEMPLATE_MAIN.encode() not in types:
            return data
        output = io.BytesIO()
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                blob = source.read(info.filename)
                if info.filename == "[Content_Types].xml":
                    blob = blob.replace(_TEMPLATE_MAIN.encode(), _DOCUMENT_MAIN.encode())
                target.writestr(info, blob)
    return output.getvalue()


def _house_template() -> Document:
    """python-docx's default template with an accessible house style: Arial 12, dark text,
    headings and captions dark enough for WCAG AA contrast, British English."""
    document = docx.Document()
    normal = document.styles["Normal"]
    _set_font(normal, size=Pt(12), colour=TEXT_COLOUR)
    for name, size in (("Title", 24), ("Heading 1", 16), ("Heading 2", 14), ("Caption", 11)):
        _set_font(document.styles[name], size=Pt(size), colour=HEADING_COLOUR)
    return document


def _set_font(style: BaseStyle, *, size: Length, colour: RGBColor) -> None:
    """Arial at ``size`` in ``colour``; theme fonts and colours removed (they would win)."""
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is not None:
        for attribute in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
            fonts.attrib.pop(qn(f"w:{attribute}"), None)
    font = style.font  # type: ignore[attr-defined]
    font.name = HOUSE_FONT
    font.size = size
    font.color.rgb = colour
    color = rpr.find(qn("w:color"))
    if color is not None:
        for attribute in ("themeColor", "themeShade", "themeTint"):
            color.attrib.pop(qn(f"w:{attribute}"), None)


# -- styles a reference document may lack ------------------------------------------------------


class _Styles:
    """Look styles up by name; copy any the document lacks from the house template."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self._source: Document | None = None

    def ensure(self, name: str) -> str:
        """``name``, once the document has a style of that name."""
        styles = self.document.styles
        if name in styles:
            return name
        if self._source is None:
            self._source = _house_template()
        element = deepcopy(self._source.styles[name].element)
        for child in element.findall(qn("w:link")) + element.findall(qn("w:rsid")):
            element.remove(child)
        ids = set(styles.element.xpath("w:style/@w:styleId"))
        based_on = element.find(qn("w:basedOn"))
        if based_on is not None and based_on.get(qn("w:val")) not in ids:
            element.remove(based_on)
        style_id = element.get(qn("w:styleId"))
        while style_id in ids:
            style_id += "Safeguard"
        element.set(qn("w:styleId"), style_id)
        num_ids = element.xpath("w:pPr/w:numPr/w:numId")
        if num_ids:
            num_ids[0].set(qn("w:val"), str(self._copy_numbering(int(num_ids[0].get(qn("w:val"))))))
        styles.element.append(element)
        return name

    def _copy_numbering(self, num_id: int) -> int:
        """Copy numbering definition ``num_id`` from the house template; its new id."""
        assert self._source is not None
        source = self._source.part.numbering_part.element
        target = _numbering(self.document)
        abstract_id = source.xpath(f'w:num[@w:numId="{num_id}"]/w:abstractNumId/@w:val')[0]
        abstract = deepcopy(source.xpath(f'w:abstractNum[@w:abstractNumId="{abstract_id}"]')[0])
        new_abstract = 1 + max(map(int, target.xpath("w:abstractNum/@w:abstractNumId")), default=-1)
        new_num = 1 + max(map(int, target.xpath("w:num/@w:numId")), default=0)
        abstract.set(qn("w:abstractNumId"), str(new_abstract))
        nums = target.findall(qn("w:num"))
        if nums:
            nums[0].addprevious(abstract)
        else:
            target.append(abstract)
        num = parse_xml(
            f'<w:num {nsdecls("w")} w:numId="{new_num}">'
            f'<w:abstractNumId w:val="{new_abstract}"/></w:num>'
        )
        (target.findall(qn("w:num")) or [abstract])[-1].addnext(num)
        return new_num


def _numbering(document: Document) -> Any:
    """The document's ``w:numbering`` element, adding a numbering part when there is none."""
    part = document.part
    try:
        return part.part_related_by(RT.NUMBERING).element  # type: ignore[attr-defined]
    except KeyError:
        element = parse_xml(f"<w:numbering {nsdecls('w')}/>")
        numbering = NumberingPart(
            PackURI("/word/numbering.xml"), CT.WML_NUMBERING, element, part.package
        )
        part.relate_to(numbering, RT.NUMBERING)
        return element


# -- the body ----------------------------------------------------------------------------------


class _Writer:
    def __init__(self, document: Document, model: ReportModel) -> None:
        self.document = document
        self.model = model
        self.styles = _Styles(document)

    def write(self) -> None:
        model = self.model
        if model.banner:
            banner = self.document.add_paragraph()
            banner.add_run(model.banner).bold = True
        self.document.add_paragraph(model.council).runs[0].bold = True
        self.paragraph(f"{model.title}: {model.month_label}", "Title")
        self.caption("Report details")
        self.table(("Item", "Detail"), model.header, widths=(0.3, 0.7))
        considered = False
        for section in model.sections:
            self.heading(section.heading, 1)
            for number, text in enumerate(section.paragraphs, start=section.first_number):
                if section.placeholder:
                    self.placeholder(text)
                elif section.first_number:  # the paper's paragraph numbers, written out
                    self.paragraph(f"{number}. {text}")
                else:
                    self.paragraph(text)
            if section.key == "key_considerations":
                self.key_considerations()
                considered = True
        if not considered:
            self.heading("Key considerations", 1)
            self.key_considerations()
        self.appendix()
        self.annex()
        self.page_furniture()

    # building blocks

    def paragraph(self, text: str, style: str | None = None) -> Paragraph:
        return self.document.add_paragraph(text, self.styles.ensure(style) if style else None)

    def heading(self, text: str, level: int) -> Paragraph:
        return self.paragraph(text, f"Heading {level}")

    def caption(self, text: str) -> Paragraph:
        caption = self.paragraph(text, "Caption")
        caption.paragraph_format.keep_with_next = True
        return caption

    def placeholder(self, text: str) -> Paragraph:
        """Bracketed, bold and highlighted, so officers find what they must write."""
        paragraph = self.document.add_paragraph()
        _marked(paragraph, text if _BRACKETED.match(text) else f"[{text}]")
        return paragraph

    def bullets(self, items: tuple[str, ...], first: int = 0) -> None:
        """Bullets; numbered on from ``first`` (the paper's paragraph numbers) when given."""
        for number, item in enumerate(items or ("None this month.",), start=first):
            if first:
                self.paragraph(f"{number}. {item}")
            else:
                self.paragraph(item, "List Bullet")

    def table(
        self,
        header: tuple[str, ...],
        rows: tuple[tuple[str, ...], ...],
        *,
        widths: tuple[float, ...] | None = None,
    ) -> DocxTable:
        """A data table: bold, shaded header row repeated on each page; rows kept whole."""
        table = cast("DocxTable", self.document.add_table(rows=1, cols=len(header)))
        table.style = self.styles.ensure("Table Grid")
        for cell, text in zip(table.rows[0].cells, header, strict=True):
            cell.paragraphs[0].add_run(text).bold = True
            _shade(cell)
        _repeat_header(table)
        for values in rows:
            for cell, text in zip(_add_row(table), values, strict=True):
                if _BRACKETED.match(text):
                    _marked(cell.paragraphs[0], text)
                else:
                    cell.paragraphs[0].text = text
        if widths is not None:
            _column_widths(table, widths, self.text_width())
        return table

    def text_width(self) -> int:
        section = self.document.sections[-1]
        return (
            int(section.page_width or 0)
            - int(section.left_margin or 0)
            - int(section.right_margin or 0)
        )

    def text_height(self) -> int:
        section = self.document.sections[-1]
        return (
            int(section.page_height or 0)
            - int(section.top_margin or 0)
            - int(section.bottom_margin or 0)
        )

    # the parts of the paper

    def key_considerations(self) -> None:
        self.heading("Positives", 2)
        self.bullets(self.model.positives, self.model.positives_first)
        self.heading("Challenges", 2)
        self.bullets(self.model.challenges, self.model.challenges_first)

    def appendix(self) -> None:
        """Appendix A in a landscape section: scorecard, charts, commentary, definitions."""
        model = self.model
        section = self.document.add_section(WD_SECTION.NEW_PAGE)
        if (section.page_width or 0) < (section.page_height or 0):
            section.orientation = WD_ORIENT.LANDSCAPE
            section.page_width, section.page_height = section.page_height, section.page_width
        self.heading(f"Appendix A: performance data, {model.month_label}", 1)
        self.caption(
            f"Dashboard: {model.month_label}, by stage of the child's journey. Change is since "
            "the previous month; a rolling figure's window is shown beside its value"
        )
        table = self.table(DASHBOARD_HEADER, ())
        stage = None
        for row in model.scorecard:
            cells = _add_row(table)
            if row.stage != stage:  # the stage on its group's first row (no merged cells)
                cells[0].paragraphs[0].add_run(row.stage).bold = True
                stage = row.stage
            title = cells[1].paragraphs[0]
            title.add_run(f"{row.title} ")
            title.add_run(str(row.footnote)).font.superscript = True
            value = cells[2].paragraphs[0]
            value.add_run(row.value).bold = True
            if row.window_label:  # "12 months to Oct 2015" beside a rolling figure's value
                value.add_run(f" {row.window_label}").italic = True
            if row.numerator:
                cells[3].paragraphs[0].text = f"{row.numerator} / {row.denominator}"
            cells[4].paragraphs[0].text = row.previous
            if row.direction:
                word = TONE_WORDS.get(row.direction_tone) or row.direction
                arrow = cells[5].paragraphs[0].add_run(f"{ARROWS[row.direction]} {word}")
                arrow.bold = True
                arrow.font.color.rgb = TONE_COLOURS.get(row.direction_tone, TONE_COLOURS["neutral"])
            cells[6].paragraphs[0].text = row.last_year
            cells[7].paragraphs[0].text = row.target
            cells[8].paragraphs[0].add_run(row.rag).bold = True
            _icon(cells[9].paragraphs[0], row.variation, "\N{BLACK CIRCLE}", row.variation_words)
            _icon(cells[10].paragraphs[0], row.assurance, "\N{BLACK SQUARE}", row.assurance_words)
            cells[11].paragraphs[0].text = row.england
            cells[12].paragraphs[0].text = row.neighbours
        _column_widths(table, DASHBOARD_WIDTHS, self.text_width())
        for run in table._tbl.iter(qn("w:r")):
            run.get_or_add_rPr().sz_val = DASHBOARD_SIZE
        legend = self.model.extra.get("comparators_legend")
        self.paragraph(f"{KEY_NOTE} {legend}" if legend else KEY_NOTE)
        for chart in model.charts:
            self.chart(chart)
        self.heading("Exceptions this month", 2)
        for _title, text in model.commentary:
            self.paragraph(text)
        if model.breakdowns:
            self.heading("Behind the figures", 2)
            for breakdown in model.breakdowns:
                self.annex_table(breakdown)
                if breakdown.note:
                    self.paragraph(breakdown.note)
        self.heading("Definitions", 2)
        numbers = [note.number for note in model.footnotes]
        if numbers == list(range(1, len(numbers) + 1)):
            for note in model.footnotes:
                self.paragraph(note.text, "List Number")
        else:  # numbering Word cannot reproduce from 1: write the numbers out
            for note in model.footnotes:
                self.paragraph(f"{note.number}. {note.text}")

    def chart(self, chart: Chart) -> None:
        if not chart.alt.strip():
            raise ValueError(f"chart {chart.indicator!r} has no alt text")
        self.heading(chart.title, 2).paragraph_format.keep_with_next = True
        holder = self.document.add_paragraph()
        holder.paragraph_format.keep_with_next = True
        width = min(int(Cm(chart.width_cm)), self.text_width())
        shape = holder.add_run().add_picture(io.BytesIO(chart.png), width=Length(width))
        limit = int(self.text_height() * MAX_PICTURE_HEIGHT)
        if int(shape.height) > limit:
            shape.width = Length(int(shape.width) * limit // int(shape.height))
            shape.height = Length(limit)
        inline = shape._inline
        for properties in (inline.docPr, *inline.xpath(".//pic:cNvPr")):
            properties.set("descr", chart.alt)
            properties.set("title", chart.title)
        if self.model.detail != "full":
            return  # members' paper: the data is in the HTML paper and the workbook
        self.caption(f"Data for the chart: {chart.title}")
        self.table(
            CHART_TABLE_HEADER,
            tuple((p.month, p.value, p.note) for p in chart.points),
            widths=(0.2, 0.2, 0.6),
        )

    def annex(self) -> None:
        if not self.model.annex:
            return
        self.heading("Data quality", 1)
        for table in self.model.annex:
            self.annex_table(table)

    def annex_table(self, table: Table) -> None:
        self.caption(table.caption)
        self.table(table.header, table.rows)

    # headers and footers

    def page_furniture(self) -> None:
        """The banner in every page header; "Page X of Y" in every footer."""
        even = bool(self.document.settings.odd_and_even_pages_header_footer)
        for index, section in enumerate(self.document.sections):
            parts: list[tuple[_Header, _Footer]] = [(section.header, section.footer)]
            if section.different_first_page_header_footer:
                parts.append((section.first_page_header, section.first_page_footer))
            if even:
                parts.append((section.even_page_header, section.even_page_footer))
            for header, footer in parts:
                if index and header.is_linked_to_previous and footer.is_linked_to_previous:
                    continue  # inherits the previous section's, already done
                if self.model.banner:
                    _banner(header, self.model.banner)
                _page_numbers(footer)


def _marked(paragraph: Paragraph, text: str) -> None:
    run = paragraph.add_run(text)
    run.bold = True
    run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def icon_colour(key: str) -> str:
    """A Making Data Count icon's colour: improvement, concern, neutral or common."""
    if key == "consistently_pass" or key.startswith("improvement"):
        return "improvement"
    if key == "consistently_fail" or key.startswith("concern"):
        return "concern"
    if key.startswith("neutral"):
        return "neutral"
    return "common"


def _icon(paragraph: Paragraph, key: str, symbol: str, words: str) -> None:
    """A coloured symbol then the icon's words (the words alone carry the meaning)."""
    if key:
        paragraph.add_run(f"{symbol} ").font.color.rgb = ICON_COLOURS[icon_colour(key)]
    paragraph.add_run(words)


def _shade(cell: _Cell) -> None:
    shading = parse_xml(
        f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{HEADER_FILL}"/>'
    )
    cell._tc.get_or_add_tcPr().append(shading)


def _add_row(table: DocxTable) -> tuple[_Cell, ...]:
    """A new body row that Word keeps on one page (``w:cantSplit``); its cells."""
    row = table.add_row()  # type: ignore[no-untyped-call]
    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    return cast("tuple[_Cell, ...]", row.cells)


def _repeat_header(table: DocxTable) -> None:
    """Mark the first row as the header row Word repeats on each page (and reads as header)."""
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    table.rows[0]._tr.get_or_add_trPr().append(header)


def _column_widths(table: DocxTable, shares: tuple[float, ...], total: int) -> None:
    widths = [Length(int(total * share)) for share in shares]
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width


def _only_empty(story: _Header | _Footer) -> Paragraph | None:
    """The story's single empty paragraph (a fresh header or footer), or None."""
    paragraphs = story.paragraphs
    if len(paragraphs) == 1 and not paragraphs[0].text and not story.tables:
        return cast("Paragraph", paragraphs[0])
    return None


def _banner(header: _Header, text: str) -> None:
    paragraph = _only_empty(header)
    if paragraph is None:  # a council's own header: put the banner above its content
        first = header.paragraphs[0] if header.paragraphs else header.add_paragraph()
        paragraph = first.insert_paragraph_before()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(text).bold = True


def _page_numbers(footer: _Footer) -> None:
    fields = footer._element.xpath(".//w:instrText/text() | .//w:fldSimple/@w:instr")
    if any("PAGE" in str(field).split() for field in fields):
        return  # the council's footer already numbers its pages
    paragraph = _only_empty(footer) or footer.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run("Page ")
    _field(paragraph, "PAGE")
    paragraph.add_run(" of ")
    _field(paragraph, "NUMPAGES")


def _field(paragraph: Paragraph, instruction: str) -> None:
    """A complex field (``w:fldChar`` begin/separate/end) showing 1 until Word updates it."""
    for xml in (
        '<w:fldChar w:fldCharType="begin"/>',
        f'<w:instrText xml:space="preserve"> {instruction} </w:instrText>',
        '<w:fldChar w:fldCharType="separate"/>',
        "<w:t>1</w:t>",
        '<w:fldChar w:fldCharType="end"/>',
    ):
        paragraph._p.append(parse_xml(f"<w:r {nsdecls('w')}>{xml}</w:r>"))


# -- properties and the zip --------------------------------------------------------------------


def _model_date(model: ReportModel) -> datetime:
    """The first day of the reporting month ("October 2015"): the file's dates, never the clock."""
    try:
        return datetime.strptime(model.month_label, "%B %Y").replace(tzinfo=UTC)
    except ValueError:
        return FALLBACK_DATE


def _set_properties(document: Document, model: ReportModel) -> None:
    details = dict(model.header)
    properties = document.core_properties
    properties.title = f"{model.title} \N{EN DASH} {model.month_label}"
    properties.subject = f"{model.council}: {details.get('Meeting', model.title)}"
    properties.author = details.get("Report by", model.council)
    properties.last_modified_by = "safeguard"
    properties.keywords = f"children's safeguarding; performance; {model.month_label}"
    properties.category = "Committee report"
    properties.comments = "Generated by safeguard from the month's performance data."
    properties.content_status = model.banner
    properties.language = model.language
    properties.revision = 1
    when = _model_date(model)
    properties.created = properties.modified = properties.last_printed = when
    _set_language(document, model.language)


def _set_language(document: Document, language: str) -> None:
    """The default run language (``w:docDefaults``) and Normal's own, if it sets one."""
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is None:
        defaults = OxmlElement("w:docDefaults")
        styles.insert(0, defaults)
    rpr_default = defaults.find(qn("w:rPrDefault"))
    if rpr_default is None:
        rpr_default = OxmlElement("w:rPrDefault")
        defaults.insert(0, rpr_default)
    rpr = rpr_default.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        rpr_default.append(rpr)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), language)
    for own in styles.xpath('w:style[@w:styleId="Normal"]/w:rPr/w:lang'):
        own.set(qn("w:val"), language)
    for theme in document.settings.element.findall(qn("w:themeFontLang")):
        theme.set(qn("w:val"), language)


def _normalise_zip(data: bytes) -> bytes:
    """The package again with fixed timestamps and a fixed entry order (content types first)."""
    output = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        names = sorted(source.namelist(), key=lambda name: (name != "[Content_Types].xml", name))
        for name in names:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            target.writestr(info, source.read(name))
    return output.getvalue()


__all__ = ["render_docx"]
