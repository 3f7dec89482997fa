"""The paper as readers get it (issue 13, part 10): the HTML in a real browser, headless Chromium
running axe-core against WCAG 2.2 level A and AA (the Public Sector Bodies Accessibility
Regulations); and the PDF's pages rendered to images, none of them nearly empty.

The browser check needs Chromium (Debian's package `chromium`, or the path in CHROMIUM) and
`npm ci` in tests/browser (axe-core and playwright-core, pinned by its package-lock.json). On a
machine without them it is skipped, saying which is missing; with SAFEGUARD_REQUIRE_BROWSER=1
(set by .ci/run, after .ci/install-browser) it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.report.html import render_html
from safeguard.report.pdf import render_pdf
from safeguard.report.sample import sample_model
from tests.conftest import EXAMPLES, PIPELINES, ROOT, report

TEMPLATES = ROOT / "templates"
BROWSER = Path(__file__).parent / "browser"
AXE_SCRIPT = BROWSER / "axe.mjs"
NODE_PACKAGES = ("axe-core/axe.min.js", "playwright-core/package.json")

# A page counts as nearly empty below this share of non-white pixels: a page holding only its
# running header and footer has about 0.2%, one line of text about 0.6%, a short table 1.1%.
NEARLY_EMPTY = 0.01
WHITE = 250  # grey level (0-255) at or above which a pixel counts as white
DPI = 72
# Pages left blank on purpose (say, before a section that must start on a right-hand page), by
# file: none today.
DELIBERATELY_BLANK: dict[str, frozenset[int]] = {}


# ---- the papers ---------------------------------------------------------------------------------


def _report(store: Path, reports: Path, *args: str) -> Path:
    report(store, reports, *args)
    return reports / "2015-10"


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The October 2015 paper from the bundled mini extracts: the public paper as HTML and
    PDF, the internal one as HTML, copied out of the reports folder under these names."""
    work = tmp_path_factory.mktemp("mini")
    store = work / "processed"
    for month in ("2015-09", "2015-10"):
        result = CliRunner().invoke(
            cli,
            [
                "--pipelines",
                str(PIPELINES),
                "ingest",
                str(EXAMPLES / month),
                "--processed-dir",
                str(store),
            ],
        )
        assert result.exit_code == 0, result.output
    papers = work / "papers"
    papers.mkdir()
    public = _report(store, work / "public", "--format", "html", "--format", "pdf")
    internal = _report(store, work / "internal", "--audience", "internal", "--format", "html")
    return {
        "mini-public.html": Path(shutil.copy(public / "paper.html", papers / "mini-public.html")),
        "mini-public.pdf": Path(shutil.copy(public / "paper.pdf", papers / "mini-public.pdf")),
        "mini-internal.html": Path(
            shutil.copy(internal / "paper.html", papers / "mini-internal.html")
        ),
    }


# ---- the HTML paper in headless Chromium, with axe-core --------------------------------------

# Broken on purpose: the check must find these, or it is not looking at the page.
BROKEN_PAGE = (
    "<!DOCTYPE html><html><head><title>Broken</title></head><body><main><h1>Broken</h1>"
    '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><p style="color:#bbb">faint</p>'
    '<img src="chart.svg" alt="A chart the page fetches">'
    "</main></body></html>"
)


