"""The committee paper as an accessible PDF (PDF/UA-1), compiled with Typst.

The template (``paper.typ`` in the templates folder) lays out the report model; it receives the
model as JSON (``ReportModel.to_json_ready()``) and the charts as SVG files, all written to a
temporary folder that is Typst's project root. Nothing is templated into Typst source, so text
in the model is printed as it is.

Output is byte-stable: the PDF's creation date comes from the reporting month, never the clock,
and only the fonts bundled with Typst (plus any ``font_paths``) are used, never the machine's.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typst

from safeguard.errors import ConfigError
from safeguard.report.model import ReportModel

TEMPLATE = "paper.typ"
PDF_STANDARDS: list[typst.PDFStandard] = ["ua-1"]

# Where the template finds its inputs, relative to the Typst root (the temporary folder).
DATA_DIR = "data"
DATA_FILE = "report.json"
TEMPLATE_DIR = "template"

# English month names, spelt out here so parsing never depends on the process locale.
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_LABEL = re.compile(r"^\s*([A-Za-z]+)\s+(\d{4})\s*$")
# Used when the month label cannot be read: still fixed, so the bytes stay stable.
FALLBACK_TIMESTAMP = datetime(1980, 1, 1, tzinfo=UTC)

log = logging.getLogger(__name__)


def document_title(model: ReportModel) -> str:
    """The title readers see in the PDF viewer's title bar: title, an en dash, month."""
    return f"{model.title} \N{EN DASH} {model.month_label}"


def creation_timestamp(model: ReportModel) -> datetime:
    """The PDF's creation date: midnight UTC at the start of the month after the reporting
    month (the earliest moment the month's paper can exist). Never the clock."""
    match = _MONTH_LABEL.match(model.month_label)
    if match is None or match.group(1).lower() not in _MONTHS:
        log.debug("month label %r not understood; fixed fallback timestamp", model.month_label)
        return FALLBACK_TIMESTAMP
    year, month = int(match.group(2)), _MONTHS.index(match.group(1).lower()) + 1
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def check_accessible(model: ReportModel) -> None:
    """PDF/UA-1 needs a document title and alt text on every image: fail before compiling,
    naming the chart, rather than with Typst's message about an anonymous element."""
    if not model.title.strip() or not model.month_label.strip():
        raise ValueError("the report needs a title and a month label (PDF/UA-1 document title)")
    for number, chart in enumerate(model.charts, start=1):
        if not chart.alt.strip():
            raise ValueError(
                f"chart {number} ({chart.indicator}, {chart.title!r}) has no alt text; "
                "PDF/UA-1 requires alt text for every chart"
            )


def _language(tag: str) -> tuple[str, str | None]:
    """ "en-GB" -> ("en", "GB"), as Typst's ``text(lang:, region:)`` wants them."""
    lang, _, region = tag.partition("-")
    return lang.lower(), (region.upper() or None)


def _payload(model: ReportModel, chart_files: list[str]) -> dict[str, Any]:
    """The model as the template reads it, plus what only the PDF needs under ``pdf``."""
    data = model.to_json_ready()
    for chart in data["charts"]:
        chart.pop("svg", None)  # in its own file, named in pdf.chart_files
    lang, region = _language(model.language)
    data["pdf"] = {
        "title": document_title(model),
        "lang": lang,
        "region": region,
        "chart_files": chart_files,
    }
    return data


def _stage(model: ReportModel, folder: Path, template_dir: Path) -> Path:
    """Fill ``folder`` (the Typst root): the template folder's files and the data."""
    template = template_dir / TEMPLATE
    if not template.is_file():
        raise ConfigError(f"{template_dir}: no {TEMPLATE} (the PDF template)")
    shutil.copytree(
        template_dir,
        folder / TEMPLATE_DIR,
        ignore=shutil.ignore_patterns(".*", "__pycache__"),
    )
    data_dir = folder / DATA_DIR
    data_dir.mkdir()
    chart_files = []
    for number, chart in enumerate(model.charts, start=1):
        name = f"chart-{number:02d}.svg"
        (data_dir / name).write_text(chart.svg, encoding="utf-8")
        chart_files.append(f"/{DATA_DIR}/{name}")
    (data_dir / DATA_FILE).write_text(
        json.dumps(_payload(model, chart_files), ensure_ascii=False, indent=1, default=str),
        encoding="utf-8",
    )
    return folder / TEMPLATE_DIR / TEMPLATE


def compile_pdf(
    model: ReportModel, *, template_dir: Path, font_paths: Sequence[Path] = ()
) -> bytes:
    """The PDF's bytes (see ``render_pdf``)."""
    check_accessible(model)
    with tempfile.TemporaryDirectory(prefix="safeguard-pdf-") as tmp:
        root = Path(tmp)
        source = _stage(model, root, template_dir)
        try:
            pdf, warnings = typst.compile_with_warnings(
                str(source),
                root=str(root),
                font_paths=[str(path) for path in font_paths],
                ignore_system_fonts=True,
                sys_inputs={"data": f"/{DATA_DIR}/{DATA_FILE}"},
                pdf_standards=PDF_STANDARDS,
                timestamp=creation_timestamp(model),
                format="pdf",
            )
        except typst.TypstError as exc:
            raise ConfigError(
                f"{template_dir / TEMPLATE}: Typst could not make the PDF: {exc.message}"
                + "".join(f"\n  hint: {hint}" for hint in exc.hints)
            ) from exc
    for warning in warnings:
        # The template lists fonts in order of preference; missing ones are expected.
        level = logging.DEBUG if warning.message.startswith("unknown font") else logging.WARNING
        log.log(level, "typst: %s", warning.message)
    return pdf


def render_pdf(
    model: ReportModel,
    out: Path,
    *,
    template_dir: Path,
    font_paths: Sequence[Path] = (),
) -> Path:
    """Write the paper to ``out`` as a tagged PDF/UA-1 file and return ``out``.

    ``template_dir`` holds ``paper.typ`` (the project's templates folder, or a council's own);
    its other files (a logo, say) are available to the template. ``font_paths`` are folders of
    extra fonts, for a council's house font; by default only Typst's bundled fonts are used.
    Raises ``ValueError`` when a chart has no alt text or the report no title, and
    ``ConfigError`` when the template is missing or Typst rejects it. The file is written
    atomically: a reader sees the old file or the new one, never half of one.
    """
    pdf = compile_pdf(model, template_dir=template_dir, font_paths=font_paths)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pdf", dir=out.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(pdf)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


__all__ = ["compile_pdf", "creation_timestamp", "document_title", "render_pdf"]
