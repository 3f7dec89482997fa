"""The PDF paper: tagged PDF/UA-1 structure, page furniture, stable bytes, clear failures.

Text is read back from the content streams through each font's ToUnicode map (no poppler
needed), so page headers and footers, which are artifacts outside the structure tree, can be
checked page by page.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pytest

from safeguard.errors import ConfigError
from safeguard.report import pdf as pdf_module
from safeguard.report.model import ReportModel, Section
from safeguard.report.pdf import creation_timestamp, document_title, render_pdf
from safeguard.report.sample import sample_model

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
ROWS = 44  # the full catalogue: the dashboard must still fit one page
BANNER = "INTERNAL: not for publication"


# ---- reading the PDF back ---------------------------------------------------------------------


def _unicode_map(font: pikepdf.Object) -> dict[int, str]:
    """Character code -> text, from a font's ToUnicode CMap (bfchar and bfrange)."""
    if "/ToUnicode" not in font:
        return {}
    cmap = font.ToUnicode.read_bytes().decode("latin-1")
    mapping: dict[int, str] = {}
    hexes = r"<([0-9A-Fa-f]+)>"
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, text in re.findall(rf"{hexes}\s*{hexes}", block):
            mapping[int(code, 16)] = bytes.fromhex(text).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, start in re.findall(rf"{hexes}\s*{hexes}\s*{hexes}", block):
            first = int.from_bytes(bytes.fromhex(start), "big")
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = chr(first + offset)
    return mapping


def _stream_text(owner: pikepdf.Object, resources: pikepdf.Object) -> Iterator[str]:
    fonts = resources.get("/Font", pikepdf.Dictionary())
    maps: dict[str, dict[int, str]] = {}
    current: dict[int, str] = {}
    width = 2
    for instruction in pikepdf.parse_content_stream(owner):
        operands, op = instruction.operands, str(instruction.operator)
        if op == "Tf":
            name = str(operands[0])
            font = fonts[name]
            if name not in maps:
                maps[name] = _unicode_map(font)
            current = maps[name]
            width = 2 if str(font.get("/Subtype")) == "/Type0" else 1
        elif op in ("Tj", "'", '"', "TJ"):
            items = operands[-1] if op == "TJ" else [operands[-1]]
            for item in items:
                if isinstance(item, pikepdf.String):
                    raw = bytes(item)
                    for i in range(0, len(raw), width):
                        yield current.get(int.from_bytes(raw[i : i + width], "big"), "")
        elif op == "Do":
            xobjects = resources.get("/XObject", pikepdf.Dictionary())
            xobject = xobjects.get(str(operands[0]))
            if xobject is not None and xobject.get("/Subtype") == "/Form":
                inner = xobject.get("/Resources", resources)
                yield from _stream_text(xobject, inner)


def page_texts(path: Path) -> list[str]:
    """Each page's text with all whitespace removed (Typst positions words, not spaces)."""
    with pikepdf.open(path) as pdf:
        return [
            re.sub(r"\s+", "", "".join(_stream_text(page.obj, page.obj.Resources)))
            for page in pdf.pages
        ]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def struct_elements(path: Path) -> list[tuple[str, pikepdf.Dictionary]]:
    """Every structure element (type, dictionary), depth first in reading order."""
    found: list[tuple[str, pikepdf.Dictionary]] = []

    def walk(node: pikepdf.Object) -> None:
        if isinstance(node, pikepdf.Dictionary) and "/S" in node:
            found.append((str(node.S), node))
        kids = node.get("/K") if isinstance(node, pikepdf.Dictionary) else None
        if kids is None:
            return
        for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
            walk(kid)

    with pikepdf.open(path) as pdf:
        walk(pdf.Root.StructTreeRoot)
        # Read everything needed while the file is open.
        return [(kind, pikepdf.Dictionary(dict(node.items()))) for kind, node in found]


