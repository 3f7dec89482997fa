"""safeguard run (the cron job), check-config and config show."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.demo.generate import mark_demo_folder
from tests.conftest import EXAMPLES, PIPELINES


def pipelines_copy(tmp_path: Path, **monthly: object) -> Path:
    folder = tmp_path / "pipelines"
    shutil.copytree(PIPELINES, folder)
    data = yaml.safe_load((folder / "monthly.yaml").read_text()) or {}
    data.update(monthly)
    (folder / "monthly.yaml").write_text(yaml.safe_dump(data))
    shutil.copytree(PIPELINES.parent / "templates", tmp_path / "templates")
    mark_demo_folder(tmp_path / "raw")  # the examples are synthetic: Demoshire's own data
    return folder


def settings(tmp_path: Path) -> dict[str, str]:
    return {
        "raw_dir": str(tmp_path / "raw"),
        "processed_dir": str(tmp_path / "processed"),
        "reports_dir": str(tmp_path / "reports"),
        "formats": ["html", "data"],
    }


def invoke(pipelines: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["--pipelines", str(pipelines), *args])


def test_a_run_ingests_what_is_new_then_writes_the_paper(tmp_path: Path) -> None:
    pipelines = pipelines_copy(tmp_path, **settings(tmp_path))
    shutil.copytree(EXAMPLES / "2015-09", tmp_path / "raw" / "2015-09")
    shutil.copytree(EXAMPLES / "2015-10", tmp_path / "raw" / "2015-10")
    log = tmp_path / "runs.jsonl"
    result = invoke(pipelines, "run", "--run-log", str(log))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert result.output == ""  # type: ignore[attr-defined]  # quiet: not a terminal
    assert sorted(p.name for p in (tmp_path / "reports" / "2015-10").iterdir()) == [
        "data.csv",
        "data.xlsx",
        "paper.html",
    ]
    again = invoke(pipelines, "run", "--run-log", str(log))
    assert again.exit_code == 0  # type: ignore[attr-defined]
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert [e["extract"] for e in first["ingested"]] == ["2015-09", "2015-10"]
    assert (first["month"], first["outcome"], first["exit_code"]) == ("2015-10", "ok", 0)
    assert second["ingested"] == []  # nothing new the second time
    assert {o["file"].rsplit("/", 1)[1] for o in second["outputs"]} >= {"paper.html"}
    assert "P0" not in log.read_text()  # no child id in the run log


def test_a_refused_extract_stops_the_run_and_is_logged(tmp_path: Path) -> None:
    pipelines = pipelines_copy(tmp_path, **settings(tmp_path))
    shutil.copytree(EXAMPLES / "2015-09", tmp_path / "raw" / "2015-09")
    bad = tmp_path / "raw" / "2015-10"
    shutil.copytree(EXAMPLES / "2015-10", bad)
    (bad / "contacts.csv").write_bytes(b"cont_contact_id;cont_person_id\n1;2\n")
    log = tmp_path / "runs.jsonl"
    result = invoke(pipelines, "run", "--run-log", str(log))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "extract 2015-10 was refused" in result.output  # type: ignore[attr-defined]
    assert "safeguard validate" in result.output  # type: ignore[attr-defined]
    entry = json.loads(log.read_text().splitlines()[-1])
    assert (entry["outcome"], entry["exit_code"]) == ("failed", 1)
    assert [e["action"] for e in entry["ingested"]] == ["written", "refused"]
    assert not (tmp_path / "reports" / "2015-10").exists()


def test_options_beat_the_environment_which_beats_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipelines = pipelines_copy(
        tmp_path, audience="internal", reports_dir="from-file", raw_dir="raw-from-file"
    )
    monkeypatch.chdir(tmp_path)
    env = {
        "SAFEGUARD_REPORTS_DIR": "from-env",
        "SAFEGUARD_RAW_DIR": "raw-from-env",
        "SAFEGUARD_STRICT": "1",
        "SAFEGUARD_MAX_QUARANTINE": "0.5",
    }
    shown = CliRunner().invoke(cli, ["--pipelines", str(pipelines), "config", "show"], env=env)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert "audience: internal  (pipelines/monthly.yaml)" in lines  # the file over the default
    assert "reports_dir: from-env  (environment (SAFEGUARD_REPORTS_DIR))" in lines
    assert "strict: True  (environment (SAFEGUARD_STRICT))" in lines  # issue 12's example
    assert "max_quarantine: 0.5  (environment (SAFEGUARD_MAX_QUARANTINE))" in lines
    assert "processed_dir: data/processed  (default)" in lines
    # an option beats the environment: run's --raw-dir, seen in the run log's settings
    (tmp_path / "elsewhere").mkdir()
    result = CliRunner().invoke(
        cli,
        ["--pipelines", str(pipelines), "run", "--raw-dir", "elsewhere", "--run-log", "r.jsonl"],
        env=env,
    )
    assert result.exit_code == 1  # nothing to report: no extract anywhere
    recorded = json.loads((tmp_path / "r.jsonl").read_text())["settings"]
    assert recorded["raw_dir"] == str(tmp_path / "elsewhere")
    assert recorded["strict"] is True


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    shown = CliRunner().invoke(
        cli, ["--pipelines", str(PIPELINES), "config", "show"], env={"SAFEGUARD_STRICT": "maybe"}
    )
    assert shown.exit_code == 2
    assert "SAFEGUARD_STRICT='maybe'" in shown.output


def test_check_config_passes_and_names_every_problem(tmp_path: Path) -> None:
    good = invoke(PIPELINES, "check-config")
    assert good.exit_code == 0, good.output  # type: ignore[attr-defined]
    assert good.output.startswith("Configuration is valid: 16 extract tables, 44 indicators")  # type: ignore[attr-defined]
    pipelines = pipelines_copy(tmp_path, audiance="public")
    bad = invoke(pipelines, "check-config")
    assert bad.exit_code == 2  # type: ignore[attr-defined]
    assert "monthly.yaml: audiance: Extra inputs are not permitted" in bad.output  # type: ignore[attr-defined]


def test_the_pipeline_chooses_tables_and_indicators(tmp_path: Path) -> None:
    pipelines = pipelines_copy(
        tmp_path,
        **settings(tmp_path),
        tables=["person", "contacts"],
        indicators=["contacts", "contacts_to_referral_pct"],
    )
    shutil.copytree(EXAMPLES / "2015-09", tmp_path / "raw" / "2015-09")  # clean: --strict passes
    result = invoke(pipelines, "run", "--strict", "--run-log", str(tmp_path / "runs.jsonl"))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    entry = json.loads((tmp_path / "runs.jsonl").read_text())
    assert sorted(entry["ingested"][0]["files"]) == ["contacts.csv", "person.csv"]
    data = (tmp_path / "reports" / "2015-09" / "data.csv").read_text()
    assert {line.split(",")[0] for line in data.splitlines()[1:]} == {
        "contacts",
        "contacts_to_referral_pct",
    }
    bad = pipelines_copy(tmp_path / "b", indicators=["contactz"])
    refused = invoke(bad, "run")
    assert refused.exit_code == 2  # type: ignore[attr-defined]
    assert "monthly.yaml names unknown indicator(s): contactz" in refused.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-0.1", "1.5"])
def test_a_threshold_is_a_finite_share_wherever_it_is_given(
    tmp_path: Path, bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: --max-quarantine nan (or the variable) switched the threshold off."""
    pipelines = pipelines_copy(tmp_path, **settings(tmp_path))
    shutil.copytree(EXAMPLES / "2015-09", tmp_path / "raw" / "2015-09")
    option = invoke(pipelines, "ingest", "--month", "2015-09", "--max-quarantine", bad)
    assert option.exit_code == 2, option.output  # type: ignore[attr-defined]
    assert "--max-quarantine" in option.output  # type: ignore[attr-defined]
    env = CliRunner().invoke(
        cli,
        ["--pipelines", str(pipelines), "run"],
        env={"SAFEGUARD_MAX_QUARANTINE": bad},
    )
    assert env.exit_code == 2, env.output
    assert f"SAFEGUARD_MAX_QUARANTINE={bad!r}" in env.output
    monthly = pipelines_copy(tmp_path / "file", **settings(tmp_path), max_quarantine=float(bad))
    from_file = invoke(monthly, "run")
    assert from_file.exit_code == 2, from_file.output  # type: ignore[attr-defined]
    assert "max_quarantine" in from_file.output  # type: ignore[attr-defined]


