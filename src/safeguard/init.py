"""``safeguard init``: a council's project folder, and the demo's own.

A project holds the council's settings (``pipelines/authority.yaml``, ``pipelines/monthly.yaml``)
and its data; everything else (contract, code lists, catalogue, mappings, templates) is the
packaged default until the council places its own file of the same name in ``pipelines/`` or
``templates/``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from safeguard.defaults import packaged
from safeguard.errors import ConfigError, DataError
from safeguard.settings import ENV_PREFIX, PIPELINE_FILE, Settings

AUTHORITY_FILE = "authority.yaml"
FOLDERS = ("pipelines", "templates", "reference", "data/raw", "data/processed", "reports")
PRIVATE = ("data/processed",)  # children's records: owner-only


@dataclass
class InitOutcome:
    root: Path
    authority: str
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    reference: Any = None  # the reference update's outcome, when one ran
    crontab: str = ""


def monthly_yaml() -> str:
    """``pipelines/monthly.yaml`` with every setting commented out at its default."""
    lines = [
        "# The project's settings. Uncomment a line to change it. For every command:",
        f"# command-line option > {ENV_PREFIX}<NAME> environment variable > this file > default.",
        "# Relative paths are relative to the project folder. `safeguard config show` prints",
        "# the settings in force and where each came from.",
    ]
    for name, spec in Settings.model_fields.items():
        default = spec.default
        if isinstance(default, Path):
            default = default.as_posix()
        shown = yaml.safe_dump(
            {name: list(default) if isinstance(default, tuple) else default},
            default_flow_style=True,
            width=200,
        ).strip()[1:-1]
        lines.append(f"# {shown:<40} # {spec.description}")
    return "\n".join(lines) + "\n"


def readme(name: str, root: Path, crontab: str) -> str:
    return f"""# {name}: children's safeguarding performance data

This folder is a `safeguard` project. Run every command here (or give `--project {root}`).

| folder | what |
|---|---|
| `pipelines/authority.yaml` | the authority: codes, region, neighbours, 0-17 population |
| `pipelines/monthly.yaml` | settings (all commented out at their defaults) |
| `pipelines/`, `templates/` | a file placed here replaces the packaged one of the same name |
| `reference/` | DfE and ONS files: `safeguard reference update` (or `reference add FILE`) |
| `data/raw/YYYY-MM/` | each month's extract, as the case management system exports it |
| `data/processed/` | the store (children's records: readable by you only; never share it) |
| `reports/YYYY-MM/` | the committee papers |

Each month:

```sh
safeguard validate data/raw/2015-10   # check the extract, write nothing
safeguard run                         # ingest what is new, write the latest month's paper
```

The month's job for cron (exit 75 means another run held the lock; cron may try again):

```
{crontab}
```
"""


def init_project(
    directory: Path,
    *,
    la_code: str | None = None,
    la_name: str | None = None,
    reference_url: str | None = None,
    run_command: str = "safeguard",
) -> InitOutcome:
    """Make (or complete) a council's project folder in ``directory``.

    The authority's settings come from the DfE and ONS reference files: those already in
    ``directory/reference`` or, failing that, downloaded there (``reference_url`` a mirror).
    Files already in the folder are kept, never overwritten.
    """
    from safeguard import reference

    if (la_code is None) == (la_name is None):
        raise ConfigError("give the authority as --la-code (e.g. 884) or --la-name")
    root = directory.resolve()
    outcome = InitOutcome(root=root, authority="")
    _make_folders(root, outcome)
    spec = reference.load_reference_spec(packaged("pipelines") / reference.SPEC_FILE)
    reference_dir = root / "reference"
    needed = reference.INIT_FILES
    held = {entry.name for entry in reference.status(reference_dir, spec) if entry.held}
    if not set(needed) <= held:  # every declared file, best effort; init needs ``needed``
        outcome.reference = reference.update(reference_dir, spec, base_url=reference_url)
        held = {entry.name for entry in reference.status(reference_dir, spec) if entry.held}
        missing = sorted(set(needed) - held)
        if missing:
            raise DataError(
                f"could not fetch {', '.join(missing)}, which init needs for the authority's "
                "codes, neighbours and population. Download them by hand, then in the project "
                "`safeguard reference add FILE` for each and run this init again (or set "
                "SAFEGUARD_REFERENCE_URL to a mirror)"
            )
    settings = reference.authority_settings(reference_dir, la_code=la_code, la_name=la_name)
    outcome.authority = str(settings["name"])
    outcome.crontab = f"30 6 * * 1-5 {run_command} --project {root} run"
    _write_new(
        root / "pipelines" / AUTHORITY_FILE, reference.authority_yaml(settings), outcome, root
    )
    _write_new(root / "pipelines" / PIPELINE_FILE, monthly_yaml(), outcome, root)
    _write_new(root / "README.md", readme(outcome.authority, root, outcome.crontab), outcome, root)
    return outcome


def init_demo(directory: Path) -> InitOutcome:
    """Make the demo's own project folder: Demoshire's authority, commented settings."""
    root = directory.resolve()
    outcome = InitOutcome(root=root, authority="Demoshire")
    _make_folders(root, outcome)
    authority = (packaged("pipelines") / AUTHORITY_FILE).read_text(encoding="utf-8")
    _write_new(root / "pipelines" / AUTHORITY_FILE, authority, outcome, root)
    _write_new(root / "pipelines" / PIPELINE_FILE, monthly_yaml(), outcome, root)
    return outcome


def _make_folders(root: Path, outcome: InitOutcome) -> None:
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root.name} exists and is not a folder")
    for name in FOLDERS:
        folder = root / name
        if folder.is_dir():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        outcome.created.append(name + "/")
    for name in PRIVATE:
        os.chmod(root / name, 0o700)


def _write_new(path: Path, text: str, outcome: InitOutcome, root: Path) -> None:
    """Write ``path`` whole (through a temporary file) unless it exists: then keep it."""
    name = path.relative_to(root).as_posix()
    if path.exists():
        outcome.kept.append(name)
        return
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
    ) as handle:
        handle.write(text)
    os.replace(handle.name, path)
    outcome.created.append(name)


__all__ = ["InitOutcome", "init_demo", "init_project", "monthly_yaml"]
