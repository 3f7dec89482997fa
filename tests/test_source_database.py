"""``safeguard ingest --database URL``: the Standard Safeguarding Dataset read straight from the
council's reporting database, through SQLAlchemy, into the same path a CSV export takes.

The acceptance tests load the SSD export the SSD tests build from examples/mini/2015-10 into a
database (SQLite here; a real PostgreSQL server, with the SSD's own column types, when
``.ci/run`` has started one: SAFEGUARD_TEST_POSTGRES_URL) and check that ingesting from the
database stores the same rows and gives the same figures as ingesting the export's files."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from safeguard.cli import cli
from safeguard.errors import ConfigError, DatabaseError
from safeguard.indicators.catalogue import load_authority, load_catalogue
from safeguard.indicators.engine import compute
from safeguard.ingest.sources.database import PASSWORD_VARIABLE, Database, check_url
from safeguard.ingest.stage import IngestOutcome, ingest
from safeguard.schema import Contract
from safeguard.store import Store
from tests.conftest import PIPELINES
from tests.test_source_ssd import FORENAME, OCT, SURNAME

POSTGRES_URL = os.environ.get("SAFEGUARD_TEST_POSTGRES_URL")
STAFF_NAME = "Ottoline Quibblesworth"  # made up: must never be fetched
POSTGRES_PASSWORD = os.environ.get("SAFEGUARD_TEST_POSTGRES_PASSWORD", "")


def _is_date(name: str) -> bool:
    return name.endswith(("_date", "_dob", "_due"))


def load_database(
    engine: sa.Engine, folder: Path, *, typed: bool, schema: str | None = None
) -> None:
    """Every CSV of ``folder`` as a table of the same name. ``typed``: with the SSD's own
    types (its dates are DATETIME; here TIMESTAMP) and the outcome dictionary as JSONB, as a
    PostgreSQL deployment may hold it; else every column TEXT, as SQLite keeps values."""
    with engine.begin() as connection:
        for path in sorted(folder.glob("*.csv")):
            frame = pl.read_csv(path, infer_schema=False)
            ssd = path.stem.startswith("ssd_")
            columns: list[sa.Column[Any]] = []
            for name in frame.columns:
                kind: Any = sa.Text
                if typed and ssd and _is_date(name):
                    kind = sa.DateTime
                    text = pl.col(name).str.replace(r"\.\d+$", "")
                    # a date the CSV gets wrong (31/06/2015) cannot be held: NULL, which the
                    # validator quarantines as it quarantines the bad date (same rows stored)
                    formats = [
                        f"{day} {time}".strip().replace(" T", "T")
                        for day in ("%Y-%m-%d", "%d/%m/%Y")
                        for time in ("%H:%M:%S", "%H:%M", "T%H:%M:%S", "")
                    ]
                    frame = frame.with_columns(
                        pl.coalesce(
                            text.str.strptime(pl.Datetime, f, strict=False) for f in formats
                        ).alias(name)
                    )
                elif typed and name == "cont_contact_outcome_json":
                    kind = sa.dialects.postgresql.JSONB  # given as dictionaries, below
                elif typed and name == "prof_full_time_equivalency":
                    kind = sa.Float
                    frame = frame.with_columns(pl.col(name).cast(pl.Float64))
                columns.append(sa.Column(name, kind))
            table = sa.Table(path.stem, sa.MetaData(), *columns, schema=schema)
            table.create(connection)
            rows = frame.to_dicts()
            if typed:
                for row in rows:
                    if row.get("cont_contact_outcome_json") is not None:
                        row["cont_contact_outcome_json"] = json.loads(
                            row["cont_contact_outcome_json"]
                        )
            if rows:
                connection.execute(table.insert(), rows)


@pytest.fixture(scope="module")
def sqlite_url(converted: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("db") / "reporting.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    load_database(engine, converted[0], typed=False)
    with engine.begin() as connection:  # the case system's own tables share the schema
        connection.execute(sa.text("CREATE TABLE cms_client_names (surname TEXT)"))
        # and a local table may carry more than the contract's columns: a name, say
        connection.execute(sa.text("ALTER TABLE workforce ADD COLUMN staff_name TEXT"))
        connection.execute(sa.text(f"UPDATE workforce SET staff_name = '{STAFF_NAME}'"))
    engine.dispose()
    return f"sqlite:///{path}"


def _postgres_or_skip() -> str:
    if POSTGRES_URL is None:
        if os.environ.get("SAFEGUARD_REQUIRE_POSTGRES"):
            pytest.fail("SAFEGUARD_REQUIRE_POSTGRES is set but SAFEGUARD_TEST_POSTGRES_URL is not")
        pytest.skip(
            'no PostgreSQL server: .ci/run starts one (eval "$(bash .ci/start-postgres)") '
            "and sets SAFEGUARD_TEST_POSTGRES_URL"
        )
    return POSTGRES_URL


@pytest.fixture(scope="module")
def postgres_schema(converted: tuple[Path, Path]) -> Iterator[str]:
    """The SSD export in a schema of its own on the PostgreSQL server, with the SSD's types."""
    url = sa.engine.make_url(_postgres_or_skip()).set(password=POSTGRES_PASSWORD)
    engine = sa.create_engine(url)
    schema = "ssd_mini"
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    load_database(engine, converted[0], typed=True, schema=schema)
    yield schema
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


