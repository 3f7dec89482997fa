"""The indicator catalogue (``pipelines/indicators.yaml``) and the authority's settings
(``pipelines/authority.yaml``) as typed configuration. Unknown keys are rejected."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from pathlib import Path

from pydantic import Field, model_validator

from safeguard.defaults import ConfigFolder
from safeguard.errors import ConfigError
from safeguard.models import StrictModel as _Strict
from safeguard.schema import load_model

INDICATORS_FILE = "indicators.yaml"
AUTHORITY_FILE = "authority.yaml"


class Unit(StrEnum):
    COUNT = "count"
    PERCENT = "percent"
    RATE_PER_10K = "rate_per_10k"
    RATIO = "ratio"


class Kind(StrEnum):
    """What a figure measures over time, which decides the trend sums and SPC it may have."""

    FLOW = "flow"  # a count of events in the month: summed over a year, SPC
    SNAPSHOT = "snapshot"  # a count, share or rate at the month end: never summed, SPC
    ROLLING = "rolling"  # over a trailing window of ``window_months``: overlapping, no SPC
    SHARE = "share"  # a percentage or ratio of a monthly flow: pooled over 12 months, SPC


class Stage(StrEnum):
    """Where along the child's journey a figure sits: the paper groups its figures by stage,
    in this order."""

    FRONT_DOOR = "front_door"  # contacts and referrals
    ASSESSMENT = "assessment"
    CHILD_PROTECTION = "child_protection"  # strategy discussions to child protection plans
    LOOKED_AFTER = "children_looked_after"
    WORKFORCE = "workforce"
    QUALITY = "quality"  # audits, complaints and compliments

    @property
    def label(self) -> str:
        """ "Front door", "Children looked after": the heading a paper prints."""
        text = self.value.replace("_", " ")
        return text[:1].upper() + text[1:]


class Polarity(StrEnum):
    HIGHER = "higher"  # higher is better
    LOWER = "lower"
    NEUTRAL = "neutral"


class DfeMeasure(_Strict):
    """The published DfE figure this indicator compares with: a rate with a rate, a share with
    a share, never a count with England's count. ``per_10000`` makes a rate from a file that
    publishes counts only (count / ONS 0-17 population of the same geography and year x
    10,000). Without ``file`` and ``measure``, ``note`` says why there is no comparator."""

    file: str | None = Field(default=None, description="file name in the reference folder")
    measure: str | None = Field(default=None, description="the column holding the value")
    filters: dict[str, str] = Field(default_factory=dict, description="column: value pairs")
    per_10000: bool = Field(
        default=False,
        description="the measure is a count: compare it per 10,000 children aged 0-17 "
        "(the ONS mid-year estimate of the same geography and year)",
    )
    population_file: str = Field(
        default="ons_mid-year_population_estimates_2012_to_2024.csv",
        description="the population file for per_10000, in the reference folder",
    )
    note: str = ""
    period_end_month: int = Field(default=3, ge=1, le=12, description="the year ends this month")
    published_after_months: int = Field(
        default=8, ge=0, description="months after the period's end until DfE publishes it"
    )

    @model_validator(mode="after")
    def _file_and_measure(self) -> DfeMeasure:
        if (self.file is None) != (self.measure is None):
            raise ValueError("give both file and measure, or neither (with a note saying why)")
        if self.file is None and not self.note.strip():
            raise ValueError("without a file and measure, a note must say why")
        return self


class Indicator(_Strict):
    """One figure of the paper."""

    title: str
    definition: str = Field(description="printed under the figure")
    rule: str = Field(description="the registered transform that finds its records")
    unit: Unit
    stage: Stage | None = Field(
        default=None, description="the journey stage the paper groups it under"
    )
    kind: Kind = Field(description="flow, snapshot, rolling (with window_months) or share")
    window_months: int | None = Field(
        default=None, ge=2, le=60, description="a rolling figure's trailing window, in months"
    )
    polarity: Polarity = Polarity.NEUTRAL
    decimals: int = Field(default=1, ge=0, le=3)
    parameters: dict[str, int | float | str] = Field(default_factory=dict)
    target: float | None = None
    tolerance: float | None = None
    dfe: DfeMeasure | None = None
    local: bool = Field(default=False, description="no national definition: a local default")

    @model_validator(mode="after")
    def _tolerance_needs_target(self) -> Indicator:
        if self.tolerance is not None and self.target is None:
            raise ValueError("a tolerance needs a target")
        return self

    @model_validator(mode="after")
    def _kind_fits(self) -> Indicator:
        if self.kind is Kind.ROLLING and self.window_months is None:
            raise ValueError("a rolling figure needs window_months (its trailing window)")
        if self.kind is not Kind.ROLLING and self.window_months is not None:
            raise ValueError(f"window_months is only for a rolling figure, not a {self.kind}")
        if self.kind is Kind.FLOW and self.unit is not Unit.COUNT:
            raise ValueError(f"a flow is a count of events, not a {self.unit}: is it a share?")
        if self.kind is Kind.SHARE and self.unit not in (Unit.PERCENT, Unit.RATIO):
            raise ValueError(f"a share is a percent or ratio, not a {self.unit}")
        return self


class SpcConfig(_Strict):
    shift_length: int = Field(default=7, ge=3)
    trend_length: int = Field(default=7, ge=3)
    screen_outliers: bool = False
    minimum_points: int = Field(
        default=12,
        ge=5,
        description="months with a value a series needs for SPC; fewer: 'not enough history'",
    )


class Statistic(StrEnum):
    """What a breakdown shows of its indicator's records."""

    COUNT = "count"  # the records by a column's value: count and share of the total
    CASELOAD = "caseload"  # case-holding workers by team: workers, FTE, mean caseload, range
    STABILITY = "stability"  # staff in post: FTE, permanent : agency, starters and leavers