def test_run_honours_a_threshold_of_zero_from_the_environment(tmp_path: Path) -> None:
    """Issue 15: run recorded 0.01 with SAFEGUARD_MAX_QUARANTINE=0."""
    pipelines = pipelines_copy(tmp_path, **settings(tmp_path))
    shutil.copytree(EXAMPLES / "2015-09", tmp_path / "raw" / "2015-09")
    log = tmp_path / "runs.jsonl"
    CliRunner().invoke(
        cli,
        ["--pipelines", str(pipelines), "run", "--run-log", str(log)],
        env={"SAFEGUARD_MAX_QUARANTINE": "0"},
    )
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["settings"]["max_quarantine"] == 0.0


def test_a_month_after_today_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    """Issue 15 item 6: a mistyped folder 2051-10 loaded with exit 0 and outranked every real
    extract. The CLI passes today's date (the library never reads the clock); --today is for
    tests."""
    pipelines = pipelines_copy(tmp_path, **settings(tmp_path))
    shutil.copytree(EXAMPLES / "2015-10", tmp_path / "raw" / "2051-10")
    today = ("--today", "2026-12-06")
    said = "2051-10 is after today (2026-12-06)"
    for command in ("validate", "ingest"):
        result = CliRunner().invoke(
            cli, ["--pipelines", str(pipelines), *today, command, str(tmp_path / "raw" / "2051-10")]
        )
        assert result.exit_code == 1, result.output
        assert said in " ".join(result.output.split())
    run = CliRunner().invoke(cli, ["--pipelines", str(pipelines), *today, "run"])
    assert run.exit_code == 1, run.output
    assert "2051-10 is after today (2026-12-06); is the folder misnamed?" in " ".join(
        run.output.split()
    )
    assert not (tmp_path / "processed" / "CURRENT").exists()
    # the same folder is accepted once its month has come
    later = CliRunner().invoke(
        cli,
        ["--pipelines", str(pipelines), "--today", "2051-10-01", "ingest",
         str(tmp_path / "raw" / "2051-10")],
    )  # fmt: skip
    assert later.exit_code == 0, later.output