def _ingest(
    processed: Path,
    contract: Contract,
    *,
    folder: Path | None = None,
    database: Database | None = None,
    environ: dict[str, str] | None = None,
) -> IngestOutcome:
    outcome = ingest(
        folder,
        OCT,
        contract,
        processed,
        pipelines=PIPELINES,
        database=database,
        environ=environ or {},
    )
    assert outcome.action == "written", outcome.report.issues.rows()
    return outcome


def _read_again(processed: Path, contract: Contract, url: str) -> IngestOutcome:
    """The same month read from the database at ``url`` again, into the same store."""
    return ingest(None, OCT, contract, processed, pipelines=PIPELINES, database=Database(url))


def _execute(url: str, statement: str) -> None:
    """One statement run on the database at ``url``, committed (the case system at work)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(statement))
    engine.dispose()


def _same_figures_and_rows(contract: Contract, a: Path, b: Path) -> None:
    """The two stores hold the same rows of every table and give every indicator's same
    value, numerator, denominator and status for October 2015's 24 months."""
    left, right = Store(a), Store(b)
    for table, spec in contract.tables.items():
        one, other = left.scan(table), right.scan(table)
        assert (one is None) == (other is None), table
        if one is None or other is None:
            continue
        columns = list(spec.columns)
        lf, rf = (x.collect().select(columns).sort(spec.id) for x in (one, other))
        assert lf.equals(rf), table
    catalogue, authority = load_catalogue(PIPELINES), load_authority(PIPELINES)
    columns = ["indicator", "month", "value", "numerator", "denominator", "status"]
    expected = compute(left, catalogue, authority, OCT).series.select(columns)
    found = compute(right, catalogue, authority, OCT).series.select(columns)
    assert expected.filter(pl.col("status") == "ok")["indicator"].n_unique() >= 20
    assert expected.sort("indicator", "month").equals(found.sort("indicator", "month"))


def test_sqlite_database_gives_what_the_export_files_give(
    converted: tuple[Path, Path], sqlite_url: str, contract: Contract, tmp_path: Path
) -> None:
    files = _ingest(tmp_path / "files", contract, folder=converted[0])
    base = _ingest(tmp_path / "db", contract, database=Database(sqlite_url))
    _same_figures_and_rows(contract, tmp_path / "files", tmp_path / "db")
    # the same rows quarantined, for the same reasons, in the same columns; workforce.csv's
    # prof_notes, not the contract's, is an unknown-column warning from the file and, from
    # the database, counted as not loaded without being fetched
    keys = ["rule", "column", "value"]
    other = pl.col("rule").is_in(["demo-project", "unknown-column"])
    assert files.report.issues.filter(other)["column"].to_list() == ["prof_notes"]
    left = files.report.issues.filter(~other).select(keys).sort(keys)
    assert left.equals(base.report.issues.filter(~other).select(keys).sort(keys))
    assert base.not_loaded.pop("workforce.prof_notes") == 0  # present, blank in every row
    assert base.report.quarantined == files.report.quarantined > 0
    staff = base.not_loaded.pop("workforce.staff_name")  # only the database's table has it
    assert staff == 117  # workers in the mini workforce table, each named
    assert base.not_loaded == files.not_loaded


