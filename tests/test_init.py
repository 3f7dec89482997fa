"""safeguard init: a council's project folder from DfE's and ONS's published files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.indicators.catalogue import Authority
from safeguard.init import monthly_yaml
from safeguard.project import open_project
from tests.conftest import SHARED

DFE = SHARED / "reference" / "dfe"
needs_shared = pytest.mark.skipif(
    not DFE.is_dir(), reason="needs DfE's published files in ../shared/reference/dfe"
)


@needs_shared
def test_init_fills_the_authority_from_the_published_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["init", "hereford", "--la-code", "884"],
        env={"SAFEGUARD_REFERENCE_URL": DFE.as_uri()},
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("The project for Herefordshire, County of is in hereford:")
    assert "Reference files: 10 held, 0 to download by hand, 0 failed." in result.output
    root = tmp_path / "hereford"
    for folder in ("pipelines", "templates", "reference", "data/raw", "data/processed", "reports"):
        assert (root / folder).is_dir(), folder
    assert (root / "data" / "processed").stat().st_mode & 0o077 == 0
    data = yaml.safe_load((root / "pipelines" / "authority.yaml").read_text())
    authority = Authority.model_validate(data)  # unknown keys would be refused
    # Herefordshire: 884 / E06000019, West Midlands; mid-2015 population 35,276 (the
    # reference README's check value); ten statistical neighbours
    assert (authority.la_code, authority.new_la_code) == ("884", "E06000019")
    assert authority.region_name == "West Midlands"
    assert authority.population.children_0_17[2015] == 35276
    assert len(authority.neighbours) == 10 and not authority.demo
    assert (root / "pipelines" / "monthly.yaml").read_text() == monthly_yaml()
    readme = (root / "README.md").read_text()
    assert "-m safeguard --project" in readme and f"{root} run" in readme
    # the project works from inside, with the packaged contract and catalogue
    monkeypatch.chdir(root / "data")
    project = open_project(cwd=Path.cwd(), environ={}, options={})
    assert project.root == root and len(project.catalogue.indicators) == 44
    assert project.authority.reference_dir == root / "reference"
    # running init again keeps what is there
    again = CliRunner().invoke(
        cli,
        ["init", str(root), "--la-name", "herefordshire"],
        env={"SAFEGUARD_REFERENCE_URL": DFE.as_uri()},
    )
    assert again.exit_code == 0, again.output
    assert "kept pipelines/authority.yaml (already there)" in again.output
    assert "Reference files" not in again.output  # already held: nothing fetched


def test_init_without_the_files_it_needs_says_how_to_add_them(tmp_path: Path) -> None:
    empty = tmp_path / "mirror"
    empty.mkdir()
    result = CliRunner().invoke(
        cli,
        ["init", str(tmp_path / "council"), "--la-code", "884"],
        env={"SAFEGUARD_REFERENCE_URL": empty.as_uri()},
    )
    assert result.exit_code == 1, result.output
    assert "could not fetch" in result.output
    assert "safeguard reference add FILE" in result.output
    assert not (tmp_path / "council" / "pipelines" / "authority.yaml").exists()


def test_init_needs_one_way_of_naming_the_authority(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "council")])
    assert result.exit_code == 2
    assert "--la-code" in result.output
