"""A worker process that draws charts for :func:`safeguard.report.charts.indicator_charts`.

The parent runs ``python -m safeguard.report.chart_worker`` and speaks to it over its standard
input and output: each message is an 8-byte big-endian length and a pickle (a job: the keyword
arguments of ``indicator_chart``; a reply: the ``Chart``). Pickle is safe here because both ends
are this program, on this machine, over a private pipe. The worker is started fresh (never
forked: polars' threads must not be copied mid-flight) and imports nothing of the caller's own
script, unlike ``multiprocessing``'s spawn, which runs the caller's main module again.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

from safeguard.report.model import Chart

_LENGTH = struct.Struct(">Q")

PARALLEL_FROM = 12
"""A paper with fewer charts draws them in its own process: starting a worker (a new Python
that imports matplotlib, about 0.7 s) would cost more than it saves."""


def workers() -> int:
    """How many worker processes to run beside this one: the processors this process may use,
    less one (this process draws too), at most three."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        usable = os.cpu_count() or 1
    return max(0, min(usable - 1, 3))


def _send(stream: IO[bytes], item: object) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next message, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)  # our own process's pickle, over a private pipe


class Shared:
    """The jobs' indices, taken from the front by the parent and from the back by the workers'
    threads, and the charts drawn."""

    def __init__(self, count: int):
        self._lock = threading.Lock()
        self._front, self._back = 0, count - 1
        self._count = count
        self._drawn: dict[int, Chart] = {}

    def take_front(self) -> int | None:
        with self._lock:
            if self._front > self._back:
                return None
            self._front += 1
            return self._front - 1

    def take_back(self) -> int | None:
        with self._lock:
            if self._front > self._back:
                return None
            self._back -= 1
            return self._back + 1

    def done(self, index: int, chart: Chart) -> None:
        with self._lock:
            self._drawn[index] = chart

    def missing(self) -> list[int]:
        return [i for i in range(self._count) if i not in self._drawn]

    def charts(self) -> list[Chart]:
        return [self._drawn[i] for i in range(self._count)]


def start() -> subprocess.Popen[bytes] | None:
    """A new worker process, booting in the background; None where none can be started."""
    if getattr(sys, "frozen", False):  # a bundled executable: no Python to start
        return None
    try:
        return subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None


def stop(worker: subprocess.Popen[bytes]) -> None:
    """Let a worker go: end of input tells it to exit."""
    for stream in (worker.stdin, worker.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


class Workers:
    """Worker processes started ahead of the charts they will draw (they take about 0.7 s to
    import matplotlib), so they boot while the indicators are computed. A context manager: any
    not used by :func:`safeguard.report.charts.indicator_charts` are stopped on leaving."""

    def __init__(self, count: int):
        self._idle = [w for w in (start() for _ in range(max(count, 0))) if w is not None]

    def take(self) -> list[subprocess.Popen[bytes]]:
        taken, self._idle = self._idle, []
        return taken

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.take():
            stop(worker)


def serve(
    jobs: Sequence[dict[str, Any]], shared: Shared, worker: subprocess.Popen[bytes] | None
) -> None:
    """In a thread of the parent: feed ``worker`` (started if None) jobs from the back one at
    a time until none are left, then let it go. Any failure ends this worker's share quietly;
    the job it held stays undrawn, and the parent draws it."""
    worker = worker if worker is not None else start()
    if worker is None:
        return
    assert worker.stdin is not None and worker.stdout is not None
    try:
        while (index := shared.take_back()) is not None:
            _send(worker.stdin, jobs[index])
            chart = _receive(worker.stdout)
            if not isinstance(chart, Chart):
                return
            shared.done(index, chart)
    except (OSError, pickle.PickleError, EOFError):
        return
    finally:
        stop(worker)


def main() -> None:
    """The worker: draw each job read from standard input, reply on standard output."""
    from safeguard.report.charts import indicator_chart

    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while (job := _receive(source)) is not None:
        _send(sink, indicator_chart(**job))


if __name__ == "__main__":
    main()
