"""The HTML paper: one self-contained accessible file (charts inline as SVG images)."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from safeguard.report.model import ChartPoint, ReportModel


def environment(template_dirs: list[Path]) -> Environment:
    """Templates fail loudly (StrictUndefined); a council's own folder comes first."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(folder)) for folder in template_dirs]),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["b64"] = lambda text: base64.b64encode(text.encode("utf-8")).decode("ascii")
    env.filters["points_row"] = lambda p: (p.month, p.value, p.note)
    return env


def render_html(model: ReportModel, out: Path, *, template_dirs: list[Path]) -> Path:
    html = environment(template_dirs).get_template("paper.html.j2").render(model=model)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".html", dir=out.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(html)
    os.replace(tmp, out)
    return out


__all__ = ["ChartPoint", "render_html"]
