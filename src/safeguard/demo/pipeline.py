"""The demo as one use case: write Demoshire's extracts, ingest them, compute a month's
indicators and write its paper. Returns what it did; the CLI prints it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from safeguard.errors import ConfigError, DataError
from safeguard.periods import Month
from safeguard.project import Project
from safeguard.schema import Severity

DEMO_FOLDER = "demoshire"
NARRATIVE = "demoshire-narrative.yaml"


@dataclass(frozen=True)
class ExtractProblems:
    extract: str
    problems: int
    rules: tuple[str, ...]
    quarantined: int


@dataclass
class DemoOutcome:
    written: list[Path] = field(default_factory=list)
    loaded: int = 0
    quarantined: int = 0
    warnings: int = 0
    problems: list[ExtractProblems] = field(default_factory=list)
    population: int | None = None
    headline: list[dict[str, object]] = field(default_factory=list)
    indicators: Path | None = None
    paper: Path | None = None


def run_demo(
    project: Project,
    *,
    seed: int,
    scale: float,
    first: Month,
    last: Month,
    month: Month,
    ingest: bool = True,
    report: bool = True,
    progress: Callable[[str], None] | None = None,
) -> DemoOutcome:
    """Simulate Demoshire and write its extracts ``first`` to ``last`` into the project's
    raw folder; then (``ingest``) load them, compute ``month`` and (``report``) its paper."""
    from safeguard.demo.generate import HEADLINE, check_demo_folder, demo_authority, generate
    from safeguard.ingest.stage import ingest as ingest_extract

    if first > last:
        raise ConfigError(f"--start {first} is after --end {last}")
    if not project.authority.demo:
        raise ConfigError(
            f"this project is for {project.authority.name}, not the Demoshire demo: run "
            "`safeguard demo` in an empty folder (it makes its own demoshire/ project)"
        )
    settings = project.settings
    contract = project.contract
    check_demo_folder(settings.raw_dir, "extracts")
    if ingest:
        check_demo_folder(settings.processed_dir, "a processed store")
    outcome = DemoOutcome()
    outcome.written = generate(
        settings.raw_dir, contract, seed=seed, scale=scale, first=first, last=last
    )
    if progress is not None:
        progress(f"Wrote {len(outcome.written)} monthly extracts of Demoshire")
    if not ingest:
        return outcome
    from safeguard.demo.generate import mark_demo_folder

    mark_demo_folder(settings.processed_dir)
    for folder in outcome.written:
        done = ingest_extract(folder, Month.parse(folder.name), contract, settings.processed_dir)
        if done.action == "refused":
            raise DataError(f"the demo extract {folder.name} was refused; this is a bug")
        found = done.report
        outcome.loaded += sum(t.loaded for t in found.tables.values())
        outcome.quarantined += found.quarantined
        outcome.warnings += found.count(Severity.WARNING)
        if found.issues.height:
            outcome.problems.append(
                ExtractProblems(
                    folder.name,
                    found.issues.height,
                    tuple(sorted(set(found.issues["rule"].to_list()))),
                    found.quarantined,
                )
            )
    if not first <= month <= last:
        return outcome
    from safeguard.indicators.engine import population_for
    from safeguard.indicators.stage import write_indicators

    authority = demo_authority(project.authority, scale)
    computed = write_indicators(settings.processed_dir, project.catalogue, authority, month)
    outcome.indicators = computed.folder
    used = population_for(month.first_day, authority)  # the rates' own estimate
    outcome.population = used.children if used is not None else None
    card = {row["indicator"]: row for row in computed.scorecard.iter_rows(named=True)}
    outcome.headline = [card[name] for name in HEADLINE]
    if not report:
        return outcome
    from safeguard.report.stage import FORMATS, write_report

    check_demo_folder(settings.reports_dir / str(month), "a paper")
    narrative = _narrative(project)
    outcome.paper = write_report(
        settings.processed_dir,
        settings.reports_dir,
        project.catalogue,
        authority,
        month,
        narrative=narrative,
        template_dirs=project.template_dirs,
        formats=FORMATS,
    )
    mark_demo_folder(outcome.paper)
    return outcome


def _narrative(project: Project) -> Path | None:
    """The demo meeting's narrative (the project's own copy, else the packaged one)."""
    found = project.pipelines / NARRATIVE
    return found if found.is_file() else None


__all__ = ["DEMO_FOLDER", "DemoOutcome", "run_demo"]
