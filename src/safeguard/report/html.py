"""The HTML paper: one self-contained accessible file (charts inline as SVG images)."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)

from safeguard.errors import ConfigError
from safeguard.report.model import ChartPoint, ReportModel, ScoreRow

ARROWS = {"up": "\N{UPWARDS ARROW}", "down": "\N{DOWNWARDS ARROW}", "level": "\N{RIGHTWARDS ARROW}"}
TONE_WORDS = {"good": "better", "bad": "worse"}


def stage_groups(rows: Sequence[ScoreRow]) -> list[tuple[str, list[ScoreRow]]]:
    """The dashboard's rows in runs of one journey stage, in the order they come."""
    groups: list[tuple[str, list[ScoreRow]]] = []
    for row in rows:
        if groups and groups[-1][0] == row.stage:
            groups[-1][1].append(row)
        else:
            groups.append((row.stage, [row]))
    return groups


def icon_class(key: str) -> str:
    """A Making Data Count icon's colour class: improvement, concern, neutral or common."""
    if key in ("consistently_pass",) or key.startswith("improvement"):
        return "improvement"
    if key in ("consistently_fail",) or key.startswith("concern"):
        return "concern"
    if key.startswith("neutral"):
        return "neutral"
    return "common"


def note_of(rows: Sequence[ScoreRow], number: int) -> str:
    """What the definitions add for row ``number``: its comparators' year and its note."""
    row = next((r for r in rows if r.footnote == number), None)
    if row is None:
        return ""
    parts = [f"Comparators: {row.comparator_year}." if row.comparator_year else "", row.note]
    return "".join(f" {part}" for part in parts if part)


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
    env.filters["groupby_stage"] = stage_groups
    env.filters["arrow"] = lambda way: ARROWS.get(way, "")
    env.filters["tone_word"] = lambda tone, way: TONE_WORDS.get(tone) or way
    env.filters["icon_class"] = icon_class
    env.filters["note_of"] = note_of
    return env


def render_html(model: ReportModel, out: Path, *, template_dirs: list[Path]) -> Path:
    """Render the HTML paper. A template that does not parse, names a field the model lacks,
    or fails while rendering is a configuration error naming the template and its line."""
    try:
        html = environment(template_dirs).get_template("paper.html.j2").render(model=model)
    except TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name}, line {exc.lineno}"
        raise ConfigError(f"the HTML template {where} does not parse: {exc.message}") from None
    except TemplateNotFound as exc:
        folders = ", ".join(str(folder) for folder in template_dirs)
        raise ConfigError(f"no HTML template {exc.name} in {folders}") from None
    except TemplateError as exc:  # StrictUndefined: a field the model does not have
        raise ConfigError(
            f"the HTML template paper.html.j2 could not be rendered: {exc.message} (a council "
            "template written for another version of safeguard? compare it with the packaged "
            "templates/paper.html.j2)"
        ) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".html", dir=out.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(html)
    os.replace(tmp, out)
    return out


__all__ = ["ChartPoint", "render_html"]
