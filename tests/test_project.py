"""Project folders: found like git finds a repository, files overriding the packaged ones,
one precedence of settings, and the demo's own project outside any."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.init import monthly_yaml
from safeguard.project import NotAProject, find_project, open_project
from tests.conftest import PIPELINES


def make_project(root: Path, **monthly: object) -> Path:
    """A project folder holding only its own authority.yaml (Demoshire's) and settings."""
    (root / "pipelines").mkdir(parents=True)
    (root / "pipelines" / "authority.yaml").write_text((PIPELINES / "authority.yaml").read_text())
    (root / "pipelines" / "monthly.yaml").write_text(yaml.safe_dump(monthly) if monthly else "")
    return root


def test_the_project_is_the_nearest_folder_above_holding_pipelines(tmp_path: Path) -> None:
    root = make_project(tmp_path / "council")
    deep = root / "data" / "raw" / "2015-10"
    deep.mkdir(parents=True)
    assert find_project(deep, None) == root.resolve()
    assert find_project(tmp_path, root) == root.resolve()  # named: --project
    with pytest.raises(NotAProject, match="safeguard init"):
        find_project(tmp_path, None)
    with pytest.raises(NotAProject, match="no pipelines/ folder"):
        find_project(tmp_path, tmp_path / "elsewhere")


def test_outside_a_project_commands_exit_2_naming_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command in (["status"], ["config", "show"], ["run"], ["report", "--month", "2015-10"]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 2, (command, result.output)
        assert "not in a safeguard project" in result.output
        assert "safeguard init" in result.output
    assert runner.invoke(cli, ["--help"]).exit_code == 0
    assert runner.invoke(cli, ["status", "--help"]).exit_code == 0


def test_commands_work_from_a_subfolder_with_the_projects_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "council", reports_dir="papers")
    (root / "data" / "raw").mkdir(parents=True)
    monkeypatch.chdir(root / "data" / "raw")
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"project: {root.resolve()}"
    # relative paths in monthly.yaml and the defaults are the project's, not the working folder's
    assert "reports_dir: papers  (pipelines/monthly.yaml)" in lines
    assert "processed_dir: data/processed  (default)" in lines
    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 0
    assert "The store data/processed is empty" in status.output


def test_a_projects_own_file_replaces_the_packaged_one(tmp_path: Path) -> None:
    root = make_project(tmp_path / "council")
    catalogue = yaml.safe_load((PIPELINES / "indicators.yaml").read_text())
    catalogue["indicators"] = {"contacts": catalogue["indicators"]["contacts"]}
    catalogue["breakdowns"] = {"by_source": catalogue["breakdowns"]["contacts_by_source"]}
    (root / "pipelines" / "indicators.yaml").write_text(yaml.safe_dump(catalogue))
    project = open_project(cwd=root, environ={}, options={})
    assert list(project.catalogue.indicators) == ["contacts"]  # the project's own
    assert len(project.contract.tables) == 16  # the packaged contract
    assert project.pipelines.origin("indicators.yaml") == "project"
    assert project.pipelines.origin("extracts.yaml") == "packaged"
    result = CliRunner().invoke(cli, ["--project", str(root), "check-config"])
    assert result.exit_code == 0, result.output
    assert "1 indicators" in result.output
    assert "used instead of the packaged ones: indicators.yaml" in result.output


def test_the_reference_folder_is_a_setting_not_an_authority_key(tmp_path: Path) -> None:
    root = make_project(tmp_path / "council")
    project = open_project(cwd=root, environ={}, options={})
    assert project.authority.reference_dir == root.resolve() / "reference"
    moved = open_project(cwd=root, environ={"SAFEGUARD_REFERENCE_DIR": "/srv/dfe"}, options={})
    assert moved.authority.reference_dir == Path("/srv/dfe")
    authority = root / "pipelines" / "authority.yaml"
    authority.write_text(authority.read_text() + "reference_dir: somewhere\n")
    result = CliRunner().invoke(cli, ["--project", str(root), "check-config"])
    assert result.exit_code == 2
    assert "reference_dir: moved to monthly.yaml" in result.output


def test_the_packaged_monthly_yaml_is_every_setting_commented_out() -> None:
    """One copy of the defaults: the Settings model; the file is made from it."""
    assert (PIPELINES / "monthly.yaml").read_text() == monthly_yaml()
    assert yaml.safe_load(monthly_yaml()) is None  # nothing set: all comments


def test_demo_outside_a_project_makes_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--months", "1", "--no-ingest"])
    assert result.exit_code == 0, result.output
    assert "made the demo's own, demoshire/" in result.output
    assert "to data/raw (2017-03 to 2017-03" in result.output
    made = tmp_path / "demoshire"
    assert yaml.safe_load((made / "pipelines" / "authority.yaml").read_text())["demo"] is True
    assert (made / "data" / "raw" / "2017-03" / "contacts.csv").is_file()
    assert (made / "data" / "processed").stat().st_mode & 0o077 == 0  # owner-only


def test_demo_refuses_a_real_councils_project(tmp_path: Path) -> None:
    root = make_project(tmp_path / "council")
    authority = root / "pipelines" / "authority.yaml"
    text = authority.read_text().replace("name: Demoshire", "name: Herefordshire")
    authority.write_text(text.replace("demo: true", "demo: false"))
    result = CliRunner().invoke(cli, ["--project", str(root), "demo", "--months", "1"])
    assert result.exit_code == 2
    assert "this project is for Herefordshire, not the Demoshire demo" in result.output
    assert not (root / "data" / "raw").exists()