def test_postgres_database_with_the_ssd_types_gives_the_same_figures(
    converted: tuple[Path, Path], postgres_schema: str, contract: Contract, tmp_path: Path
) -> None:
    assert POSTGRES_URL is not None
    _ingest(tmp_path / "files", contract, folder=converted[0])
    outcome = _ingest(
        tmp_path / "db",
        contract,
        database=Database(POSTGRES_URL, postgres_schema),
        environ={PASSWORD_VARIABLE: POSTGRES_PASSWORD},
    )
    _same_figures_and_rows(contract, tmp_path / "files", tmp_path / "db")
    # typed columns read back as the CSV's text: no date the server held is "invalid", and
    # the JSONB outcome dictionaries were read (the one with no flag set is still caught)
    rules = set(outcome.report.issues["rule"].to_list())
    assert "invalid-date" not in rules
    assert "ssd-outcome-json" in rules
    assert (
        outcome.report.extract == f"postgresql+psycopg://safeguard@{_host()}/ssd (schema ssd_mini)"
    )


def _host() -> str:
    url = sa.engine.make_url(POSTGRES_URL or "")
    return f"{url.host}:{url.port}"


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the test runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(sa.Engine, "before_cursor_execute", record)


def test_names_are_counted_by_the_database_never_fetched(
    sqlite_url: str, contract: Contract, tmp_path: Path, statements: list[str]
) -> None:
    outcome = _ingest(tmp_path / "db", contract, database=Database(sqlite_url))
    people = 293  # rows of ssd_person in the mini export, each with a forename and surname
    assert outcome.not_loaded["ssd_person.pers_surname"] == people
    assert outcome.not_loaded["ssd_person.pers_forename"] == people
    naming = [s for s in statements if "pers_surname" in s]
    assert naming, "the surname was not even counted"
    for statement in naming:  # only ever inside count(CASE WHEN trim(pers_surname) ...)
        assert "count(CASE WHEN (ltrim(rtrim(ssd_person.pers_surname))" in statement, statement
    # a local table's column the contract does not have is counted, never fetched
    assert outcome.not_loaded["workforce.staff_name"] == 117
    assert all("count(CASE" in s for s in statements if "staff_name" in s)
    # another table of the schema is never looked at, not even its columns
    assert not [s for s in statements if "cms_client_names" in s]
    # read only: nothing but SELECTs (and SQLite's own catalogue PRAGMAs)
    assert all(s.lstrip().upper().startswith(("SELECT", "PRAGMA")) for s in statements)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "db").rglob("*") if p.is_file())
    assert SURNAME.encode() not in stored and FORENAME.encode() not in stored
    assert STAFF_NAME.encode() not in stored


def test_a_bad_value_is_named_by_table_row_column_and_rule(
    converted: tuple[Path, Path], sqlite_url: str, contract: Contract, tmp_path: Path
) -> None:
    outcome = _ingest(tmp_path / "db", contract, database=Database(sqlite_url))
    bad = outcome.report.issues.filter(pl.col("rule") == "invalid-date").row(0, named=True)
    assert (bad["file"], bad["column"], bad["value"]) == (
        "ssd_cin_episodes",
        "cine_referral_date",
        "31/06/2015",
    )
    # its "line" is its position when the table is read in order of its id (first row 1)
    episodes = pl.read_csv(converted[0] / "ssd_cin_episodes.csv", infer_schema=False)
    in_order = episodes.sort("cine_referral_id")["cine_referral_date"].to_list()
    assert in_order[bad["line"] - 1] == "31/06/2015"


def test_the_same_database_again_is_unchanged(
    sqlite_url: str, contract: Contract, tmp_path: Path
) -> None:
    _ingest(tmp_path / "db", contract, database=Database(sqlite_url))
    again = _read_again(tmp_path / "db", contract, sqlite_url)
    assert again.action == "unchanged"


