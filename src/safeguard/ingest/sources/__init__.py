"""Readers for the statutory returns a council already has: CIN census XML, SSDA903 CSV
tables and Ofsted Annex A workbooks, converted into the monthly extract contract's tables.

Each reader module has ``FORMAT``, ``sniff(path)`` (a cheap look at the content) and
``read(path, mapping, month=)``; the mapping is ``pipelines/sources/<FORMAT>.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from safeguard.ingest.sources import annex_a, cin_xml, ssda903
from safeguard.ingest.sources.base import Converted, SourceMapping
from safeguard.periods import Month

READERS: dict[str, ModuleType] = {m.FORMAT: m for m in (cin_xml, ssda903, annex_a)}
FORMATS = tuple(READERS)


def detect(path: Path) -> str | None:
    """The return format of ``path`` judged by its content, or None (a monthly extract)."""
    for name, reader in READERS.items():
        if reader.sniff(path):
            return name
    return None


def read_return(
    path: Path, mapping: SourceMapping, *, month: Month | None = None
) -> list[Converted]:
    """Read a return with its declared mapping; ``FileProblem`` when it cannot be used."""
    converted: list[Converted] = READERS[mapping.format].read(path, mapping, month=month)
    return converted
