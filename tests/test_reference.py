"""Reference data on demand (pipelines/reference.yaml, safeguard.reference), the authority
lookup for `safeguard init` (safeguard.authorities), and what the paper says when no
comparator is held (scorecard notes and the legend).

The DfE files are served from ../shared/reference/dfe by a real HTTP server on 127.0.0.1 (and
read through file:// addresses); those tests skip when ../shared is not beside the checkout.
Nothing here touches the internet: update() is only ever given a local mirror, or names files
with no address.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from safeguard.authorities import (
    NEIGHBOUR_FILES,
    POPULATION_FILE,
    authority_settings,
    authority_yaml,
    normalise_name,
)
from safeguard.errors import ConfigError, DataError
from safeguard.indicators.catalogue import Authority, Population, load_catalogue
from safeguard.indicators.scorecard import NOT_HELD, Comparators
from safeguard.periods import Month
from safeguard.reference import (
    INIT_FILES,
    MANIFEST_FILE,
    HeldState,
    ReferenceSpec,
    add,
    load_reference_spec,
    status,
    update,
    years_label,
)
from safeguard.report.build import COMPARATORS_LEGEND, _comparators_legend
from tests.conftest import PIPELINES, SHARED

DFE = SHARED / "reference" / "dfe"
C1 = "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"
B1 = "b1_children_in_need_2013_to_2025.csv"
CSWW = "csww_indicators_2017_to_2025.csv"
SN_2025 = "sn_model_2025_wide.csv"
SN_2021 = "New_Statistical_Neighbour_Groupings_April_2021.csv"
# Herefordshire's neighbours, closest first (see test_comparators.py for the names).
HEREFORDSHIRE_SN_2025 = ["943", "860", "925", "893", "933", "888", "935", "811", "815", "830"]
HEREFORDSHIRE_SN_2021 = ["893", "878", "908", "933", "838", "865", "935", "926", "916", "909"]

_skip_without_dfe = pytest.mark.skipif(
    not DFE.is_dir(), reason="../shared/reference/dfe is not beside the checkout"
)
F = TypeVar("F", bound=Callable[..., Any])


def needs_dfe(test: F) -> F:
    """Marked `shared` and skipped when the DfE files are not beside the checkout."""
    marked: F = pytest.mark.shared(_skip_without_dfe(test))
    return marked


@pytest.fixture(scope="module")
def spec() -> ReferenceSpec:
    return load_reference_spec(PIPELINES / "reference.yaml")


def manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    return data


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- the spec


def test_spec_declares_every_file_the_catalogue_and_init_read(spec: ReferenceSpec) -> None:
    catalogue = load_catalogue(PIPELINES)
    mappings = [ind.dfe for ind in catalogue.indicators.values() if ind.dfe is not None]
    used = {dfe.file for dfe in mappings if dfe.file is not None}
    used |= {dfe.population_file for dfe in mappings if dfe.per_10000}
    assert used <= set(spec.files)
    assert {POPULATION_FILE, *(name for name, _ in NEIGHBOUR_FILES)} <= set(spec.files)
    assert set(INIT_FILES) <= set(spec.files)
    # every entry says where it is published; files without a download address say why
    for name, entry in spec.files.items():
        assert entry.page.startswith("https://"), name
        assert entry.url is not None or "by hand" in entry.note, name


@needs_dfe
def test_spec_columns_are_in_the_held_files(spec: ReferenceSpec) -> None:
    for name, entry in spec.files.items():
        header = (DFE / name).read_bytes().split(b"\n", 1)[0].decode("utf-8-sig")
        names = {cell.strip().strip('"') for cell in header.split(",")}
        assert set(entry.columns) <= names, name


def test_spec_refuses_unknown_keys_and_non_web_addresses(tmp_path: Path) -> None:
    base = {
        "version": 1,
        "files": {
            "x.csv": {
                "title": "X",
                "page": "https://example.org/x",
                "columns": ["time_period"],
                "used_for": "testing",
            }
        },
    }
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(base), encoding="utf-8")
    assert load_reference_spec(good).files["x.csv"].url is None
    for change, complaint in (
        ({"colour": "red"}, "colour"),
        ({"url": "ftp://example.org/x.csv"}, "http"),
        ({"columns": ["la_name"]}, "time_period"),
    ):
        bad = json.loads(json.dumps(base))
        bad["files"]["x.csv"].update(change)
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(bad), encoding="utf-8")
        with pytest.raises(ConfigError, match=complaint):
            load_reference_spec(path)


def test_years_label() -> None:
    assert years_label(()) == ""
    assert years_label(("2016",)) == "2016"
    assert years_label(("2013", "2014", "2025")) == "2013 to 2025"
    assert years_label(("201516", "201617")) == "2015-16 to 2016-17"


# --------------------------------------------------------------------------- a local server


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves ../shared/reference/dfe, except names the test overrides: bytes are served as
    the file, an int is an HTTP status, ("short", body, length) declares ``length`` bytes
    and sends ``body`` (a connection that breaks off)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(DFE), **kwargs)

    def do_GET(self) -> None:
        name = urllib.parse.unquote(self.path.lstrip("/"))
        override = self.server.overrides.get(name)  # type: ignore[attr-defined]
        if override is None:
            super().do_GET()
        elif isinstance(override, int):
            self.send_error(override)
        elif isinstance(override, tuple):
            _, body, length = override
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(override)))
            self.end_headers()
            self.wfile.write(override)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    if not DFE.is_dir():
        pytest.skip("../shared/reference/dfe is not beside the checkout")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.overrides = {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def mirror(server: http.server.ThreadingHTTPServer) -> Iterator[tuple[str, dict[str, Any]]]:
    """The server's address and its overrides (cleared after each test)."""
    overrides: dict[str, Any] = server.overrides  # type: ignore[attr-defined]
    overrides.clear()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}", overrides
    overrides.clear()


