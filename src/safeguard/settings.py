"""Every setting of the tool in one model, with one precedence for every command:

    command-line option  >  SAFEGUARD_<NAME> environment variable
                         >  the project's pipelines/monthly.yaml  >  the built-in default

``resolve_settings`` takes the three sources as plain data (the CLI passes the options it
was given and ``os.environ``; the library never reads the environment itself) and returns the
effective settings with where each value came from, which ``safeguard config show`` prints.
Relative paths in monthly.yaml are relative to the project folder; relative paths given on the
command line or in the environment are relative to the working folder, as a shell user expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, field_validator

from safeguard.errors import ConfigError
from safeguard.models import StrictModel
from safeguard.schema import format_validation_error, load_model

PIPELINE_FILE = "monthly.yaml"
ENV_PREFIX = "SAFEGUARD_"

Format = Literal["pdf", "docx", "html", "data"]


class Settings(StrictModel):
    """The effective options of a project (the keys of pipelines/monthly.yaml)."""

    # a refused value is never echoed (a database URL may hold a password)
    model_config = StrictModel.model_config | {"hide_input_in_errors": True}

    raw_dir: Path = Field(
        default=Path("data/raw"), description="where extract folders named YYYY-MM arrive"
    )
    processed_dir: Path = Field(default=Path("data/processed"), description="the processed store")
    reports_dir: Path = Field(default=Path("reports"), description="where papers are written")
    reference_dir: Path = Field(
        default=Path("reference"),
        description="DfE and ONS published files (safeguard reference update)",
    )
    reference_url: str | None = Field(
        default=None,
        description="a mirror of the reference files (file:// or http://), for offline councils",
    )
    log_file: Path = Field(
        default=Path("data/logs/safeguard.log"),
        description="the log: counts and rule codes, never a child's id",
    )
    run_log: Path = Field(
        default=Path("data/logs/runs.jsonl"), description="one JSON line per safeguard run"
    )
    audience: Literal["public", "internal"] = Field(default="public", description="who reads it")
    detail: Literal["summary", "full"] = Field(
        default="summary",
        description="summary: charts six a page; full: a chart and its data table a page",
    )
    formats: tuple[Format, ...] = Field(
        default=("pdf", "docx", "html", "data"), description="the paper's outputs"
    )
    strict: bool = Field(default=False, description="any validation problem refuses an extract")
    max_quarantine: float = Field(
        default=0.01,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="refuse a file when more of its rows have errors (a share, 0 to 1)",
    )
    encoding: str | None = Field(default=None, description="extracts' encoding (default UTF-8)")
    tables: tuple[str, ...] | None = Field(
        default=None, description="extract tables to ingest (default: every table present)"
    )
    indicators: tuple[str, ...] | None = Field(
        default=None, description="indicators in the paper (default: the whole catalogue)"
    )
    templates: Path | None = Field(
        default=None, description="a council's own templates folder, used before templates/"
    )
    reference_docx: Path | None = Field(
        default=None, description="a Word document whose styles the DOCX paper uses"
    )
    database: str | None = Field(
        default=None,
        description="the SSD's reporting database (a URL, no password: "
        "SAFEGUARD_DATABASE_PASSWORD)",
    )
    database_schema: str | None = Field(
        default=None, description="the schema holding the SSD's tables (default: the login's)"
    )

    @field_validator("database")
    @classmethod
    def _no_password(cls, url: str | None) -> str | None:
        if url is not None:
            from safeguard.ingest.sources.database import check_url

            try:
                check_url(url)
            except ConfigError as problem:
                raise ValueError(problem.message) from None
        return url


PATHS = tuple(
    name for name, field in Settings.model_fields.items() if field.annotation in (Path, Path | None)
)

Source = str  # "option", "environment (SAFEGUARD_X)", "pipelines/monthly.yaml" or "default"


@dataclass(frozen=True)
class Effective:
    """The settings in force and, for each, where its value came from."""

    settings: Settings
    sources: dict[str, Source]

    def rows(self) -> list[tuple[str, Any, Source]]:
        return [
            (name, getattr(self.settings, name), self.sources[name])
            for name in Settings.model_fields
        ]


def env_name(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings given as SAFEGUARD_* variables, validated one by one (lists comma-separated)."""
    found: dict[str, Any] = {}
    problems = []
    for name, field in Settings.model_fields.items():
        text = environ.get(env_name(name))
        if text is None or text == "":
            continue
        raw: Any = text
        if name in ("formats", "tables", "indicators"):
            raw = tuple(part.strip() for part in text.split(",") if part.strip())
        # the field's own constraints too (a share in [0, 1], finite), not only its type
        kind: Any = (
            Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
        )
        try:
            found[name] = TypeAdapter[Any](kind).validate_python(raw)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            problems.append(f"{env_name(name)}={text!r}: {message}")
    if problems:
        raise ConfigError("; ".join(problems))
    return found


def _file_values(pipelines_file: Path) -> dict[str, Any]:
    if not pipelines_file.is_file():
        return {}
    loaded = load_model(pipelines_file, Settings)
    return {name: getattr(loaded, name) for name in loaded.model_fields_set}


def resolve_settings(
    project: Path,
    pipelines_file: Path,
    *,
    options: Mapping[str, Any],
    environ: Mapping[str, str],
    cwd: Path,
) -> Effective:
    """The settings in force: ``options`` (the command line; None means not given) over
    ``environ`` over ``pipelines_file`` over the defaults, with every relative path made
    absolute (the file's from ``project``, the others' from ``cwd``)."""
    values: dict[str, Any] = {}
    sources: dict[str, Source] = dict.fromkeys(Settings.model_fields, "default")
    file_label = f"{pipelines_file.parent.name}/{pipelines_file.name}"
    layers: list[tuple[dict[str, Any], Path, Any]] = [
        (_file_values(pipelines_file), project, lambda _name: file_label),
        (from_environment(environ), cwd, lambda name: f"environment ({env_name(name)})"),
        (
            {k: v for k, v in options.items() if v is not None and v != ()},
            cwd,
            lambda _name: "option",
        ),
    ]
    for given, base, label in layers:
        for name, value in given.items():
            if name in PATHS and isinstance(value, Path) and not value.is_absolute():
                value = base / value
            values[name] = value
            sources[name] = label(name)
    for name in PATHS:  # defaults are relative to the project
        value = values.get(name, Settings.model_fields[name].default)
        if isinstance(value, Path) and not value.is_absolute():
            values[name] = project / value
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(format_validation_error("settings", exc)) from exc
    return Effective(settings, sources)
