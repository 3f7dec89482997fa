"""The log file: JSON lines, owner-only, created only when something is logged.

Messages hold counts and rule codes only, never a value from a record.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger("safeguard")


class OwnerOnlyFileHandler(logging.FileHandler):
    """A log file created (with its folder) only when something is logged, owner-only."""

    def _open(self):  # type: ignore[no-untyped-def]
        folder = Path(self.baseFilename).parent
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stream = super()._open()
        os.chmod(self.baseFilename, 0o600)
        return stream


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, sort_keys=True)


def setup_logging(log_file: Path | None) -> None:
    """Send the ``safeguard`` logger to ``log_file`` alone (None: nowhere)."""
    log.setLevel(logging.INFO)
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    if log_file is not None:
        handler = OwnerOnlyFileHandler(log_file, delay=True, encoding="utf-8")
        handler.setFormatter(JsonLines())
        log.addHandler(handler)
    log.propagate = False
