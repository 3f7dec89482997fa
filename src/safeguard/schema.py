"""The extract contract as typed configuration: ``pipelines/extracts.yaml`` and ``codes.yaml``.

The YAML declares every table, column, type, code list, alias and rule code; the ingest engine
holds no column names of its own. Unknown keys are rejected and every problem is listed with its
file and key path.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from safeguard.defaults import ConfigFolder
from safeguard.errors import ConfigError
from safeguard.models import StrictModel

EXTRACTS_FILE = "extracts.yaml"
CODES_FILE = "codes.yaml"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ColumnType(StrEnum):
    ID = "id"
    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"
    FLAG = "flag"
    CODE = "code"
    INTEGER = "integer"
    NUMBER = "number"


# The checks a column can fail, by their local (kebab-case) rule code. A column may map a check
# to a DfE rule number in ``rules:``; the check then reports under that number.
ColumnCheck = Literal[
    "required-value",
    "invalid-date",
    "invalid-datetime",
    "invalid-flag",
    "invalid-code",
    "invalid-number",
    "out-of-range",
    "duplicate-id",
    "after-extract-month",
    "before-return-year",  # a census date before the return's year (opt-in: a code in rules)
    "reference-not-found",
]


class Column(StrictModel):
    """One column of an extract table."""

    type: ColumnType
    required: bool = False
    description: str = ""
    aliases: tuple[str, ...] = Field(default=(), description="Annex A headings for this field")
    codes: str | None = Field(default=None, description="name of a code list in codes.yaml")
    references: str | None = Field(default=None, description="table whose id this column holds")
    minimum: float | None = None
    maximum: float | None = None
    future_ok: bool = Field(default=False, description="may be dated after the extract month")
    person_id: bool = Field(default=False, description="holds a child's id: never printed")
    rules: dict[ColumnCheck, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _codes_only_for_code_type(self) -> Column:
        if (self.type is ColumnType.CODE) != (self.codes is not None):
            raise ValueError("a column has 'codes' exactly when its type is 'code'")
        return self

    def rule(self, check: ColumnCheck) -> str:
        return self.rules.get(check, check)


class DateOrder(StrictModel):
    """``later`` must not be before ``earlier`` (same row)."""

    rule: str
    earlier: str
    later: str
    severity: Severity = Severity.ERROR
    strictly_after: bool = False
    meaning: str


class Together(StrictModel):
    """``columns`` are given together or all left blank (same row), e.g. an episode's end
    date and its reason for ending (SSDA903 rule 148)."""

    rule: str
    columns: tuple[str, ...] = Field(min_length=2)
    severity: Severity = Severity.ERROR
    meaning: str


class DateOrderAcross(StrictModel):
    """``column`` must not be before ``not_before`` of the row of ``table`` that ``via`` names."""

    rule: str
    column: str
    via: str
    table: str
    not_before: str
    severity: Severity = Severity.ERROR
    strictly_after: bool = False
    meaning: str


class Table(StrictModel):
    """One CSV file of a monthly extract."""

    file: str
    id: str
    description: str = ""
    columns: dict[str, Column]
    date_order: tuple[DateOrder, ...] = ()
    date_order_across: tuple[DateOrderAcross, ...] = ()
    together: tuple[Together, ...] = ()
    # the columns that name the same record wherever it comes from (the child and the date it
    # started): a monthly extract's row supersedes a statutory return's row with the same key
    natural_key: tuple[str, ...] = ()
    # the date a record comes into being: a database read as at a month's end leaves out the
    # rows starting after it (None: every row is kept, as for the children and the workforce)
    starts: str | None = None

    @model_validator(mode="after")
    def _names_exist(self) -> Table:
        names = set(self.columns)
        wanted = [self.id, *self.natural_key, *(c for t in self.together for c in t.columns)]
        wanted += [self.starts] if self.starts is not None else []
        for order in self.date_order:
            wanted += [order.earlier, order.later]
        for across in self.date_order_across:
            wanted += [across.column, across.via]
        missing = sorted({name for name in wanted if name not in names})
        if missing:
            raise ValueError(f"names columns the table does not declare: {', '.join(missing)}")
        if not self.columns[self.id].required:
            raise ValueError(f"id column {self.id} must be required")
        if self.starts is not None and self.columns[self.starts].type not in (
            ColumnType.DATE,
            ColumnType.DATETIME,
        ):
            raise ValueError(f"starts names {self.starts}, which is not a date")
        return self


class CodeList(StrictModel):
    """Allowed codes, each with the labels (Annex A wording) that also mean it."""

    description: str = ""
    codes: dict[str, tuple[str, ...]]

    def lookup(self) -> dict[str, str]:
        """Upper-cased code or label -> canonical code."""
        table: dict[str, str] = {}
        for code, labels in self.codes.items():
            table[code.upper()] = code
            for label in labels:
                table[_normalise_label(label)] = code
        return table


def _normalise_label(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip()).upper()


class Contract(StrictModel):
    """The whole extract contract."""

    version: int
    tables: dict[str, Table]
    codes: dict[str, CodeList]
    # files a pipeline has chosen not to read (monthly.yaml `tables`): left unread, no warning
    skipped_files: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _cross_references(self) -> Contract:
        problems = []
        for tname, table in self.tables.items():
            for cname, column in table.columns.items():
                if column.codes is not None and column.codes not in self.codes:
                    problems.append(
                        f"tables.{tname}.columns.{cname}: unknown code list {column.codes}"
                    )
                if column.references is not None and column.references not in self.tables:
                    problems.append(
                        f"tables.{tname}.columns.{cname}: references unknown table "
                        f"{column.references}"
                    )
            for across in table.date_order_across:
                other = self.tables.get(across.table)
                if other is None or across.not_before not in other.columns:
                    problems.append(
                        f"tables.{tname}.date_order_across: {across.table}.{across.not_before} "
                        "is not declared"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def fingerprint(self) -> str:
        """A short hash of the whole contract: a changed rule means re-validating."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()[:16]

    def table_for_file(self, filename: str) -> str | None:
        for name, table in self.tables.items():
            if table.file.lower() == filename.lower():
                return name
        return None


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


ModelT = TypeVar("ModelT", bound=BaseModel)


def load_model(path: Path, model: type[ModelT], *, optional: bool = False) -> ModelT:
    """A YAML file validated as ``model``; every problem listed as ``file: key.path: msg``.
    An ``optional`` file that is absent gives the model's defaults."""
    if optional and not path.is_file():
        return model()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from exc


def format_validation_error(source: str, exc: ValidationError) -> str:
    """Every problem on its own line as ``file: key.path: message``."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{source}: {where}: {error['msg']}")
    return "\n".join(lines)


def load_contract(pipelines: ConfigFolder) -> Contract:
    """Load and check the extract contract from a pipelines folder."""
    extracts = _read_yaml(pipelines / EXTRACTS_FILE)
    codes = _read_yaml(pipelines / CODES_FILE)
    if not isinstance(extracts, dict) or not isinstance(codes, dict):
        raise ConfigError(f"{pipelines}: {EXTRACTS_FILE} and {CODES_FILE} must each hold a mapping")
    try:
        return Contract.model_validate({**extracts, "codes": codes})
    except ValidationError as exc:
        source = f"{pipelines / EXTRACTS_FILE} (+ {CODES_FILE})"
        raise ConfigError(format_validation_error(source, exc)) from exc
