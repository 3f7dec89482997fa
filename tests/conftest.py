"""Shared fixtures: the project's contract, extract folders written from inline CSV text."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.demo.generate import mark_demo_folder
from safeguard.periods import Month
from safeguard.schema import Contract, load_contract

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ROOT / "pipelines"
EXAMPLES = ROOT / "examples" / "mini"
SHARED = ROOT.parent / "shared"

WriteExtract = Callable[..., Path]


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(PIPELINES)


def csv_text(text: str) -> str:
    """Dedent an inline CSV and end it with a newline."""
    return textwrap.dedent(text).strip("\n") + "\n"


@pytest.fixture
def write_extract(tmp_path: Path) -> WriteExtract:
    """``write_extract("2015-10", contacts="...csv...")`` -> the extract folder.

    Keyword names are table file stems; values are CSV text (dedented) or raw bytes.
    """

    def write(month: str = "2015-10", root: Path | None = None, **files: str | bytes) -> Path:
        folder = (root or tmp_path / "raw") / month
        folder.mkdir(parents=True, exist_ok=True)
        mark_demo_folder(folder.parent)  # synthetic: no demo-project warning in Demoshire
        for stem, content in files.items():
            path = folder / f"{stem}.csv"
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(csv_text(content), encoding="utf-8")
        return folder

    return write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


OCT = Month(2015, 10)


@pytest.fixture(autouse=True)
def _log_to_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the default log file (data/logs/safeguard.log) out of the working tree, and use
    DfE's published files from ../shared (when beside the checkout) as the reference data."""
    monkeypatch.setenv("SAFEGUARD_LOG_FILE", str(tmp_path / "logs" / "safeguard.log"))
    for name in (
        "SAFEGUARD_PROJECT",
        "SAFEGUARD_PIPELINES",
        "SAFEGUARD_REFERENCE_URL",
        "SAFEGUARD_DATABASE",
        "SAFEGUARD_DATABASE_SCHEMA",
        "SAFEGUARD_DATABASE_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    if (SHARED / "reference" / "dfe").is_dir():
        monkeypatch.setenv("SAFEGUARD_REFERENCE_DIR", str(SHARED / "reference" / "dfe"))


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """examples/mini/2015-10 as the SSD exports it, and the same records in the contract's form
    without what the SSD cannot say (``tests/test_source_ssd.py``'s ``to_ssd``)."""
    from tests.test_source_ssd import to_ssd

    root = tmp_path_factory.mktemp("ssd")
    ssd_folder, contract_folder = root / "ssd" / "2015-10", root / "contract" / "2015-10"
    to_ssd(EXAMPLES / "2015-10", ssd_folder, contract_folder)
    return ssd_folder, contract_folder


def report(store: Path, reports: Path, *args: str) -> str:
    """``safeguard report --month 2015-10`` on ``store`` into ``reports``; its output (exit 0)."""
    result = CliRunner().invoke(
        cli,
        [
            "--pipelines",
            str(PIPELINES),
            "report",
            "--month",
            "2015-10",
            "--processed-dir",
            str(store),
            "--reports-dir",
            str(reports),
            *args,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output
