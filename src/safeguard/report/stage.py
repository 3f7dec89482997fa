"""The report stage: the month's committee paper in every format, written atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from safeguard.errors import ConfigError
from safeguard.indicators.catalogue import Authority, Catalogue
from safeguard.indicators.stage import publish_series, write_indicators
from safeguard.periods import Month
from safeguard.private import private_folder
from safeguard.report.build import build_model
from safeguard.report.chart_worker import PARALLEL_FROM, Workers, workers
from safeguard.report.narrative import load_narrative
from safeguard.store import Store, new_month_folder, recover_month_folders

FORMATS = ("html", "pdf", "docx", "data")
NARRATIVE = "narrative.yaml"


def write_report(
    processed: Path,
    reports: Path,
    catalogue: Catalogue,
    authority: Authority,
    month: Month,
    *,
    audience: str = "public",
    narrative: Path | None = None,
    template_dirs: list[Path],
    formats: tuple[str, ...] = FORMATS,
    reference_docx: Path | None = None,
    detail: str = "summary",
) -> Path:
    """Compute the indicators, build the paper and replace ``reports/<month>/`` whole."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ConfigError(f"unknown format(s) {', '.join(unknown)}; choose from {FORMATS}")
    final = reports / str(month)
    kept = final / NARRATIVE
    source = narrative if narrative is not None else kept
    if narrative is not None and not narrative.is_file():
        raise ConfigError(f"--narrative {narrative}: no such file")
    # one writer at a time: the store's lock also guards the reports folder
    with Store(processed).locked():
        recover_month_folders(reports)
        # chart workers boot (importing matplotlib) while the indicators are computed
        many = len(catalogue.indicators) >= PARALLEL_FROM
        with Workers(workers() if many else 0) as started:
            written = write_indicators(processed, catalogue, authority, month)
            model, appendix = build_model(
                processed,
                written,
                catalogue,
                authority,
                month,
                load_narrative(source),
                audience,
                detail=detail,
                workers=started,
            )
        private_folder(reports)  # a new reports folder is owner-only, as its papers are
        with new_month_folder(final) as tmp:
            if kept.is_file():
                shutil.copy2(kept, tmp / NARRATIVE)
            if "html" in formats:
                from safeguard.report.html import render_html

                render_html(model, tmp / "paper.html", template_dirs=template_dirs)
            if "pdf" in formats:
                from safeguard.report.pdf import render_pdf

                render_pdf(
                    model, tmp / "paper.pdf", template_dir=_first_with(template_dirs, "paper.typ")
                )
            if "docx" in formats:
                from safeguard.report.docx import render_docx

                render_docx(model, tmp / "paper.docx", reference_docx=reference_docx)
            if "data" in formats:
                from safeguard.report.workbook import write_analyst_outputs

                write_analyst_outputs(
                    tmp,
                    figures=appendix.figures,
                    card=written.scorecard,
                    series=written.computed.series,
                    catalogue=catalogue,
                    authority=authority,
                    month=month,
                    audience=audience,
                    by_team=appendix.by_team,
                    withheld=appendix.withheld,
                    breakdowns=model.breakdowns,
                )
        publish_series(written)  # what next month's paper restates against
    return final


def _first_with(folders: list[Path], name: str) -> Path:
    for folder in folders:
        if (folder / name).is_file():
            return folder
    raise ConfigError(f"no {name} in the template folders {', '.join(map(str, folders))}")
