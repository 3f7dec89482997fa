"""Published DfE comparators for one measure: England, region, statistical neighbours,
national rank and quartile band, read from Explore Education Statistics (EES) CSV files.

Reading (``read_ees_csv``)
    Every column is read as text first (UTF-8, with or without a byte-order mark; quoted
    names such as ``"Herefordshire, County of"`` stay whole). Identifier columns
    (``time_period``, ``geographic_level``, ``old_la_code``, ``la_name``, other ``*_code`` /
    ``*_name`` columns ...) stay text. Every other column whose cells are all numbers or DfE
    symbols is a *measure*: it becomes ``Int64`` (all published numbers whole) or
    ``Float64``, and gets a parallel ``<column>__status`` text column:

    * null where a number was published (``0`` is a real, published zero);
    * the DfE symbol where one was published (``c``, ``k``, ``u``, ``x``, ``z``, ``low``,
      ``:`` or ``..``, lower-cased), the value being null;
    * ``blank`` for an empty cell, the value being null.

    A symbol is never turned into 0. ``REASONS`` says what each status means. Any other
    column (``category``, ``population_type``, ``cla_group`` ...) is a text filter column.

Time periods
    ``time_period`` stays exactly as published. The files seen so far all write reporting
    years as four digits (``2016`` = the year ending 31 March 2016 for CIN and CLA; the
    30 September census of that year for the workforce file); six-digit periods are
    financial or academic years (``201516``). ``period_label`` gives DfE's written form:
    ``"2016"`` or ``"2015-16"``. ``comparators(year=...)`` accepts either form as
    published and never converts one kind into the other.

Comparisons (``comparators``)
    One row per geography is needed: files with filter columns (``population_type``,
    ``cla_group`` ...) need ``filters``. The statistical-neighbour mean and median use the
    neighbours with a value (``sn_count`` of ``sn_total``); LAIT reports the mean, DfE's
    outcomes dashboard the median. Rank is among all local authorities with a value,
    1 = highest, ties share the best rank. Quartile bands follow LAIT's "high" banding on
    R's default (type 7) quartiles of those values: A above the upper quartile, B above the
    median, C above the lower quartile, D the rest. A and 1 mean *highest*, not best: apply
    the indicator's polarity when colouring, or ask ``rank_for`` / ``quartile_for``: with
    ``"lower"`` (lower is better) 1 and A mean *lowest* (LAIT's "low" banding, a value on a
    cut taking the worse band), with ``"higher"`` highest, with ``"neutral"`` highest
    (neither is better).

Rates from counts (``per_10000``)
    DfE's "per 10,000 children" is a count over the ONS mid-year estimate of children aged
    0 to 17 of the same geography, times 10,000. Where a file publishes counts only (CP
    plans at 31 March in d5, referrals in c1, children in need in b1), ``per_10000`` makes
    the rate for every row (England, each region, each authority) from DfE's copy of the
    ONS estimates: a reporting year ``2016`` (to 31 March 2016) and a financial year
    ``201516`` both take mid-2015. Rounded half up to one decimal, as DfE publishes rates.
    National and regional counts are published rounded to the nearest 10, so their rates
    may differ from DfE's in the last decimal; revised estimates can move any rate a little.
"""

from __future__ import annotations

import csv
import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import polars as pl

from safeguard.errors import ConfigError, DataError

__all__ = [
    "REASONS",
    "STATUS_SUFFIX",
    "SUPPRESSION_CODES",
    "Comparison",
    "Figure",
    "Neighbour",
    "comparators",
    "load_neighbours",
    "measure_columns",
    "per_10000",
    "period_label",
    "population",
    "rate_per_10000",
    "read_ees_csv",
]

STATUS_SUFFIX = "__status"

SUPPRESSION_CODES: Mapping[str, str] = {
    "c": "confidential: suppressed to protect individuals (DfE symbol c)",
    "k": "fewer than 0.5: rounds to 0 but is not 0 (DfE symbol k)",
    "low": "rounds to 0 but is not 0 (DfE symbol low)",
    "u": "low reliability (DfE symbol u)",
    "x": "not available (DfE symbol x; suppressed in releases before about 2020)",
    "z": "not applicable (DfE symbol z)",
    ":": "not available (DfE symbol :)",
    "..": "not available (DfE symbol .., older releases)",
}
"""The DfE / GSS symbols that stand for a value that is not published."""

