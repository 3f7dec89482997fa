"""One error tree for the whole tool; each class carries its process exit code.

Library code raises these plain exceptions and never calls ``sys.exit`` nor imports click;
the CLI alone turns them into a message on stderr and the documented exit codes (README,
"Exit codes").
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DATA = 1  # the data did not pass: file-level errors, or any problem under --strict
    USAGE = 2  # bad command line or configuration
    INTERNAL = 3  # a bug: one line on stderr, the traceback in the log (or with --debug)
    OPERATIONAL = 74  # the store or the disk is not fit to work on (EX_IOERR): file, remedy
    LOCKED = 75  # another run holds the lock (EX_TEMPFAIL: cron may retry)


class SafeguardError(Exception):
    """Base of every error the tool reports on purpose."""

    exit_code = ExitCode.DATA

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class DataError(SafeguardError):
    """The input data cannot be accepted (file-level problem or a --strict failure)."""

    exit_code = ExitCode.DATA


class ConfigError(SafeguardError):
    """Configuration, pipeline YAML or command-line values are wrong."""

    exit_code = ExitCode.USAGE


class LockedError(SafeguardError):
    """Another safeguard process holds the store's lock."""

    exit_code = ExitCode.LOCKED


class StoreError(SafeguardError):
    """The processed store (or the disk under it) is in a state the tool cannot safely work
    in: a damaged CURRENT, a corrupt store file. The message names the file and what to do;
    nothing is changed or deleted."""

    exit_code = ExitCode.OPERATIONAL


class DatabaseError(SafeguardError):
    """The database an extract is read from could not be reached or read (server down, login
    refused, a table that cannot be read). Operational, like a store that cannot be written:
    nothing was written, and cron may try again."""

    exit_code = ExitCode.OPERATIONAL


class InternalError(SafeguardError):
    """A bug in safeguard, not in the data."""

    exit_code = ExitCode.INTERNAL
