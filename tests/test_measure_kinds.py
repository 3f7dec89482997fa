"""Honest measures (issue 13, part 2): each figure's kind in the catalogue decides its sums and
its SPC. A flow has a year to date; a snapshot and a rolling figure have none; a rolling figure
(each point overlapping the previous 11 months) gets no SPC whatever its shape; a series too
short gets "not enough history". Tiny hand-made series, answers worked in the comments."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from safeguard.errors import ConfigError
from safeguard.indicators.catalogue import (
    Authority,
    Catalogue,
    Indicator,
    Kind,
    Population,
    SpcConfig,
    Unit,
    load_catalogue,
)
from safeguard.indicators.rules import WINDOWS
from safeguard.indicators.scorecard import scorecard
from safeguard.periods import Month
from safeguard.report.build import _score_row
from tests.conftest import PIPELINES

OCTOBER = Month(2015, 10)
AUTHORITY = Authority(
    name="Testshire", la_code="999", population=Population(vintage="t", children_0_17={})
)


def months(n: int) -> list[date]:
    """The ``n`` months ending October 2015."""
    return [OCTOBER.shift(i - n + 1).first_day for i in range(n)]


def series(name: str, values: list[float | None]) -> pl.DataFrame:
    """A monthly series ending October 2015 (value = numerator, denominator 100); None is a
    month not available."""
    return pl.DataFrame(
        {
            "indicator": [name] * len(values),
            "month": months(len(values)),
            "value": values,
            "numerator": values,
            "denominator": [100.0] * len(values),
            "status": ["ok" if v is not None else "not available" for v in values],
            "reason": ["" if v is not None else "no extract" for v in values],
        },
        schema_overrides={"value": pl.Float64, "numerator": pl.Float64},
    )


def indicator(kind: Kind, unit: Unit = Unit.COUNT, **extra: Any) -> Indicator:
    return Indicator(
        title="T", definition="D", rule="contacts", unit=unit, kind=kind, polarity="lower", **extra
    )


def card(figures: dict[str, tuple[Indicator, list[float | None]]], **spc: Any) -> dict[str, Any]:
    """The scorecard's rows by indicator for ``figures``, at October 2015."""
    catalogue = Catalogue(
        version=1,
        spc=SpcConfig(**spc),
        indicators={name: ind for name, (ind, _) in figures.items()},
    )
    frames = pl.concat([series(name, values) for name, (_, values) in figures.items()])
    rows = scorecard(frames, catalogue, AUTHORITY, OCTOBER).to_dicts()
    return {row["indicator"]: row for row in rows}


# --- the catalogue ------------------------------------------------------------------------------

ROLLING = {"s47_rate_per_10k", "referrals_rate_per_10k", "cp_second_subsequent_pct",
           "cp_ended_2y_plus_pct", "cla_3plus_placements_pct"}  # fmt: skip
SNAPSHOTS = {"assessments_open_overdue", "cp_plans_open", "cp_rate_per_10k", "cp_open_18m_plus",
             "cp_open_18m_plus_pct", "cp_visits_in_timescale_pct", "cla_open",
             "cla_rate_per_10k", "agency_rate_fte", "average_caseload"}  # fmt: skip


def test_every_catalogue_figure_declares_its_kind() -> None:
    catalogue = load_catalogue(PIPELINES)
    kinds = {name: ind.kind for name, ind in catalogue.indicators.items()}
    assert len(kinds) == 44
    assert {n for n, k in kinds.items() if k is Kind.ROLLING} == ROLLING
    assert {n for n, k in kinds.items() if k is Kind.SNAPSHOT} == SNAPSHOTS
    # every count not at a month end is a flow; every other percentage is a share of a flow
    for name, ind in catalogue.indicators.items():
        if name not in ROLLING | SNAPSHOTS:
            assert ind.kind is (Kind.FLOW if ind.unit is Unit.COUNT else Kind.SHARE), name
    # a rolling figure is exactly one whose rule counts over a trailing window, of that window
    windows = {n: ind.window_months for n, ind in catalogue.indicators.items() if ind.window_months}
    assert windows == {n: WINDOWS[catalogue.indicators[n].rule] for n in ROLLING}
    assert set(windows.values()) == {12}
    assert catalogue.spc.minimum_points == 12


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"kind": None}, "kind"),
        ({"kind": "cumulative"}, "kind"),
        ({"kind": "rolling"}, "rolling figure needs window_months"),
        ({"kind": "flow", "window_months": 12}, "window_months is only for a rolling figure"),
        ({"kind": "flow", "unit": "percent"}, "a flow is a count of events"),
        ({"kind": "share", "unit": "count"}, "a share is a percent or ratio"),
        ({"kind": "rolling", "window_months": 1}, "greater than or equal to 2"),
    ],
)
def test_a_kind_that_does_not_fit_is_refused(fields: dict[str, Any], complaint: str) -> None:
    raw = {"title": "T", "definition": "D", "rule": "contacts", "unit": "count", **fields}
    if fields.get("kind") is None:
        raw.pop("kind")
    with pytest.raises(ValidationError, match=complaint):
        Indicator.model_validate(raw)


