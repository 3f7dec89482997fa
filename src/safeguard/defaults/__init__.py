"""The packaged defaults: the repository's own top-level ``pipelines/`` and ``templates/``.

A wheel carries them here, as ``safeguard/defaults/pipelines`` and
``safeguard/defaults/templates`` (pyproject.toml maps the two folders into this package), so
there is one copy of each file: the repository's. An editable install (``make``) runs from the
checkout, where they are the folders beside ``src/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal, TypeAlias

Kind = Literal["pipelines", "templates"]


def packaged(kind: Kind) -> Path:
    """The folder of packaged ``pipelines`` or ``templates``."""
    wheel = Path(str(files(__name__))) / kind
    if wheel.is_dir():
        return wheel
    checkout = Path(__file__).resolve().parents[3] / kind
    if checkout.is_dir():
        return checkout
    raise RuntimeError(f"the packaged {kind} are missing from this installation of safeguard")


@dataclass(frozen=True)
class Layers:
    """Configuration folders searched in order, file by file: a project's own first, then the
    packaged defaults. ``layers / "sources/cin-xml.yaml"`` is the first that exists (or, when
    none does, the first folder's path, so a message names where the file belongs)."""

    folders: tuple[Path, ...]

    def __truediv__(self, name: str) -> Path:
        for folder in self.folders:
            if (folder / name).is_file():
                return folder / name
        return self.folders[0] / name

    def __str__(self) -> str:
        return str(self.folders[0])

    def origin(self, name: str) -> str:
        """Where ``name`` is read from: "project" or "packaged"."""
        return "project" if (self / name).is_relative_to(self.folders[0]) else "packaged"


ConfigFolder: TypeAlias = Path | Layers
"""What the configuration loaders read from: one folder, or layers of them."""