def _browser_missing() -> str | None:
    """Why the browser check cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (Node.js 20 or newer runs tests/browser/axe.mjs)"
    if not all((BROWSER / "node_modules" / p).is_file() for p in NODE_PACKAGES):
        return "axe-core and playwright-core are not installed: run `npm ci` in tests/browser"
    if _chromium() is None:
        return "Chromium is not installed (Debian: apt-get install chromium; or set CHROMIUM)"
    return None


def _chromium() -> str | None:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    return found if found and Path(found).is_file() else None


@pytest.fixture(scope="module")
def axe(mini: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """axe-core's findings for each page, by name: the sample report (public and internal)
    from the project's templates, the mini extracts' papers, and the broken page. One
    browser for them all."""
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get("SAFEGUARD_REQUIRE_BROWSER"):
            pytest.fail(f"SAFEGUARD_REQUIRE_BROWSER is set but {missing}")
        pytest.skip(missing)
    folder = tmp_path_factory.mktemp("pages")
    pages = {name: path for name, path in mini.items() if name.endswith(".html")}
    for audience in ("public", "internal"):
        out = folder / f"sample-{audience}.html"
        pages[out.name] = render_html(
            sample_model(3, audience, breakdowns=True), out, template_dirs=[TEMPLATES]
        )
    broken = folder / "broken.html"
    broken.write_text(BROKEN_PAGE, encoding="utf-8")
    pages[broken.name] = broken
    chromium = _chromium()
    assert chromium is not None
    done = subprocess.run(
        ["node", str(AXE_SCRIPT), *(str(p) for p in pages.values())],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CHROMIUM": chromium},
        check=False,
    )
    assert done.returncode == 0, f"axe.mjs failed ({done.returncode}):\n{done.stderr}"
    found: dict[str, Any] = json.loads(done.stdout)
    return {name: found[str(path)] for name, path in pages.items()}


def _described(rules: list[dict[str, Any]]) -> str:
    lines = []
    for rule in rules:
        lines.append(f"{rule['id']} ({rule['impact']}): {rule['help']} - {rule['helpUrl']}")
        for node in rule["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html']}")
        if len(rule["nodes"]) > 5:
            lines.append(f"    ... and {len(rule['nodes']) - 5} more")
    return "\n".join(lines)


@pytest.mark.parametrize(
    "page", ["sample-public.html", "sample-internal.html", "mini-public.html", "mini-internal.html"]
)
def test_the_html_paper_has_no_wcag_22_aa_violations_in_chromium(
    axe: dict[str, Any], page: str
) -> None:
    found = axe[page]
    assert not found["violations"], (
        f"axe-core {found['axe']} finds WCAG 2.2 A/AA violations in {page}:\n"
        + _described(found["violations"])
    )
    assert found["passes"] > 0
    assert not found["requests"], f"{page} is not self-contained: it asks for {found['requests']}"


def test_the_browser_check_finds_what_is_wrong(axe: dict[str, Any]) -> None:
    found = axe["broken.html"]
    assert {"html-has-lang", "image-alt", "color-contrast"} <= {
        rule["id"] for rule in found["violations"]
    }
    assert found["requests"] == ["http://paper.invalid/chart.svg"]


# ---- the PDF paper's pages as images ---------------------------------------------------------


def _ink(pdf: Path) -> list[float]:
    """The share of non-white pixels on each page, rendered in grey at DPI dots per inch."""
    shares = []
    document = pdfium.PdfDocument(pdf)
    try:
        for index in range(len(document)):
            page = document[index]
            pixels = page.render(scale=DPI / 72, grayscale=True).to_numpy()
            if pixels.ndim == 3:
                pixels = pixels[..., 0]
            shares.append(float(np.mean(pixels < WHITE)))
            page.close()
    finally:
        document.close()
    return shares


def _nearly_empty(name: str, pdf: Path) -> list[str]:
    blank = DELIBERATELY_BLANK.get(name, frozenset())
    shares = _ink(pdf)
    assert shares, f"{name} has no pages"
    return [
        f"page {number} of {len(shares)}: {share:.2%} non-white"
        for number, share in enumerate(shares, start=1)
        if share < NEARLY_EMPTY and number not in blank
    ]


def test_no_page_of_the_pdf_paper_is_nearly_empty(mini: dict[str, Path]) -> None:
    empty = _nearly_empty("mini-public.pdf", mini["mini-public.pdf"])
    assert not empty, "nearly empty pages in the mini extracts' PDF paper:\n" + "\n".join(empty)


@pytest.mark.parametrize("audience", ["public", "internal"])
def test_no_page_of_a_long_scorecard_is_nearly_empty(audience: str, tmp_path: Path) -> None:
    """The full catalogue's 44 dashboard rows: no page of spilled rows or a lone table."""
    pdf = render_pdf(sample_model(44, audience), tmp_path / "paper.pdf", template_dir=TEMPLATES)
    empty = _nearly_empty(f"sample-44-{audience}.pdf", pdf)
    assert not empty, f"nearly empty pages in the sample {audience} PDF:\n" + "\n".join(empty)


def test_the_page_check_finds_an_empty_page(tmp_path: Path) -> None:
    """A page holding only the running header and footer is caught, and named."""
    import typst

    source = tmp_path / "empty.typ"
    source.write_text(
        '#set page(paper: "a4", header: align(center)[*INTERNAL: not for publication*],'
        " footer: context align(center)[Page #counter(page).display()])\n"
        "#lorem(300)\n#pagebreak()\n#pagebreak()\nOne short line.\n",
        encoding="utf-8",
    )
    pdf = tmp_path / "empty.pdf"
    typst.compile(str(source), output=str(pdf))
    empty = _nearly_empty("empty.pdf", pdf)
    assert [line.split(":")[0] for line in empty] == ["page 2 of 3", "page 3 of 3"]