class Breakdown(_Strict):
    """A table behind a figure that members ask for: contacts by source, plans by category,
    caseloads by team. It reads the records its indicator counted, so its total is the
    indicator's figure."""

    title: str = Field(description="the table's caption, before its period")
    indicator: str = Field(description="the indicator whose records are broken down")
    statistic: Statistic = Statistic.COUNT
    by: str | None = Field(
        default=None, description="count: the record column broken down by (a code or team)"
    )
    heading: str = Field(default="", description="count: the first column's heading")
    groups: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="count: a row's label and the codes it gathers, in the table's order; a "
        "code in no group is Other, a blank one Not recorded. Without groups, each value is its "
        "own row, the largest first",
    )
    minimum_workers: int = Field(
        default=5, ge=1, description="caseload: a team with fewer workers is withheld in public"
    )
    note: str = Field(default="", description="printed under the table")

    @model_validator(mode="after")
    def _by_for_counts(self) -> Breakdown:
        if (self.statistic is Statistic.COUNT) != (self.by is not None):
            raise ValueError("a count breakdown needs `by` (the column); only a count has one")
        return self


BREAKDOWN_RULES = {Statistic.CASELOAD: "average_caseload", Statistic.STABILITY: "agency_rate_fte"}
"""The rule whose records a caseload or stability breakdown reads."""


