"""The bundled Demoshire extracts (examples/mini) go through ingest exactly as documented:
September is clean; October revises a few September records and carries four planted problems."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from safeguard.ingest.stage import ingest
from safeguard.periods import Month
from safeguard.schema import Contract
from safeguard.store import Store
from tests.conftest import EXAMPLES


def test_the_demo_extracts_ingest_with_only_the_planted_problems(
    contract: Contract, tmp_path: Path
) -> None:
    store = tmp_path / "processed"
    september = ingest(EXAMPLES / "2015-09", Month(2015, 9), contract, store)
    assert september.action == "written"
    assert september.report.issues.height == 0

    october = ingest(EXAMPLES / "2015-10", Month(2015, 10), contract, store)
    assert october.action == "written"
    found = october.report.issues.select("file", "line", "column", "value", "rule", "severity")
    # examples/mini/README.md, "Planted problems in 2015-10"
    assert found.rows() == [
        ("assessments.csv", 175, "cina_assessment_auth_date", "2015-10-12", "8608", "error"),
        ("contacts.csv", 384, "cont_contact_outcome", "REFERAL", "invalid-code", "error"),
        ("referrals.csv", 200, "cine_referral_date", "31/06/2015", "invalid-date", "error"),
        ("workforce.csv", 1, "prof_notes", None, "unknown-column", "warning"),
    ]

    manifest = Store(store).manifest().extracts["2015-10"].files
    # examples/mini/README.md, "Corrections in 2015-10": three referrals, two assessments and
    # one plan are revised; every other September record is carried over unchanged.
    revised = {name: info.revised for name, info in manifest.items() if info.revised}
    assert revised == {"referrals": 3, "assessments": 2, "cp_plans": 1}
    assert manifest["contacts"].quarantined == 1
    assert manifest["contacts"].unchanged == 369  # every September contact, carried over

    plans = Store(store).scan("cp_plans")
    assert plans is not None
    ended = plans.filter(pl.col("cppl_cp_plan_id") == "CP000031").collect()
    assert ended["cppl_cp_plan_end_date"].to_list() == [date(2015, 10, 15)]
    assert ended["_extract"].to_list() == ["2015-10"]


def test_the_demo_extracts_give_the_same_store_in_either_order(
    contract: Contract, tmp_path: Path
) -> None:
    def build(root: Path, months: list[Month]) -> dict[str, bytes]:
        for month in months:
            ingest(EXAMPLES / str(month), month, contract, root)
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock"
        }

    september, october = Month(2015, 9), Month(2015, 10)
    in_order = build(tmp_path / "a", [september, october])
    assert build(tmp_path / "b", [october, september]) == in_order
    assert len(in_order) > 40