def outline(path: Path) -> list[tuple[int, str]]:
    """Bookmarks (level, title): Typst makes one per heading."""
    result: list[tuple[int, str]] = []
    with pikepdf.open(path) as pdf, pdf.open_outline() as tree:

        def walk(items: list[pikepdf.OutlineItem], level: int) -> None:
            for item in items:
                result.append((level, str(item.title)))
                walk(item.children, level + 1)

        walk(tree.root, 1)
    return result


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def public_model() -> ReportModel:
    return sample_model(rows=ROWS)


@pytest.fixture(scope="module")
def internal_model() -> ReportModel:
    return sample_model(rows=ROWS, audience="internal")


@pytest.fixture(scope="module")
def public_pdf(public_model: ReportModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("public") / "paper.pdf"
    return render_pdf(public_model, out, template_dir=TEMPLATES)


@pytest.fixture(scope="module")
def internal_pdf(internal_model: ReportModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("internal") / "paper.pdf"
    return render_pdf(internal_model, out, template_dir=TEMPLATES)


@pytest.fixture(params=["public", "internal"])
def any_pdf(request: pytest.FixtureRequest) -> Path:
    path: Path = request.getfixturevalue(f"{request.param}_pdf")
    return path


# ---- the document -----------------------------------------------------------------------------


def test_returns_the_path_and_opens(public_pdf: Path) -> None:
    assert public_pdf.is_file()
    with pikepdf.open(public_pdf) as pdf:
        assert len(pdf.pages) > 1
        assert pdf.pdf_version >= "1.7"
    assert not list(public_pdf.parent.glob(".tmp-*")), "temporary file left behind"


def test_tagged_with_structure_tree(any_pdf: Path) -> None:
    with pikepdf.open(any_pdf) as pdf:
        assert "/StructTreeRoot" in pdf.Root
        assert bool(pdf.Root.MarkInfo.Marked) is True
        assert bool(pdf.Root.ViewerPreferences.DisplayDocTitle) is True


def test_language_is_british_english(any_pdf: Path) -> None:
    with pikepdf.open(any_pdf) as pdf:
        assert str(pdf.Root.Lang) == "en-GB"


def test_document_title_in_info_and_xmp(public_pdf: Path, public_model: ReportModel) -> None:
    expected = "Children's safeguarding performance data \N{EN DASH} October 2015"
    assert document_title(public_model) == expected
    with pikepdf.open(public_pdf) as pdf:
        assert str(pdf.docinfo.Title) == expected
        with pdf.open_metadata() as xmp:
            assert xmp["dc:title"] == expected
            assert "pdfuaid" in str(xmp)  # claims PDF/UA-1


def test_creation_date_comes_from_the_month_not_the_clock(public_pdf: Path) -> None:
    with pikepdf.open(public_pdf) as pdf:
        assert str(pdf.docinfo.CreationDate) == "D:20151101000000Z"


def test_creation_timestamp_falls_back_to_a_fixed_date(public_model: ReportModel) -> None:
    odd = dataclasses.replace(public_model, month_label="Q3 2015/16")
    assert creation_timestamp(odd) == pdf_module.FALLBACK_TIMESTAMP
    december = dataclasses.replace(public_model, month_label="December 2015")
    assert creation_timestamp(december).isoformat() == "2016-01-01T00:00:00+00:00"


def test_every_figure_has_alt_text(any_pdf: Path, public_model: ReportModel) -> None:
    figures = [node for kind, node in struct_elements(any_pdf) if kind == "/Figure"]
    assert len(figures) == len(public_model.charts)
    for figure in figures:
        assert "/Alt" in figure and str(figure.Alt).strip()
    assert str(figures[0].Alt) == public_model.charts[0].alt


def test_tables_have_header_cells_with_scope(public_pdf: Path, public_model: ReportModel) -> None:
    elements = struct_elements(public_pdf)
    headers = [node for kind, node in elements if kind == "/TH"]
    # report details 2 + dashboard 13 + annex 4: the charts' data tables are in the HTML and
    # the workbook, not the members' paper
    assert len(headers) == 2 + 13 + 4
    for th in headers:
        attributes = th.A if isinstance(th.A, pikepdf.Array) else [th.A]
        assert any(str(a.get("/Scope")) == "/Column" for a in attributes)
    # One /Table per logical table.
    tables = [kind for kind, _ in elements if kind == "/Table"]
    assert len(tables) == 1 + 1 + len(public_model.annex)
    assert len([kind for kind, _ in elements if kind == "/Caption"]) == len(tables)


def test_full_detail_keeps_a_chart_and_its_data_table_a_page(
    public_model: ReportModel, tmp_path: Path
) -> None:
    full = dataclasses.replace(public_model, detail="full")
    pdf = render_pdf(full, tmp_path / "full.pdf", template_dir=TEMPLATES)
    elements = struct_elements(pdf)
    headers = [node for kind, node in elements if kind == "/TH"]
    assert len(headers) == 2 + 13 + 3 * len(full.charts) + 4
    assert "DatafortheChart:Indicator0".lower() in "".join(page_texts(pdf)).lower()
    assert (2, "Indicator 0") in outline(pdf)


def test_dashboard_fits_one_page_grouped_by_stage(
    public_pdf: Path, public_model: ReportModel
) -> None:
    texts = page_texts(public_pdf)
    pages = [i for i, text in enumerate(texts) if "Dashboard:" in text]
    assert len(pages) == 1
    page = texts[pages[0]]
    assert page.count("Statisticalneighbours") == 1  # the header once: no second page
    titles = [squash(row.title) + str(row.footnote) for row in public_model.scorecard]
    positions = [page.index(title) for title in titles]
    assert positions == sorted(positions)  # every row, in the model's order
    stages = list(dict.fromkeys(row.stage for row in public_model.scorecard))
    assert len(stages) == 6
    # each stage named, in the journey's order (a spanning cell: once for its rows)
    found = [page.index(squash(stage)) for stage in stages]
    assert found == sorted(found)
    # the arrow and the icon in words, with their key, on the same page
    assert "\N{UPWARDS ARROW}better" in page
    assert "Commoncausevariation" in page and "Metonlysometimes" in page
    assert "Key.Change:" in page
    assert "- ?" not in page and "-?" not in page  # no bare SPC letters


def test_page_x_of_y_on_every_page(any_pdf: Path) -> None:
    texts = page_texts(any_pdf)
    total = len(texts)
    for number, text in enumerate(texts, start=1):
        assert f"Page{number}of{total}" in text


def test_banner_on_every_page_when_internal(internal_pdf: Path) -> None:
    for text in page_texts(internal_pdf):
        assert squash(BANNER) in text


def test_no_banner_when_public(public_pdf: Path) -> None:
    assert not any(squash(BANNER) in text for text in page_texts(public_pdf))


def test_layout_order_and_headings(public_pdf: Path, public_model: ReportModel) -> None:
    bookmarks = outline(public_pdf)
    assert bookmarks == [
        (1, "Purpose"),
        (1, "Financial implications"),
        (1, "Key considerations"),
        (2, "Positives"),
        (2, "Challenges"),
        (1, "Appendix A: performance data"),
        (2, "Exceptions this month"),
        (2, "Charts: the last 24 months"),
        (3, "Front door"),
        (4, "Indicator 0"),
        (2, "Notes and definitions"),
        (1, "Appendix B: data quality"),
    ]
    first = page_texts(public_pdf)[0]
    council = first.index("DemoshireCouncil")
    for label in ("Meeting", "Meetingdate", "Titleofreport", "Reportby"):
        assert first.index(label, council) > council
    assert "[TobecompletedbyFinance]" in first


def test_key_considerations_section_carries_positives_and_challenges(
    public_model: ReportModel, tmp_path: Path
) -> None:
    sections = (
        *public_model.sections,
        Section("key_considerations", "Key considerations", ("The service is stable.",)),
        Section("consultees", "Consultees", ("None.",)),
    )
    model = dataclasses.replace(public_model, sections=sections, positives=())
    out = render_pdf(model, tmp_path / "paper.pdf", template_dir=TEMPLATES)
    titles = [title for _, title in outline(out)]
    assert titles[:6] == [
        "Purpose",
        "Financial implications",
        "Key considerations",
        "Positives",
        "Challenges",
        "Consultees",
    ]
    assert titles.count("Key considerations") == 1
    assert "Nonethismonth." in "".join(page_texts(out))


def test_text_from_the_model_is_not_read_as_typst_markup(
    public_model: ReportModel, tmp_path: Path
) -> None:
    tricky = 'Costs #sys.inputs *not bold* $x$ <label> @ref [1] "quotes" \\ _under_ = head'
    sections = (Section("purpose", "Purpose", (tricky,)),)
    model = dataclasses.replace(public_model, sections=sections)
    out = render_pdf(model, tmp_path / "paper.pdf", template_dir=TEMPLATES)
    assert squash(tricky) in page_texts(out)[0]


# ---- stable bytes, atomic writes, failures ----------------------------------------------------


def test_same_model_gives_identical_bytes(public_model: ReportModel, tmp_path: Path) -> None:
    first = render_pdf(public_model, tmp_path / "a" / "paper.pdf", template_dir=TEMPLATES)
    second = render_pdf(public_model, tmp_path / "b" / "other.pdf", template_dir=TEMPLATES)
    assert first.read_bytes() == second.read_bytes()


def test_chart_without_alt_text_is_refused(public_model: ReportModel, tmp_path: Path) -> None:
    chart = dataclasses.replace(public_model.charts[0], alt="  ")
    model = dataclasses.replace(public_model, charts=(chart,))
    out = tmp_path / "paper.pdf"
    out.write_bytes(b"previous paper")
    with pytest.raises(ValueError, match=r"chart 1 \(indicator_0, 'Indicator 0'\) has no alt text"):
        render_pdf(model, out, template_dir=TEMPLATES)
    assert out.read_bytes() == b"previous paper"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paper.pdf"]


def test_typst_enforces_alt_text_too(
    public_model: ReportModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PDF/UA-1 check in Typst is the second line of defence (e.g. a council template
    that adds an image without alt text)."""
    monkeypatch.setattr(pdf_module, "check_accessible", lambda model: None)
    chart = dataclasses.replace(public_model.charts[0], alt="")
    model = dataclasses.replace(public_model, charts=(chart,))
    with pytest.raises(ConfigError, match="alt"):
        render_pdf(model, tmp_path / "paper.pdf", template_dir=TEMPLATES)
    assert not (tmp_path / "paper.pdf").exists()


def test_missing_title_is_refused(public_model: ReportModel, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="title"):
        render_pdf(
            dataclasses.replace(public_model, title=""),
            tmp_path / "paper.pdf",
            template_dir=TEMPLATES,
        )


def test_folder_without_template_is_a_config_error(
    public_model: ReportModel, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"no paper\.typ"):
        render_pdf(public_model, tmp_path / "paper.pdf", template_dir=tmp_path)


def test_broken_council_template_is_a_config_error(
    public_model: ReportModel, tmp_path: Path
) -> None:
    council = tmp_path / "council"
    council.mkdir()
    (council / "paper.typ").write_text("#let x = (\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"paper\.typ: Typst could not make the PDF"):
        render_pdf(public_model, tmp_path / "paper.pdf", template_dir=council)


def test_council_template_folder_is_used(public_model: ReportModel, tmp_path: Path) -> None:
    council = tmp_path / "council"
    council.mkdir()
    source = (TEMPLATES / "paper.typ").read_text(encoding="utf-8")
    (council / "paper.typ").write_text(
        source.replace('#text(size: 18pt, weight: "bold", data.council)', '#read("logo.txt")'),
        encoding="utf-8",
    )
    (council / "logo.txt").write_text("Council crest", encoding="utf-8")
    out = render_pdf(public_model, tmp_path / "paper.pdf", template_dir=council)
    first = page_texts(out)[0]
    assert "Councilcrest" in first
    assert "DemoshireCouncil" not in first
