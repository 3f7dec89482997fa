"""Charts drawn by worker processes are the same as charts drawn here, and a worker that
cannot start or dies costs nothing but time."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from safeguard.indicators.spc import SpcSettings
from safeguard.report.chart_worker import PARALLEL_FROM
from safeguard.report.charts import indicator_charts
from tests.test_report_charts import months_to


def jobs(count: int) -> list[dict[str, Any]]:
    """``count`` different charts: each a shifted series, some with neighbours."""
    made = []
    for k in range(count):
        values: list[float | None] = [50.0 + ((i * 7 + k) % 11) for i in range(24)]
        made.append(
            {
                "indicator": f"indicator_{k}",
                "title": f"Indicator {k}",
                "months": months_to(24),
                "values": values,
                "notes": [""] * 24,
                "unit": "percent" if k % 2 else "count",
                "decimals": 1,
                "polarity": ("higher", "lower", "neutral")[k % 3],
                "target": 55.0 if k % 2 else None,
                "spc_settings": SpcSettings(),
                "neighbours": [("Demoshire", 52.0), ("Other", 48.0)] if k % 4 == 0 else None,
                "small": True,
            }
        )
    return made


@pytest.fixture(scope="module")
def here() -> list[Any]:
    return indicator_charts(jobs(PARALLEL_FROM + 2), workers=0)


def test_workers_draw_the_same_bytes_in_the_same_order(
    here: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from safeguard.report import chart_worker

    by_workers = []
    done = chart_worker.Shared.done

    def record(self: chart_worker.Shared, index: int, chart: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            by_workers.append(index)  # a worker's reply, handed over by its thread
        done(self, index, chart)

    monkeypatch.setattr(chart_worker.Shared, "done", record)
    drawn = indicator_charts(jobs(PARALLEL_FROM + 2), workers=2)
    assert by_workers and max(by_workers) == PARALLEL_FROM + 1  # they took from the back
    assert [c.indicator for c in drawn] == [f"indicator_{k}" for k in range(PARALLEL_FROM + 2)]
    assert drawn == here  # SVG, PNG, alt text and data table alike


@pytest.mark.parametrize("executable", ["/nonexistent/python", "/bin/false"])
def test_a_worker_that_cannot_start_or_dies_leaves_its_charts_here(
    here: list[Any], executable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no such program (the worker never starts); a program that exits at once (it dies with
    # a chart in hand)
    monkeypatch.setattr(sys, "executable", executable)
    assert indicator_charts(jobs(PARALLEL_FROM + 2), workers=1) == here


def test_a_few_charts_are_drawn_here(monkeypatch: pytest.MonkeyPatch) -> None:
    from safeguard.report import chart_worker

    def refuse(*args: Any) -> None:
        raise AssertionError("no worker for fewer than PARALLEL_FROM charts")

    monkeypatch.setattr(chart_worker, "serve", refuse)
    assert len(indicator_charts(jobs(PARALLEL_FROM - 1), workers=3)) == PARALLEL_FROM - 1
