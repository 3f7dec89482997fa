"""What ``safeguard validate`` or ``ingest`` is to read, from its PATH, --month, --year,
--format and the settings: a monthly extract (a folder, one of its files, or the SSD in a
reporting database with a folder of local tables beside it) or a statutory return.

One resolver for both commands, so they read the same things the same way; they differ only
where checking differs from loading (``checking``): ``validate`` may check one file of an
extract, and never needs a --replace. A command line that cannot be read raises
``ConfigError`` (exit 2) saying what to give instead; nothing is read here but the names of
paths and, to tell a return from an extract, the start of PATH (``detect``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from safeguard.errors import ConfigError
from safeguard.ingest.sources.database import Database, database_of
from safeguard.periods import Month
from safeguard.settings import Settings

EXTRACT = "extract"
AUTO = "auto"
_NOT_FOR_EXTRACTS = {  # checking -> the message for --year (or --replace) with an extract
    True: "--year is for a statutory return; a monthly extract has --month",
    False: "--year and --replace are for a statutory return; a monthly extract has --month, "
    "and a re-delivered month replaces the one held",
}


@dataclass(frozen=True)
class MonthlyExtract:
    """A monthly extract closing ``month``: ``folder`` is its folder (or, checking, one of its
    files), or with ``database`` the folder of local tables beside it (None: none)."""

    folder: Path | None
    month: Month
    database: Database | None = None


@dataclass(frozen=True)
class StatutoryReturn:
    """A statutory return at ``path`` in ``format_name``; ``month`` is what its reader is
    given (the 31 March of --year, or --month), or None to take the years it holds."""

    path: Path
    format_name: str
    month: Month | None


def resolve(
    settings: Settings,
    path: Path | None,
    month: Month | None,
    year: int | None,
    format_name: str,
    *,
    checking: bool,
    replace: bool = False,
) -> MonthlyExtract | StatutoryReturn:
    """What to read. Without PATH, a monthly extract is the raw folder of --month (or, with
    a database, the database as at --month's end); a PATH whose content is a CIN census, a
    SSDA903 folder or an Annex A workbook (or whose --format says so) is a return."""
    from safeguard.ingest.sources import detect

    database = database_of(settings)
    if database is not None:  # the SSD from the database; PATH holds local tables
        target = _from_database(settings, database, path, month, format_name)
        if year is not None or replace:
            raise ConfigError(_NOT_FOR_EXTRACTS[checking])
        return target
    if format_name == AUTO and path is not None:
        format_name = detect(path) or EXTRACT
    if format_name not in (AUTO, EXTRACT):
        if path is None:
            raise ConfigError(f"--format {format_name} needs the return's file or folder")
        return StatutoryReturn(path, format_name, return_month(month, year))
    if year is not None or replace:
        raise ConfigError(_NOT_FOR_EXTRACTS[checking])
    if path is not None and path.is_file():
        if not checking:
            raise ConfigError(
                f"{path} is a file but not a CIN census, SSDA903 table or Annex A workbook: "
                "give a monthly extract's folder (or name the format with --format)"
            )
        # one table of an extract, checked alone: its folder names the month
        _, month = extract_folder(path.parent, month, path.parent.parent)
        return MonthlyExtract(path, month)
    folder, month = extract_folder(path, month, settings.raw_dir)
    return MonthlyExtract(folder, month)


def _from_database(
    settings: Settings,
    database: Database,
    path: Path | None,
    month: Month | None,
    format_name: str,
) -> MonthlyExtract:
    """The database, the folder of local tables beside it (PATH, or the raw folder of
    --month when there is one) and the month."""
    if format_name not in (AUTO, EXTRACT):
        raise ConfigError(
            "--database reads the SSD's tables as a monthly extract; a statutory return is a "
            "file or folder (leave out --database)"
        )
    if path is not None and path.is_file():
        raise ConfigError(f"{path} is a file: with --database, PATH is a folder of local tables")
    if path is None:
        if month is None:
            raise ConfigError(
                "--database needs --month YYYY-MM: the month whose end the extract is read at"
            )
        folder = settings.raw_dir / str(month)
        return MonthlyExtract(folder if folder.is_dir() else None, month, database)
    folder, month = extract_folder(path, month, settings.raw_dir)
    return MonthlyExtract(folder, month, database)


def extract_folder(path: Path | None, month: Month | None, raw_dir: Path) -> tuple[Path, Month]:
    """The extract folder and its month, from a path (named YYYY-MM), --month, or both."""
    if path is None:
        if month is None:
            raise ConfigError("give an extract folder, or --month YYYY-MM")
        path = raw_dir / str(month)
        if not path.is_dir():
            raise ConfigError(f"no extract folder {path} for --month {month}")
        return path, month
    try:
        named = Month.parse(path.name)
    except ValueError:
        named = None
    if month is None:
        if named is None:
            raise ConfigError(
                f"cannot tell the month of {path}: name the folder YYYY-MM or pass --month"
            )
        return path, named
    if named is not None and named != month:
        raise ConfigError(f"--month {month} disagrees with the folder name {path.name}")
    return path, month


def return_month(month: Month | None, year: int | None) -> Month | None:
    """The month a return's reader is given: --year's 31 March, or --month (they must agree)."""
    if year is None:
        return month
    if month is not None and (month.year if month.month <= 3 else month.year + 1) != year:
        raise ConfigError(
            f"--month {month} is not in the collection year --year {year} names "
            f"(April {year - 1} to March {year}): give one of them"
        )
    return Month(year, 3)
