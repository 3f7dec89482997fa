"""Tables read straight from a council's reporting database, as the CSV reader reads files.

The Standard Safeguarding Dataset lives in the council's reporting database (SQL Server in most
councils, PostgreSQL or Oracle in the rest). ``safeguard ingest --database URL`` reads its
tables through SQLAlchemy into the same text frames (``RawCsv``) a CSV file gives, so the rows
then take exactly the path of a CSV extract: the SSD mapping, validation, quarantine, store.

Invariants:

- Read only. Nothing is written to the database; on PostgreSQL the reads run in one read-only
  REPEATABLE READ transaction, so every table is read from the same snapshot.
- The password comes from the environment (``SAFEGUARD_DATABASE_PASSWORD``), never from the URL
  (a URL is visible in process lists, shell history and crontabs) and is never written to a log,
  message or manifest: ``Database.label`` is the URL without it.
- A column the mapping does not read is never fetched: its non-blank values are counted in SQL
  (names and NHS numbers never leave the database).
- Values become text as a CSV export writes them, never by guessing: a DATE is YYYY-MM-DD, a
  date-time YYYY-MM-DD HH:MM:SS (UTC-aware ones in UK time), a boolean Y or N, a number as
  written; text stays as stored. SQLite, which keeps each value as it was written, is read as
  text throughout. The validator then judges every value as it judges a CSV's.
- Rows are read in order of the table's key (the SSD object's id field, a local table's first
  column); a row's "line" in the report is its position in that order, the first row being 1.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from safeguard.errors import ConfigError, DatabaseError
from safeguard.ingest.csvfile import LINE, RawCsv

if TYPE_CHECKING:
    from safeguard.settings import Settings

PASSWORD_VARIABLE = "SAFEGUARD_DATABASE_PASSWORD"
UK_TIME = "Europe/London"

# what to install for a URL's driver when it is missing (the lock holds the first two)
_DRIVERS = {
    "pyodbc": "pyodbc (`pip install 'safeguard[sqlserver]'`) and Microsoft's ODBC Driver 18 "
    "for SQL Server",
    "psycopg": "psycopg (`pip install 'safeguard[postgresql]'`)",
    "oracledb": "oracledb (`pip install oracledb`)",
    "pymssql": "pymssql (`pip install pymssql`)",
}
_PASSWORD_IN_ODBC = re.compile(r"(?i)(^|;)\s*(pwd|password)\s*=")


@dataclass(frozen=True)
class Database:
    """Where the SSD is: a SQLAlchemy URL without its password, and the schema holding the
    tables (None: the login's default schema)."""

    url: str
    schema: str | None = None

    @property
    def label(self) -> str:
        """The URL as messages and the manifest show it: no password, no query string."""
        parsed = _parse(self.url)
        shown = parsed.set(password=None, query={})
        text = shown.render_as_string(hide_password=True)
        return f"{text} (schema {self.schema})" if self.schema else text


def database_of(settings: Settings) -> Database | None:
    """The database the settings name (``database``, ``database_schema``), if any."""
    if settings.database is None:
        return None
    return Database(settings.database, settings.database_schema)


def _parse(url: str) -> Any:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError:
        raise ConfigError(
            "--database is not a database URL (dialect+driver://user@host/database, e.g. "
            "mssql+pyodbc://reporting@server/ssd?driver=ODBC+Driver+18+for+SQL+Server or "
            "postgresql+psycopg://reporting@host/ssd)"
        ) from None


def check_url(url: str) -> None:
    """``ConfigError`` when the URL is not a URL or carries a password."""
    parsed = _parse(url)
    odbc = str(parsed.query.get("odbc_connect", ""))
    if parsed.password is not None or _PASSWORD_IN_ODBC.search(odbc):
        raise ConfigError(
            "the database URL holds a password, which process lists, shell history and crontabs "
            f"would show: remove it from the URL and set {PASSWORD_VARIABLE} in the environment "
            "instead"
        )


@contextmanager
def connected(db: Database, environ: Mapping[str, str]) -> Iterator[Any]:
    """A read-only connection to ``db`` (one snapshot on PostgreSQL), the password taken from
    ``environ``; ``ConfigError`` for a bad URL or a missing driver, ``DatabaseError`` when the
    server cannot be reached or refuses the login. Messages never hold the password."""
    import sqlalchemy as sa
    from sqlalchemy.exc import NoSuchModuleError

    check_url(db.url)
    url = _parse(db.url)
    password = environ.get(PASSWORD_VARIABLE) or None
    if password is not None:
        url = url.set(password=password)
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    except NoSuchModuleError:
        raise ConfigError(
            f"{db.label}: SQLAlchemy has no dialect {url.drivername!r} (use mssql+pyodbc, "
            "postgresql+psycopg, oracle+oracledb or sqlite)"
        ) from None
    except ImportError as exc:  # the dialect's driver is not installed
        module = (exc.name or "").split(".")[0]
        wanted = _DRIVERS.get(module, module or "its Python driver")
        raise ConfigError(
            f"{db.label}: the database driver is not installed (or cannot load): install "
            f"{wanted}. ({_without(str(exc), password)})"
        ) from None
    options: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    try:
        with engine.connect() as connection:
            if options:
                connection = connection.execution_options(**options)
            with connection.begin():
                yield connection
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(f"{db.label}: {_reason(exc, password)}") from None
    except ImportError as exc:  # a driver that loads its library on first connect
        raise ConfigError(
            f"{db.label}: the database driver cannot load: {_without(str(exc), password)}"
        ) from None
    finally:
        engine.dispose()


def _without(text: str, password: str | None) -> str:
    return text.replace(password, "********") if password else text


def _reason(exc: Any, password: str | None) -> str:
    """The driver's own first line (not SQLAlchemy's, which repeats the statement), without
    the password should a driver ever echo it."""
    inner = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    return _without(inner[0] if inner else type(exc).__name__, password)


# --- reading tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class TableInfo:
    """A table (or view) of the schema: its name as the database spells it, and its columns,
    lower-cased, mapped to their spelling and SQLAlchemy type."""

    name: str
    columns: dict[str, tuple[str, Any]]


def tables(connection: Any, schema: str | None, wanted: set[str]) -> dict[str, TableInfo]:
    """The tables and views of ``schema`` whose lower-cased names are ``wanted``, by that
    name; only their columns are looked up (a reporting schema may hold thousands of others)."""
    import sqlalchemy as sa

    inspector = sa.inspect(connection)
    names = [*inspector.get_table_names(schema=schema), *inspector.get_view_names(schema=schema)]
    found: dict[str, TableInfo] = {}
    for name in sorted(names):
        if name.lower() not in wanted or name.lower() in found:
            continue
        columns = {
            str(c["name"]).lower(): (str(c["name"]), c["type"])
            for c in inspector.get_columns(name, schema=schema)
        }
        found[name.lower()] = TableInfo(name, columns)
    return found


def _typed_fetch(type_: Any) -> bool:
    """Whether a column of this SQL type is fetched as it is (then written as text here) or
    cast to text by the database (JSON, UUID, XML and anything else exotic)."""
    import sqlalchemy as sa

    affinity = getattr(type_, "_type_affinity", None)
    return affinity is not None and any(
        issubclass(affinity, kind)
        for kind in (sa.String, sa.Date, sa.DateTime, sa.Integer, sa.Numeric, sa.Boolean)
    )


def _table(info: TableInfo, schema: str | None) -> Any:
    import sqlalchemy as sa

    return sa.table(
        info.name, *(sa.column(spelt) for spelt, _ in info.columns.values()), schema=schema
    )


def read_query(
    info: TableInfo, columns: list[str], schema: str | None, order_by: str | None, dialect: str
) -> Any:
    """The SELECT ``read_table`` sends: each column labelled by its position, fetched typed
    when its type is one ``_as_text`` writes, else cast to text by the database (every column
    on SQLite); ordered by ``order_by``."""
    import sqlalchemy as sa

    source = _table(info, schema)
    selected = []
    for position, name in enumerate(columns):
        spelt, type_ = info.columns[name]
        column = source.c[spelt]
        if dialect == "sqlite" or not _typed_fetch(type_):
            column = sa.cast(column, sa.Unicode())  # NVARCHAR(max) on SQL Server
        selected.append(column.label(str(position)))
    query = sa.select(*selected)
    if order_by is not None:
        query = query.order_by(source.c[info.columns[order_by][0]])
    return query


def read_table(
    connection: Any,
    info: TableInfo,
    columns: list[str],
    schema: str | None,
    order_by: str | None,
) -> RawCsv:
    """The ``columns`` (lower-cased names of ``info``) of every row, as text, in order of
    ``order_by``: a ``RawCsv`` whose header is the columns' names as the database spells them
    and whose ``_line`` is the row's position (1 for the first). Its ``sha256`` is left
    blank: the caller sets it (``checksum``) from the rows it keeps (those of the month)."""
    query = read_query(info, columns, schema, order_by, connection.dialect.name)
    try:  # a server's error (DBAPIError) goes up to connected(), which names the database
        frame = pl.read_database(query, connection, infer_schema_length=None)
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        raise DatabaseError(f"{info.name}: its rows could not be read ({exc})") from None
    frame = frame.select(_as_text(name, dtype) for name, dtype in frame.schema.items())
    frame = frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.UInt32).alias(LINE))
    header = [info.columns[name][0] for name in columns]
    return RawCsv(header=header, frame=frame, sha256="", blank_lines=0)