def test_a_database_whose_rows_changed_is_written_again(
    sqlite_url: str, contract: Contract, tmp_path: Path
) -> None:
    """Each table's checksum is of the rows read (set once, by ``as_at_month_end``, from
    those kept): one corrected value makes the next read a new extract, not "unchanged"."""
    copy = tmp_path / "reporting.db"
    shutil.copyfile(sqlite_url.removeprefix("sqlite:///"), copy)
    url = f"sqlite:///{copy}"
    first = _ingest(tmp_path / "db", contract, database=Database(url))
    sums = Store(tmp_path / "db").manifest().extracts["2015-10"].checksums()
    assert all(len(sha) == 64 for sha in sums.values()), sums
    _execute(  # a contact's source corrected in the case system
        url,
        "UPDATE ssd_contacts SET cont_contact_source_code = '1B' WHERE cont_contact_id = "
        "(SELECT min(cont_contact_id) FROM ssd_contacts)",
    )
    again = _read_again(tmp_path / "db", contract, url)
    assert (first.action, again.action) == ("written", "written")
    changed = Store(tmp_path / "db").manifest().extracts["2015-10"].checksums()
    assert [t for t in sums if sums[t] != changed[t]] == ["contacts"]


def test_local_tables_from_a_folder_beside_the_database(
    converted: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    """The database holds only the SSD's objects; the council's audits and complaints come
    from a folder; an SSD object in that folder is not read (the database has them)."""
    only_ssd = tmp_path / "only-ssd"
    only_ssd.mkdir()
    local = tmp_path / "local" / "2015-10"
    local.mkdir(parents=True)
    for path in converted[0].glob("*.csv"):
        place = only_ssd if path.stem.startswith("ssd_") else local
        (place / path.name).write_bytes(path.read_bytes())
    (local / "ssd_person.csv").write_bytes((converted[0] / "ssd_person.csv").read_bytes())
    # last month's contract-form contacts.csv left in the folder: the database's win
    stale = pl.read_csv(converted[1] / "contacts.csv", infer_schema=False).head(5)
    stale.write_csv(local / "contacts.csv")
    url = f"sqlite:///{tmp_path / 'only-ssd.db'}"
    load_database(sa.create_engine(url), only_ssd, typed=False)
    outcome = _ingest(tmp_path / "db", contract, folder=local, database=Database(url))
    _ingest(tmp_path / "files", contract, folder=converted[0])
    _same_figures_and_rows(contract, tmp_path / "files", tmp_path / "db")
    unknown = outcome.report.issues.filter(pl.col("rule") == "unknown-file").sort("file")
    assert unknown["file"].to_list() == ["contacts.csv", "ssd_person.csv"]
    assert "come from the database's ssd_contacts" in unknown["message"][0]
    assert "read from sqlite:///" in unknown["message"][1]


# --- as at the month's end ------------------------------------------------------------------


def _a_week_later(export: Path, later: Path, *, contacts: int = 1) -> dict[str, str]:
    """``export`` as the database holds it a week into November: ``contacts`` new contacts
    dated November, an assessment open at the end of October authorised on 2 November, and a
    plan open at the end of October ended on 10 November. Returns the ids changed."""
    shutil.copytree(export, later)
    frames = {
        n: pl.read_csv(later / f"{n}.csv", infer_schema=False)
        for n in ("ssd_contacts", "ssd_cin_assessments", "ssd_cp_plans")
    }
    contacts_frame = frames["ssd_contacts"]
    first = contacts_frame.row(0, named=True)
    new = pl.DataFrame(
        [
            {**first, "cont_contact_id": f"CNOV{i}", "cont_contact_date": f"2015-11-0{i + 1} 10:00"}
            for i in range(contacts)
        ]
    )
    frames["ssd_contacts"] = pl.concat([contacts_frame, new])
    assessments = frames["ssd_cin_assessments"]
    open_one = assessments.filter(
        pl.col("cina_assessment_auth_date").is_null()
        & (pl.col("cina_assessment_start_date") <= "2015-10-31")
        & pl.col("cina_assessment_start_date").str.contains(r"^\d{4}-")
    )["cina_assessment_id"][0]
    frames["ssd_cin_assessments"] = assessments.with_columns(
        pl.when(pl.col("cina_assessment_id") == open_one)
        .then(pl.lit("2015-11-02"))
        .otherwise(pl.col("cina_assessment_auth_date"))
        .alias("cina_assessment_auth_date")
    )
    plans = frames["ssd_cp_plans"]
    open_plan = plans.filter(pl.col("cppl_cp_plan_end_date").is_null())["cppl_cp_plan_id"][0]
    frames["ssd_cp_plans"] = plans.with_columns(
        pl.when(pl.col("cppl_cp_plan_id") == open_plan)
        .then(pl.lit("2015-11-10"))
        .otherwise(pl.col("cppl_cp_plan_end_date"))
        .alias("cppl_cp_plan_end_date")
    )
    for name, frame in frames.items():
        frame.write_csv(later / f"{name}.csv")
    return {"assessment": open_one, "plan": open_plan}


def test_a_database_read_after_the_month_gives_the_month_end_figures(
    converted: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    """Read a week into November as at 31 October, the database gives what the export taken
    at the end of October gave: November's contact left out, the assessment authorised and the
    plan ended in November still open at the end of October; each counted, none quarantined."""
    changed = _a_week_later(converted[0], tmp_path / "later", contacts=2)
    url = f"sqlite:///{tmp_path / 'later.db'}"
    load_database(sa.create_engine(url), tmp_path / "later", typed=False)
    outcome = _ingest(tmp_path / "db", contract, database=Database(url))
    _ingest(tmp_path / "files", contract, folder=converted[0])
    _same_figures_and_rows(contract, tmp_path / "files", tmp_path / "db")
    assert outcome.not_loaded["ssd_contacts: rows starting after 2015-10-31"] == 2
    blanked = ", blanked"
    assert (
        outcome.not_loaded[
            f"ssd_cin_assessments.cina_assessment_auth_date: dates after 2015-10-31{blanked}"
        ]
        == 1
    )
    assert (
        outcome.not_loaded[f"ssd_cp_plans.cppl_cp_plan_end_date: dates after 2015-10-31{blanked}"]
        == 1
    )
    assert "after-extract-month" not in outcome.report.issues["rule"].to_list()
    plans = Store(tmp_path / "db").scan("cp_plans")
    assert plans is not None
    ended = plans.filter(pl.col("cppl_cp_plan_id") == changed["plan"]).collect()
    assert ended["cppl_cp_plan_end_date"].to_list() == [None]


def test_rows_added_after_the_month_leave_its_extract_unchanged(
    converted: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'later.db'}"
    _a_week_later(converted[0], tmp_path / "later", contacts=1)
    load_database(sa.create_engine(url), tmp_path / "later", typed=False)
    _ingest(tmp_path / "db", contract, database=Database(url))
    _execute(  # the next day: another November contact
        url,
        "INSERT INTO ssd_contacts (cont_contact_id, cont_person_id, cont_contact_date) "
        "VALUES ('CNOV9', 'P000603', '2015-11-09 09:00')",
    )
    again = _read_again(tmp_path / "db", contract, url)
    assert again.action == "unchanged"
    assert again.not_loaded["ssd_contacts: rows starting after 2015-10-31"] == 2


# --- the URL, the password and the driver ----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://reporting:s3cret@host/ssd",
        "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BUID%3Dr%3BPWD%3Ds3cret",
    ],
)
def test_a_password_in_the_url_is_refused_and_never_echoed(url: str, runner: CliRunner) -> None:
    with pytest.raises(ConfigError, match=PASSWORD_VARIABLE):
        check_url(url)
    result = runner.invoke(
        cli, ["--pipelines", str(PIPELINES), "ingest", "--database", url, "--month", "2015-10"]
    )
    assert result.exit_code == 2, result.output
    assert PASSWORD_VARIABLE in result.output
    assert "s3cret" not in result.output