class Catalogue(_Strict):
    version: int
    months: int = Field(default=24, ge=12, le=120, description="months computed up to --month")
    spc: SpcConfig = SpcConfig()
    indicators: dict[str, Indicator]
    sums: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="a total indicator and the indicators that add up to it in a month (for "
        "secondary suppression of small numbers in public outputs)",
    )
    breakdowns: dict[str, Breakdown] = Field(
        default_factory=dict, description="tables behind the figures, in the paper's order"
    )

    def narrowed(self, names: Iterable[str]) -> Catalogue:
        """The catalogue with only the indicators ``names``, and the breakdowns and sums
        that read nothing else."""
        keep = set(names)
        return self.model_copy(
            update={
                "indicators": {n: i for n, i in self.indicators.items() if n in keep},
                "breakdowns": {n: b for n, b in self.breakdowns.items() if b.indicator in keep},
                "sums": {
                    total: parts
                    for total, parts in self.sums.items()
                    if total in keep and set(parts) <= keep
                },
            }
        )

    @model_validator(mode="after")
    def _breakdowns_known(self) -> Catalogue:
        for name, table in self.breakdowns.items():
            spec = self.indicators.get(table.indicator)
            if spec is None:
                raise ValueError(f"breakdowns: {name}: unknown indicator {table.indicator}")
            wanted = BREAKDOWN_RULES.get(table.statistic)
            if wanted is not None and spec.rule != wanted:
                raise ValueError(
                    f"breakdowns: {name}: a {table.statistic} breakdown reads the records of "
                    f"rule {wanted}, not {spec.rule}"
                )
            if table.statistic is Statistic.COUNT and spec.kind not in (Kind.FLOW, Kind.SNAPSHOT):
                raise ValueError(
                    f"breakdowns: {name}: counts break down a flow or snapshot count, "
                    f"not a {spec.kind}"
                )
        return self

    @model_validator(mode="after")
    def _sums_known(self) -> Catalogue:
        for total, parts in self.sums.items():
            unknown = [name for name in (total, *parts) if name not in self.indicators]
            if unknown:
                raise ValueError(f"sums: {total}: unknown indicator(s) {', '.join(unknown)}")
        return self


class Population(_Strict):
    vintage: str
    children_0_17: dict[int, int]


class Authority(_Strict):
    name: str
    la_code: str = Field(description="DfE's three-digit (old) LA code, e.g. 884")
    new_la_code: str | None = Field(default=None, description="ONS nine-character code")
    region_code: str | None = None
    region_name: str | None = None
    neighbours: tuple[str, ...] = Field(
        default=(), description="statistical neighbours' old LA codes, closest first"
    )
    neighbours_source: str | None = Field(default=None, description="where the list came from")
    demo: bool = Field(
        default=False, description="a synthetic demo authority (Demoshire), not a real council"
    )
    population: Population
    closures: tuple[date, ...] = ()
    reference_dir: Path | None = Field(
        default=None,
        description="folder of DfE's published CSVs; relative to the project (pipelines/..)",
    )
    neighbours_file: str | None = Field(default=None, description="statistical neighbour file")


def load_catalogue(pipelines: ConfigFolder) -> Catalogue:
    from safeguard.indicators.rules import RULES

    catalogue = load_model(pipelines / INDICATORS_FILE, Catalogue)
    unknown = [
        f"{pipelines / INDICATORS_FILE}: indicators.{name}.rule: no rule named {ind.rule!r}"
        for name, ind in catalogue.indicators.items()
        if ind.rule not in RULES
    ]
    unknown += [
        f"{pipelines / INDICATORS_FILE}: indicators.{name}: {problem}"
        for name, ind in catalogue.indicators.items()
        if ind.rule in RULES and (problem := kind_mismatch(ind)) is not None
    ]
    if unknown:
        raise ConfigError("\n".join(unknown))
    return catalogue


def kind_mismatch(indicator: Indicator) -> str | None:
    """Why ``indicator``'s kind contradicts its rule, or None: a rule counting over a trailing
    window (``rules.WINDOWS``) makes a rolling figure of that window, and only such a rule."""
    from safeguard.indicators.rules import WINDOWS

    window = WINDOWS.get(indicator.rule)
    if window is None and indicator.kind is Kind.ROLLING:
        return f"kind: rolling, but rule {indicator.rule!r} counts within the month"
    if window is not None and (indicator.kind, indicator.window_months) != (Kind.ROLLING, window):
        return (
            f"kind: rule {indicator.rule!r} counts over {window} months, so the figure is "
            f"kind: rolling with window_months: {window}"
        )
    return None


def load_authority(pipelines: ConfigFolder) -> Authority:
    return load_model(pipelines / AUTHORITY_FILE, Authority)