def checksum(name: str, header: list[str], frame: pl.DataFrame) -> str:
    """A table read from a database, checksummed as the CSV file it would be (``name`` and a
    newline, then ``frame`` without its ``_line``, under ``header``): the same rows give the
    same checksum, so the next read of an unchanged database is "unchanged"."""
    body = frame.drop(LINE)
    body = body.rename(dict(zip(body.columns, header, strict=True)))
    return hashlib.sha256(f"{name}\n{body.write_csv()}".encode()).hexdigest()


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A fetched column as the text a CSV export would hold (module docstring)."""
    column = pl.col(name)
    if dtype == pl.String:
        return column
    if dtype == pl.Date:
        return column.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            column = column.dt.convert_time_zone(UK_TIME)
        return column.dt.strftime("%Y-%m-%d %H:%M:%S")
    if dtype == pl.Boolean:
        return pl.when(column).then(pl.lit("Y")).when(~column).then(pl.lit("N")).alias(name)
    return column.cast(pl.String)


def count_query(info: TableInfo, columns: list[str], schema: str | None) -> Any:
    """The SELECT ``count_values`` sends: per column its non-blank values (text trimmed with
    LTRIM/RTRIM, which every server has; TRIM is SQL Server 2017's), or the rows."""
    import sqlalchemy as sa

    source = _table(info, schema)
    if not columns:
        return sa.select(sa.func.count()).select_from(source)
    counts = []
    for name in columns:
        spelt, type_ = info.columns[name]
        column = source.c[spelt]
        affinity = getattr(type_, "_type_affinity", None)
        if affinity is not None and issubclass(affinity, sa.String):
            trimmed = sa.func.ltrim(sa.func.rtrim(column))
            counts.append(sa.func.count(sa.case((trimmed != "", 1))))
        else:
            counts.append(sa.func.count(column))
    return sa.select(*counts).select_from(source)


def count_values(
    connection: Any, info: TableInfo, columns: list[str], schema: str | None
) -> dict[str, int]:
    """Per lower-cased column, its non-blank values, counted by the database (the values are
    never fetched); with no columns, the table's rows under the key ``""``."""
    row = connection.execute(count_query(info, columns, schema)).one()
    if not columns:
        return {"": int(row[0])}
    return {name: int(value) for name, value in zip(columns, row, strict=True)}
