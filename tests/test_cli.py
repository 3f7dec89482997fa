"""The command line through CliRunner: exit codes and messages are part of the contract."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner

from safeguard import __version__
from safeguard.cli import cli
from tests.conftest import EXAMPLES, PIPELINES, WriteExtract

PERSON = "pers_person_id,pers_sex\nP1,M\nP2,F\n"
GOOD = """
    cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
    C1,P1,2015-10-01 09:30,NEW_REFERRAL
    C2,P2,2015-10-02,NFA
"""


def run(runner: CliRunner, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["--pipelines", str(PIPELINES), *args], env=env)


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"safeguard, version {__version__}\n"


@pytest.mark.parametrize("command", [[], *[[name] for name in cli.commands]])
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: safeguard" in result.output


def test_every_command_is_in_the_readme() -> None:
    readme = (PIPELINES.parent / "README.md").read_text()
    for name in cli.commands:
        assert f"safeguard {name}" in readme, name


def test_ingest_loads_and_exits_0(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    folder = write_extract("2015-10", person=PERSON, contacts=GOOD)
    store = tmp_path / "processed"
    result = run(runner, "ingest", str(folder), "--processed-dir", str(store))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "Loaded 2015-10: 4 rows, 0 quarantined."
    assert "No problems found." in result.output
    again = run(runner, "ingest", str(folder), "--processed-dir", str(store))
    assert again.exit_code == 0
    assert "Unchanged: extract 2015-10 is already in the store with the same files." in again.output


def test_ingest_by_month_with_the_default_layout(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    write_extract("2015-10", person=PERSON, contacts=GOOD)
    env = {
        "SAFEGUARD_RAW_DIR": str(tmp_path / "raw"),
        "SAFEGUARD_PROCESSED_DIR": str(tmp_path / "processed"),
        "SAFEGUARD_MONTH": "2015-10",
    }
    result = run(runner, "ingest", env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "processed" / "CURRENT").is_file()


def test_row_errors_are_quarantined_and_exit_0_but_strict_exits_1(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    folder = write_extract(
        "2015-10",
        person=PERSON,
        contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C1,P1,31/06/2015,NEW_REFERRAL
        C2,P2,2015-10-02,NFA
    """,
    )
    store = tmp_path / "processed"
    strict = run(
        runner,
        "ingest",
        str(folder),
        "--processed-dir",
        str(store),
        "--strict",
        "--max-quarantine",
        "1",
    )
    assert strict.exit_code == 1
    assert "Error: --strict: 1 problem(s) in 2015-10; nothing was written" in strict.output
    assert not store.exists() or not (store / "CURRENT").exists()
    result = run(
        runner, "ingest", str(folder), "--processed-dir", str(store), "--max-quarantine", "1"
    )
    assert result.exit_code == 0, result.output
    assert "Loaded 2015-10: 3 rows, 1 quarantined." in result.output
    listing = re.search(
        r"contacts\.csv\s+2\s+cont_contact_date\s+31/06/2015\s+invalid-datetime\s+error",
        result.output,
    )
    assert listing, result.output