def write_catalogue(root: Path, change: dict[str, Any]) -> Path:
    raw = yaml.safe_load((PIPELINES / "indicators.yaml").read_text(encoding="utf-8"))
    for name, fields in change.items():
        raw["indicators"][name].update(fields)
        for key in [k for k, v in fields.items() if v is None]:
            del raw["indicators"][name][key]
    (root / "indicators.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return root


def test_a_kind_contradicting_its_rule_is_refused(tmp_path: Path) -> None:
    # the S47 rate counts the 12 months to the month: calling it a snapshot is refused
    folder = write_catalogue(tmp_path, {"s47_rate_per_10k": {"kind": "snapshot",
                                                             "window_months": None}})  # fmt: skip
    with pytest.raises(ConfigError, match="s47_rate_per_10k: kind: rule 's47_rolling_12' counts"):
        load_catalogue(folder)
    # and so is a window other than the rule's, or a rolling kind on a monthly count
    folder = write_catalogue(
        tmp_path,
        {
            "s47_rate_per_10k": {"window_months": 6},
            "compliments": {"kind": "rolling", "window_months": 12},
        },
    )
    with pytest.raises(ConfigError) as refused:
        load_catalogue(folder)
    assert "with window_months: 12" in str(refused.value)
    assert "compliments: kind: rolling, but rule 'compliments' counts within the month" in str(
        refused.value
    )


def test_the_spc_block_rejects_unknown_keys_and_too_few_points() -> None:
    with pytest.raises(ValidationError, match="extra"):
        SpcConfig.model_validate({"minimum_pts": 12})
    with pytest.raises(ValidationError, match="greater than or equal to 5"):
        SpcConfig(minimum_points=4)


# --- year to date and rolling sums --------------------------------------------------------------

# 24 months, November 2013 (1) to October 2015 (24)
RISING = [float(i) for i in range(1, 25)]


def test_a_flow_keeps_its_year_to_date_a_snapshot_has_none() -> None:
    rows = card({"started": (indicator(Kind.FLOW), RISING),
                 "open": (indicator(Kind.SNAPSHOT), RISING)})  # fmt: skip
    # plans started, a flow: April 2015 is position 18, October 24, so the year to date is
    # 18 + 19 + ... + 24 = 7 x 21 = 147, and the 12 months to October 13 + ... + 24 = 222
    assert (rows["started"]["fytd"], rows["started"]["rolling_12_value"]) == (147.0, 222.0)
    # children on a plan at each month end, a snapshot: the same numbers, but adding seven
    # month-end counts counts the same children seven times: no sums, None (never 0)
    assert (rows["open"]["fytd"], rows["open"]["rolling_12_value"]) == (None, None)
    assert (rows["open"]["value"], rows["open"]["previous_value"]) == (24.0, 23.0)
    assert rows["open"]["last_year_value"] == 12.0
    assert (rows["started"]["kind"], rows["open"]["kind"]) == ("flow", "snapshot")
    assert (rows["started"]["window_label"], rows["open"]["window_label"]) == ("", "")


# --- SPC ----------------------------------------------------------------------------------------

# An obvious shift: 12 months at 10, then 12 at 20. mean 15; 23 moving ranges, one of 10, so
# mR-bar = 10/23 = 0.435 and the limits 15 +/- 2.66 x 0.435 = 13.84 to 16.16: every point lies
# outside them (astronomical) and each half is a run of 12 on one side (shift). October (20) is
# high, and lower is better: special cause concern (high), "H".
SHIFTED = [10.0] * 12 + [20.0] * 12


def test_a_rolling_series_with_an_obvious_shift_gets_no_special_cause() -> None:
    rolling = indicator(Kind.ROLLING, Unit.PERCENT, window_months=12, target=12.0)
    rows = card({"rolling": (rolling, SHIFTED), "snapshot": (indicator(Kind.SNAPSHOT), SHIFTED)})
    # the same numbers as a snapshot: special cause concern, high (the test can fail)
    assert rows["snapshot"]["spc_variation"] == "concern_high"
    assert rows["snapshot"]["spc_letters"] == "H"
    # as a rolling figure: no variation judged, no assurance though it has a target, no letters
    rolling_row = rows["rolling"]
    assert rolling_row["spc_words"] == "not applicable: each point overlaps the previous 11 months"
    assert rolling_row["spc_letters"] == ""
    assert (rolling_row["spc_variation"], rolling_row["spc_assurance"]) == (None, None)
    assert rolling_row["spc_trial"] is None
    assert rolling_row["kind"] == "rolling"
    assert rolling_row["window_label"] == "12 months to Oct 2015"
    # and no sums of a figure already over 12 months
    assert (rolling_row["fytd"], rolling_row["rolling_12_value"]) == (None, None)


def test_spc_needs_twelve_months_of_history() -> None:
    # 13 months not available, then 11 with a value (one short of 12): no limits
    short = [None] * 13 + SHIFTED[-11:]
    enough = [None] * 12 + SHIFTED[-12:]
    rows = card({"short": (indicator(Kind.FLOW), short), "enough": (indicator(Kind.FLOW), enough)})
    assert rows["short"]["spc_words"] == "not enough history: 11 of the 12 months SPC needs"
    assert (rows["short"]["spc_letters"], rows["short"]["spc_variation"]) == ("", None)
    # twelve values of 20: mean 20, no moving range, limits 20 to 20: common cause, not trial
    assert rows["enough"]["spc_variation"] == "common_cause"
    assert (rows["enough"]["spc_letters"], rows["enough"]["spc_trial"]) == ("-", False)


def test_a_lower_minimum_gives_trial_limits_as_before() -> None:
    # minimum_points 8: 10 values (ten months at 20 after 14 not available) get limits, and
    # being fewer than 12 they are trial limits, said in the words
    values = [None] * 14 + [20.0] * 10
    rows = card({"flow": (indicator(Kind.FLOW), values)}, minimum_points=8)
    assert rows["flow"]["spc_trial"] is True
    assert rows["flow"]["spc_words"] == (
        "Common cause variation; trial limits (too few points for a reliable baseline)"
    )
    rows = card({"flow": (indicator(Kind.FLOW), [None] * 17 + [20.0] * 7)}, minimum_points=8)
    assert rows["flow"]["spc_words"] == "not enough history: 7 of the 8 months SPC needs"


def test_the_paper_row_carries_the_kind_and_the_window() -> None:
    rolling = indicator(Kind.ROLLING, Unit.PERCENT, window_months=12)
    rows = card({"rolling": (rolling, SHIFTED), "flow": (indicator(Kind.FLOW), SHIFTED)})
    row = _score_row(rows["rolling"], 1)
    assert (row.value, row.kind, row.window_label) == ("20.0%", "rolling", "12 months to Oct 2015")
    assert (row.spc_letters, row.spc_words) == (
        "",
        "not applicable: each point overlaps the previous 11 months",
    )
    flow = _score_row(rows["flow"], 2)
    assert (flow.kind, flow.window_label, flow.spc_letters) == ("flow", "", "H")


def test_a_stand_in_population_is_noted_on_the_paper_row() -> None:
    rows = card({"flow": (indicator(Kind.FLOW), SHIFTED)})
    row = {**rows["flow"], "reason": "population: mid-2014 estimate, the latest held"}
    assert _score_row(row, 1).note == "population: mid-2014 estimate, the latest held"
    assert _score_row(rows["flow"], 1).note == ""


def test_the_paper_row_says_where_the_authority_ranks_in_england() -> None:
    rows = card({"flow": (indicator(Kind.FLOW), SHIFTED)})
    ranked = {
        **rows["flow"],
        "dfe_rank": 17,
        "dfe_rank_of": 149,
        "dfe_quartile": "A",
        "dfe_rank_order": "rank 1 and band A = highest (neither is better)",
    }
    assert _score_row(ranked, 1).note == (
        "ranked 17 of 149 authorities, quartile band A: "
        "rank 1 and band A = highest (neither is better)"
    )
