"""What validate and ingest read (``ingest.target.resolve``): one resolver for both commands,
each rule pinned with a hand-made folder, and the CLI's usage errors from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.errors import ConfigError
from safeguard.ingest.target import MonthlyExtract, StatutoryReturn, resolve
from safeguard.periods import Month
from safeguard.settings import Settings
from tests.conftest import PIPELINES

OCT = Month(2015, 10)
URL = "sqlite:///reporting.db"


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """data/raw holding October 2015's extract (one file) and a folder not named a month."""
    (tmp_path / "raw" / "2015-10").mkdir(parents=True)
    (tmp_path / "raw" / "2015-10" / "contacts.csv").write_text("cont_contact_id\n1\n")
    (tmp_path / "raw" / "latest").mkdir()
    return tmp_path / "raw"


def _settings(raw: Path, database: str | None = None) -> Settings:
    return Settings(raw_dir=raw, database=database)


@pytest.mark.parametrize("checking", [True, False])
def test_an_extract_folder_or_month_names_the_same_extract(raw: Path, checking: bool) -> None:
    """PATH alone (its name is the month), --month alone (the raw folder of the month: for
    validate too, as for ingest), or both when they agree."""
    settings = _settings(raw)
    want = MonthlyExtract(raw / "2015-10", OCT)
    assert resolve(settings, raw / "2015-10", None, None, "auto", checking=checking) == want
    assert resolve(settings, None, OCT, None, "auto", checking=checking) == want
    assert resolve(settings, raw / "2015-10", OCT, None, "extract", checking=checking) == want
    # a folder not named YYYY-MM takes its month from --month
    assert resolve(settings, raw / "latest", OCT, None, "auto", checking=checking) == (
        MonthlyExtract(raw / "latest", OCT)
    )


@pytest.mark.parametrize(
    ("path", "month", "message"),
    [
        (None, None, "give an extract folder, or --month YYYY-MM"),
        (None, Month(2015, 9), "no extract folder .*2015-09 for --month 2015-09"),
        ("latest", None, "cannot tell the month of .*latest: name the folder YYYY-MM"),
        ("2015-10", Month(2015, 9), "--month 2015-09 disagrees with the folder name 2015-10"),
    ],
)
def test_an_extract_that_cannot_be_named_is_a_usage_error(
    raw: Path, path: str | None, month: Month | None, message: str
) -> None:
    for checking in (True, False):
        with pytest.raises(ConfigError, match=message):
            resolve(
                _settings(raw), raw / path if path else None, month, None, "auto", checking=checking
            )


def test_one_file_of_an_extract_is_checked_alone_but_never_loaded_alone(raw: Path) -> None:
    file = raw / "2015-10" / "contacts.csv"
    assert resolve(_settings(raw), file, None, None, "auto", checking=True) == (
        MonthlyExtract(file, OCT)
    )
    with pytest.raises(ConfigError, match="is a file but not a CIN census"):
        resolve(_settings(raw), file, None, None, "auto", checking=False)


def test_year_and_replace_are_for_returns(raw: Path) -> None:
    settings = _settings(raw)
    with pytest.raises(ConfigError, match=r"^--year is for a statutory return"):
        resolve(settings, raw / "2015-10", None, 2016, "auto", checking=True)
    with pytest.raises(ConfigError, match=r"^--year and --replace are for a statutory return"):
        resolve(settings, raw / "2015-10", None, None, "auto", checking=False, replace=True)


def test_a_return_takes_its_year_from_year_or_month(raw: Path, tmp_path: Path) -> None:
    """A return's reader gets the 31 March of --year (April 2021 to March 2022 for 2022),
    --month as given, or nothing (the years the return holds)."""
    folder = tmp_path / "ssda903"
    folder.mkdir()
    settings = _settings(raw)
    assert resolve(settings, folder, None, None, "ssda903", checking=False) == (
        StatutoryReturn(folder, "ssda903", None)
    )
    assert resolve(settings, folder, None, 2022, "ssda903", checking=True) == (
        StatutoryReturn(folder, "ssda903", Month(2022, 3))
    )
    # November 2021 is in the collection year ending March 2022
    assert resolve(settings, folder, Month(2021, 11), 2022, "ssda903", checking=False) == (
        StatutoryReturn(folder, "ssda903", Month(2022, 3))
    )
    with pytest.raises(ConfigError, match="--month 2022-04 is not in the collection year"):
        resolve(settings, folder, Month(2022, 4), 2022, "ssda903", checking=False)
    with pytest.raises(ConfigError, match="--format ssda903 needs the return's file or folder"):
        resolve(settings, None, None, None, "ssda903", checking=False)


def test_a_database_reads_the_month_with_local_tables_beside_it(raw: Path) -> None:
    """With a database, PATH (or the raw folder of --month, when there is one) holds the
    local tables; a return, a file, --year, or no month at all is a usage error."""
    settings = _settings(raw, URL)
    found = resolve(settings, None, OCT, None, "auto", checking=False)
    assert isinstance(found, MonthlyExtract) and found.database is not None
    assert (found.folder, found.month, found.database.url) == (raw / "2015-10", OCT, URL)
    # no raw folder for the month: the database alone
    alone = resolve(settings, None, Month(2015, 9), None, "auto", checking=True)
    assert (alone.folder, alone.month) == (None, Month(2015, 9))
    for path, month, year, format_name, message in [
        (None, None, None, "auto", "--database needs --month YYYY-MM"),
        (None, OCT, None, "cin-xml", "--database reads the SSD's tables as a monthly extract"),
        ("2015-10/contacts.csv", None, None, "auto", "is a file: with --database, PATH is"),
        (None, OCT, 2016, "auto", "--year and --replace are for a statutory return"),
    ]:
        with pytest.raises(ConfigError, match=message):
            resolve(
                settings, raw / path if path else None, month, year, format_name, checking=False
            )


def test_validate_reads_the_raw_folder_of_month(raw: Path, tmp_path: Path) -> None:
    """``validate --month M`` checks data/raw/M, as ``ingest --month M`` loads it (it asked
    for a folder before); a command line it cannot read is a usage error (exit 2)."""
    runner = CliRunner()
    base = ["--pipelines", str(PIPELINES), "validate", "--raw-dir", str(raw)]
    result = runner.invoke(cli, [*base, "--month", "2015-10"])
    assert result.exit_code == 1, result.output  # contacts.csv alone: person.csv is missing
    assert "contacts.csv" in result.output
    result = runner.invoke(cli, [*base[:-2]])
    assert result.exit_code == 2, result.output
    assert "give an extract folder, or --month YYYY-MM" in result.output
