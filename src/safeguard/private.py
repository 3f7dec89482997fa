"""Files and folders readable by their owner only: everything safeguard writes that may hold
a child's record or say where one is (validation reports, explain's records, the papers, the
store's lock files) is created 0600 inside folders created 0700, from the first byte: a file
is never briefly readable by others while it is being written."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> None:
    """Create ``path`` and any missing parents, each owner-only (existing ones are left as
    they are: a council's own folders are theirs to set)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)


@contextmanager
def private_file(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """``path`` opened for writing (truncated), created 0600; an existing file is made 0600
    before anything is written to it. ``mode`` "w" (text, UTF-8) or "wb"."""
    private_folder(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.chmod(path, FILE_MODE)  # the mode given to open applies only to a new file
    if "b" in mode:
        with os.fdopen(descriptor, mode) as handle:
            yield handle
    else:  # text as given: no newline translation
        with os.fdopen(descriptor, mode, encoding="utf-8", newline="") as handle:
            yield handle


def write_private_text(path: Path, text: str) -> None:
    with private_file(path) as handle:
        handle.write(text)