REASONS: Mapping[str, str] = {
    **SUPPRESSION_CODES,
    "blank": "empty cell in the published file",
    "missing": "no row in the published file",
    "no population": "no ONS 0-17 population estimate for the geography and year: no rate",
}
"""Every status ``read_ees_csv`` and ``comparators`` can give, with its meaning."""

NATIONAL = "national"
REGIONAL = "regional"
LOCAL_AUTHORITY = "local authority"

_IDENTIFIERS = frozenset(
    {
        "time_period",
        "time_identifier",
        "geographic_level",
        "country_code",
        "country_name",
        "region_code",
        "region_name",
        "old_la_code",
        "new_la_code",
        "la_name",
        "lad_code",
        "lad_name",
        "pcon_code",
        "pcon_name",
        "ward_code",
        "ward_name",
        "school_urn",
        "school_laestab",
        "school_name",
        "provider_ukprn",
        "provider_name",
        "trust_id",
        "trust_name",
        "sponsor_id",
        "sponsor_name",
    }
)
_IDENTIFIER_SUFFIXES = ("_code", "_name", "_id", "_urn", "_ukprn", "_laestab")
_NUMBER = r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_INTEGER = r"^-?\d+$"
_OLD_CODE = re.compile(r"^\d{3}$")
_NEW_CODE = re.compile(r"^E\d{8}$")
_SPAN = re.compile(r"^(\d{4})(\d{2})$")
_SPAN_LABEL = re.compile(r"^(\d{4})-(\d{2})$")
_BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------- reading


