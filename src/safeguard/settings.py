"""The monthly pipeline's settings (``pipelines/monthly.yaml``), validated, with the
precedence command line > ``SAFEGUARD_*`` environment > file > default (click applies the
first two; the file supplies the defaults it sees)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from safeguard.schema import load_model

PIPELINE_FILE = "monthly.yaml"


class Pipeline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_dir: Path = Path("data/raw")
    processed_dir: Path = Path("data/processed")
    reports_dir: Path = Path("reports")
    audience: Literal["public", "internal"] = "public"
    formats: tuple[Literal["pdf", "docx", "html", "data"], ...] = ("pdf", "docx", "html", "data")
    strict: bool = False
    max_quarantine: float = Field(default=0.01, ge=0, le=1)
    tables: tuple[str, ...] | None = Field(
        default=None, description="extract tables to ingest (default: every table present)"
    )
    indicators: tuple[str, ...] | None = Field(
        default=None, description="indicators in the paper (default: the whole catalogue)"
    )
    templates: Path | None = Field(
        default=None, description="a council's own templates, used before the project's"
    )


def load_pipeline(pipelines: Path) -> Pipeline:
    return load_model(pipelines / PIPELINE_FILE, Pipeline, optional=True)
