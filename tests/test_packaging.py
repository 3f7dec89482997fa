"""The wheel carries the packaged defaults: the repository's own pipelines/ and templates/."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from safeguard.defaults import Layers, packaged
from tests.conftest import ROOT


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(path.parent.relative_to(ROOT / "src").parts)
        for path in (ROOT / "src").rglob("__init__.py")
    }
    listed = set(config["packages"])
    assert found <= listed, sorted(found - listed)
    mapped = {"pipelines", "pipelines.sources", "templates"}
    assert listed - found == {f"safeguard.defaults.{name}" for name in mapped}


def test_the_checkout_is_the_packaged_defaults() -> None:
    assert packaged("pipelines") == ROOT / "pipelines"
    assert packaged("templates") == ROOT / "templates"


def test_layers_take_the_first_file_that_exists(tmp_path: Path) -> None:
    own = tmp_path / "own"
    (own / "sources").mkdir(parents=True)
    (own / "sources" / "cin-xml.yaml").write_text("x: 1\n")
    layers = Layers((own, packaged("pipelines")))
    assert layers / "sources/cin-xml.yaml" == own / "sources" / "cin-xml.yaml"
    assert layers / "sources/ssda903.yaml" == ROOT / "pipelines" / "sources" / "ssda903.yaml"
    assert layers / "nowhere.yaml" == own / "nowhere.yaml"  # a message names the project's
    assert layers.origin("sources/cin-xml.yaml") == "project"
    assert layers.origin("extracts.yaml") == "packaged"


def test_the_wheel_holds_every_default_file(tmp_path: Path) -> None:
    """Build the wheel as pip would (no network: the build backend is already installed)."""
    pytest.importorskip("setuptools")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("safeguard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("pipelines", "templates"):
        for path in (ROOT / kind).rglob("*"):
            if path.is_file():
                relative = path.relative_to(ROOT / kind).as_posix()
                assert f"safeguard/defaults/{kind}/{relative}" in names, relative
    assert "safeguard/defaults/__init__.py" in names
