"""The processed store: supersession, idempotency, order independence, atomicity."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import polars as pl
import pytest

from safeguard.errors import ConfigError, DataError, LockedError, StoreError
from safeguard.ingest.stage import ingest
from safeguard.ingest.validate import validate_extract
from safeguard.periods import Month
from safeguard.schema import Contract
from safeguard.store import Store, merge_extract, window_of
from tests.conftest import WriteExtract

PERSON = """
    pers_person_id,pers_sex
    P1,M
    P2,F
    P3,F
"""
# September: C1 is advice, C2 an early-help contact.
SEP = """
    cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
    C1,P1,2015-09-28,ADVICE
    C2,P2,2015-09-29,EARLY_HELP
"""
# October: C1 was corrected to a new referral (revised), C2 is carried over unchanged and C3 is new.
OCT = """
    cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
    C1,P1,2015-09-28,NEW_REFERRAL
    C2,P2,2015-09-29,EARLY_HELP
    C3,P3,2015-10-02,NFA
"""


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the store (lock file aside) with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != ".lock"
    }


def load(folder: Path, contract: Contract, store: Path, **options: object) -> str:
    month = Month.parse(folder.name)
    return ingest(folder, month, contract, store, **options).action  # type: ignore[arg-type]


@pytest.fixture
def extracts(write_extract: WriteExtract, tmp_path: Path) -> tuple[Path, Path]:
    sep = write_extract("2015-09", person=PERSON, contacts=SEP)
    oct_ = write_extract("2015-10", person=PERSON, contacts=OCT)
    return sep, oct_


def current(store: Path, table: str) -> pl.DataFrame:
    frame = Store(store).scan(table)
    assert frame is not None
    return frame.collect()


def test_a_newer_extract_supersedes_and_older_only_records_are_kept(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    sep, oct_ = extracts
    store = tmp_path / "processed"
    assert load(sep, contract, store) == "written"
    assert load(oct_, contract, store) == "written"
    contacts = current(store, "contacts").select(
        "cont_contact_id", "cont_contact_outcome", "_extract"
    )
    assert contacts.rows() == [
        ("C1", "NEW_REFERRAL", "2015-10"),
        ("C2", "EARLY_HELP", "2015-10"),
        ("C3", "NFA", "2015-10"),
    ]
    held = Store(store).manifest().extracts
    october = held["2015-10"].files["contacts"]
    oct_counts = october.model_dump(
        include={"rows", "loaded", "quarantined", "new", "revised", "unchanged"}
    )
    assert oct_counts == {
        "rows": 3,
        "loaded": 3,
        "quarantined": 0,
        "new": 1,
        "revised": 1,
        "unchanged": 1,
    }
    # both September rows now have a newer version
    assert held["2015-09"].files["contacts"].superseded_by_newer == 2


def test_records_only_an_older_extract_holds_are_kept(
    write_extract: WriteExtract, contract: Contract, tmp_path: Path
) -> None:
    sep = write_extract("2015-09", person=PERSON, contacts=SEP)
    # October no longer carries C2 (it fell out of the system's window): it stays in the store.
    oct_ = write_extract(
        "2015-10",
        person=PERSON,
        contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C1,P1,2015-09-28,NEW_REFERRAL
    """,
    )
    store = tmp_path / "processed"
    load(sep, contract, store)
    load(oct_, contract, store)
    assert current(store, "contacts").select("cont_contact_id", "_extract").rows() == [
        ("C1", "2015-10"),
        ("C2", "2015-09"),
    ]