def test_a_password_in_the_settings_is_refused_and_never_echoed(
    runner: CliRunner, tmp_path: Path
) -> None:
    pipelines = tmp_path / "pipelines"
    shutil.copytree(PIPELINES, pipelines)
    url = "postgresql+psycopg://reporting:s3cret@host/ssd"
    (pipelines / "monthly.yaml").write_text(f"database: {url}\n")
    for args, env in (
        (["--pipelines", str(pipelines), "config", "show"], {}),
        (["--pipelines", str(PIPELINES), "config", "show"], {"SAFEGUARD_DATABASE": url}),
    ):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 2, result.output
        assert "holds a password" in result.output and "s3cret" not in result.output


def test_database_needs_a_month(runner: CliRunner, sqlite_url: str) -> None:
    result = runner.invoke(cli, ["--pipelines", str(PIPELINES), "ingest", "--database", sqlite_url])
    assert result.exit_code == 2
    assert "--database needs --month YYYY-MM" in result.output


def _ingest_from(url: str, store: Path) -> Any:
    return CliRunner().invoke(
        cli,
        [
            *("--pipelines", str(PIPELINES), "ingest", "--database", url),
            *("--month", "2015-10", "--processed-dir", str(store)),
        ],
    )


def test_a_missing_driver_says_what_to_install(tmp_path: Path) -> None:
    result = _ingest_from("oracle+oracledb://reporting@host/ssd", tmp_path / "store")
    assert result.exit_code == 2, result.output
    assert "the database driver is not installed" in result.output
    assert "pip install oracledb" in result.output
    assert not (tmp_path / "store").exists()


