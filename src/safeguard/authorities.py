"""A council's ``pipelines/authority.yaml`` for ``safeguard init``, from the published files.

``authority_settings`` finds the authority by its old three-digit DfE code (``884``), its ONS
code (``E06000019``) or its name (case, spaces and punctuation ignored: "herefordshire",
"Herefordshire, County of"), and builds the settings the ``Authority`` model reads:

* name, codes and region: the authority's latest row in DfE's copy of the ONS mid-year
  population estimates (``ons_mid-year_population_estimates_2012_to_2024.csv``, an EES file);
* ``population.children_0_17``: the same file's 0-17 estimate for each mid-year it publishes
  (``2015: 35276`` is mid-2015, which DfE uses for the reporting year ending March 2016);
* ``neighbours``: the ten statistical neighbours, closest first, from the newest neighbour
  file held (the May 2025 model, else the April 2021 groupings).

``authority_yaml`` writes those settings as YAML with a comment on each value saying where
it came from. Nothing here reads the clock, and no message names a folder on this machine.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from safeguard.errors import ConfigError, DataError

__all__ = [
    "NEIGHBOUR_FILES",
    "NEIGHBOUR_PUBLISHED",
    "POPULATION_FILE",
    "authority_settings",
    "authority_yaml",
    "normalise_name",
]

POPULATION_FILE = "ons_mid-year_population_estimates_2012_to_2024.csv"
NEIGHBOUR_FILES: tuple[tuple[str, str], ...] = (
    ("sn_model_2025_wide.csv", "May 2025 model"),
    ("New_Statistical_Neighbour_Groupings_April_2021.csv", "April 2021 groupings"),
)
"""Statistical neighbour files, newest first, with the model each holds."""
NEIGHBOUR_PUBLISHED: Mapping[str, tuple[int, int]] = {
    "sn_model_2025_wide.csv": (2025, 5),
    "New_Statistical_Neighbour_Groupings_April_2021.csv": (2021, 4),
}
"""When DfE published each model (year, month): a paper uses the newest model published by
its month, and the oldest held before that (the April 2021 groupings for earlier papers)."""

CHILDREN = "Children aged 0 to 17 years"
UPDATE = "run `safeguard reference update` (or `safeguard reference add FILE`)"
_OLD_CODE = re.compile(r"^\d{3}$")
_NEW_CODE = re.compile(r"^E\d{8}$")


@dataclass(frozen=True)
class _Place:
    code: str
    new_code: str | None
    name: str
    region_code: str | None
    region_name: str | None
    latest: bool  # in the file's latest year (a current authority)


def normalise_name(name: str) -> str:
    """A name for matching: lower case, accents and punctuation gone, "&" read as "and".
    ``"Herefordshire, County of"`` -> ``"herefordshire county of"``."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = text.lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _keys(name: str) -> set[str]:
    """The forms a user may type: the whole name and the part before a comma or bracket
    ("Herefordshire, County of" -> "herefordshire"; "Bristol, City of" -> "bristol")."""
    keys = {normalise_name(name)}
    short = re.split(r"[,(]", name, maxsplit=1)[0]
    if short.strip():
        keys.add(normalise_name(short))
    return {key for key in keys if key}


def _places(frame: pl.DataFrame) -> dict[str, _Place]:
    """Every local authority of the population file, as its latest row describes it."""
    needed = {"time_period", "geographic_level", "old_la_code", "la_name"}
    if not needed <= set(frame.columns):
        raise DataError(f"{POPULATION_FILE}: no {sorted(needed - set(frame.columns))} column")
    las = frame.filter(pl.col("geographic_level").str.to_lowercase() == "local authority")
    las = las.filter(pl.col("old_la_code").is_not_null())
    if las.is_empty():
        raise DataError(f"{POPULATION_FILE}: no local authority rows")
    latest_year = las.select(pl.col("time_period").max()).item()
    places: dict[str, _Place] = {}
    for row in las.sort("time_period").iter_rows(named=True):
        places[str(row["old_la_code"])] = _Place(
            code=str(row["old_la_code"]),
            new_code=_text(row.get("new_la_code")),
            name=str(row["la_name"]),
            region_code=_text(row.get("region_code")),
            region_name=_text(row.get("region_name")),
            latest=row["time_period"] == latest_year,
        )
    return places


