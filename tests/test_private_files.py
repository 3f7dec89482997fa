"""Issue 15 item 11: every file safeguard creates that may hold or point to a child's record
is owner-only from its first byte, and so is every folder it creates for them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.store import LOCK, OWNER, Store
from tests.conftest import EXAMPLES, PIPELINES, report

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_reports_explain_files_and_lock_files_are_owner_only(tmp_path: Path) -> None:
    os.umask(0o022)  # a usual umask: without care, new files would be 0644
    store = tmp_path / "processed"
    runner = CliRunner()
    for month in ("2015-09", "2015-10"):
        result = runner.invoke(
            cli,
            [
                "--pipelines", str(PIPELINES), "ingest", str(EXAMPLES / month),
                "--processed-dir", str(store),
                "--report-json", str(tmp_path / f"{month}.json"),
                "--report-csv", str(tmp_path / f"{month}.csv"),
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert mode(tmp_path / f"{month}.json") == mode(tmp_path / f"{month}.csv") == 0o600
    # an existing, world-readable file is made owner-only before it is written again
    (tmp_path / "records.csv").write_text("old")
    os.chmod(tmp_path / "records.csv", 0o644)
    explained = runner.invoke(
        cli,
        [
            "--pipelines", str(PIPELINES), "explain", "contacts_to_referral_pct", "--month",
            "2015-10", "--processed-dir", str(store), "--csv", str(tmp_path / "records.csv"),
        ],
    )  # fmt: skip
    assert explained.exit_code == 0, explained.output
    assert mode(tmp_path / "records.csv") == 0o600
    assert (tmp_path / "records.csv").read_text().startswith("month,record,")
    with Store(store).locked():
        assert mode(store / LOCK) == mode(store / OWNER) == 0o600
    reports = tmp_path / "new" / "reports"
    report(store, reports, "--format", "html")
    assert mode(reports) == mode(tmp_path / "new") == 0o700
    assert mode(reports / "2015-10" / "paper.html") == 0o600