# --------------------------------------------------------------------------- update


@needs_dfe
def test_update_from_a_mirror_holds_checks_and_records_every_file(
    spec: ReferenceSpec, mirror: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    base, _ = mirror
    folder = tmp_path / "reference"
    outcome = update(folder, spec, base_url=base + "/")
    assert outcome.ok
    assert [file.name for file in outcome.updated] == list(spec.files)
    for name in spec.files:
        assert sha(folder / name) == sha(DFE / name), name
    files = manifest(folder)["files"]
    # c1: 2,133 lines = a header and 2,132 rows (EES says 2,132), years 2013 to 2025
    c1 = files[C1]
    assert c1["rows"] == 2132
    assert c1["years"] == [str(year) for year in range(2013, 2026)]
    assert c1["sha256"] == sha(DFE / C1)
    assert c1["size"] == (DFE / C1).stat().st_size == 369233
    assert c1["source"] == f"{base}/{C1}"
    assert files[POPULATION_FILE]["years"][0] == "2012"
    assert files[POPULATION_FILE]["years"][-1] == "2024"
    # the neighbour tables have no years: 154 lines = a header and 153 authorities
    assert files[SN_2025]["years"] == []
    assert files[SN_2025]["rows"] == 153
    text = (folder / MANIFEST_FILE).read_text(encoding="utf-8")
    assert str(DFE) not in text and str(tmp_path) not in text
    assert outcome.updated[0].message == f"{C1}: 2,132 rows, 2013 to 2025"
    # no temporary files are left behind
    assert sorted(p.name for p in folder.iterdir()) == sorted([*spec.files, MANIFEST_FILE])

    held = status(folder, spec)
    assert {entry.state for entry in held} == {HeldState.OK}
    assert next(entry for entry in held if entry.name == C1).years == "2013 to 2025"

    again = update(folder, spec, base_url=base, names=[C1])
    assert [file.result for file in again.files] == ["unchanged"]
    # a held copy edited by hand is replaced by the published one, not called unchanged
    (folder / C1).write_bytes((folder / C1).read_bytes().replace(b"2992", b"2993"))
    assert [file.result for file in update(folder, spec, base_url=base, names=[C1]).files] == [
        "updated"
    ]
    assert sha(folder / C1) == sha(DFE / C1)


def _bad_c1(variant: str) -> tuple[bytes, str]:
    """A damaged copy of the C1 file, and what the check says about it."""
    good = (DFE / C1).read_bytes()
    header, rest = good.split(b"\n", 1)
    return {
        # "\xa3" is a pound sign in Latin-1, not UTF-8: byte 25 = 20 (the header line) + 5
        "latin-1": (b"time_period,la_name\n2016,\xa3\n", "not UTF-8 (byte 25)"),
        "missing-column": (
            header.replace(b"referral_count,", b"referrals,", 1) + b"\n" + rest,
            "no referral_count column",
        ),
        # half the file: it ends part way through a row, with fewer fields than the header
        "truncated": (good[: len(good) // 2], "fields where the header has 21"),
        "html": (b"<!DOCTYPE html><html><body>Sign in</body></html>", "a web page"),
        "header-only": (header + b"\n", "a header but no data rows"),
    }[variant]


@needs_dfe
@pytest.mark.parametrize(
    "variant", ["latin-1", "missing-column", "truncated", "html", "header-only"]
)
def test_a_bad_download_is_refused_and_the_held_copy_kept(
    spec: ReferenceSpec, mirror: tuple[str, dict[str, Any]], tmp_path: Path, variant: str
) -> None:
    base, overrides = mirror
    folder = tmp_path / "reference"
    assert update(folder, spec, base_url=base, names=[C1]).ok
    before = (sha(folder / C1), manifest(folder)["files"][C1])
    overrides[C1], complaint = _bad_c1(variant)
    outcome = update(folder, spec, base_url=base, names=[C1, CSWW])
    assert [file.result for file in outcome.files] == ["failed", "updated"]
    failure = outcome.failed[0]
    assert complaint in failure.message
    assert failure.message.startswith(f"{C1}: ")
    assert failure.message.endswith("the held copy is kept")
    assert (sha(folder / C1), manifest(folder)["files"][C1]) == before
    assert manifest(folder)["files"][CSWW]["rows"] == 1463  # the other file went ahead
    assert not outcome.ok


@needs_dfe
def test_a_404_and_a_broken_connection_are_reported(
    spec: ReferenceSpec, mirror: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    base, overrides = mirror
    folder = tmp_path / "reference"
    overrides[C1] = 404
    half = (DFE / CSWW).read_bytes()[:1000]
    overrides[CSWW] = ("short", half, 288726)  # 1,000 of the file's 288,726 bytes arrive
    outcome = update(folder, spec, base_url=base, names=[C1, CSWW, B1])
    results = {file.name: file for file in outcome.files}
    assert results[C1].result == "failed"
    assert f"{C1}: download from {base}/{C1} failed: HTTP 404" in results[C1].message
    assert results[CSWW].result == "failed"
    assert "1,000 of 288,726 bytes" in results[CSWW].message or "broke off" in (
        results[CSWW].message
    )
    assert results[B1].result == "updated"
    assert not (folder / C1).exists() and not (folder / CSWW).exists()
    assert set(manifest(folder)["files"]) == {B1}


@needs_dfe
def test_a_file_mirror_records_only_file_names(spec: ReferenceSpec, tmp_path: Path) -> None:
    folder = tmp_path / "reference"
    outcome = update(folder, spec, base_url=DFE.as_uri(), names=[C1, SN_2021])
    assert outcome.ok
    files = manifest(folder)["files"]
    assert files[C1]["source"] == C1
    assert files[SN_2021]["source"] == SN_2021
    # 160 lines: the header, 153 authorities, an "Old SNs:" line, an empty line, 4 old LAs
    assert files[SN_2021]["rows"] == 159
    assert str(DFE) not in (folder / MANIFEST_FILE).read_text(encoding="utf-8")
    # a mirror folder without the file: the message names no folder on this machine
    empty = tmp_path / "empty mirror"
    empty.mkdir()
    missing = update(folder, spec, base_url=empty.as_uri(), names=[B1])
    assert missing.failed[0].message == (f"{B1}: download from the mirror failed: no such file")
    assert str(tmp_path) not in missing.failed[0].message


def test_files_without_an_address_are_skipped_and_bad_requests_refused(
    spec: ReferenceSpec, tmp_path: Path
) -> None:
    assert spec.files[B1].url is None
    outcome = update(tmp_path / "reference", spec, names=[B1])  # no mirror: nothing fetched
    assert [file.result for file in outcome.files] == ["skipped"]
    assert "safeguard reference add" in outcome.files[0].message
    assert outcome.ok
    with pytest.raises(ConfigError, match=r"not a reference file: nonsense\.csv"):
        update(tmp_path / "reference", spec, names=["nonsense.csv"])
    with pytest.raises(ConfigError, match="must be an address"):
        update(tmp_path / "reference", spec, base_url="/srv/mirror")


# --------------------------------------------------------------------------- add and status


@needs_dfe
def test_add_a_hand_downloaded_file_by_name_or_by_columns(
    spec: ReferenceSpec, tmp_path: Path
) -> None:
    folder = tmp_path / "reference"
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    shutil.copy(DFE / C1, downloads / C1)
    done = add(folder, spec, downloads / C1)
    assert done.name == C1 and done.held is not None and done.held.rows == 2132
    assert manifest(folder)["files"][C1]["source"] == f"added by hand ({C1})"
    # next year's name: recognised by its columns, held under the declared name
    renamed = downloads / "c1_children_in_need_referrals_and_rereferrals_2013_to_2026.csv"
    shutil.copy(DFE / CSWW, downloads / "workforce.csv")
    shutil.copy(DFE / C1, renamed)
    done = add(folder, spec, renamed)
    assert done.name == C1
    assert "recognised by its columns" in done.message
    assert add(folder, spec, downloads / "workforce.csv").name == CSWW
    assert str(tmp_path) not in (folder / MANIFEST_FILE).read_text(encoding="utf-8")
    held = {entry.name: entry for entry in status(folder, spec)}
    assert held[C1].state is HeldState.OK and held[CSWW].state is HeldState.OK
    assert held[B1].state is HeldState.MISSING and not held[B1].held


def test_add_refuses_a_file_it_does_not_know(spec: ReferenceSpec, tmp_path: Path) -> None:
    stranger = tmp_path / "budget.csv"
    stranger.write_text("year,cost\n2016,100\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not a file reference\.yaml declares"):
        add(tmp_path / "reference", spec, stranger)
    # declared by name, but not the file: its columns are wrong
    impostor = tmp_path / C1
    impostor.write_text("time_period,la_name\n2016,Herefordshire\n", encoding="utf-8")
    with pytest.raises(DataError, match="no geographic_level"):
        add(tmp_path / "reference", spec, impostor)
    assert not (tmp_path / "reference" / C1).exists()


@needs_dfe
def test_status_notices_a_file_changed_or_copied_in_by_hand(
    spec: ReferenceSpec, tmp_path: Path
) -> None:
    folder = tmp_path / "reference"
    assert update(folder, spec, base_url=DFE.as_uri(), names=[C1]).ok
    (folder / C1).write_bytes((folder / C1).read_bytes().replace(b"2992", b"2993"))
    shutil.copy(DFE / B1, folder / B1)  # never checked
    held = {entry.name: entry for entry in status(folder, spec)}
    assert held[C1].state is HeldState.CHANGED
    assert held[B1].state is HeldState.UNRECORDED and held[B1].held
    assert held[CSWW].state is HeldState.MISSING
    (folder / MANIFEST_FILE).write_text("{not json", encoding="utf-8")
    assert {entry.name: entry.state for entry in status(folder, spec)}[C1] is (HeldState.UNRECORDED)


# --------------------------------------------------------------------------- authority lookup


@needs_dfe
@pytest.mark.parametrize(
    "given",
    [
        {"la_code": "884"},
        {"la_code": "E06000019"},
        {"la_name": "Herefordshire"},
        {"la_name": "  HEREFORDSHIRE, county of "},
    ],
)
def test_herefordshire_settings(given: dict[str, str]) -> None:
    settings = authority_settings(DFE, **given)
    assert settings["name"] == "Herefordshire, County of"
    assert (settings["la_code"], settings["new_la_code"]) == ("884", "E06000019")
    assert (settings["region_code"], settings["region_name"]) == ("E12000005", "West Midlands")
    # mid-2015: 35,276 children aged 0 to 17 (DfE's 2016 CP rate 64.6 = 228 / 35,276 x 10,000)
    assert settings["population"]["children_0_17"][2015] == 35276
    assert list(settings["population"]["children_0_17"]) == list(range(2012, 2025))
    assert settings["neighbours"] == HEREFORDSHIRE_SN_2025
    assert settings["neighbours_file"] == SN_2025
    assert "May 2025" in settings["neighbours_source"]
    authority = Authority.model_validate(settings)
    assert len(authority.neighbours) == 10 and authority.reference_dir is None
    text = authority_yaml(settings)
    assert yaml.safe_load(text) == settings
    assert '\nla_code: "884"' in text  # quoted: a code, not the number 884
    assert "# Name, codes and region: the authority's latest row in ons_mid-year" in text
    assert str(DFE) not in text


@needs_dfe
def test_neighbours_fall_back_to_the_2021_groupings(spec: ReferenceSpec, tmp_path: Path) -> None:
    folder = tmp_path / "reference"
    update(folder, spec, base_url=DFE.as_uri(), names=[POPULATION_FILE, SN_2021])
    settings = authority_settings(folder, la_code="884")
    assert settings["neighbours"] == HEREFORDSHIRE_SN_2021
    assert settings["neighbours_file"] == SN_2021
    assert "April 2021" in settings["neighbours_source"]
    (folder / SN_2021).unlink()
    alone = authority_settings(folder, la_code="884")
    assert alone["neighbours"] == [] and alone["neighbours_source"] is None
    assert "neighbours: []" in authority_yaml(alone)
    Authority.model_validate(alone)


@needs_dfe
def test_unknown_names_and_codes_give_the_close_matches() -> None:
    with pytest.raises(ConfigError, match=r"did you mean Herefordshire, County of \(884\)"):
        authority_settings(DFE, la_name="Hereford")
    with pytest.raises(ConfigError, match="no local authority 999"):
        authority_settings(DFE, la_code="999")
    with pytest.raises(ConfigError, match="three-digit"):
        authority_settings(DFE, la_code="Herefordshire")
    with pytest.raises(ConfigError, match="one of them"):
        authority_settings(DFE)


def test_an_ambiguous_name_lists_the_candidates(tmp_path: Path) -> None:
    # two current authorities both called "Northshire" before their comma or bracket
    rows = [
        "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
        "region_name,old_la_code,new_la_code,la_name,age_group,population_estimate",
        "2024,Reporting year,Local authority,E92000001,England,E12000009,South West,901,"
        'E06000901,"Northshire, County of",Children aged 0 to 17 years,1000',
        "2024,Reporting year,Local authority,E92000001,England,E12000009,South West,902,"
        "E06000902,Northshire (Pre LG),Children aged 0 to 17 years,2000",
    ]
    (tmp_path / POPULATION_FILE).write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"several authorities: .*\(901\).*\(902\)"):
        authority_settings(tmp_path, la_name="Northshire")
    # the code settles it; no neighbour file is held here
    settings = authority_settings(tmp_path, la_code="902")
    assert settings["population"]["children_0_17"] == {2024: 2000}
    assert settings["neighbours"] == []


def test_no_population_file_says_which_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        authority_settings(tmp_path, la_code="884")
    assert "safeguard reference update" in str(caught.value.message)
    assert str(tmp_path) not in str(caught.value.message)


def test_normalise_name() -> None:
    assert normalise_name("Herefordshire, County of") == "herefordshire county of"
    assert normalise_name("St. Helens") == "st helens"
    assert normalise_name("Brighton & Hove") == "brighton and hove"
    assert normalise_name("Southend-on-Sea") == "southend on sea"


# --------------------------------------------------------------------------- the paper


def _authority(reference_dir: Path | None, **changes: Any) -> Authority:
    return Authority(
        name="Demoshire",
        la_code="884",
        population=Population(vintage="test", children_0_17={2015: 35276}),
        reference_dir=reference_dir,
        **changes,
    )


def test_no_reference_data_gives_one_sentence_and_no_path(tmp_path: Path) -> None:
    catalogue = load_catalogue(PIPELINES)
    rereferrals = catalogue.indicators["rereferrals_12m_pct"]
    for folder in (None, tmp_path / "nowhere", tmp_path):  # unset, absent, empty
        row = Comparators(_authority(folder)).compare(rereferrals, Month(2016, 12))
        assert row["dfe_note"] == NOT_HELD
        assert row["dfe_year"] is None and row["dfe_england"] is None
    # a folder holding some files but not this one: the file is named, not the folder
    (tmp_path / B1).write_text("time_period,geographic_level\n2016,National\n", encoding="utf-8")
    row = Comparators(_authority(tmp_path)).compare(rereferrals, Month(2016, 12))
    assert row["dfe_note"] == f"{C1} is not held: run `safeguard reference update`"
    # a damaged file: named, and the paper still builds
    (tmp_path / C1).write_bytes(b"\xff\xfe not a csv")
    row = Comparators(_authority(tmp_path)).compare(rereferrals, Month(2016, 12))
    assert row["dfe_note"] == f"{C1} cannot be read: run `safeguard reference update`"


@needs_dfe
def test_listed_neighbours_come_before_the_neighbours_file() -> None:
    rereferrals = load_catalogue(PIPELINES).indicators["rereferrals_12m_pct"]
    listed = _authority(DFE, neighbours=("893", "878"), neighbours_file=SN_2021)
    row = Comparators(listed).compare(rereferrals, Month(2016, 12))
    # 2016 re-referrals: Shropshire 19.4%, Devon 20.6% -> mean (19.4 + 20.6) / 2 = 20.0
    assert row["dfe_year"] == "2016"
    assert row["dfe_authority"] == 21.4
    assert row["dfe_sn_count"] == 2
    assert row["dfe_sn_mean"] == pytest.approx(20.0)
    # without the list, the 2021 file's ten neighbours: 9 with a 2016 value (Dorset, 838,
    # was formed in 2019)
    from_file = Comparators(_authority(DFE, neighbours_file=SN_2021))
    assert from_file.compare(rereferrals, Month(2016, 12))["dfe_sn_count"] == 9


def test_the_catalogue_compares_rates_with_rates_and_shares_with_shares() -> None:
    from safeguard.indicators.catalogue import Unit

    catalogue = load_catalogue(PIPELINES)
    mapped = {name: i for name, i in catalogue.indicators.items() if i.dfe and i.dfe.file}
    for name, indicator in mapped.items():
        dfe = indicator.dfe
        assert dfe is not None and dfe.measure is not None
        # a count is never compared with England's count
        assert indicator.unit is not Unit.COUNT, name
        if indicator.unit is Unit.RATE_PER_10K:
            assert dfe.per_10000 or "rate" in dfe.measure, name
        else:
            assert not dfe.per_10000, name
        if indicator.unit is Unit.PERCENT:
            assert "percent" in dfe.measure or "rate" in dfe.measure, name
    cp_rate = catalogue.indicators["cp_rate_per_10k"].dfe
    assert cp_rate is not None
    assert (cp_rate.file, cp_rate.measure, cp_rate.per_10000) == (
        "d5_cpps_at31march_by_duration_2013_to_2025.csv",
        "CPP_At31",
        True,
    )
    for name in ("referrals", "cp_plans_open"):
        assert catalogue.indicators[name].dfe is None, name
    for name in ("s47_rate_per_10k", "icpc_15wd_pct"):
        dfe = catalogue.indicators[name].dfe
        assert dfe is not None and dfe.file is None
        assert dfe.note.startswith("no published comparator held"), name


@needs_dfe
def test_herefordshire_referrals_as_a_rate_against_englands() -> None:
    """Referrals are compared as a year's rate, never as a count: c1's 2,992 referrals in
    2015-16 / 35,276 children (mid-2015) x 10,000 = 848.2; England 621,470 / 11,593,891 x
    10,000 = 536.0."""
    catalogue = load_catalogue(PIPELINES)
    row = Comparators(_authority(DFE)).compare(
        catalogue.indicators["referrals_rate_per_10k"], Month(2016, 12)
    )
    assert (row["dfe_year"], row["dfe_authority"], row["dfe_england"]) == ("2016", 848.2, 536.0)
    assert (row["dfe_region_name"], row["dfe_region"]) == ("West Midlands", 559.0)
    assert (row["dfe_rank"], row["dfe_rank_of"], row["dfe_quartile"]) == (17, 149, "A")


@needs_dfe
def test_herefordshire_cp_rate_and_the_neighbours_in_force() -> None:
    catalogue = load_catalogue(PIPELINES)
    cp_rate = catalogue.indicators["cp_rate_per_10k"]
    published = Comparators(_authority(DFE))
    row = published.compare(cp_rate, Month(2016, 12))
    # 228 children on a plan at 31 March 2016 / 35,276 (mid-2015) x 10,000 = 64.6;
    # England 50,310 / 11,593,891 x 10,000 = 43.4 (DfE printed 43.1 on the estimates of then)
    assert (row["dfe_year"], row["dfe_authority"], row["dfe_england"]) == ("2016", 64.6, 43.4)
    assert row["dfe_note"].startswith("at 31 March; computed from DfE's count and the ONS")
    # 23rd highest of the 148 authorities with a rate; neither direction is better
    assert (row["dfe_rank"], row["dfe_rank_of"], row["dfe_quartile"]) == (23, 148, "A")
    assert row["dfe_sn_model"] == f"April 2021 groupings ({SN_2021})"
    assert row["dfe_sn_count"] == 9  # Dorset (838) has no 2016 row
    # April 2025 (the 2024 figures): still the 2021 groupings; May 2025: the 2025 model
    april = published.compare(cp_rate, Month(2025, 4))
    may = published.compare(cp_rate, Month(2025, 5))
    assert april["dfe_year"] == may["dfe_year"] == "2024"
    assert april["dfe_sn_model"] == f"April 2021 groupings ({SN_2021})"
    assert may["dfe_sn_model"] == f"May 2025 model ({SN_2025})"
    assert may["dfe_sn_count"] == 10
    assert april["dfe_sn_mean"] != may["dfe_sn_mean"]
    # re-referrals, lower is better: 21.4% in 2016 is 95th lowest of 150 (Isles of Scilly c,
    # South Tyneside x), band C (between the median 19.5 and the upper quartile 23.8)
    rereferrals = published.compare(catalogue.indicators["rereferrals_12m_pct"], Month(2016, 12))
    assert (rereferrals["dfe_rank"], rereferrals["dfe_rank_of"]) == (95, 150)
    assert rereferrals["dfe_quartile"] == "C"


def test_the_legend_claims_published_figures_only_when_there_are_some() -> None:
    held = [{"dfe_year": None, "dfe_note": None}, {"dfe_year": "2016", "dfe_note": None}]
    assert _comparators_legend(held) == COMPARATORS_LEGEND
    # the statistical neighbour model in force is named (issue 13)
    model = f"May 2025 model ({SN_2025})"
    held[1]["dfe_sn_model"] = model
    assert _comparators_legend(held) == (
        f"{COMPARATORS_LEGEND[:-1]}; the statistical neighbours are DfE's {model}."
    )
    held[1]["dfe_sn_model"] = "listed in authority.yaml"
    assert _comparators_legend(held).endswith(
        "the statistical neighbours are those listed in pipelines/authority.yaml."
    )
    none_held = [{"dfe_year": None, "dfe_note": NOT_HELD}, {"dfe_year": None, "dfe_note": None}]
    assert _comparators_legend(none_held) == NOT_HELD
    too_early = [{"dfe_year": None, "dfe_note": "nothing published by 2012-10"}]
    assert _comparators_legend(too_early) == (
        "No published DfE comparator is available for these figures."
    )


def test_the_pdf_prints_the_legend_from_the_model(tmp_path: Path) -> None:
    import dataclasses

    from safeguard.report.pdf import render_pdf
    from safeguard.report.sample import sample_model
    from tests.conftest import ROOT
    from tests.test_report_pdf import page_texts, squash

    model = sample_model()
    plain = render_pdf(model, tmp_path / "a.pdf", template_dir=ROOT / "templates")
    assert squash(COMPARATORS_LEGEND) in "".join(page_texts(plain))
    none = dataclasses.replace(model, extra={"comparators_legend": NOT_HELD})
    text = "".join(
        page_texts(render_pdf(none, tmp_path / "b.pdf", template_dir=ROOT / "templates"))
    )
    assert squash(NOT_HELD) in text
    assert squash(COMPARATORS_LEGEND) not in text


# --------------------------------------------------------------------------- the commands


@needs_dfe
def test_the_reference_commands_over_http(
    mirror: tuple[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """update (the mirror from SAFEGUARD_REFERENCE_URL, a setting like any other), status,
    add; a failed file exits 1 and keeps the held copy."""
    from click.testing import CliRunner

    from safeguard.cli import cli

    base, overrides = mirror
    project = tmp_path / "council"
    (project / "pipelines").mkdir(parents=True)
    (project / "pipelines" / "authority.yaml").write_text(
        (PIPELINES / "authority.yaml").read_text()
    )
    monkeypatch.delenv("SAFEGUARD_REFERENCE_DIR")  # the project's own reference/ folder
    monkeypatch.chdir(project)
    runner = CliRunner()
    env = {"SAFEGUARD_REFERENCE_URL": base}
    done = runner.invoke(cli, ["reference", "update"], env=env)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == "10 updated, 0 unchanged, 0 skipped, 0 failed."
    shown = runner.invoke(cli, ["reference", "status"])
    assert shown.exit_code == 0
    assert "ok         ons_mid-year_population_estimates_2012_to_2024.csv (2012 to 2024)" in (
        shown.output
    )
    assert str(tmp_path) not in shown.output  # no machine path
    overrides[C1] = 404
    again = runner.invoke(cli, ["reference", "update", C1], env=env)
    assert again.exit_code == 1
    assert "1 reference file(s) could not be fetched" in again.output
    assert (project / "reference" / C1).is_file()  # the held copy stays
    hand = tmp_path / "Downloads" / C1
    hand.parent.mkdir()
    hand.write_bytes((DFE / C1).read_bytes())
    added = runner.invoke(cli, ["reference", "add", str(hand)])
    assert added.exit_code == 0, added.output
    assert added.output.startswith(f"Added {C1}")