def _text(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _by_code(places: Mapping[str, _Place], code: str) -> _Place:
    wanted = code.strip().upper()
    if _OLD_CODE.match(wanted):
        if wanted in places:
            return places[wanted]
    elif _NEW_CODE.match(wanted):
        found = [place for place in places.values() if place.new_code == wanted]
        if found:
            return max(found, key=lambda place: place.latest)
    else:
        raise ConfigError(
            f"LA code {code!r}: give DfE's three-digit code (884) or the ONS code (E06000019)"
        )
    raise ConfigError(f"no local authority {wanted} in the published population estimates")


def _by_name(places: Mapping[str, _Place], name: str) -> _Place:
    wanted = normalise_name(name)
    if not wanted:
        raise ConfigError("give the authority's name (or its code)")
    exact = [place for place in places.values() if wanted in _keys(place.name)]
    current = [place for place in exact if place.latest] or exact
    if len(current) == 1:
        return current[0]
    if current:
        raise ConfigError(
            f"{name!r} matches several authorities: {_listing(current)}; give the code instead"
        )
    close = _close(places, wanted)
    hint = f"; did you mean {_listing(close)}?" if close else ""
    raise ConfigError(f"no local authority called {name!r} in the population estimates{hint}")


def _close(places: Mapping[str, _Place], wanted: str) -> list[_Place]:
    """Names containing what was typed, then names that look like it (closest first)."""
    containing = [
        place for place in places.values() if any(wanted in key for key in _keys(place.name))
    ]
    by_key = {key: place for place in places.values() for key in _keys(place.name)}
    similar = [by_key[key] for key in difflib.get_close_matches(wanted, list(by_key), n=5)]
    found: dict[str, _Place] = {}
    for place in (*containing, *similar):
        found.setdefault(place.code, place)
    return list(found.values())[:8]


def _listing(places: Sequence[_Place]) -> str:
    return ", ".join(f"{place.name} ({place.code})" for place in places)


def _series(frame: pl.DataFrame, code: str) -> dict[int, int]:
    from safeguard.indicators.comparators import population

    people = population(frame, code)
    return {
        int(mid_year): int(count)
        for mid_year, count in people.select("mid_year", "population").rows()
        if mid_year is not None and count is not None
    }


def _neighbours(
    reference_dir: Path, code: str
) -> tuple[tuple[str, ...], str | None, str | None, list[str]]:
    """(neighbour codes, source, file, notes) from the newest neighbour file listing ``code``."""
    from safeguard.indicators.comparators import load_neighbours

    notes: list[str] = []
    for file, model in NEIGHBOUR_FILES:
        path = reference_dir / file
        if not path.is_file():
            notes.append(f"{file} is not held")
            continue
        try:
            table = load_neighbours(path)
        except DataError as error:
            raise DataError(str(error.message).replace(str(path), file)) from None
        mine = table.filter((pl.col("la_code") == code) & ~pl.col("superseded")).sort("position")
        if mine.is_empty():
            notes.append(f"{code} is not in {file}")
            continue
        codes = tuple(str(neighbour) for neighbour in mine["neighbour_code"])
        return codes, f"DfE statistical neighbours, {model} ({file})", file, notes
    return (), None, None, notes


def authority_settings(
    reference_dir: Path, *, la_code: str | None = None, la_name: str | None = None
) -> dict[str, Any]:
    """The content of a council's ``pipelines/authority.yaml`` (the ``Authority`` model's
    keys except ``reference_dir``, which is a project setting) for the authority with
    ``la_code`` (``884`` or ``E06000019``) or ``la_name``, from the reference folder."""
    from safeguard.indicators.comparators import read_ees_csv

    if (la_code is None) == (la_name is None):
        raise ConfigError("give the authority's code or its name (one of them)")
    path = reference_dir / POPULATION_FILE
    if not path.is_file():
        raise ConfigError(
            f"the ONS population file {POPULATION_FILE} is not held: {UPDATE}, then try again"
        )
    try:
        frame = read_ees_csv(path)
    except DataError as error:
        raise DataError(str(error.message).replace(str(path), POPULATION_FILE)) from None
    if "age_group" in frame.columns:
        frame = frame.filter(pl.col("age_group") == CHILDREN)
    places = _places(frame)
    place = _by_code(places, la_code) if la_code is not None else _by_name(places, la_name or "")
    children = _series(frame, place.code)
    if not children:
        raise DataError(f"{POPULATION_FILE} publishes no 0-17 population for {place.name}")
    neighbours, source, file, _notes = _neighbours(reference_dir, place.code)
    settings: dict[str, Any] = {
        "name": place.name,
        "demo": False,
        "la_code": place.code,
        "new_la_code": place.new_code,
        "region_code": place.region_code,
        "region_name": place.region_name,
        "neighbours": list(neighbours),
        "neighbours_source": source,
        "population": {
            "vintage": f"ONS mid-year estimates of children aged 0 to 17, as DfE publishes "
            f"them ({POPULATION_FILE})",
            "children_0_17": dict(sorted(children.items())),
        },
        "closures": [],
        "neighbours_file": file,
    }
    return settings


# --------------------------------------------------------------------------- YAML


def _scalar(value: Any) -> str:
    """A YAML scalar: strings double-quoted (JSON's escapes are YAML's), so codes such as
    "884" stay text; numbers, booleans and null as YAML writes them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def _line(key: str, value: Any, comment: str = "", indent: str = "") -> str:
    text = f"{indent}{key}: {_scalar(value)}"
    return f"{text:<34} # {comment}" if comment else text


def authority_yaml(settings: Mapping[str, Any]) -> str:
    """``settings`` (from ``authority_settings``) as ``pipelines/authority.yaml`` text, each
    value commented with where it came from. ``yaml.safe_load`` of the text gives back
    ``settings``."""
    known = {
        "name",
        "demo",
        "la_code",
        "new_la_code",
        "region_code",
        "region_name",
        "neighbours",
        "neighbours_source",
        "population",
        "closures",
        "neighbours_file",
    }
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(f"authority settings: unexpected keys {unknown}")
    population = settings.get("population") or {}
    vintage = str(population.get("vintage", ""))
    source_file = POPULATION_FILE if POPULATION_FILE in vintage else "the population file"
    neighbours = list(settings.get("neighbours") or [])
    lines = [
        "# The authority the reports are for, written by `safeguard init` from DfE's published",
        "# files (see the comment on each value). Check it; edit freely: unknown keys are refused.",
        f"# Name, codes and region: the authority's latest row in {source_file}.",
        _line("name", settings.get("name"), "DfE's name for it; the paper's council name"),
        _line("demo", bool(settings.get("demo", False)), "a real council, not the synthetic demo"),
        _line("la_code", settings.get("la_code"), "DfE's old LA code: the comparators' key"),
        _line("new_la_code", settings.get("new_la_code"), "ONS nine-character code"),
        _line("region_code", settings.get("region_code"), "ONS region code"),
        _line("region_name", settings.get("region_name"), "the regional comparator"),
    ]
    source = settings.get("neighbours_source")
    if neighbours:
        lines.append(
            "# Statistical neighbours (old LA codes), closest first, from the file named below."
        )
        lines.append(f"neighbours: [{', '.join(_scalar(code) for code in neighbours)}]")
    else:
        lines.append(
            "# No statistical neighbour file listing this authority is held: the neighbour "
            "comparators"
        )
        lines.append(
            "# are not available until one is (`safeguard reference add FILE`) or the codes "
            "are listed here."
        )
        lines.append("neighbours: []")
    lines.append(_line("neighbours_source", source))
    lines += [
        "population:",
        "  # A rate for a date in financial year Y/Y+1 uses the mid-Y estimate (DfE's convention).",
        _line("vintage", vintage, indent="  "),
        f"  children_0_17:                   # mid-year: children aged 0 to 17, {source_file}",
    ]
    children = population.get("children_0_17") or {}
    lines += [f"    {int(year)}: {int(count)}" for year, count in children.items()]
    closures = list(settings.get("closures") or [])
    shown = ", ".join(str(day) for day in closures)
    lines.append(
        f"{'closures: [' + shown + ']':<34} # closure days (YYYY-MM-DD): not working days "
        "for any timescale"
    )
    lines.append(
        _line(
            "neighbours_file",
            settings.get("neighbours_file"),
            "the neighbour table used for each neighbour's closeness",
        )
    )
    return "\n".join(lines) + "\n"
