"""A council's project folder, found as git finds a repository, and loaded once.

Layout (``safeguard init`` makes it)::

    <project>/
      pipelines/          authority.yaml, monthly.yaml; any packaged file placed here
                          (extracts.yaml, codes.yaml, indicators.yaml, reference.yaml,
                          sources/*.yaml) is used instead of the packaged one, file by file
      templates/          a council's own templates, file by file over the packaged ones
      reference/          DfE and ONS published files (safeguard reference update)
      data/raw/YYYY-MM/   the monthly extracts as they arrive
      data/processed/     the store (owner-only)
      reports/YYYY-MM/    the papers

Invariants: the project is the ``--project`` folder, else ``SAFEGUARD_PROJECT``, else the
working folder or its nearest parent holding ``pipelines/``; nothing is read from the working
folder otherwise. Every setting has one precedence (see ``safeguard.settings``). Configuration
is read lazily but once per ``Project``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safeguard.defaults import Layers, packaged
from safeguard.errors import ConfigError
from safeguard.settings import PIPELINE_FILE, Effective, Settings, resolve_settings

if TYPE_CHECKING:
    from safeguard.indicators.catalogue import Authority, Catalogue
    from safeguard.ingest.sources.base import SourceMapping
    from safeguard.schema import Contract

PIPELINES = "pipelines"
TEMPLATES = "templates"


class NotAProject(ConfigError):
    """No project folder here or above, and none named."""


def find_project(cwd: Path, named: Path | None) -> Path:
    """The project folder: ``named`` (an option or SAFEGUARD_PROJECT) or the working folder's
    nearest ancestor-or-self holding ``pipelines/``."""
    if named is not None:
        root = (cwd / named).resolve()
        if not (root / PIPELINES).is_dir():
            raise NotAProject(
                f"{named} is not a safeguard project (it has no pipelines/ folder): make one "
                f"with `safeguard init {named} --la-code NNN`"
            )
        return root
    for folder in (cwd.resolve(), *cwd.resolve().parents):
        if (folder / PIPELINES).is_dir():
            return folder
    raise NotAProject(
        "not in a safeguard project (no pipelines/ folder here or in any folder above): make "
        "one with `safeguard init DIR --la-code NNN` (or --la-name), then work in DIR or give "
        "--project DIR"
    )


@dataclass(frozen=True)
class Project:
    """Everything a command needs from a project: its paths, settings and configuration."""

    root: Path
    config_dir: Path  # the project's own pipelines/ folder
    effective: Effective

    @property
    def settings(self) -> Settings:
        return self.effective.settings

    @property
    def pipelines(self) -> Layers:
        return Layers((self.config_dir, packaged("pipelines")))

    @property
    def template_dirs(self) -> list[Path]:
        """A council's templates setting, the project's templates/, the packaged ones."""
        dirs = [self.settings.templates, self.root / TEMPLATES, packaged("templates")]
        return [d for d in dirs if d is not None and d.is_dir()]

    @cached_property
    def contract(self) -> Contract:
        from safeguard.schema import load_contract

        return load_contract(self.pipelines)

    @cached_property
    def catalogue(self) -> Catalogue:
        from safeguard.indicators.catalogue import load_catalogue

        return load_catalogue(self.pipelines)

    @cached_property
    def authority(self) -> Authority:
        """The authority, its reference folder the project's setting."""
        from safeguard.indicators.catalogue import load_authority

        authority = load_authority(self.pipelines)
        if authority.reference_dir is not None:
            raise ConfigError(
                f"{self.pipelines / 'authority.yaml'}: reference_dir: moved to monthly.yaml "
                "(or SAFEGUARD_REFERENCE_DIR); the default is the project's reference/ folder"
            )
        return authority.model_copy(update={"reference_dir": self.settings.reference_dir})

    def mapping(self, format_name: str) -> SourceMapping:
        from safeguard.ingest.sources.base import load_mapping

        return load_mapping(self.pipelines, format_name)


def open_project(
    *,
    cwd: Path,
    environ: Mapping[str, str],
    options: Mapping[str, Any],
    project: Path | None = None,
    pipelines: Path | None = None,
) -> Project:
    """The project found from ``cwd`` (or named), its settings resolved.

    ``project`` is the ``--project`` folder (or SAFEGUARD_PROJECT); ``pipelines`` names the
    configuration folder directly (``--pipelines``), the project then being its parent.
    """
    if pipelines is not None:
        config_dir = (cwd / pipelines).resolve()
        if not config_dir.is_dir():
            raise NotAProject(f"--pipelines {pipelines}: no such folder")
        root = config_dir.parent if project is None else (cwd / project).resolve()
    else:
        root = find_project(cwd, project)
        config_dir = root / PIPELINES
    effective = resolve_settings(
        root, config_dir / PIPELINE_FILE, options=options, environ=environ, cwd=cwd
    )
    return Project(root=root, config_dir=config_dir, effective=effective)
