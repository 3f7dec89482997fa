from pathlib import Path

import pytest
import yaml

from safeguard.errors import ConfigError
from safeguard.schema import ColumnType, Contract, load_contract
from tests.conftest import PIPELINES


def test_every_table_of_the_contract_is_declared(contract: Contract) -> None:
    files = {table.file for table in contract.tables.values()}
    assert files == {
        "person.csv",
        "contacts.csv",
        "referrals.csv",
        "assessments.csv",
        "strategy_discussions.csv",
        "s47_enquiries.csv",
        "icpcs.csv",
        "cp_plans.csv",
        "cp_visits.csv",
        "cp_reviews.csv",
        "cla_episodes.csv",
        "cla_reviews.csv",
        "workforce.csv",
        "audits.csv",
        "complaints.csv",
        "compliments.csv",
    }
    assert contract.tables["contacts"].columns["cont_contact_date"].type is ColumnType.DATETIME


def _copy_pipelines(tmp_path: Path, extracts: dict[str, object]) -> Path:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "extracts.yaml").write_text(yaml.safe_dump(extracts), encoding="utf-8")
    (folder / "codes.yaml").write_text((PIPELINES / "codes.yaml").read_text(), encoding="utf-8")
    return folder


def test_unknown_keys_are_rejected_with_their_path(tmp_path: Path) -> None:
    extracts = yaml.safe_load((PIPELINES / "extracts.yaml").read_text())
    extracts["tables"]["contacts"]["columns"]["cont_contact_date"]["requird"] = True
    extracts["tables"]["person"]["colour"] = "red"
    with pytest.raises(ConfigError) as caught:
        load_contract(_copy_pipelines(tmp_path, extracts))
    message = str(caught.value)
    assert (
        "tables.contacts.columns.cont_contact_date.requird: Extra inputs are not permitted"
        in message
    )
    assert "tables.person.colour: Extra inputs are not permitted" in message


def test_a_misspelt_code_list_is_reported(tmp_path: Path) -> None:
    extracts = yaml.safe_load((PIPELINES / "extracts.yaml").read_text())
    extracts["tables"]["person"]["columns"]["pers_sex"]["codes"] = "sexes"
    with pytest.raises(ConfigError, match="pers_sex: unknown code list sexes"):
        load_contract(_copy_pipelines(tmp_path, extracts))


def test_missing_pipelines_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_contract(tmp_path / "nowhere")


def test_every_rule_code_of_the_contract_is_documented_in_the_readme(contract: Contract) -> None:
    codes = set()
    for table in contract.tables.values():
        for column in table.columns.values():
            codes |= set(column.rules.values())
        codes |= {order.rule for order in table.date_order}
        codes |= {across.rule for across in table.date_order_across}
    readme = (PIPELINES.parent / "README.md").read_text()
    missing = sorted(code for code in codes if code not in readme)
    assert not missing, f"rule codes missing from the README's rule table: {missing}"