def read_ees_csv(path: Path) -> pl.DataFrame:
    """Read one EES CSV as published: identifiers as text, measures as numbers plus a
    ``<column>__status`` column for DfE symbols (see the module docstring)."""
    raw = _read_utf8(path)
    header = next(csv.reader([raw.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")]), [])
    names = [name.strip() for name in header]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: repeated column names {duplicates}; not an EES data file")
    for required in ("time_period", "geographic_level"):
        if required not in names:
            raise DataError(f"{path}: no {required} column; not an EES data file")
    try:
        text = pl.read_csv(raw, infer_schema=False, quote_char='"', raise_if_empty=True)
    except pl.exceptions.PolarsError as error:
        raise DataError(f"{path}: cannot read as CSV: {error}") from error
    text = text.rename({old: old.strip() for old in text.columns})
    text = text.with_columns(
        pl.when(pl.col(name).str.strip_chars() == "")
        .then(None)
        .otherwise(pl.col(name).str.strip_chars())
        .alias(name)
        for name in text.columns
    )
    return _convert_measures(text)


def _read_utf8(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror}") from error
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: not UTF-8 (byte {error.start}); EES files are published as UTF-8"
        ) from error
    return raw


def _is_identifier(name: str) -> bool:
    return name in _IDENTIFIERS or name.endswith(_IDENTIFIER_SUFFIXES)


def _convert_measures(text: pl.DataFrame) -> pl.DataFrame:
    codes = list(SUPPRESSION_CODES)
    candidates = [name for name in text.columns if not _is_identifier(name)]
    if not candidates or text.height == 0:
        return text
    checks = text.select(
        *(
            (
                pl.col(name).is_null()
                | pl.col(name).str.contains(_NUMBER)
                | pl.col(name).str.to_lowercase().is_in(codes)
            )
            .all()
            .alias(f"{name}|ok")
            for name in candidates
        ),
        *(pl.col(name).is_not_null().any().alias(f"{name}|some") for name in candidates),
        *(
            (~pl.col(name).str.contains(_NUMBER) | pl.col(name).str.contains(_INTEGER))
            .all()
            .alias(f"{name}|int")
            for name in candidates
        ),
    ).row(0, named=True)
    measures = [name for name in candidates if checks[f"{name}|ok"] and checks[f"{name}|some"]]
    conversions: list[pl.Expr] = []
    for name in measures:
        column = pl.col(name)
        number = column.str.contains(_NUMBER)
        dtype = pl.Int64 if checks[f"{name}|int"] else pl.Float64
        conversions.append(pl.when(number).then(column).otherwise(None).cast(dtype).alias(name))
        conversions.append(
            pl.when(number)
            .then(None)
            .when(column.is_null())
            .then(pl.lit("blank"))
            .otherwise(column.str.to_lowercase())
            .alias(name + STATUS_SUFFIX)
        )
    converted = text.with_columns(conversions)
    order: list[str] = []
    for name in text.columns:
        order.append(name)
        if name in measures:
            order.append(name + STATUS_SUFFIX)
    return converted.select(order)


def measure_columns(frame: pl.DataFrame) -> list[str]:
    """The measure columns of a frame from ``read_ees_csv``, in file order."""
    return [name for name in frame.columns if name + STATUS_SUFFIX in frame.columns]


def period_label(time_period: str) -> str:
    """DfE's written form of a ``time_period``: ``"2016"`` stays, ``"201516"`` becomes
    ``"2015-16"``; anything else is returned unchanged."""
    span = _SPAN.match(time_period)
    if span and (int(span.group(1)) + 1) % 100 == int(span.group(2)):
        return f"{span.group(1)}-{span.group(2)}"
    return time_period


def _period_key(time_period: str) -> tuple[int, int, str]:
    digits = re.match(r"^\d{4}", time_period)
    return (int(digits.group(0)) if digits else -1, len(time_period), time_period)


# --------------------------------------------------------------------------- neighbours


def load_neighbours(path: Path) -> pl.DataFrame:
    """Statistical neighbour groupings, one row per (authority, neighbour), in order.

    Reads DfE's April 2021 groupings file (``New_Statistical_Neighbour_Groupings_April_2021
    .csv``: ``LA num, LA Name, ..., SN1, SNP, ... SN10, SNP``, with a trailing empty column
    and an "Old SNs:" section for authorities abolished by reorganisation) and the May 2025
    model (``sn_model_2025_wide.csv``: ``old_la_code, la_name, ..., SN_1, SN_1P, ...``).

    Columns: ``la_code`` (3-digit old LA code), ``la_name``, ``region_name``,
    ``position`` (1 = closest), ``neighbour_code``, ``closeness`` (the published label,
    trimmed, sentence case), ``model`` (``"2021"`` or ``"2025"``) and ``superseded`` (true
    for the 2021 file's "Old SNs:" rows, e.g. Dorset 835 before 2019).
    """
    raw = _read_utf8(path).decode("utf-8")
    rows = list(csv.reader(raw.splitlines()))
    if not rows:
        raise DataError(f"{path}: empty file")
    header = [cell.strip() for cell in rows[0]]
    if "LA num" in header and "SN1" in header:
        model, code_col, name_col, region_col = "2021", "LA num", "LA Name", "GOReg"
        sn_cols = [header.index(f"SN{i}") for i in range(1, 11)]
    elif "old_la_code" in header and "SN_1" in header:
        model, code_col, name_col, region_col = "2025", "old_la_code", "la_name", "region_name"
        sn_cols = [header.index(f"SN_{i}") for i in range(1, 11)]
    else:
        raise DataError(f"{path}: not a statistical neighbour file I know (header {header[:6]})")
    code_at, name_at, region_at = (header.index(c) for c in (code_col, name_col, region_col))
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    superseded = False
    for line, row in enumerate(rows[1:], start=2):
        cells = [cell.strip() for cell in row] + [""] * (len(header) - len(row))
        code = cells[code_at]
        if not code:
            if any(cell.lower().startswith("old sn") for cell in cells):
                superseded = True
            if any(cells) and not superseded:
                raise DataError(f"{path}, line {line}: a row without an LA code")
            continue
        if not _OLD_CODE.match(code):
            raise DataError(f"{path}, line {line}: LA code {code!r} is not 3 digits")
        if code in seen:
            raise DataError(f"{path}, line {line}: LA {code} appears twice")
        seen.add(code)
        for position, at in enumerate(sn_cols, start=1):
            neighbour = cells[at]
            if not _OLD_CODE.match(neighbour):
                raise DataError(
                    f"{path}, line {line}: LA {code} neighbour {position} is {neighbour!r}"
                )
            closeness = cells[at + 1] if at + 1 < len(cells) else ""
            records.append(
                {
                    "la_code": code,
                    "la_name": cells[name_at],
                    "region_name": cells[region_at],
                    "position": position,
                    "neighbour_code": neighbour,
                    "closeness": closeness.capitalize() or None,
                    "model": model,
                    "superseded": superseded,
                }
            )
    if not records:
        raise DataError(f"{path}: no statistical neighbour rows")
    return pl.DataFrame(
        records,
        schema={
            "la_code": pl.String,
            "la_name": pl.String,
            "region_name": pl.String,
            "position": pl.Int64,
            "neighbour_code": pl.String,
            "closeness": pl.String,
            "model": pl.String,
            "superseded": pl.Boolean,
        },
    )


# --------------------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class Figure:
    """One published value. ``status`` is None for a published number, else a key of
    ``REASONS`` (a DfE symbol, ``blank`` or ``missing``); ``reason`` explains it."""

    value: float | None
    status: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, value: Any, status: Any) -> Figure:
        if status is None and value is not None:
            return cls(float(value))
        code = str(status) if status is not None else "blank"
        return cls(None, code, REASONS.get(code, f"not a number ({code})"))

    @classmethod
    def missing(cls, reason: str) -> Figure:
        return cls(None, "missing", reason)


@dataclass(frozen=True)
class Neighbour:
    """One statistical neighbour and its value for the year."""

    position: int
    la_code: str
    la_name: str | None
    closeness: str | None
    figure: Figure


@dataclass(frozen=True)
class Comparison:
    """A measure for one authority in one year, with its published comparators."""

    measure: str
    time_period: str
    year: str  # DfE's written form of time_period: "2016", "2015-16"
    filters: tuple[tuple[str, str], ...]
    la_code: str  # old 3-digit code
    la_new_code: str | None
    la_name: str | None
    authority: Figure
    england: Figure
    region_code: str | None
    region_name: str | None
    region: Figure
    neighbours: tuple[Neighbour, ...]
    sn_mean: float | None
    sn_median: float | None
    sn_count: int  # neighbours with a value
    sn_total: int  # neighbours listed
    sn_reason: str | None
    rank: int | None  # 1 = highest value
    rank_of: int  # local authorities with a value
    quartile: str | None  # A = top quartile by value ... D
    quartiles: tuple[float, float, float] | None  # lower quartile, median, upper quartile
    rank_reason: str | None
    ranked: tuple[float, ...] = ()  # the values of the local authorities with one

    @property
    def value(self) -> float | None:
        return self.authority.value

    def rank_for(self, polarity: str) -> int | None:
        """The rank with 1 = best: lowest first when ``polarity`` is ``"lower"``, else highest
        first (``"higher"``, and ``"neutral"`` where neither is better); ties share the best
        rank; out of ``rank_of``."""
        value = self.authority.value
        if value is None:
            return None
        if polarity == "lower":
            return 1 + sum(v < value for v in self.ranked)
        return self.rank

    def quartile_for(self, polarity: str) -> str | None:
        """The quartile band with A = best quarter: LAIT's "low" banding when ``polarity`` is
        ``"lower"`` (A below the lower quartile, B below the median, C below the upper
        quartile, D the rest), else the "high" banding (``quartile``)."""
        value = self.authority.value
        if value is None:
            return None
        if polarity == "lower":
            return _band_low(value, self.quartiles)
        return self.quartile

    @property
    def notes(self) -> tuple[str, ...]:
        """One line for every comparator that is missing, suppressed or incomplete."""
        notes: list[str] = []
        for label, figure in (
            (self.la_name or self.la_code, self.authority),
            ("England", self.england),
            (self.region_name or "region", self.region),
        ):
            if figure.value is None:
                notes.append(f"{label}: {figure.reason}")
        for neighbour in self.neighbours:
            if neighbour.figure.value is None:
                name = neighbour.la_name or neighbour.la_code
                notes.append(f"neighbour {name}: {neighbour.figure.reason}")
        if self.sn_reason:
            notes.append(f"statistical neighbours: {self.sn_reason}")
        if self.rank_reason:
            notes.append(f"rank: {self.rank_reason}")
        return tuple(notes)


def comparators(
    frame: pl.DataFrame,
    measure: str,
    la_code: str,
    neighbours: pl.DataFrame | None,
    year: str | None = None,
    *,
    filters: Mapping[str, str] | None = None,
) -> Comparison:
    """Compare ``measure`` for one authority (``884`` or ``E06000019``) with England, its
    region, its statistical neighbours (a ``load_neighbours`` frame) and all authorities,
    for the latest ``time_period`` in the file or ``year`` (``"2016"``, ``"201516"`` or
    ``"2015-16"``, as the file writes it). ``filters`` picks one row per geography in
    files with filter columns, e.g. ``{"population_type": "Children looked after on 31
    March each year"}``."""
    status_column = measure + STATUS_SUFFIX
    if measure not in frame.columns:
        raise ConfigError(f"no column {measure!r}; measures here: {measure_columns(frame)}")
    if status_column not in frame.columns:
        raise DataError(f"column {measure!r} holds text, not published numbers")
    chosen = tuple(sorted((filters or {}).items()))
    rows = _filtered(frame, chosen)
    time_period = _choose_period(rows, year)
    label = period_label(time_period)
    rows = rows.filter(pl.col("time_period") == time_period)
    level = pl.col("geographic_level").str.to_lowercase()
    las = rows.filter(level == LOCAL_AUTHORITY)
    _check_unique(frame, las, "old_la_code", measure, label)
    _check_unique(frame, rows.filter(level == REGIONAL), "region_code", measure, label)
    national = rows.filter(level == NATIONAL)
    _check_unique(frame, national, None, measure, label)

    code, new_code, name, region_code, region_name = _resolve_authority(frame, las, la_code)
    here = las.filter(pl.col("old_la_code") == code)
    if here.height:
        authority = Figure.of(here[measure][0], here[status_column][0])
    else:
        authority = Figure.missing(f"no row for {code} in {label} (not an authority then?)")

    england = (
        Figure.of(national[measure][0], national[status_column][0])
        if national.height
        else Figure.missing(f"no National row in {label}")
    )
    if region_code is None:
        region = Figure.missing(f"no region given for {code}")
    else:
        regional = rows.filter((level == REGIONAL) & (pl.col("region_code") == region_code))
        region = (
            Figure.of(regional[measure][0], regional[status_column][0])
            if regional.height
            else Figure.missing(f"no Regional row for {region_name or region_code} in {label}")
        )

    values = dict(
        zip(
            las["old_la_code"].to_list(),
            zip(las[measure], las[status_column], strict=True),
            strict=True,
        )
    )
    names = _names(frame)
    listed, sn_reason = _neighbour_list(neighbours, code)
    found: list[Neighbour] = []
    for position, neighbour_code, closeness, sn_name in listed:
        if neighbour_code in values:
            figure = Figure.of(*values[neighbour_code])
        else:
            figure = Figure.missing(
                f"no row for {neighbour_code} in {label} (boundary change or not yet formed?)"
            )
        found.append(
            Neighbour(
                position, neighbour_code, names.get(neighbour_code, sn_name), closeness, figure
            )
        )
    sn_values = [n.figure.value for n in found if n.figure.value is not None]
    if listed and not sn_values:
        sn_reason = f"none of the {len(listed)} neighbours has a value in {label}"

    published = [float(v) for v, s in values.values() if s is None and v is not None]
    rank: int | None = None
    quartile: str | None = None
    cuts: tuple[float, float, float] | None = None
    rank_reason: str | None = None
    if published:
        cuts = (
            _quantile(published, 0.25),
            _quantile(published, 0.5),
            _quantile(published, 0.75),
        )
    if authority.value is None:
        rank_reason = f"no value for {code}: {authority.reason}"
    else:
        rank = 1 + sum(v > authority.value for v in published)
        quartile = _band(authority.value, cuts)

    return Comparison(
        measure=measure,
        time_period=time_period,
        year=label,
        filters=chosen,
        la_code=code,
        la_new_code=new_code,
        la_name=name,
        authority=authority,
        england=england,
        region_code=region_code,
        region_name=region_name,
        region=region,
        neighbours=tuple(found),
        sn_mean=statistics.fmean(sn_values) if sn_values else None,
        sn_median=statistics.median(sn_values) if sn_values else None,
        sn_count=len(sn_values),
        sn_total=len(listed),
        sn_reason=sn_reason,
        rank=rank,
        rank_of=len(published),
        quartile=quartile,
        quartiles=cuts,
        rank_reason=rank_reason,
        ranked=tuple(published),
    )


def _filtered(frame: pl.DataFrame, chosen: Sequence[tuple[str, str]]) -> pl.DataFrame:
    rows = frame
    for column, wanted in chosen:
        if column not in frame.columns:
            raise ConfigError(f"filter on {column!r}: no such column")
        rows = rows.filter(pl.col(column) == wanted)
        if rows.height == 0:
            known = sorted(str(v) for v in frame[column].unique().drop_nulls().to_list())
            raise ConfigError(f"filter {column} = {wanted!r} matches no row; values: {known}")
    return rows


def _choose_period(rows: pl.DataFrame, year: str | None) -> str:
    periods = sorted(
        (str(p) for p in rows["time_period"].unique().drop_nulls().to_list()), key=_period_key
    )
    if not periods:
        raise DataError("no time_period in the file")
    if year is None:
        return periods[-1]
    wanted = year.strip()
    span = _SPAN_LABEL.match(wanted)
    candidates = {wanted, f"{span.group(1)}{span.group(2)}"} if span else {wanted}
    for period in periods:
        if period in candidates:
            return period
    labels = [period_label(p) for p in periods]
    raise ConfigError(f"year {year!r} is not in the file; its years: {labels}")


def _check_unique(
    frame: pl.DataFrame, rows: pl.DataFrame, key: str | None, measure: str, label: str
) -> None:
    unique = 1 if key is None else rows[key].n_unique()
    if rows.height <= unique:
        return
    varying = [
        name
        for name in frame.columns
        if not _is_identifier(name)
        and name + STATUS_SUFFIX not in frame.columns
        and not name.endswith(STATUS_SUFFIX)
        and rows[name].n_unique() > 1
    ]
    choices = {name: sorted(str(v) for v in rows[name].unique().to_list()) for name in varying}
    raise ConfigError(
        f"{measure} has several rows per geography in {label}; "
        f"choose one with filters: {choices or 'no filter column differs'}"
    )


def _resolve_authority(
    frame: pl.DataFrame, las: pl.DataFrame, la_code: str
) -> tuple[str, str | None, str | None, str | None, str | None]:
    wanted = la_code.strip()
    if _OLD_CODE.match(wanted):
        column = "old_la_code"
    elif _NEW_CODE.match(wanted):
        column = "new_la_code"
    else:
        raise ConfigError(f"LA code {la_code!r}: expected 3 digits (884) or E + 8 digits")
    if column not in frame.columns:
        raise DataError(f"the file has no {column} column")
    # The year's own row first: a new_la_code can be reissued with the same old code.
    for source in (las, frame.sort("time_period", descending=True)):
        match = source.filter(
            (pl.col("geographic_level").str.to_lowercase() == LOCAL_AUTHORITY)
            & (pl.col(column) == wanted)
        )
        if match.height:
            row = match.row(0, named=True)
            return (
                str(row["old_la_code"]),
                _text(row.get("new_la_code")),
                _text(row.get("la_name")),
                _text(row.get("region_code")),
                _text(row.get("region_name")),
            )
    raise ConfigError(f"LA {wanted} is not in the file")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _names(frame: pl.DataFrame) -> dict[str, str]:
    if "la_name" not in frame.columns or "old_la_code" not in frame.columns:
        return {}
    pairs = (
        frame.filter(pl.col("old_la_code").is_not_null())
        .sort("time_period")
        .select("old_la_code", "la_name")
        .rows()
    )
    return {str(code): str(name) for code, name in pairs if name is not None}


def _neighbour_list(
    neighbours: pl.DataFrame | None, code: str
) -> tuple[list[tuple[int, str, str | None, str | None]], str | None]:
    if neighbours is None:
        return [], "no statistical neighbour table given"
    mine = neighbours.filter(pl.col("la_code") == code).sort("position")
    if mine.height == 0:
        return [], f"{code} has no statistical neighbours in the table"
    names = dict(neighbours.select("la_code", "la_name").unique("la_code").rows())
    return [
        (int(position), str(neighbour), _text(closeness), _text(names.get(neighbour)))
        for position, neighbour, closeness in mine.select(
            "position", "neighbour_code", "closeness"
        ).rows()
    ], None


def _quantile(values: Sequence[float], p: float) -> float:
    """R's default (type 7) quantile: linear between order statistics."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def _band(value: float, cuts: tuple[float, float, float] | None) -> str | None:
    if cuts is None:
        return None
    lower, median, upper = cuts
    if value > upper:
        return "A"
    if value > median:
        return "B"
    if value > lower:
        return "C"
    return "D"


def _band_low(value: float, cuts: tuple[float, float, float] | None) -> str | None:
    if cuts is None:
        return None
    lower, median, upper = cuts
    if value < lower:
        return "A"
    if value < median:
        return "B"
    if value < upper:
        return "C"
    return "D"


# --------------------------------------------------------------------------- population


def population(frame: pl.DataFrame, la_code: str) -> pl.DataFrame:
    """Mid-year estimates of children aged 0 to 17 for one authority, from DfE's
    ``ons_mid-year_population_estimates`` file (read with ``read_ees_csv``).

    That file's ``time_period`` is the mid-year of the estimate, although its
    ``time_identifier`` says "Reporting year": ``2015`` is mid-2015. DfE's rates for the
    reporting year ending 31 March use the previous mid-year (Herefordshire's 2016 CP
    rate of 64.6 is 228 on mid-2015's 35,276), so ``reporting_year`` is mid-year + 1.

    Columns: ``mid_year`` (Int64), ``reporting_year`` (text), ``population`` (Int64, null
    when not published), ``status`` and ``reason`` (as for ``Figure``), oldest first.
    """
    needed = {"population_estimate", "population_estimate" + STATUS_SUFFIX}
    if not needed <= set(frame.columns):
        raise DataError("not a population file: no numeric population_estimate column")
    rows = frame
    if "age_group" in frame.columns:
        rows = rows.filter(pl.col("age_group") == "Children aged 0 to 17 years")
        if rows.height == 0:
            raise DataError("no 'Children aged 0 to 17 years' rows in the population file")
    las = rows.filter(pl.col("geographic_level").str.to_lowercase() == LOCAL_AUTHORITY)
    code, *_ = _resolve_authority(rows, las, la_code)
    mine = las.filter(pl.col("old_la_code") == code)
    status = pl.col("population_estimate" + STATUS_SUFFIX)
    mid_year = pl.col("time_period").cast(pl.Int64, strict=False)
    return mine.select(
        mid_year.alias("mid_year"),
        (mid_year + 1).cast(pl.String).alias("reporting_year"),
        pl.col("population_estimate").cast(pl.Int64).alias("population"),
        status.alias("status"),
        status.replace_strict(dict(REASONS), default=None, return_dtype=pl.String).alias("reason"),
    ).sort("mid_year")


def rate_per_10000(count: float, denominator: float, decimals: int = 1) -> float:
    """``count`` per 10,000 of ``denominator``, rounded half up as DfE publishes."""
    if denominator <= 0:
        raise ValueError(f"population must be positive, got {denominator}")
    exact = Decimal(repr(count)) * 10_000 / Decimal(repr(denominator))
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def per_10000(
    frame: pl.DataFrame,
    measure: str,
    people: pl.DataFrame,
    *,
    filters: Mapping[str, str] | None = None,
    decimals: int = 1,
) -> pl.DataFrame:
    """``measure`` (a count) per 10,000 children aged 0 to 17, for every row of ``frame`` (an
    EES file read with ``read_ees_csv``: national, regional and local-authority rows), on the
    ONS mid-year estimate of the same geography and year from ``people`` (DfE's
    ``ons_mid-year_population_estimates`` file, read the same way); see the module docstring.

    Returns ``frame``'s rows (``filters`` applied) with ``population_0_17`` and
    ``<measure>_per_10000``, each with its status: the count's DfE symbol where the count is
    not published, ``no population`` where the estimate is not. ``comparators`` reads the
    rate like any published measure (no ``filters`` needed again)."""
    status_column = measure + STATUS_SUFFIX
    if measure not in frame.columns:
        raise ConfigError(f"no column {measure!r}; measures here: {measure_columns(frame)}")
    if status_column not in frame.columns:
        raise DataError(f"column {measure!r} holds text, not published numbers")
    if not {"population_estimate", "population_estimate" + STATUS_SUFFIX} <= set(people.columns):
        raise DataError("not a population file: no numeric population_estimate column")
    rate = f"{measure}_per_10000"
    for name in (rate, "population_0_17"):
        if name in frame.columns:
            raise DataError(f"the file already has a {name} column")
    rows = _filtered(frame, tuple(sorted((filters or {}).items())))
    if "age_group" in people.columns:
        people = people.filter(pl.col("age_group") == "Children aged 0 to 17 years")
    estimates: dict[tuple[int, str, str], tuple[Any, Any]] = {}
    for record in people.iter_rows(named=True):
        # the population file's time_period is the mid-year itself (see ``population``)
        period = str(record["time_period"])
        key = _place_key(record)
        if not re.fullmatch(r"\d{4}", period) or key is None:
            continue
        mid_year = int(period)
        if (mid_year, *key) in estimates:
            raise DataError(f"the population file has two estimates for {key[1]} in {mid_year}")
        estimates[(mid_year, *key)] = (
            record["population_estimate"],
            record["population_estimate" + STATUS_SUFFIX],
        )
    populations: list[int | None] = []
    population_status: list[str | None] = []
    rates: list[float | None] = []
    rate_status: list[str | None] = []
    for record in rows.iter_rows(named=True):
        year = _mid_year(str(record["time_period"]))
        key = _place_key(record)
        found = estimates.get((year, *key)) if year is not None and key else None
        estimate, estimate_status = found if found else (None, "missing")
        count = record[measure]
        populations.append(int(estimate) if estimate is not None else None)
        population_status.append(None if estimate is not None else str(estimate_status))
        if count is None:
            rates.append(None)
            rate_status.append(str(record[status_column] or "blank"))
        elif estimate is None or estimate <= 0:
            rates.append(None)
            rate_status.append("no population")
        else:
            rates.append(rate_per_10000(float(count), float(estimate), decimals))
            rate_status.append(None)
    return rows.with_columns(
        pl.Series("population_0_17", populations, dtype=pl.Int64),
        pl.Series("population_0_17" + STATUS_SUFFIX, population_status, dtype=pl.String),
        pl.Series(rate, rates, dtype=pl.Float64),
        pl.Series(rate + STATUS_SUFFIX, rate_status, dtype=pl.String),
    )


def _mid_year(time_period: str) -> int | None:
    """The ONS mid-year a DfE period's rates use: mid-2015 for the reporting year ``2016``
    (to 31 March 2016) and for the financial year ``201516``."""
    if re.fullmatch(r"\d{4}", time_period):
        return int(time_period) - 1
    span = _SPAN.match(time_period)
    return int(span.group(1)) if span else None


def _place_key(record: Mapping[str, Any]) -> tuple[str, str] | None:
    level = str(record.get("geographic_level") or "").lower()
    if level == NATIONAL:
        return (NATIONAL, "England")
    if level == REGIONAL and record.get("region_code"):
        return (REGIONAL, str(record["region_code"]))
    if level == LOCAL_AUTHORITY and record.get("old_la_code"):
        return (LOCAL_AUTHORITY, str(record["old_la_code"]))
    return None