def test_ingesting_the_same_extract_twice_changes_nothing(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    sep, oct_ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    load(oct_, contract, store)
    before = snapshot(store)
    assert load(oct_, contract, store) == "unchanged"
    assert load(sep, contract, store) == "unchanged"
    assert snapshot(store) == before


def test_out_of_order_ingest_gives_the_same_store(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    sep, oct_ = extracts
    in_order, reversed_ = tmp_path / "a", tmp_path / "b"
    load(sep, contract, in_order)
    load(oct_, contract, in_order)
    load(oct_, contract, reversed_)
    load(sep, contract, reversed_)
    assert snapshot(in_order) == snapshot(reversed_)
    assert current(reversed_, "contacts")["cont_contact_outcome"].to_list() == [
        "NEW_REFERRAL",
        "EARLY_HELP",
        "NFA",
    ]


def test_a_corrected_copy_of_an_extract_replaces_the_first(
    write_extract: WriteExtract, contract: Contract, tmp_path: Path
) -> None:
    store = tmp_path / "processed"
    load(write_extract("2015-09", person=PERSON, contacts=SEP), contract, store)
    load(write_extract("2015-10", person=PERSON, contacts=OCT), contract, store)
    # The October extract is re-issued without the C1 correction: C1 falls back to September's.
    fixed = write_extract(
        "2015-10",
        root=tmp_path / "reissued",
        person=PERSON,
        contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C2,P2,2015-09-29,EARLY_HELP
        C3,P3,2015-10-02,NFA
    """,
    )
    assert load(fixed, contract, store) == "written"
    assert current(store, "contacts").select("cont_contact_id", "cont_contact_outcome").rows() == [
        ("C1", "ADVICE"),
        ("C2", "EARLY_HELP"),
        ("C3", "NFA"),
    ]


def test_a_failure_before_the_swap_leaves_the_store_exactly_as_it_was(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    sep, oct_ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    before = snapshot(store)

    def crash(_: Path) -> None:
        raise OSError("disk full (simulated)")

    result = validate_extract(oct_, Month(2015, 10), contract)
    with pytest.raises(OSError, match="simulated"):
        merge_extract(store, result, contract, before_swap=crash)
    assert snapshot(store) == before
    assert not [p for p in store.iterdir() if p.name.startswith(".tmp-")]


def test_leftovers_of_a_killed_run_are_cleaned_by_the_next(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    sep, oct_ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    (store / ".tmp-killed" / "tables").mkdir(parents=True)
    (store / "g-0000000000000000").mkdir()
    (store / "CURRENT.tmp").write_text("g-0000000000000000\n")
    load(oct_, contract, store)
    names = sorted(p.name for p in store.iterdir())
    assert names == [".lock", "CURRENT", (store / "CURRENT").read_text().strip()]


def test_a_refused_extract_writes_nothing(
    write_extract: WriteExtract, contract: Contract, tmp_path: Path
) -> None:
    store = tmp_path / "processed"
    load(write_extract("2015-09", person=PERSON, contacts=SEP), contract, store)
    before = snapshot(store)
    bad = write_extract(
        "2015-10", person=PERSON, contacts="cont_contact_id,cont_contact_date\nC9,2015-10-01\n"
    )
    outcome = ingest(bad, Month(2015, 10), contract, store)
    assert outcome.action == "refused"
    assert outcome.report.rejected
    assert snapshot(store) == before


def test_strict_refuses_quarantine_and_warnings(
    write_extract: WriteExtract, contract: Contract, tmp_path: Path
) -> None:
    store = tmp_path / "processed"
    folder = write_extract(
        "2015-10",
        person=PERSON,
        contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C1,P1,2015-10-01,REFERAL
        C2,P2,2015-10-02,NFA
    """,
    )
    # 1 bad row of 2 is 50%: raise the threshold so only --strict decides
    strict = ingest(folder, Month(2015, 10), contract, store, strict=True, max_quarantine=1.0)
    assert strict.action == "refused"
    assert not store.exists() or not (store / "CURRENT").exists()
    lenient = ingest(folder, Month(2015, 10), contract, store, max_quarantine=1.0)
    assert lenient.action == "written"
    assert current(store, "contacts")["cont_contact_id"].to_list() == ["C2"]
    quarantine = store / Store(store).generation.name / "extracts/2015-10/quarantine/contacts.csv"  # type: ignore[union-attr]
    assert quarantine.read_text().splitlines() == [
        "_line,cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome,_rules",
        "2,C1,P1,2015-10-01,REFERAL,invalid-code",
    ]


def test_the_same_files_under_another_month_are_refused(
    write_extract: WriteExtract, contract: Contract, tmp_path: Path
) -> None:
    store = tmp_path / "processed"
    load(write_extract("2015-10", person=PERSON, contacts=OCT), contract, store)
    copy = write_extract("2015-11", person=PERSON, contacts=OCT)
    with pytest.raises(DataError, match="every file is identical to extract 2015-10"):
        load(copy, contract, store)


def test_a_second_run_waits_for_nobody_and_names_the_holder(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    import subprocess
    import sys

    sep, _ = extracts
    store = tmp_path / "processed"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from safeguard.store import Store\n"
            f"with Store(Path({str(store)!r})).locked():\n"
            "    print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=rf"process {holder.pid} on "):
            load(sep, contract, store)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # the killed holder's lock went with its process: the next run proceeds
    assert load(sep, contract, store) == "written"


def test_the_lock_is_reentrant_within_one_process(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    sep, _ = extracts
    store = tmp_path / "processed"
    with Store(store).locked():
        assert load(sep, contract, store) == "written"


def test_the_store_is_readable_by_its_owner_only(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    sep, _ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    generation = Store(store).generation
    assert generation is not None
    for path in [generation, *generation.rglob("*")]:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_the_manifest_has_no_timestamps_and_names_the_checksums(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    sep, _ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    manifest = json.loads((Store(store).generation / "manifest.json").read_text())  # type: ignore[operator]
    contacts = manifest["extracts"]["2015-09"]["files"]["contacts"]
    assert len(contacts["sha256"]) == 64
    assert manifest["tables"]["contacts"] == {"rows": 2, "extracts": ["2015-09"]}
    assert "time" not in json.dumps(manifest).lower()


def test_an_older_manifest_is_read_and_its_entries_written_back_as_they_were(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    # a store written before pseudonym keys, source formats, windows, contract fingerprints
    # and encodings were recorded
    sep, oct_ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    path = Store(store).generation / "manifest.json"  # type: ignore[operator]
    old = json.loads(path.read_text())
    del old["pseudonym_key"]
    for key in ("format", "window", "contract", "encoding"):
        del old["extracts"]["2015-09"][key]
    path.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")
    september = Store(store).manifest().extracts["2015-09"]
    assert window_of("2015-09", september) == (Month(2013, 10), Month(2015, 9))

    assert load(oct_, contract, store) == "written"
    written = json.loads((Store(store).generation / "manifest.json").read_text())  # type: ignore[operator]
    assert sorted(written["extracts"]["2015-09"]) == ["files", "missing_tables", "source"]
    assert written["extracts"]["2015-09"]["files"]["contacts"]["superseded_by_newer"] == 2
    assert written["extracts"]["2015-10"]["encoding"] is None

    # a key this version does not know is refused, never dropped on the next write
    written["extracts"]["2015-10"]["surprise"] = 1
    (Store(store).generation / "manifest.json").write_text(json.dumps(written))  # type: ignore[operator]
    with pytest.raises(StoreError, match=r"extracts\.2015-10\.surprise: Extra inputs"):
        Store(store).manifest()


def test_a_changed_contract_revalidates_the_same_files(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    sep, _ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    # an authority adds a local contact outcome: the same files must be checked again
    codes = dict(contract.codes)
    outcome = codes["contact_outcome"]
    codes["contact_outcome"] = outcome.model_copy(
        update={"codes": {**outcome.codes, "MASH": ("Multi-agency hub",)}}
    )
    changed = contract.model_copy(update={"codes": codes})
    assert changed.fingerprint() != contract.fingerprint()
    assert load(sep, changed, store) == "written"
    assert load(sep, changed, store) == "unchanged"


def test_a_failure_while_writing_parquet_leaves_the_store_as_it_was(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sep, oct_ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    before = snapshot(store)
    calls = []

    def failing_write(frame: pl.DataFrame, path: Path) -> None:
        calls.append(path)
        if len(calls) == 2:  # the second table of the extract
            raise OSError("No space left on device (simulated)")
        real_write(frame, path)

    from safeguard import store as store_module

    real_write = store_module._write_parquet
    monkeypatch.setattr(store_module, "_write_parquet", failing_write)
    with pytest.raises(OSError, match="simulated"):
        load(oct_, contract, store)
    assert len(calls) == 2
    assert snapshot(store) == before
    assert sorted(p.name for p in store.iterdir() if p.name != ".lock") == [
        "CURRENT",
        Store(store).generation.name,  # type: ignore[union-attr]
    ]


def test_every_order_of_three_extracts_gives_the_same_store(
    write_extract: WriteExtract, contract: Contract, tmp_path: Path
) -> None:
    # November revises C2 again and drops C3; each order takes a different path through the
    # store (newest-first updates, or full rebuilds when an older month arrives late).
    nov = write_extract(
        "2015-11",
        person=PERSON,
        contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C2,P2,2015-09-29,NFA
        C4,P1,2015-11-03,ADVICE
    """,
    )
    folders = [
        write_extract("2015-09", person=PERSON, contacts=SEP),
        write_extract("2015-10", person=PERSON, contacts=OCT),
        nov,
    ]
    import itertools

    stores = []
    for number, order in enumerate(itertools.permutations(folders)):
        store = tmp_path / f"store{number}"
        for folder in order:
            load(folder, contract, store)
        stores.append(snapshot(store))
    assert all(other == stores[0] for other in stores[1:])
    manifest = json.loads(next(v for k, v in stores[0].items() if k.endswith("manifest.json")))
    counts = {
        m: {
            k: e["files"]["contacts"][k]
            for k in ("new", "revised", "unchanged", "superseded_by_newer")
        }
        for m, e in manifest["extracts"].items()
    }
    assert counts == {
        "2015-09": {"new": 2, "revised": 0, "unchanged": 0, "superseded_by_newer": 2},
        "2015-10": {"new": 1, "revised": 1, "unchanged": 1, "superseded_by_newer": 1},
        "2015-11": {"new": 1, "revised": 1, "unchanged": 0, "superseded_by_newer": 0},
    }


def test_purge_removes_older_extracts_and_records_only_they_held(
    write_extract: WriteExtract, contract: Contract, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from safeguard.cli import cli
    from tests.conftest import PIPELINES

    store = tmp_path / "processed"
    load(write_extract("2015-09", person=PERSON, contacts=SEP), contract, store)
    # October drops C2, so C2 lives only in September's extract
    load(
        write_extract(
            "2015-10",
            person=PERSON,
            contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C1,P1,2015-09-28,NEW_REFERRAL
    """,
        ),
        contract,
        store,
    )
    result = CliRunner().invoke(
        cli,
        [
            "--pipelines",
            str(PIPELINES),
            "purge",
            "--before",
            "2015-10",
            "--processed-dir",
            str(store),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Removed 1 extract(s) (2015-09 to 2015-09) and 1 record(s) that only they held, from "
        f"{store}.",
        "  contacts: 1",
    ]
    assert current(store, "contacts")["cont_contact_id"].to_list() == ["C1"]
    assert sorted(Store(store).manifest().extracts) == ["2015-10"]
    # the result is the store October alone would have made
    alone = tmp_path / "alone"
    load(
        write_extract(
            "2015-10",
            root=tmp_path / "again",
            person=PERSON,
            contacts="""
        cont_contact_id,cont_person_id,cont_contact_date,cont_contact_outcome
        C1,P1,2015-09-28,NEW_REFERRAL
    """,
        ),
        contract,
        alone,
    )
    # ... but for the cut-off the purge recorded (issue 15: a purged month stays out)
    purged = snapshot(store)
    assert purged.pop("RETENTION") == b"2015-10\n"
    assert purged == snapshot(alone)
    again = CliRunner().invoke(
        cli,
        [
            "--pipelines",
            str(PIPELINES),
            "purge",
            "--before",
            "2015-10",
            "--processed-dir",
            str(store),
        ],
    )
    assert again.output.startswith("Nothing to purge")


def test_pseudonymised_ids_are_keyed_stable_and_guarded(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import hmac

    sep, oct_ = extracts
    store = tmp_path / "processed"
    monkeypatch.setenv("SAFEGUARD_PSEUDONYM_KEY", "a secret from the environment")
    load(sep, contract, store)
    load(oct_, contract, store)
    ids = current(store, "contacts")["cont_person_id"].to_list()
    # PS- and the first 16 hex digits of HMAC-SHA256(key, id)
    expected = (
        "PS-" + hmac.new(b"a secret from the environment", b"P1", hashlib.sha256).hexdigest()[:16]
    )
    assert ids[0] == expected
    assert all(
        i.startswith("PS-") for i in ids + current(store, "person")["pers_person_id"].to_list()
    )
    # the same child keeps the same pseudonym across extracts: C1 was revised, not duplicated
    assert current(store, "contacts").height == 3
    raw = b"".join(snapshot(store).values())
    assert b"P1," not in raw and b'"P1"' not in raw
    assert b"secret" not in Store(store).manifest().to_json()
    monkeypatch.setenv("SAFEGUARD_PSEUDONYM_KEY", "another key")
    with pytest.raises(ConfigError, match="pseudonymised with another key"):
        load(sep, contract, tmp_path / "processed", strict=False)
    monkeypatch.delenv("SAFEGUARD_PSEUDONYM_KEY")
    before = snapshot(store)
    again = write_extract_like(sep, tmp_path)
    with pytest.raises(ConfigError, match="set SAFEGUARD_PSEUDONYM_KEY"):
        load(again, contract, store)
    assert snapshot(store) == before


def write_extract_like(folder: Path, tmp_path: Path) -> Path:
    """A copy of an extract with one changed file, so it is not a no-op re-ingest."""
    import shutil

    copy = tmp_path / "copy" / folder.name
    shutil.copytree(folder, copy)
    with open(copy / "contacts.csv", "a", encoding="utf-8") as stream:
        stream.write("C9,P3,2015-09-30,NFA\n")
    return copy


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("", "holds '', not a generation's name"),
        ("garbage\n", "holds 'garbage', not a generation's name"),
        ("g-0123456789abcdef\n", "names g-0123456789abcdef, which is not a complete generation"),
    ],
)
def test_a_damaged_current_is_refused_and_nothing_is_deleted(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path, damage: str, said: str
) -> None:
    """Issue 15 item 1: a damaged CURRENT made the store look empty, and the next run deleted
    the live generation and rebuilt from whatever was still in data/raw."""
    from safeguard.errors import StoreError
    from safeguard.store import repair

    sep, oct_ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    live = Store(store).generation
    assert live is not None
    (store / "CURRENT").write_text(damage)
    before = snapshot(store)
    with pytest.raises(StoreError, match=said) as refused:
        load(oct_, contract, store)
    assert "safeguard store repair" in refused.value.message
    assert refused.value.exit_code == 74
    assert snapshot(store) == before  # the generation is still there, untouched
    with pytest.raises(StoreError):
        Store(store).clean_leftovers()
    # repair points CURRENT at the only complete generation, and the store works again
    repaired, seen = repair(store)
    assert repaired == live and [c.path for c in seen] == [live]
    assert load(oct_, contract, store) == "written"


def test_repair_prefers_the_generation_with_the_latest_extract_and_skips_incomplete_ones(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    import shutil

    from safeguard.store import repair

    sep, oct_ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    september = Store(store).generation
    assert september is not None
    kept = tmp_path / "kept"
    shutil.copytree(september, kept)
    load(oct_, contract, store)
    october = Store(store).generation
    assert october is not None and october != september
    shutil.copytree(kept, september)  # an older generation left beside the live one
    broken = store / "g-00000000deadbeef"
    broken.mkdir()  # no manifest: never chosen
    (store / "CURRENT").write_text("")
    repaired, seen = repair(store)
    assert repaired == october
    assert [c.path for c in seen] == [october, september, broken]
    assert seen[-1].problem.startswith("no readable manifest")


def test_without_current_no_generation_is_deleted(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    # a first ingest killed between naming its generation folder and writing CURRENT: the
    # store reads as empty, but its folder is kept until a valid CURRENT names another
    sep, _ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    live = Store(store).generation
    assert live is not None
    (store / "CURRENT").unlink()
    assert Store(store).generation is None
    assert Store(store).clean_leftovers() == []
    assert live.is_dir()


def test_a_damaged_store_file_is_named_never_a_bug(
    extracts: tuple[Path, Path], contract: Contract, tmp_path: Path
) -> None:
    """Issue 15 item 10: a truncated parquet or a corrupt manifest was exit 3 without the
    file's name (polars' error does not give it)."""
    from safeguard.errors import StoreError

    sep, oct_ = extracts
    store = tmp_path / "processed"
    load(sep, contract, store)
    live = Store(store).generation
    assert live is not None
    table = live / "tables" / "contacts.parquet"
    data = table.read_bytes()
    table.write_bytes(data[: len(data) // 2])  # cut short, as a full disk or a bad copy leaves it
    with pytest.raises(StoreError, match=r"contacts.parquet is damaged \(cut short\)") as cut:
        Store(store).scan("contacts")
    assert cut.value.exit_code == 74 and "Restore the store from a backup" in cut.value.message
    with pytest.raises(StoreError, match=r"contacts\.parquet is damaged"):
        load(oct_, contract, store)  # the next ingest reads it too
    table.write_bytes(data)
    (live / "manifest.json").write_text('{"format":')
    with pytest.raises(StoreError, match=r"manifest is damaged: .*manifest.json"):
        Store(store).manifest()


def test_a_purged_month_is_not_loaded_again(
    write_extract: WriteExtract, contract: Contract, tmp_path: Path
) -> None:
    """Issue 15 item 5: after purge --before 2015-09, the next run ingested data/raw/2015-08
    again. The cut-off is kept in the store (RETENTION): ingest refuses an older extract, run
    skips its folder."""
    from safeguard.run import pending_extracts
    from safeguard.store import purge_before, retention

    store = tmp_path / "processed"
    august = write_extract("2015-08", person=PERSON, contacts=SEP.replace("2015-09", "2015-08"))
    september = write_extract("2015-09", person=PERSON, contacts=SEP)
    load(august, contract, store)
    load(september, contract, store)
    assert purge_before(store, "2015-09", contract) == ["2015-08"]
    assert retention(store) == "2015-09"
    before = snapshot(store)
    with pytest.raises(DataError, match="before the retention cut-off 2015-09"):
        load(august, contract, store)
    assert snapshot(store) == before
    raw = august.parent
    assert [m for m, _ in pending_extracts(raw, Store(store), contract)] == []  # August skipped
    # an earlier purge leaves the cut-off where it is
    purge_before(store, "2015-05", contract)
    assert retention(store) == "2015-09"


def test_the_sorted_advance_agrees_with_the_joins(contract: Contract) -> None:
    """A monthly extract's current view by the merge in id order (a store without returns)
    and by the joins: the same rows in the same order, the same counts, whatever order the
    rows come in (issue 16)."""
    from safeguard.store import EXTRACT, _advance

    table = contract.tables["complaints"]
    columns = list(table.columns)
    ident, other = table.id, next(c for c in columns if c != table.id)

    def frame(ids: list[str], month: str, changed: set[str]) -> pl.DataFrame:
        rows = pl.DataFrame({ident: ids}).with_columns(
            pl.lit(None, pl.String).alias(c) for c in columns if c != ident
        )
        rows = rows.with_columns(
            pl.when(pl.col(ident).is_in(list(changed))).then(pl.lit("x")).alias(other)
        )
        return rows.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_line"),
            *[pl.col(c).cast(rows.schema[c]) for c in columns],
            pl.lit(month).alias(EXTRACT),
        )

    current = frame([f"C{i:03d}" for i in range(0, 60)], "2015-09", set())
    current = current.with_columns(  # the oldest records last held by an earlier extract
        pl.when(pl.col(ident) < "C020")
        .then(pl.lit("2015-08"))
        .otherwise(pl.col(EXTRACT))
        .alias(EXTRACT)
    )
    newest = frame([f"C{i:03d}" for i in range(40, 90)], "2015-10", {"C045", "C050", "C088"})
    newest = newest.sample(fraction=1.0, shuffle=True, seed=7)  # not in id order
    joined = _advance(current.lazy(), newest.lazy(), table, returns=True)
    merged = _advance(current.lazy(), newest.lazy(), table, returns=False)
    for by_joins, by_merge in zip(joined, merged, strict=True):
        assert by_joins.equals(by_merge)
    assert merged[0].get_column(ident).is_sorted() and merged[0].height == 90
    assert merged[1].select("new", "revised", "unchanged").row(0) == (30, 2, 18)
    assert merged[2].rows() == [("2015-09", 20)]
