"""Crash safety: SIGKILL a real ``safeguard`` process while it ingests, computes indicators or
renders a paper, and check what a reader sees afterwards.

After every kill, ``data/processed/`` (the live generation named by ``CURRENT``, and
``indicators/<month>/``) and ``reports/<month>/`` must be exactly as before the run or exactly
as a run that finished leaves them: never half-written. Leftovers of the killed run (``.tmp-*``,
``CURRENT.tmp``, a stale ``g-*``, ``.old-<month>``) may remain, and the next run must finish,
give the same bytes as an uninterrupted run and remove them.

Kill points are drawn from ``random.Random`` seeded with ``SEED`` (override with the
environment variable SAFEGUARD_CRASH_SEED to explore other points); every assertion message
lists the seed and the delays, so a failure reproduces. Each command is timed once first (the
reference run) and the delays are spread uniformly over 1.2 x the length of a window: the whole
run, or the part after the command's temporary folder appears (where it writes). A second group
of tests kills the process deterministically at each step of the swap, by wrapping
``os.replace`` and ``shutil.rmtree`` in the child process.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from safeguard.indicators.stage import PUBLISHED
from tests.conftest import EXAMPLES, PIPELINES

SEED = int(os.environ.get("SAFEGUARD_CRASH_SEED", "20151031"))
MONTH = "2015-10"
SPREAD = 1.2  # delays are drawn uniformly in [0, SPREAD x the calibrated window length]
POLL = 0.0005  # seconds between looks at the filesystem while a child runs
TIMEOUT = 300.0  # seconds before a child that never finishes fails the test
TRIES = {"ingest": 6, "indicators": 6}

STORE = "store"  # every run works in its own folder holding store/ and reports/
REPORTS = "reports"
INGEST = ("ingest", str(EXAMPLES / MONTH), "--processed-dir", STORE)
INDICATORS = ("indicators", "--month", MONTH, "--processed-dir", STORE)
REPORT = (
    "report",
    "--month",
    MONTH,
    "--processed-dir",
    STORE,
    "--reports-dir",
    REPORTS,
    "--format",
    "html",
    "--format",
    "data",
)

Files = dict[str, bytes]


@dataclass(frozen=True)
class Window:
    """A stretch of a run in which kills are placed.

    ``watch`` is a glob (relative to the run's folder) for the temporary folder whose
    appearance opens the window (None: the window opens when the process starts). The window
    closes when the process exits or, with ``until_exit=False``, when that folder is gone
    (renamed into place)."""

    name: str
    watch: str | None = None
    until_exit: bool = True


WHOLE = Window("whole run")
INGEST_WRITE = Window("from store/.tmp-* to exit", f"{STORE}/.tmp-*")
INDICATORS_WRITE = Window("from indicators/.tmp-* to exit", f"{STORE}/indicators/.tmp-{MONTH}-*")
REPORT_INDICATORS = Window(
    "life of indicators/.tmp-*", f"{STORE}/indicators/.tmp-{MONTH}-*", until_exit=False
)
REPORT_WRITE = Window("from reports/.tmp-* to exit", f"{REPORTS}/.tmp-{MONTH}-*")


@dataclass(frozen=True)
class Run:
    returncode: int
    seconds: float
    opened: dict[str, float]  # window name -> seconds after start it opened
    closed: dict[str, float]
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


@dataclass(frozen=True)
class Reference:
    """A run that finished: its folder, and the length of each of its windows."""

    work: Path
    lengths: dict[str, float]
    seconds: float


class HalfWrittenError(AssertionError):
    """A killed run left a state that is neither the one before it nor the one after it."""


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")}
    env["SAFEGUARD_LOG_FILE"] = str(work / "safeguard.log")
    return env


def _run(
    work: Path,
    args: Sequence[str],
    windows: Sequence[Window] = (),
    kill: tuple[Window, float] | None = None,
    prelude: Sequence[str] = ("-m", "safeguard"),
    extra_env: dict[str, str] | None = None,
) -> Run:
    """Run ``safeguard args`` in ``work``, noting when each window opens and closes; with
    ``kill=(window, delay)``, SIGKILL it ``delay`` seconds after that window opens."""
    windows = list(windows) + ([kill[0]] if kill and kill[0] not in windows else [])
    present = {w.name: set(work.glob(w.watch)) for w in windows if w.watch}
    watched: dict[str, Path] = {}
    opened: dict[str, float] = {}
    closed: dict[str, float] = {}
    command = [sys.executable, *prelude, "--pipelines", str(PIPELINES), *args]
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "stderr.txt", "wb") as stderr:
        child = subprocess.Popen(
            command,
            cwd=work,
            env={**_env(work), **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        start = time.monotonic()
        while child.poll() is None:
            now = time.monotonic() - start
            if now > TIMEOUT:
                child.kill()
                child.wait()
                pytest.fail(f"{' '.join(args)} ran for more than {TIMEOUT:.0f}s")
            for window in windows:
                if window.watch is None:
                    opened.setdefault(window.name, 0.0)
                elif window.name not in opened:
                    new = sorted(set(work.glob(window.watch)) - present[window.name])
                    if new:
                        opened[window.name], watched[window.name] = now, new[0]
                elif (
                    not window.until_exit
                    and window.name not in closed
                    and not watched[window.name].exists()
                ):
                    closed[window.name] = now
            if (
                kill is not None
                and kill[0].name in opened
                and now - opened[kill[0].name] >= kill[1]
            ):
                child.send_signal(signal.SIGKILL)  # no-op if it has just exited
                child.wait()
                break
            time.sleep(POLL)
        seconds = time.monotonic() - start
    for window in windows:
        if window.name in opened:
            closed.setdefault(window.name, seconds)
    text = (work / "stderr.txt").read_text(encoding="utf-8", errors="replace")
    return Run(child.returncode, seconds, opened, closed, text)


CALIBRATIONS = 5  # reference runs tried before a window that never opened fails the fixture


def _calibrate(
    work: Path,
    args: Sequence[str],
    windows: Sequence[Window],
    prepare: Callable[[Path], None],
) -> Reference:
    """Run ``args`` to completion in ``work`` (made by ``prepare``) and time its windows.
    A window's folder can live for a few milliseconds: on a loaded machine the poll may not
    see it, so the run is repeated from a fresh ``prepare`` until every window is seen."""
    missing: list[str] = []
    for _ in range(CALIBRATIONS):
        shutil.rmtree(work, ignore_errors=True)
        prepare(work)
        run = _run(work, args, windows)
        assert run.returncode == 0, f"{' '.join(args)} failed:\n{run.stderr}"
        missing = [w.name for w in windows if w.name not in run.opened]
        if not missing:
            lengths = {w.name: run.closed[w.name] - run.opened[w.name] for w in windows}
            return Reference(work, lengths, run.seconds)
    pytest.fail(f"{' '.join(args)}: the window(s) {missing} never opened in {CALIBRATIONS} runs")


def _files(folder: Path) -> Files | None:
    """Every file under ``folder`` (relative path -> bytes), or None when it is absent."""
    if not folder.is_dir():
        return None
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".lock"
    }


def _live(store: Path) -> Files:
    """What a reader of the store sees: CURRENT and every file of the generation it names."""
    pointer = store / "CURRENT"
    if not pointer.is_file():
        return {}
    view = {"CURRENT": pointer.read_bytes()}
    generation = _files(store / pointer.read_text(encoding="utf-8").strip())
    view.update({f"live/{name}": data for name, data in (generation or {}).items()})
    return view


def _diff(actual: Files | None, expected: Files | None) -> str:
    if actual is None or expected is None:
        return f"{'absent' if actual is None else 'present'} instead of " + (
            "absent" if expected is None else "present"
        )
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(k for k in set(actual) & set(expected) if actual[k] != expected[k])
    parts = [
        f"{label} {names[:8]}"
        for label, names in (("missing", missing), ("extra", extra), ("different", changed))
        if names
    ]
    return "; ".join(parts) or "identical"


def _state(actual: Files | None, before: Files | None, after: Files | None) -> str | None:
    """'before' or 'after' when ``actual`` is one of them, else None (half-written)."""
    if actual == after:
        return "after" if actual != before else "before = after"
    return "before" if actual == before else None


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name != ".lock"} if folder.is_dir() else set()


def _month_leftovers(folder: Path) -> set[str]:
    """What may remain of a killed month-folder swap in ``folder``; every other name is stray."""
    return {
        name
        for name in _names(folder)
        if name.startswith((f".tmp-{MONTH}-", f".v-{MONTH}-"))
        or name in (f".old-{MONTH}", f".link-{MONTH}")
    }


def _live_name(store: Path) -> str | None:
    pointer = store / "CURRENT"
    return pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else None


def _store_leftovers(store: Path) -> set[str]:
    """What a killed ingest may leave in the store; ``.lock.owner`` names the lock's holder
    and is removed when the lock is released."""
    live = _live_name(store)
    return {
        name
        for name in _names(store)
        if name.startswith(".tmp-")
        or name in ("CURRENT.tmp", ".lock.owner")
        or (name.startswith("g-") and name != live)
    }


def _copy_store(source: Path, work: Path, *, indicators: bool = True) -> None:
    ignore = None if indicators else shutil.ignore_patterns("indicators")
    shutil.copytree(source / STORE, work / STORE, ignore=ignore, symlinks=True)


# --- references, built once per module -------------------------------------------------------


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding 2015-09 only."""
    work = tmp_path_factory.mktemp("baseline")
    run = _run(work, ("ingest", str(EXAMPLES / "2015-09"), "--processed-dir", STORE))
    assert run.returncode == 0, run.stderr
    return work


@pytest.fixture(scope="module")
def ingested(baseline: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The baseline after an uninterrupted ingest of 2015-10 (timed)."""
    work = tmp_path_factory.mktemp("ingested")
    return _calibrate(work, INGEST, [WHOLE, INGEST_WRITE], lambda to: _copy_store(baseline, to))


@pytest.fixture(scope="module")
def indicators(ingested: Reference, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """``indicators --month 2015-10`` run to completion on the ingested store (timed)."""
    work = tmp_path_factory.mktemp("indicators")
    return _calibrate(
        work, INDICATORS, [WHOLE, INDICATORS_WRITE], lambda to: _copy_store(ingested.work, to)
    )


@pytest.fixture(scope="module")
def report(ingested: Reference, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """``report --month 2015-10`` run to completion on the ingested store (timed)."""
    work = tmp_path_factory.mktemp("report")
    return _calibrate(
        work, REPORT, [REPORT_INDICATORS, REPORT_WRITE], lambda to: _copy_store(ingested.work, to)
    )


# --- what a kill may leave, and what the next run must leave ---------------------------------


def _after_kill_store(store: Path, before: Files, after: Files) -> tuple[str, list[str]]:
    """The store after a killed ingest: a one-line summary and the problems found."""
    live = _live(store)
    state = _state(live, before, after)
    leftovers = _store_leftovers(store)
    problems = []
    if state is None:
        problems.append(
            f"the live store is neither before ({_diff(live, before)}) "
            f"nor after ({_diff(live, after)})"
        )
    stray = _names(store) - leftovers - {"CURRENT", _live_name(store), "indicators"}
    if stray:
        problems.append(f"unexpected entries in the store: {sorted(stray)}")
    return f"store {state or 'HALF-WRITTEN'}, leftovers {sorted(leftovers)}", problems


def _after_rerun_store(store: Path, after: Files) -> list[str]:
    problems = []
    if _live(store) != after:
        problems.append(
            f"after a full rerun the store differs from an uninterrupted run: "
            f"{_diff(_live(store), after)}"
        )
    left = _names(store) - {"CURRENT", _live_name(store), "indicators"}
    if left:
        problems.append(f"the rerun left {sorted(left)} in the store")
    return problems


def _after_kill_month(
    parent: Path, before: Files | None, complete: Files, label: str
) -> tuple[str, list[str]]:
    """``parent/<MONTH>`` after a killed run: a one-line summary and the problems found. An
    indicators month computed but not yet published (the paper's series, ``PUBLISHED``, is
    added by a second swap once the paper is in place) is a whole state too."""
    now = _files(parent / MONTH)
    state = _state(now, before, complete)
    computed = {name: data for name, data in complete.items() if name != PUBLISHED}
    if state is None and PUBLISHED in complete and now == computed:
        state = "computed, not published"
    leftovers = _month_leftovers(parent)
    problems = []
    if state is None:
        problems.append(
            f"{label} is neither before ({_diff(now, before)}) "
            f"nor complete ({_diff(now, complete)}); beside it: {sorted(leftovers)}"
        )
    stray = _names(parent) - leftovers - {MONTH}
    if stray:
        problems.append(f"unexpected entries beside {label}: {sorted(stray)}")
    return f"{label} {state or 'HALF-WRITTEN'}, leftovers {sorted(leftovers)}", problems


def _after_rerun_month(parent: Path, complete: Files, label: str) -> list[str]:
    problems = []
    if _files(parent / MONTH) != complete:
        problems.append(
            f"after a full rerun {label} differs from an uninterrupted run: "
            f"{_diff(_files(parent / MONTH), complete)}"
        )
    # the month is a link to its one live version folder beside it, and nothing else remains
    month = parent / MONTH
    live = {os.readlink(month)} if month.is_symlink() else set()
    if _names(parent) != {MONTH} | live:
        problems.append(f"the rerun left {sorted(_names(parent) - {MONTH} - live)} beside {label}")
    return problems


def _what(i: int, window: Window, delay: float, run: Run) -> str:
    outcome = "killed" if run.killed else f"finished first (exit {run.returncode})"
    return f"try {i}: SIGKILL {delay:.3f}s into [{window.name}] -> {outcome}"


def _summary(title: str, reference: Reference, log: list[str], problems: list[str]) -> str:
    windows = ", ".join(f"[{name}] {length:.3f}s" for name, length in reference.lengths.items())
    return "\n".join(
        [
            f"{title} (seed {SEED}): {len(problems)} problem(s); uninterrupted run "
            f"{reference.seconds:.2f}s, windows {windows}",
            *problems,
            "all tries:",
            *(f"  {line}" for line in log),
        ]
    )


# --- kills at random points ------------------------------------------------------------------


def test_ingest_killed_at_random_points_leaves_the_store_before_or_after(
    baseline: Path, ingested: Reference, tmp_path: Path
) -> None:
    before, after = _live(baseline / STORE), _live(ingested.work / STORE)
    assert before and after and before != after
    rng = random.Random(f"{SEED}-ingest")
    windows = [WHOLE, INGEST_WRITE]
    log: list[str] = []
    problems: list[str] = []
    for i in range(TRIES["ingest"]):
        window = windows[i % len(windows)]
        delay = rng.uniform(0, SPREAD * ingested.lengths[window.name])
        work = tmp_path / f"try-{i}"
        _copy_store(baseline, work)
        run = _run(work, INGEST, kill=(window, delay))
        what = _what(i, window, delay, run)
        if not run.killed and run.returncode != 0:
            problems.append(f"{what}: failed on its own:\n{run.stderr}")
            continue
        line, found = _after_kill_store(work / STORE, before, after)
        log.append(f"{what}; {line}")
        problems += [f"{what}: {problem}" for problem in found]

        rerun = _run(work, INGEST)
        if rerun.returncode != 0:
            problems.append(f"{what}: the ingest after the kill failed:\n{rerun.stderr}")
            continue
        problems += [f"{what}: {problem}" for problem in _after_rerun_store(work / STORE, after)]
    print(_summary("ingest", ingested, log, problems))
    assert not problems, _summary("ingest", ingested, log, problems)


def test_indicators_killed_at_random_points_leave_the_month_before_or_after(
    ingested: Reference, indicators: Reference, tmp_path: Path
) -> None:
    """Half the tries start with no indicators/2015-10, half with a complete one to replace."""
    store_view = _live(ingested.work / STORE)
    complete = _files(indicators.work / STORE / "indicators" / MONTH)
    assert complete
    label = f"indicators/{MONTH}"
    rng = random.Random(f"{SEED}-indicators")
    windows = [WHOLE, INDICATORS_WRITE]
    log: list[str] = []
    problems: list[str] = []
    for i in range(TRIES["indicators"]):
        window = windows[i % len(windows)]
        replacing = (i // len(windows)) % 2 == 1
        delay = rng.uniform(0, SPREAD * indicators.lengths[window.name])
        work = tmp_path / f"try-{i}"
        _copy_store(indicators.work, work, indicators=replacing)
        parent = work / STORE / "indicators"
        before = _files(parent / MONTH)
        run = _run(work, INDICATORS, kill=(window, delay))
        what = _what(i, window, delay, run) + (" (replacing)" if replacing else " (fresh)")
        if not run.killed and run.returncode != 0:
            problems.append(f"{what}: failed on its own:\n{run.stderr}")
            continue
        line, found = _after_kill_month(parent, before, complete, label)
        log.append(f"{what}; {line}")
        problems += [f"{what}: {problem}" for problem in found]
        if _live(work / STORE) != store_view:
            problems.append(f"{what}: the store's live generation changed")

        rerun = _run(work, INDICATORS)
        if rerun.returncode != 0:
            problems.append(f"{what}: the indicators run after the kill failed:\n{rerun.stderr}")
            continue
        problems += [f"{what}: {p}" for p in _after_rerun_month(parent, complete, label)]
    print(_summary("indicators", indicators, log, problems))
    assert not problems, _summary("indicators", indicators, log, problems)


def test_report_killed_at_random_points_leaves_the_paper_before_or_after(
    ingested: Reference, report: Reference, tmp_path: Path
) -> None:
    """A paper takes seconds to render (the charts), so the kills are aimed at the two places
    where ``report`` writes: indicators/2015-10 and reports/2015-10. The tries run one after
    another on the same folders, so each starts with what the previous kill left (month folders
    absent or complete, leftovers beside them), and one full run at the end must clean up."""
    store_view = _live(ingested.work / STORE)
    months = [
        (parent, _files(report.work / parent / MONTH), f"{parent}/{MONTH}")
        for parent in (REPORTS, f"{STORE}/indicators")
    ]
    assert all(complete for _, complete, _ in months)
    rng = random.Random(f"{SEED}-report")
    work = tmp_path / "chain"
    _copy_store(ingested.work, work, indicators=False)
    log: list[str] = []
    problems: list[str] = []
    for i, window in enumerate([REPORT_INDICATORS, REPORT_WRITE, REPORT_INDICATORS, REPORT_WRITE]):
        delay = rng.uniform(0, SPREAD * report.lengths[window.name])
        before = {label: _files(work / parent / MONTH) for parent, _, label in months}
        run = _run(work, REPORT, kill=(window, delay))
        what = _what(i, window, delay, run)
        if not run.killed and run.returncode != 0:
            problems.append(f"{what}: failed on its own:\n{run.stderr}")
            continue
        lines = []
        for parent, complete, label in months:
            assert complete is not None
            line, found = _after_kill_month(work / parent, before[label], complete, label)
            lines.append(line)
            problems += [f"{what}: {problem}" for problem in found]
        log.append(f"{what}; " + "; ".join(lines))
        if _live(work / STORE) != store_view:
            problems.append(f"{what}: the store's live generation changed")

    rerun = _run(work, REPORT)
    if rerun.returncode != 0:
        problems.append(f"the report run after the kills failed:\n{rerun.stderr}")
    else:
        for parent, complete, label in months:
            assert complete is not None
            problems += _after_rerun_month(work / parent, complete, label)
    print(_summary("report", report, log, problems))
    assert not problems, _summary("report", report, log, problems)


# --- kills at each step of the swap ----------------------------------------------------------

# Runs the CLI with os.replace / shutil.rmtree wrapped: the process SIGKILLs itself just
# before or just after the first call whose argument (by position) has a name starting with
# the given prefix. CRASH_AT="call,when,position,prefix".
CRASH_AT = """
import os, shutil, signal, sys
call, when, position, prefix = os.environ["CRASH_AT"].split(",")
real = {"replace": os.replace, "rmtree": shutil.rmtree}
def wrap(name):
    def wrapper(*args, **kwargs):
        hit = name == call and len(args) > int(position)
        hit = hit and os.path.basename(os.fspath(args[int(position)])).startswith(prefix)
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real[name](*args, **kwargs)
        if hit and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return wrapper
os.replace, shutil.rmtree = wrap("replace"), wrap("rmtree")
sys.argv[0] = "safeguard"
from safeguard.cli import main
main()
"""


def _kill_at(work: Path, args: Sequence[str], point: str) -> Run:
    run = _run(work, args, prelude=("-c", CRASH_AT), extra_env={"CRASH_AT": point})
    stage = args[0]
    assert run.killed, f"{stage} never reached {point} (exit {run.returncode}):\n{run.stderr}"
    return run


@pytest.mark.parametrize(
    "point",
    [
        pytest.param("replace,after,1,g-", id="new-generation-renamed-CURRENT-not-yet"),
        pytest.param("replace,before,0,CURRENT.tmp", id="CURRENT.tmp-written-not-swapped"),
        pytest.param("replace,after,1,CURRENT", id="CURRENT-swapped-old-generation-kept"),
    ],
)
def test_ingest_killed_at_each_step_of_the_swap(
    baseline: Path, ingested: Reference, tmp_path: Path, point: str
) -> None:
    before, after = _live(baseline / STORE), _live(ingested.work / STORE)
    _copy_store(baseline, tmp_path)
    _kill_at(tmp_path, INGEST, point)
    line, half_written = _after_kill_store(tmp_path / STORE, before, after)
    print(f"ingest killed at {point}: {line}")

    rerun = _run(tmp_path, INGEST)
    assert rerun.returncode == 0, rerun.stderr
    problems = _after_rerun_store(tmp_path / STORE, after)
    assert not problems, f"ingest killed at {point}, then run again: {problems}"
    if half_written:
        raise HalfWrittenError(f"ingest killed at {point}: {half_written}")


@pytest.mark.parametrize(
    "point",
    [
        pytest.param("replace,after,1,.v-", id="new-version-in-place-link-not-yet-made"),
        pytest.param("replace,before,0,.link-", id="link-made-not-yet-swapped"),
        pytest.param("replace,after,0,.link-", id="link-swapped-old-version-not-yet-removed"),
        pytest.param("rmtree,before,0,.v-", id="old-version-not-yet-removed"),
    ],
)
def test_indicators_killed_at_each_step_of_replacing_the_month(
    indicators: Reference, tmp_path: Path, point: str
) -> None:
    """The month folder already exists (a rerun of the month), so the swap moves it aside."""
    complete = _files(indicators.work / STORE / "indicators" / MONTH)
    assert complete
    label = f"indicators/{MONTH}"
    parent = tmp_path / STORE / "indicators"
    _copy_store(indicators.work, tmp_path)
    _kill_at(tmp_path, INDICATORS, point)
    line, half_written = _after_kill_month(parent, complete, complete, label)
    print(f"indicators killed at {point}: {line}")

    rerun = _run(tmp_path, INDICATORS)
    assert rerun.returncode == 0, rerun.stderr
    problems = _after_rerun_month(parent, complete, label)
    assert not problems, f"indicators killed at {point}, then run again: {problems}"
    if half_written:
        raise HalfWrittenError(f"indicators killed at {point}: {half_written}")
