"""``safeguard check-config``: the whole configuration checked without any data."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from safeguard.errors import ConfigError
from safeguard.project import Project


@dataclass(frozen=True)
class ConfigCheck:
    tables: int
    indicators: int
    mappings: int
    authority: str
    demo: bool
    formats: tuple[str, ...]
    audience: str
    overridden: tuple[str, ...]  # the project's own files used instead of packaged ones


def check_config(project: Project) -> ConfigCheck:
    """Load every configuration file, check the returns' mappings against the contract and
    render the HTML and PDF templates with sample figures; raise ConfigError on a problem."""
    from safeguard.ingest.sources import FORMATS, ssd
    from safeguard.ingest.sources.base import mapping_problems
    from safeguard.report.html import render_html
    from safeguard.report.pdf import render_pdf
    from safeguard.report.sample import sample_model

    contract = project.contract
    catalogue = project.catalogue
    authority = project.authority
    settings = project.settings
    problems = [
        problem for name in FORMATS for problem in mapping_problems(project.mapping(name), contract)
    ]
    # the SSD export is a monthly extract, not a return, so it is not among FORMATS
    problems += ssd.ssd_mapping_problems(ssd.load_ssd_mapping(project.pipelines), contract)
    if problems:
        raise ConfigError("pipelines/sources: " + "; ".join(problems))
    templates = project.template_dirs
    with tempfile.TemporaryDirectory() as scratch:
        model = sample_model(3)
        try:
            render_html(model, Path(scratch) / "p.html", template_dirs=templates)
        except Exception as exc:
            raise ConfigError(f"templates/paper.html.j2 does not render: {exc}") from exc
        typst = next(d for d in templates if (d / "paper.typ").is_file())
        render_pdf(model, Path(scratch) / "p.pdf", template_dir=typst)
    overridden = tuple(
        sorted(
            path.relative_to(project.config_dir).as_posix()
            for path in project.config_dir.rglob("*.yaml")
            if path.name not in ("authority.yaml", "monthly.yaml")
            and project.config_dir != project.pipelines.folders[-1]
        )
    )
    return ConfigCheck(
        tables=len(contract.tables),
        indicators=len(catalogue.indicators),
        mappings=len(FORMATS),
        authority=authority.name,
        demo=authority.demo,
        formats=tuple(settings.formats),
        audience=settings.audience,
        overridden=overridden,
    )
