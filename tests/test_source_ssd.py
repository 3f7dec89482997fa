"""The Standard Safeguarding Dataset (SSD) as exported: a monthly extract folder of ssd_*.csv
objects, with the council's local tables beside them, read through pipelines/sources/ssd.yaml.

The acceptance test converts a contract-form extract (examples/mini/2015-10) into the SSD's own
form and checks the indicators from the two are the same."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from safeguard.indicators.catalogue import load_authority, load_catalogue
from safeguard.indicators.engine import compute
from safeguard.ingest.sources import ssd
from safeguard.ingest.stage import ingest, validate
from safeguard.periods import Month
from safeguard.schema import Contract
from safeguard.store import Store
from tests.conftest import EXAMPLES, PIPELINES, csv_text

OCT = Month(2015, 10)
SURNAME = "Quenbyworthe"  # a made-up surname: must never reach the store
FORENAME = "Zephyrine"
FLAGS = {
    "NEW_REFERRAL": "NEW_REFERRAL_FLAG",
    "EXISTING_CASE": "EXISTING_REFERRAL_FLAG",
    "EARLY_HELP": "EARLY_HELP_FLAG",
    "ADVICE": "ADVICE_FLAG",
    "NFA": "NFA_FLAG",
    "OTHER": "OTHER_OUTCOMES_EXIST_FLAG",
}
SSD_KEYS = [
    "NEW_REFERRAL_FLAG",
    "EXISTING_REFERRAL_FLAG",
    "CP_ENQUIRY_FLAG",
    "NFA_FLAG",
    "NON_AGENCY_ADOPTION_FLAG",
    "PRIVATE_FOSTERING_FLAG",
    "ADVICE_FLAG",
    "MISSING_FLAG",
    "OLA_CP_FLAG",
    "OTHER_OUTCOMES_EXIST_FLAG",
    "EARLY_HELP_FLAG",
]
# contract columns the SSD has no field for: dropped from the contract-form copy too, so both
# folders hold the same information
NOT_IN_SSD = {
    "person": ["pers_disability"],
    "contacts": ["cont_decision_datetime", "cont_decision_by_qualified"],
    "referrals": ["cine_contact_id"],
    "assessments": ["cina_assessment_type"],
    "s47_enquiries": ["s47e_icpc_not_required"],
    "cp_plans": [
        "cppl_number_of_previous_plans",
        "cppl_cp_plan_team",
        "cppl_cp_plan_worker_id",
    ],
    "cla_episodes": ["clae_cla_legal_status"],
    "cla_reviews": ["clar_iro_id"],
}
RENAMED = {
    "referrals": "ssd_cin_episodes",
    "assessments": "ssd_cin_assessments",
    "s47_enquiries": "ssd_s47_enquiry",
    "icpcs": "ssd_initial_cp_conference",
    "cp_plans": "ssd_cp_plans",
    "cp_visits": "ssd_cp_visits",
    "cp_reviews": "ssd_cp_reviews",
}
LOCAL = ("strategy_discussions", "audits", "complaints", "compliments", "workforce")


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _date(column: str) -> pl.Expr:
    text = pl.col(column)
    return pl.coalesce(
        text.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        text.str.strptime(pl.Date, "%d/%m/%Y", strict=False),
    )


def _periods(episodes: pl.DataFrame) -> pl.DataFrame:
    """Each episode's period of care: a new one begins with reason S (or a child's first)."""
    ordered = episodes.sort("clae_person_id", _date("clae_cla_episode_start_date"))
    return ordered.with_columns(
        pl.concat_str(
            pl.lit("POC-"),
            pl.col("clae_person_id"),
            pl.lit("-"),
            (
                (pl.col("clae_cla_episode_start_reason") == "S")
                .cast(pl.Int32)
                .cum_sum()
                .over("clae_person_id")
            ).cast(pl.String),
        ).alias("clae_cla_id")
    )


def to_ssd(source: Path, ssd_folder: Path, contract_folder: Path) -> None:
    """A contract-form extract as the SSD exports it (``ssd_folder``) and, in
    ``contract_folder``, the same records in contract form without what the SSD cannot say."""
    for folder in (ssd_folder, contract_folder):
        folder.mkdir(parents=True)
    tables = {p.stem: _read(p) for p in sorted(source.glob("*.csv"))}
    for name, drop in NOT_IN_SSD.items():
        tables[name] = tables[name].drop(drop)

    episodes = _periods(tables["cla_episodes"])
    reviews = tables["cla_reviews"]
    # each review's period of care: the latest one its child started on or before the review
    starts = (
        episodes.filter(pl.col("clae_cla_episode_start_reason") == "S")
        .select("clae_person_id", _date("clae_cla_episode_start_date").alias("__d"), "clae_cla_id")
        .sort("__d")
    )
    linked = (
        reviews.with_row_index("__i")
        .with_columns(_date("clar_cla_review_date").alias("__d"))
        .sort("__d")
        .join_asof(starts, on="__d", by_left="clar_person_id", by_right="clae_person_id")
        .sort("__i")
    )
    # a review of a child with no period started before it cannot be linked: left out of both
    linked = linked.filter(pl.col("clae_cla_id").is_not_null())
    tables["cla_reviews"] = linked.select(reviews.columns)
    for name, frame in tables.items():
        frame.write_csv(contract_folder / f"{name}.csv")

    def write(name: str, frame: pl.DataFrame) -> None:
        frame.write_csv(ssd_folder / f"{name}.csv")

    person = tables["person"]
    write(
        "ssd_person",
        person.with_columns(
            pl.lit(FORENAME).alias("pers_forename"),
            pl.lit(SURNAME).alias("pers_surname"),
            pl.lit("9434765919").alias("pers_common_child_id"),
            # SQL Server exports a date-time
            (pl.col("pers_dob") + pl.lit(" 00:00:00.000")).alias("pers_dob"),
        ).select(
            "pers_person_id",
            "pers_forename",
            "pers_surname",
            "pers_sex",
            "pers_ethnicity",
            "pers_dob",
            "pers_common_child_id",
            "pers_expected_dob",
            "pers_death_date",
        ),
    )
    contacts = tables["contacts"]
    outcome = pl.col("cont_contact_outcome").map_elements(
        # a value the contract does not know (a misspelling) sets no flag: both quarantine it
        lambda code: json.dumps({k: "Y" if FLAGS.get(code) == k else "N" for k in SSD_KEYS}),
        return_dtype=pl.String,
    )
    write(
        "ssd_contacts",
        contacts.with_columns(
            outcome.alias("cont_contact_outcome_json"),
            pl.lit("a source").alias("cont_contact_source_desc"),
        ).drop("cont_contact_outcome"),
    )
    # the SSD holds team ids, named in ssd_department
    team_columns = {
        "referrals": "cine_referral_team",
        "assessments": "cina_assessment_team",
        "s47_enquiries": "s47e_team",
    }
    names = sorted(
        {t for n, c in team_columns.items() for t in tables[n][c].drop_nulls().to_list()}
    )
    ids = {team: f"T{i:03d}" for i, team in enumerate(names, start=1)}
    write(
        "ssd_department",
        pl.DataFrame({"dept_team_id": list(ids.values()), "dept_team_name": list(ids)}),
    )
    for name, column in team_columns.items():
        tables[name] = tables[name].with_columns(pl.col(column).replace(ids))
    for name, ssd_name in RENAMED.items():
        write(
            ssd_name,
            tables[name].rename(
                {
                    "s47e_team": "s47e_s47_completed_by_team",
                    "s47e_worker_id": "s47e_s47_completed_by_worker_id",
                },
                strict=False,
            ),
        )
    write(
        "ssd_cla_episodes",
        episodes.with_columns(
            pl.concat_str(pl.lit("PL-"), pl.col("clae_cla_episode_id")).alias(
                "clae_cla_placement_id"
            )
        ).drop("clae_cla_placement_type"),
    )
    write(
        "ssd_cla_placement",
        episodes.select(
            pl.concat_str(pl.lit("PL-"), pl.col("clae_cla_episode_id")).alias(
                "clap_cla_placement_id"
            ),
            pl.col("clae_cla_id").alias("clap_cla_id"),
            pl.col("clae_cla_placement_type").alias("clap_cla_placement_type"),
            pl.lit("HR1 2AB").alias("clap_cla_placement_postcode"),
        ),
    )
    write(
        "ssd_cla_reviews",
        linked.select(
            "clar_cla_review_id",
            pl.col("clae_cla_id").alias("clar_cla_id"),
            "clar_cla_review_due_date",
            "clar_cla_review_date",
            "clar_cla_review_participation",
        ),
    )
    for name in LOCAL:
        if name in tables:
            tables[name].write_csv(ssd_folder / f"{name}.csv")


def _ingest(folder: Path, contract: Contract, processed: Path) -> Store:
    outcome = ingest(folder, OCT, contract, processed, pipelines=PIPELINES)
    assert outcome.action == "written", outcome.report.issues.rows()
    return Store(processed)


def test_ssd_export_gives_the_same_indicators_as_the_contract_form(
    converted: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    ssd_folder, contract_folder = converted
    from_contract = _ingest(contract_folder, contract, tmp_path / "a")
    from_ssd = _ingest(ssd_folder, contract, tmp_path / "b")
    catalogue, authority = load_catalogue(PIPELINES), load_authority(PIPELINES)
    columns = ["indicator", "month", "value", "numerator", "denominator", "status"]
    computed_a = compute(from_contract, catalogue, authority, OCT)
    computed_b = compute(from_ssd, catalogue, authority, OCT)
    expected = computed_a.series.select(columns)
    found = computed_b.series.select(columns)
    # the team breakdown too: the SSD's team ids are named from ssd_department
    assert computed_a.by_team.height > 0
    team_order = computed_a.by_team.columns
    assert computed_a.by_team.sort(team_order).equals(
        computed_b.by_team.select(team_order).sort(team_order)
    )
    order = computed_a.breakdowns.columns
    assert computed_a.breakdowns.sort(order).equals(computed_b.breakdowns.select(order).sort(order))
    assert expected.height > 0
    ok = expected.filter(pl.col("status") == "ok")["indicator"].unique()
    assert ok.len() >= 20, ok  # the comparison is about real figures, not empty ones
    diff = expected.join(found, on=["indicator", "month"], how="full", nulls_equal=True)
    unequal = diff.filter(
        pl.any_horizontal(
            [
                ~pl.col(c).eq_missing(pl.col(f"{c}_right"))
                for c in ("value", "numerator", "denominator", "status")
            ]
        )
    )
    assert unequal.is_empty(), unequal.head(10).to_dicts()


def test_the_same_rows_are_stored(
    converted: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    ssd_folder, contract_folder = converted
    a = _ingest(contract_folder, contract, tmp_path / "a")
    b = _ingest(ssd_folder, contract, tmp_path / "b")
    for table in ("contacts", "cla_reviews", "cla_episodes", "person", "audits"):
        left, right = a.scan(table), b.scan(table)
        assert left is not None and right is not None
        key = contract.tables[table].id
        columns = [c for c in contract.tables[table].columns]
        lf, rf = (x.collect().select(columns).sort(key) for x in (left, right))
        assert lf.equals(rf), table


def test_names_never_reach_the_store(
    converted: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    ssd_folder, _ = converted
    processed = tmp_path / "store"
    outcome = ingest(ssd_folder, OCT, contract, processed, pipelines=PIPELINES)
    assert outcome.action == "written"
    # counted, not silently dropped
    people = _read(ssd_folder / "ssd_person.csv").height
    assert outcome.not_loaded["ssd_person.pers_surname"] == people
    assert outcome.not_loaded["ssd_person.pers_forename"] == people
    assert outcome.not_loaded["ssd_person.pers_common_child_id"] == people
    stored = [p for p in processed.rglob("*") if p.is_file()]
    assert stored
    for path in stored:
        data = path.read_bytes()
        for secret in (SURNAME, FORENAME, "9434765919", "HR1 2AB"):
            assert secret.encode() not in data, f"{secret} in {path}"
    manifest = json.dumps(Store(processed).manifest().model_dump(mode="json"))
    assert "ssd_person.pers_surname" in manifest


def test_recognised_by_content_not_name(contract: Contract, tmp_path: Path) -> None:
    folder = tmp_path / "2015-10"
    folder.mkdir()
    (folder / "export_contacts.csv").write_text(
        csv_text(
            """
            cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome_json
            C1,P1,2015-10-02 10:00:00.000,"{""NEW_REFERRAL_FLAG"": ""Y""}"
            """
        )
    )
    assert ssd.sniff(folder, contract)
    assert (
        ssd.recognise(
            "export_contacts.csv", {"cont_contact_id", "cont_contact_outcome_json"}, contract
        )
        == "ssd_contacts"
    )
    assert (
        ssd.recognise("anything.csv", {"clar_cla_review_id", "clar_cla_id"}, contract)
        == "ssd_cla_reviews"
    )
    # the contract's own contacts.csv (no SSD-only field) is not the SSD's
    assert (
        ssd.recognise("contacts.csv", {"cont_contact_id", "cont_contact_outcome"}, contract) is None
    )
    assert not ssd.sniff(EXAMPLES / "2015-10", contract)
    report = validate(folder, OCT, contract, pipelines=PIPELINES)
    assert not report.rejected, report.issues.rows()
    assert "unknown-file" not in report.issues["rule"].to_list()
    assert report.tables["contacts"].loaded == 1


def _small(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, text in files.items():
        (folder / f"{stem}.csv").write_text(csv_text(text), encoding="utf-8")
    return folder


PERSON = """
    pers_person_id,pers_forename,pers_surname,pers_sex,pers_dob
    P1,Ann,Quenbyworthe,F,2010-01-01 00:00:00.000
    P2,Bob,Quenbyworthe,M,2011-02-02 00:00:00.000
    """


def test_unreadable_outcome_json_is_quarantined_with_its_rule(
    contract: Contract, tmp_path: Path
) -> None:
    folder = _small(
        tmp_path / "2015-10",
        ssd_person=PERSON,
        ssd_contacts='''
            cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome_json
            C1,P1,2015-10-02 10:00:00.000,"{NEW_REFERRAL_FLAG: ""Y"", NFA_FLAG: """"}"
            C2,P1,2015-10-03 10:00:00.000,"{""NEW_REFERRAL_FLAG"": ""Y"""
            C3,P2,2015-10-04,"{""NEW_REFERRAL_FLAG"": ""N"", ""NFA_FLAG"": ""N""}"
            C4,P2,2015-10-05,"{""NFA_FLAG"": ""true"", ""ADVICE_FLAG"": ""Y""}"
            ''',
    )
    processed = tmp_path / "store"
    outcome = ingest(folder, OCT, contract, processed, max_quarantine=1.0, pipelines=PIPELINES)
    assert outcome.action == "written"
    issues = outcome.report.issues.filter(pl.col("rule") == ssd.OUTCOME_RULE)
    rows = issues.select("file", "line", "column", "value").rows()
    assert rows == [
        ("ssd_contacts.csv", 3, "cont_contact_outcome_json", '{"NEW_REFERRAL_FLAG": "Y"'),
        (
            "ssd_contacts.csv",
            4,
            "cont_contact_outcome_json",
            '{"NEW_REFERRAL_FLAG": "N", "NFA_FLAG": "N"}',
        ),
    ]
    assert "not the SSD's outcome dictionary" in issues["message"][0]
    assert "no outcome flag is set" in issues["message"][1]
    contacts = Store(processed).scan("contacts")
    assert contacts is not None
    loaded = dict(contacts.select("cont_contact_id", "cont_contact_outcome").collect().rows())
    # an unquoted-key dictionary is read; ADVICE comes before NFA in the order of flags
    assert loaded == {"C1": "NEW_REFERRAL", "C4": "ADVICE"}
    assert outcome.report.quarantined == 2


def test_review_joined_to_the_child_through_the_period_of_care(
    contract: Contract, tmp_path: Path
) -> None:
    folder = _small(
        tmp_path / "2015-10",
        ssd_person=PERSON,
        ssd_cla_episodes="""
            clae_cla_episode_id,clae_person_id,clae_cla_episode_start_date,clae_cla_episode_start_reason,clae_cla_id
            E1,P1,2015-01-01,S,POC1
            E2,P1,2015-03-01,P,POC1
            E3,P2,2015-05-01,S,POC2
            """,
        ssd_cla_reviews="""
            clar_cla_review_id,clar_cla_id,clar_cla_review_date,clar_cla_review_participation
            R1,POC1,2015-02-01,PN1
            R2,POC2,2015-06-01,PN7
            R3,POC9,2015-06-02,PN7
            """,
    )
    processed = tmp_path / "store"
    outcome = ingest(folder, OCT, contract, processed, max_quarantine=1.0, pipelines=PIPELINES)
    reviews = Store(processed).scan("cla_reviews")
    assert reviews is not None
    assert dict(reviews.select("clar_cla_review_id", "clar_person_id").collect().rows()) == {
        "R1": "P1",
        "R2": "P2",
    }
    bad = outcome.report.issues.filter(pl.col("rule") == ssd.PERIOD_RULE)
    assert bad.select("file", "line", "column", "value").rows() == [
        ("ssd_cla_reviews.csv", 4, "clar_cla_id", "POC9")
    ]


def test_local_tables_alongside_are_loaded(contract: Contract, tmp_path: Path) -> None:
    folder = _small(
        tmp_path / "2015-10",
        ssd_person=PERSON,
        audits="""
            audi_audit_id,audi_audit_date,audi_grade,audi_person_id,audi_team
            AU1,2015-10-05,GOOD,P1,Assessment North
            AU2,2015-10-06,INADEQUATE,,Child Protection
            """,
    )
    processed = tmp_path / "store"
    outcome = ingest(folder, OCT, contract, processed, pipelines=PIPELINES)
    assert outcome.action == "written"
    assert outcome.report.issues.is_empty(), outcome.report.issues.rows()
    audits = Store(processed).scan("audits")
    assert audits is not None and audits.collect().height == 2
    assert outcome.report.tables["audits"].file == "audits.csv"


PROFESSIONALS = """
    prof_professional_id,prof_staff_id,prof_professional_name,prof_social_worker_registration_no,prof_professional_job_title,prof_professional_caseload,prof_professional_department,prof_full_time_equivalency,prof_agency_worker_flag
    W1,S1,Wendy Quenbyworthe,SW123456,Social Worker,30,MASH,1.0,N
    W2,S2,Will Quenbyworthe,SW654321,Social Worker,10,MASH,0.5,Y
    W3,S3,Wanda Quenbyworthe,,Family Support Worker,0,MASH,1.0,N
    """


def test_workforce_from_ssd_professionals_and_involvements(
    contract: Contract, tmp_path: Path
) -> None:
    folder = _small(
        tmp_path / "2015-10",
        ssd_person=PERSON,
        ssd_professionals=PROFESSIONALS,
        ssd_involvements="""
            invo_involvements_id,invo_professional_id,invo_person_id,invo_involvement_start_date,invo_involvement_end_date
            I1,W1,P1,2015-01-01 00:00:00,
            I2,W1,P2,2015-01-01,2015-11-30
            I3,W1,P2,2015-02-01,
            I4,W2,P1,2015-01-01,2015-10-15
            I5,W2,P2,2015-11-01,
            """,
    )
    processed = tmp_path / "store"
    outcome = ingest(folder, OCT, contract, processed, pipelines=PIPELINES)
    assert outcome.action == "written", outcome.report.issues.rows()
    workforce = Store(processed).scan("workforce")
    assert workforce is not None
    rows = {r["prof_professional_id"]: r for r in workforce.collect().to_dicts()}
    # open at 31 October: W1 holds P1 and P2 (P2 twice, counted once); W2 none
    assert rows["W1"]["prof_professional_caseload"] == 2
    assert rows["W2"]["prof_professional_caseload"] == 0
    assert rows["W1"]["prof_case_holding"] is True
    assert rows["W2"]["prof_case_holding"] is False
    assert rows["W1"]["prof_full_time_equivalency"] == 1.0
    assert rows["W2"]["prof_agency_worker_flag"] is True
    assert rows["W3"]["prof_qualified_sw"] is False
    assert rows["W1"]["prof_team"] == "MASH"
    assert outcome.not_loaded["ssd_professionals.prof_professional_name"] == 3
    assert not any(b"Quenbyworthe" in p.read_bytes() for p in processed.rglob("*") if p.is_file())


def test_workforce_caseload_from_professionals_alone(contract: Contract, tmp_path: Path) -> None:
    folder = _small(tmp_path / "2015-10", ssd_person=PERSON, ssd_professionals=PROFESSIONALS)
    processed = tmp_path / "store"
    ingest(folder, OCT, contract, processed, pipelines=PIPELINES)
    workforce = Store(processed).scan("workforce")
    assert workforce is not None
    caseloads = dict(
        workforce.select("prof_professional_id", "prof_professional_caseload").collect().rows()
    )
    assert caseloads == {"W1": 30, "W2": 10, "W3": 0}


def test_local_workforce_wins_over_ssd_professionals(contract: Contract, tmp_path: Path) -> None:
    folder = _small(
        tmp_path / "2015-10",
        ssd_person=PERSON,
        ssd_professionals=PROFESSIONALS,
        workforce="""
            prof_professional_id,prof_team,prof_full_time_equivalency,prof_agency_worker_flag,prof_professional_caseload
            L1,MASH,1.0,N,17
            """,
    )
    processed = tmp_path / "store"
    outcome = ingest(folder, OCT, contract, processed, pipelines=PIPELINES)
    workforce = Store(processed).scan("workforce")
    assert workforce is not None
    assert workforce.select("prof_professional_id").collect()["prof_professional_id"].to_list() == [
        "L1"
    ]
    assert "local-table-used" in outcome.report.issues["rule"].to_list()
    assert outcome.not_loaded["ssd_professionals"] == 3


def test_cli_ingests_an_ssd_export_and_says_what_was_not_loaded(
    converted: tuple[Path, Path], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from safeguard.cli import cli

    ssd_folder, _ = converted
    store = tmp_path / "store"
    base = ["--pipelines", str(PIPELINES)]
    checked = CliRunner().invoke(cli, [*base, "validate", str(ssd_folder)])
    assert checked.exit_code == 0, checked.output
    result = CliRunner().invoke(
        cli, [*base, "ingest", str(ssd_folder), "--processed-dir", str(store)]
    )
    assert result.exit_code == 0, result.output
    assert "ssd_person.pers_surname 293" in result.output
    assert "unknown-file" not in result.output
    assert SURNAME not in result.output


def test_the_mapping_fits_the_contract_and_the_ssd(contract: Contract) -> None:
    mapping = ssd.load_ssd_mapping(PIPELINES)
    assert ssd.ssd_mapping_problems(mapping, contract) == []
    broken = mapping.model_copy(
        update={"outcome_flags": [ssd.OutcomeFlag(flag="NFA_FLAG", code="NOTHING")]}
    )
    assert ssd.ssd_mapping_problems(broken, contract) == [
        "ssd: outcome flag NFA_FLAG gives NOTHING, not a code"
    ]


def test_a_contract_table_with_an_extra_ssd_field_stays_the_contracts(
    contract: Contract, tmp_path: Path
) -> None:
    header = {"pers_person_id", "pers_sex", "pers_forename"}
    assert ssd.recognise("person.csv", header, contract) is None
    # named as the contract's, but in the SSD's form (no cont_contact_outcome): the SSD's
    ssd_header = {
        "cont_contact_id",
        "cont_person_id",
        "cont_contact_date",
        "cont_contact_outcome_json",
    }
    assert ssd.recognise("contacts.csv", ssd_header, contract) == "ssd_contacts"


def test_an_ssd_object_without_a_required_field_is_refused(
    contract: Contract, tmp_path: Path
) -> None:
    folder = _small(
        tmp_path / "2015-10",
        ssd_person=PERSON,
        ssd_contacts="""
            cont_contact_id,cont_person_id,cont_contact_date
            C1,P1,2015-10-02
            """,
    )
    outcome = ingest(folder, OCT, contract, tmp_path / "store", pipelines=PIPELINES)
    assert outcome.action == "refused"
    problem = outcome.report.issues.filter(pl.col("rule") == "missing-column").row(0, named=True)
    assert (problem["file"], problem["column"]) == ("ssd_contacts.csv", "cont_contact_outcome_json")
    assert outcome.report.tables["contacts"].rejected
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.parquet"))


def test_an_unreadable_ssd_object_is_a_file_error_not_a_missing_table(
    contract: Contract, tmp_path: Path
) -> None:
    folder = _small(tmp_path / "2015-10", ssd_person=PERSON)
    (folder / "ssd_contacts.csv").write_bytes(
        "cont_contact_id,cont_person_id,cont_contact_outcome_json\nC1,P1,caf\xe9\n".encode("cp1252")
    )
    report = validate(folder, OCT, contract, pipelines=PIPELINES)
    assert report.rejected
    assert "contacts" not in report.missing_tables
    assert report.issues.filter(pl.col("file") == "ssd_contacts.csv").height >= 1


def test_team_ids_are_named_from_ssd_department(contract: Contract, tmp_path: Path) -> None:
    folder = _small(
        tmp_path / "2015-10",
        ssd_person=PERSON,
        ssd_department="""
            dept_team_id,dept_team_name,dept_team_parent_id,dept_team_parent_name
            T1,Assessment North,D1,Children's Services
            """,
        ssd_cin_episodes="""
            cine_referral_id,cine_person_id,cine_referral_date,cine_referral_team
            R1,P1,2015-10-01 00:00:00.000,T1
            R2,P2,2015-10-02 00:00:00.000,T9
            """,
    )
    processed = tmp_path / "store"
    outcome = ingest(folder, OCT, contract, processed, pipelines=PIPELINES)
    assert outcome.action == "written", outcome.report.issues.rows()
    referrals = Store(processed).scan("referrals")
    assert referrals is not None
    teams = dict(referrals.select("cine_referral_id", "cine_referral_team").collect().rows())
    assert teams == {"R1": "Assessment North", "R2": "T9"}
    # the names were read (to name the teams); the parents, not read, are counted
    assert "ssd_department" not in outcome.not_loaded
    assert "ssd_department.dept_team_name" not in outcome.not_loaded
    assert outcome.not_loaded["ssd_department.dept_team_parent_name"] == 1


def test_run_sees_an_unchanged_export_as_done_and_a_changed_caseload_as_new(
    contract: Contract, tmp_path: Path
) -> None:
    from safeguard.run import pending_extracts

    raw = tmp_path / "raw"
    involvements = """
        invo_involvements_id,invo_professional_id,invo_person_id,invo_involvement_start_date
        I1,W1,P1,2015-01-01
        """
    folder = _small(
        raw / "2015-10",
        ssd_person=PERSON,
        ssd_professionals=PROFESSIONALS,
        ssd_involvements=involvements,
        audits="""
            audi_audit_id,audi_audit_date,audi_grade
            AU1,2015-10-05,GOOD
            """,
    )
    processed = tmp_path / "store"
    store = Store(processed)
    assert pending_extracts(raw, store, contract, PIPELINES) == [(OCT, folder)]
    ingest(folder, OCT, contract, processed, pipelines=PIPELINES)
    assert pending_extracts(raw, store, contract, PIPELINES) == []
    (folder / "ssd_involvements.csv").write_text(
        csv_text(involvements) + "I2,W1,P2,2015-02-01\n", encoding="utf-8"
    )
    assert pending_extracts(raw, store, contract, PIPELINES) == [(OCT, folder)]
    outcome = ingest(folder, OCT, contract, processed, pipelines=PIPELINES)
    assert outcome.action == "written"


def test_a_contract_narrowed_to_some_tables_leaves_the_other_objects_unloaded(
    contract: Contract, tmp_path: Path
) -> None:
    kept = {n: t for n, t in contract.tables.items() if n in ("person", "audits")}
    narrow = contract.model_copy(update={"tables": kept})
    folder = _small(
        tmp_path / "2015-10",
        ssd_person=PERSON,
        ssd_professionals=PROFESSIONALS,
    )
    outcome = ingest(folder, OCT, narrow, tmp_path / "store", pipelines=PIPELINES)
    assert outcome.action == "written", outcome.report.issues.rows()
    assert outcome.not_loaded["ssd_professionals"] == 3
    assert set(outcome.report.tables) == {"person"}
