"""The contract in pipelines/ says what the published spec says (read from ../shared)."""

from __future__ import annotations

import re

import pytest

from safeguard.schema import Contract
from tests.conftest import SHARED

SPEC = SHARED / "spec" / "extracts.md"
pytestmark = pytest.mark.skipif(
    not SPEC.is_file(), reason="../shared/spec/extracts.md is not beside this checkout"
)


def spec_columns() -> dict[str, bool]:
    """Every column the spec lists, with whether it is required (R) or optional (O)."""
    tables = SPEC.read_text(encoding="utf-8").split("## Tables", 1)[1].split("## Reference data")[0]
    found = re.findall(r"`([a-z0-9_]+)`\s+([RO])\b", tables)
    assert len(found) > 100, "the spec's column list could not be read"
    return {name: flag == "R" for name, flag in found}


def test_every_spec_column_is_declared_with_the_same_requiredness(contract: Contract) -> None:
    declared = {
        name: column.required
        for table in contract.tables.values()
        for name, column in table.columns.items()
    }
    assert declared == spec_columns()


def test_every_spec_file_is_a_table(contract: Contract) -> None:
    text = SPEC.read_text(encoding="utf-8")
    files = set(re.findall(r"^### ([a-z0-9_]+\.csv)", text, flags=re.M))
    files |= set(re.findall(r"^### [a-z0-9_]+\.csv, ([a-z0-9_]+\.csv)", text, flags=re.M))
    assert files == {table.file for table in contract.tables.values()}