def test_a_database_that_cannot_be_opened_is_operational(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}"
    result = _ingest_from(url, tmp_path / "store")
    assert result.exit_code == 74, result.output
    assert "unable to open database file" in result.output
    assert not (tmp_path / "store").exists()


def test_a_wrong_password_is_operational_and_never_echoed(
    postgres_schema: str, contract: Contract, tmp_path: Path
) -> None:
    assert POSTGRES_URL is not None
    with pytest.raises(DatabaseError) as raised:
        ingest(
            None,
            OCT,
            contract,
            tmp_path / "store",
            pipelines=PIPELINES,
            database=Database(POSTGRES_URL, postgres_schema),
            environ={PASSWORD_VARIABLE: "not-the-password-0451"},
        )
    assert "password authentication failed" in raised.value.message
    assert "not-the-password-0451" not in raised.value.message
    assert not (tmp_path / "store").exists()


def test_cli_validate_and_ingest_from_the_database(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    base = ["--pipelines", str(PIPELINES)]
    # no raw folder for the month: the repository's own data/raw (the demo's) is not read
    empty = {"SAFEGUARD_RAW_DIR": str(tmp_path / "raw")}
    checked = runner.invoke(
        cli, [*base, "validate", "--database", sqlite_url, "--month", "2015-10"], env=empty
    )
    assert checked.exit_code == 0, checked.output
    assert "ssd_person.pers_surname 293" in checked.output  # counted, as ingest counts it
    assert not store.exists()
    loaded = runner.invoke(
        cli,
        [*base, "ingest", "--month", "2015-10", "--processed-dir", str(store)],
        env={"SAFEGUARD_DATABASE": sqlite_url, **empty},  # the setting, as cron gives it
    )
    assert loaded.exit_code == 0, loaded.output
    assert "Loaded 2015-10" in loaded.output
    assert "ssd_person.pers_surname 293" in loaded.output
    assert SURNAME not in loaded.output
    assert Store(store).manifest().extracts["2015-10"].source == sqlite_url


def test_run_reads_the_database_as_at_the_last_month_ended(sqlite_url: str, tmp_path: Path) -> None:
    """The cron job with a database in monthly.yaml: on 4 November, `safeguard run` reads the
    SSD as at 31 October and writes October's paper; the next morning the same database is
    "unchanged" and only the paper is written again."""
    from tests.test_run import pipelines_copy, settings

    chosen = {**settings(tmp_path), "formats": ["data"], "database": sqlite_url}
    pipelines = pipelines_copy(tmp_path, **chosen)
    log = tmp_path / "runs.jsonl"
    for today in ("2015-11-04", "2015-11-05"):
        result = CliRunner().invoke(
            cli, ["--pipelines", str(pipelines), "--today", today, "run", "--run-log", str(log)]
        )
        assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert first["month"] == second["month"] == "2015-10"
    assert [(e["extract"], e["action"]) for e in first["ingested"]] == [("2015-10", "written")]
    assert [(e["extract"], e["action"]) for e in second["ingested"]] == [("2015-10", "unchanged")]
    assert (tmp_path / "reports" / "2015-10" / "data.csv").is_file()
    assert SURNAME not in log.read_text()


@pytest.mark.parametrize("source", ["files", "database"])
def test_an_empty_table_loads_with_a_warning_and_an_empty_person_table_is_refused(
    source: str, converted: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    """As for a header-only file of a CSV extract (issue 14 item 7): an SSD object or local
    table with no rows loads empty with ``no-rows``; no children at all is ``header-only``."""

    def check(emptied: str) -> IngestOutcome:
        folder = tmp_path / emptied / "2015-10"
        shutil.copytree(converted[0], folder)
        header = (folder / f"{emptied}.csv").read_text().splitlines()[0]
        (folder / f"{emptied}.csv").write_text(header + "\n")
        database = None
        if source == "database":
            url = f"sqlite:///{tmp_path / emptied}.db"
            load_database(sa.create_engine(url), folder, typed=False)
            database, folder = Database(url), None
        return ingest(
            folder,
            OCT,
            contract,
            tmp_path / emptied / "store",
            pipelines=PIPELINES,
            database=database,
        )

    quiet = check("ssd_cp_visits")
    assert quiet.action == "written"
    warned = quiet.report.issues.filter(pl.col("rule") == "no-rows")
    expected = "ssd_cp_visits" if source == "database" else "ssd_cp_visits.csv"
    assert warned["file"].to_list() == [expected]
    nobody = check("ssd_person")
    assert nobody.action == "refused"
    refused = nobody.report.issues.filter(pl.col("rule") == "header-only")
    assert refused.height == 1 and "no children" in refused["message"][0]


@pytest.mark.parametrize(
    ("dialect", "cast", "count"),
    [
        # SQL Server: text kept Unicode and whole (NVARCHAR(max)); LTRIM/RTRIM for servers
        # before 2017, which have no TRIM
        (
            "mssql",
            "CAST(ssd_development.ssd_contacts.cont_contact_outcome_json AS NVARCHAR(max))",
            "count(CASE WHEN (ltrim(rtrim(ssd_development.ssd_contacts.cont_contact_source_desc)) ",
        ),
        (
            "oracle",
            "CAST(ssd_development.ssd_contacts.cont_contact_outcome_json AS VARCHAR2(4000 CHAR))",
            "count(CASE WHEN (ltrim(rtrim(ssd_development.ssd_contacts.cont_contact_source_desc))",
        ),
    ],
)
def test_the_statements_compile_for_sql_server_and_oracle(
    dialect: str, cast: str, count: str
) -> None:
    """No server of either here: the SELECTs are compiled by SQLAlchemy's own dialects, as
    the drivers would send them (typed columns fetched as they are; a JSON or other exotic
    column cast to text by the server)."""
    from sqlalchemy.dialects import mssql, oracle

    from safeguard.ingest.sources.database import TableInfo, count_query, read_query

    info = TableInfo(
        "ssd_contacts",
        {
            "cont_contact_id": ("cont_contact_id", sa.Unicode(48)),
            "cont_contact_date": ("cont_contact_date", sa.DateTime()),
            "cont_contact_outcome_json": ("cont_contact_outcome_json", sa.JSON()),
            "cont_contact_source_desc": ("cont_contact_source_desc", sa.Unicode(255)),
        },
    )
    engine = {"mssql": mssql.dialect(), "oracle": oracle.dialect()}[dialect]
    read = str(
        read_query(
            info,
            ["cont_contact_id", "cont_contact_date", "cont_contact_outcome_json"],
            "ssd_development",
            "cont_contact_id",
            dialect,
        ).compile(dialect=engine)
    )
    assert cast in read
    assert "CAST(" not in read.replace(cast, "")  # the id and the date come typed
    assert "ORDER BY" in read and read.rstrip().endswith("cont_contact_id")
    counted = str(
        count_query(info, ["cont_contact_source_desc"], "ssd_development").compile(dialect=engine)
    )
    assert count in counted