def test_a_file_level_error_exits_1_and_writes_nothing(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    folder = write_extract(
        "2015-10", person=PERSON, contacts=b"cont_contact_id,cont_person_id\xe9\n"
    )
    store = tmp_path / "processed"
    result = run(runner, "ingest", str(folder), "--processed-dir", str(store))
    assert result.exit_code == 1
    assert "Refused: 2015-10 has file-level errors; nothing was written." in result.output
    assert "Error: 1 file-level error(s) in 2015-10; nothing was written" in result.output
    assert "not-utf8" in result.output
    assert not store.exists()


def test_child_ids_are_never_printed(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    folder = write_extract(
        "2015-10",
        person=PERSON,
        contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C1,SECRET42,2015-10-01,NFA
    """,
    )
    result = run(runner, "validate", str(folder), "--max-quarantine", "1")
    assert result.exit_code == 0, result.output
    assert "reference-not-found" in result.output
    assert "SECRET42" not in result.output
    assert "(child id withheld)" in result.output


def test_validate_writes_nothing_but_the_reports_asked_for(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    folder = write_extract("2015-10", person=PERSON, contacts=GOOD)
    logs = tmp_path / "logs"

    def files() -> list[str]:
        return sorted(p.name for p in tmp_path.rglob("*") if logs not in p.parents and p != logs)

    before = files()
    result = run(
        runner,
        "validate",
        str(folder),
        "--report-json",
        str(tmp_path / "r.json"),
        "--report-csv",
        str(tmp_path / "r.csv"),
    )
    assert result.exit_code == 0, result.output
    assert (
        "Valid: 4 rows would load, 0 would be quarantined (validate writes nothing)."
        in result.output
    )
    after = files()
    assert sorted(set(after) - set(before)) == ["r.csv", "r.json"]
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == (
        "file,line,column,value,rule,severity,message,level"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "--month", "2015-13"], "month must be 1 to 12, got 13"),
        (["ingest", "--month", "Oct-2015"], "expected a month as YYYY-MM, got 'Oct-2015'"),
        (["ingest"], "give an extract folder, or --month YYYY-MM"),
        (
            ["ingest", "--month", "2015-10", "--raw-dir", "/nonexistent"],
            "no extract folder /nonexistent/2015-10 for --month 2015-10",
        ),
        (["validate", "/nonexistent/2015-10"], "does not exist"),
    ],
    ids=["bad-month", "not-a-month", "no-folder-no-month", "missing-month-folder", "missing-path"],
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str], message: str) -> None:
    result = run(runner, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_the_month_must_be_known(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "october"
    folder.mkdir()
    result = run(runner, "validate", str(folder))
    assert result.exit_code == 2
    assert "cannot tell the month of" in result.output
    clash = tmp_path / "2015-09"
    clash.mkdir()
    result = run(runner, "validate", str(clash), "--month", "2015-10")
    assert result.exit_code == 2
    assert "--month 2015-10 disagrees with the folder name 2015-09" in result.output


def test_bad_configuration_exits_2(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    folder = write_extract("2015-10", person=PERSON)
    result = runner.invoke(cli, ["--pipelines", str(tmp_path / "nope"), "validate", str(folder)])
    assert result.exit_code == 2
    assert "--pipelines" in result.output and "no such folder" in result.output
    broken = tmp_path / "project" / "pipelines"
    broken.mkdir(parents=True)
    (broken / "extracts.yaml").write_text("tables: [not, a, mapping\n")  # overrides the packaged
    result = runner.invoke(cli, ["--project", str(broken.parent), "validate", str(folder)])
    assert result.exit_code == 2
    assert "extracts.yaml: not valid YAML" in result.output


def test_an_internal_error_exits_3_with_one_line_and_logs_the_traceback(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    folder = write_extract("2015-10", person=PERSON)
    log_file = tmp_path / "safeguard.log"
    with mock.patch("safeguard.ingest.stage.validate_extract", side_effect=KeyError("boom")):
        result = run(runner, "--log-file", str(log_file), "validate", str(folder))
    assert result.exit_code == 3
    assert result.output == (
        "Error: internal error (KeyError); this is a bug in safeguard, not in your data. Run again "
        f"with --debug to see the traceback; the traceback is in {log_file}\n"
    )
    assert "Traceback" in log_file.read_text()


def test_the_log_has_counts_and_rule_codes_but_no_child_ids(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    folder = write_extract(
        "2015-10",
        person=PERSON,
        contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C1,SECRET42,2015-10-01,NFA
    """,
    )
    log_file = tmp_path / "logs" / "safeguard.log"  # the conftest's SAFEGUARD_LOG_FILE
    result = run(runner, "ingest", str(folder), "--processed-dir", str(tmp_path / "p"),
                 "--max-quarantine", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    text = log_file.read_text()
    assert "ingest 2015-10: 2 tables, 1 rows quarantined, 1 errors, 0 warnings" in text
    assert "reference-not-found(error)x1" in text
    assert "SECRET42" not in text
    assert oct(log_file.stat().st_mode & 0o777) == "0o600"


def test_validate_one_file(runner: CliRunner, write_extract: WriteExtract) -> None:
    folder = write_extract(
        "2015-10",
        person=PERSON,
        contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C1,P7,2015-10-01,REFERAL
    """,
    )
    result = run(runner, "validate", str(folder / "contacts.csv"), "--max-quarantine", "1")
    assert result.exit_code == 0, result.output
    assert "invalid-code" in result.output
    # person.csv is not read, so the reference is not checked, and the report says so
    assert not re.search(r"reference-not-found\s+error", result.output)
    assert "contacts.csv cont_person_id reference-not-found: person.csv was not read" in (
        result.output
    )
    assert "Not in this extract" not in result.output


def test_status_shows_what_the_store_holds(
    runner: CliRunner, write_extract: WriteExtract, tmp_path: Path
) -> None:
    store = tmp_path / "processed"
    empty = run(runner, "status", "--processed-dir", str(store))
    assert empty.exit_code == 0
    assert empty.output == f"The store {store} is empty: ingest an extract first.\n"
    folder = write_extract("2015-10", person=PERSON, contacts=GOOD)
    assert run(runner, "ingest", str(folder), "--processed-dir", str(store)).exit_code == 0
    result = run(runner, "status", "--processed-dir", str(store))
    assert result.exit_code == 0, result.output
    assert re.search(r"2015-10\s+2\s+4\s+4\s+0\s+4\s+0\s+0\s+0", result.output), result.output
    assert re.search(r"contacts\s+2\s+2015-10", result.output)


def test_indicators_and_explain_on_the_mini_extracts(runner: CliRunner, tmp_path: Path) -> None:
    from tests.conftest import EXAMPLES

    store = tmp_path / "processed"
    for month in ("2015-09", "2015-10"):
        assert (
            run(runner, "ingest", str(EXAMPLES / month), "--processed-dir", str(store)).exit_code
            == 0
        )
    result = run(runner, "indicators", "--month", "2015-10", "--processed-dir", str(store))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Computed 44 indicators for 24 months to 2015-10: ")
    folder = store / "indicators" / "2015-10"
    assert sorted(p.name for p in folder.iterdir()) == [
        "breakdowns.csv", "breakdowns.parquet", "by_team.csv", "by_team.parquet", "meta.json",
        "scorecard.csv", "scorecard.parquet", "series.csv", "series.parquet",
    ]  # fmt: skip
    explained = run(runner, "explain", "contacts_to_referral_pct", "--month", "2015-10",
                    "--processed-dir", str(store), "--csv", str(tmp_path / "x.csv"))  # fmt: skip
    assert explained.exit_code == 0, explained.output
    assert "Contacts that became referrals (contacts_to_referral_pct), 2015-10" in explained.output
    assert (
        (tmp_path / "x.csv")
        .read_text()
        .splitlines()[0]
        .startswith("month,record,numerator,denominator,reason,team")
    )
    # the figure as the indicators have it, beside the records' counts
    series = (folder / "series.csv").read_text(encoding="utf-8")
    assert "Figure " in explained.output and ": numerator " in explained.output
    # a month the indicators call not available (the rolling rate needs 11 earlier months,
    # the extracts start October 2013): explain says so and why, with no counts that would
    # read as a figure (issue 14: it printed "Numerator 89" beside "not available")
    early = run(runner, "explain", "s47_rate_per_10k", "--month", "2014-01", "--processed-dir",
                str(store), "--csv", str(tmp_path / "early.csv"))  # fmt: skip
    assert early.exit_code == 0, early.output
    row = next(line for line in series.splitlines() if line.startswith("s47_rate_per_10k,2014-01"))
    assert ",not available,needs 11 months of history before the month" in row
    assert "Not available: needs 11 months of history before the month" in early.output
    assert "umerator" not in early.output
    assert not (tmp_path / "early.csv").exists()
    unknown = run(
        runner, "explain", "nonsense", "--month", "2015-10", "--processed-dir", str(store)
    )
    assert unknown.exit_code == 2
    assert "no indicator 'nonsense'" in unknown.output


def test_indicators_on_an_empty_store_exit_1(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "indicators", "--month", "2015-10", "--processed-dir", str(tmp_path / "p"))
    assert result.exit_code == 1
    assert "is empty: ingest an extract first" in result.output


def test_a_damaged_store_exits_74_and_store_repair_mends_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    from tests.conftest import EXAMPLES

    store = tmp_path / "processed"
    assert (
        run(runner, "ingest", str(EXAMPLES / "2015-09"), "--processed-dir", str(store)).exit_code
        == 0
    )
    live = (store / "CURRENT").read_text().strip()
    (store / "CURRENT").write_text("\n")
    status = run(runner, "status", "--processed-dir", str(store))
    assert status.exit_code == 74, status.output
    assert "CURRENT holds '', not a generation's name" in status.output
    assert "safeguard store repair" in status.output
    repaired = run(runner, "store", "repair", "--processed-dir", str(store))
    assert repaired.exit_code == 0, repaired.output
    assert f"CURRENT names {live}." in repaired.output
    assert run(runner, "status", "--processed-dir", str(store)).exit_code == 0


@pytest.mark.parametrize(
    ("code", "remedy"),
    [
        ("ENOSPC", "the disk is full: free some space, then run again"),
        ("EROFS", "the file system is read-only"),
        ("EACCES", "permission denied: run as the folder's owner"),
    ],
)
def test_a_full_or_read_only_disk_is_not_called_a_bug(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, remedy: str
) -> None:
    """Issue 15 item 10: disk full and a read-only store exited 3, "a bug in safeguard"."""
    import errno
    import os

    from safeguard import store as store_module
    from tests.conftest import EXAMPLES

    def fail(frame: object, path: Path) -> None:
        number = getattr(errno, code)
        raise OSError(number, os.strerror(number), str(path))

    monkeypatch.setattr(store_module, "_write_parquet", fail)
    store = tmp_path / "processed"
    result = run(runner, "ingest", str(EXAMPLES / "2015-09"), "--processed-dir", str(store))
    assert result.exit_code == 74, result.output
    assert remedy in result.output and "bug" not in result.output
    assert ".parquet" in result.output  # the file it could not write
    assert not (store / "CURRENT").exists()


@pytest.mark.parametrize("month", ["1900-01", "1989-12", "2999-12"])
def test_a_month_out_of_range_is_a_usage_error(runner: CliRunner, month: str) -> None:
    """Issue 15 item 10: --month 1900-01 was "a bug" (exit 3): the figures look back years."""
    result = runner.invoke(cli, ["--pipelines", str(PIPELINES), "indicators", "--month", month])
    assert result.exit_code == 2, result.output
    assert f"{month} is outside 1990-01 to 2900-12" in result.output


def test_a_file_name_holding_a_terminal_escape_is_shown_not_acted_on(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Issue 15 item 12: escape sequences in file names reached the terminal raw."""
    folder = tmp_path / "2015-10"
    folder.mkdir()
    (folder / "person.csv").write_text("pers_person_id\nP1\n")
    (folder / "contacts\x1b[2J.csv").write_bytes(b"\x00binary")
    (folder / "referrals.csv").mkdir()  # a folder where a file should be: a file-level error
    result = run(runner, "validate", str(folder))
    assert "\x1b" not in result.output
    assert "\\x1b[2J" in result.output
    # a folder whose name holds one, in the lines the CLI writes itself
    store = tmp_path / "odd\x1b]0;title\x07" / "processed"
    result = run(runner, "ingest", str(EXAMPLES / "2015-10"), "--processed-dir", str(store))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "odd\\x1b]0;title\\x07/processed" in result.output
