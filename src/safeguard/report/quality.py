"""The paper's data-quality annex, written for members.

For every audience: the rows held back from the month's extract, by reason in words; the records
later extracts updated, counted by table; last month's figures that have changed since (then,
now, why); the figures not available, one line per reason. The internal audience also gets the
per-extract lists of quarantined rows and revised records. No table holds a record's id: a
held-back row is described by its column and, for a date, the impossible day it gave.
"""

from __future__ import annotations

import contextlib
import json
import re
from calendar import month_name
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from safeguard.calendar import WorkingCalendar
from safeguard.indicators.catalogue import Catalogue
from safeguard.indicators.rules import RULES, Context, NotAvailable
from safeguard.indicators.stage import OUTPUT, PUBLISHED, Written
from safeguard.periods import Month
from safeguard.report.commentary import fmt
from safeguard.report.model import Table
from safeguard.store import Manifest, Store, is_return, window_of

RESTATED_MONTHS = 12  # last paper's figures compared: the 12 months to its month

TABLE_WORDS = {
    "person": "children's details",
    "contacts": "contacts",
    "referrals": "referrals",
    "assessments": "assessments",
    "strategy_discussions": "strategy discussions",
    "s47_enquiries": "section 47 enquiries",
    "icpcs": "initial child protection conferences",
    "cp_plans": "child protection plans",
    "cp_visits": "child protection visits",
    "cp_reviews": "child protection reviews",
    "cla_episodes": "periods of care",
    "cla_reviews": "looked-after children's reviews",
    "workforce": "workforce",
    "audits": "case audits",
    "complaints": "complaints",
    "compliments": "compliments",
}
_DMY = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})")
_YMD = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})")


def table_words(table: str) -> str:
    """ "cp_plans" -> "child protection plans"."""
    return TABLE_WORDS.get(table, table.replace("_", " "))


def column_words(column: str | None) -> str:
    """A contract column in words: its table prefix, ``_code`` and ``_id`` dropped
    ("cine_referral_source_code" -> "referral source", "cont_decision_datetime" -> "decision
    date")."""
    if not column:
        return "value"
    parts = column.split("_")[1:] or [column]
    if len(parts) > 1 and parts[-1] in ("code", "id"):
        parts = parts[:-1]
    return " ".join("date" if p == "datetime" else p for p in parts)


def _day_in_words(value: str | None) -> str:
    """ "31/09/2015 10:15" -> "31 September": the day a date gave, never the rest of the value;
    "" when it is not a day and month in numbers."""
    if not value:
        return ""
    if found := _DMY.match(value):
        day, month = int(found[1]), int(found[2])
    elif found := _YMD.match(value):
        day, month = int(found[3]), int(found[2])
    else:
        return ""
    return f"{day} {month_name[month]}" if 1 <= month <= 12 and 1 <= day <= 31 else ""


def reason_words(column: str | None, value: str | None, rule: str, message: str) -> str:
    """Why a row was held back, for members, from the validation report's issue (its message
    says which check failed; DfE-numbered rules keep the local check's message)."""
    what = column_words(column)
    if message.startswith(("not a date", "not a date-time")):
        day = _day_in_words(value)
        return f"a {what} that is not a real date" + (f" ({day})" if day else "")
    if message.startswith("not a flag"):
        return f"a {what} that is not yes or no"
    if message.startswith("not a whole number") or message.startswith("not a number"):
        return f"a {what} that is not a number"
    if message.startswith("not a ") and " code" in message:
        return f"a {what} code not in the list"
    if message.endswith("is blank; every row needs one"):
        return f"a blank {what}"
    if message.startswith("must be "):
        return f"a {what} out of range"
    if message.startswith("dated after the end"):
        return f"a {what} after the end of the extract's month"
    if message.startswith("the same ") and "more than one row" in message:
        return "the same record on more than one row"
    if message.startswith("no row of "):
        return f"a {what} that refers to no record"
    if ": " in message:  # the contract's own words for a rule across columns
        return message.split(": ", 1)[0]
    return f"a {what} failing check {rule}"


def _label(month: Month) -> str:
    return f"{month.first_day:%B %Y}"


def _issues(generation: Path, key: str) -> list[dict[str, Any]]:
    """The row-level errors of one extract's validation report (its JSON, else its CSV)."""
    folder = generation / "extracts" / key
    if (folder / "validation.json").is_file():
        issues = json.loads((folder / "validation.json").read_text(encoding="utf-8"))["issues"]
    elif (folder / "validation.csv").is_file():
        issues = pl.read_csv(folder / "validation.csv", infer_schema=False).to_dicts()
    else:
        return []
    return [i for i in issues if i.get("level") == "row" and i.get("severity") == "error"]


def _table_of(manifest: Manifest, key: str, issue: dict[str, Any]) -> str:
    """The table an issue is in: by its file, and by its column when a return's one file
    holds several tables."""
    files = manifest.extracts[key].files
    named = [(name, info) for name, info in sorted(files.items()) if info.file == issue["file"]]
    for name, info in named:
        if issue.get("column") in info.columns_present:
            return name
    return named[0][0] if named else str(issue["file"]).rsplit(".", 1)[0]


def held_back(store: Store, manifest: Manifest, month: Month) -> Table:
    """(1) The rows held back from the month's extract (and any return closing in it), by
    reason in words, with the rows each held back; no record's id or line."""
    generation = store.generation
    keys = sorted(k for k, e in manifest.extracts.items() if window_of(k, e)[1] == month)
    header = ("Data", "Why held back", "Rows")
    if generation is None or not keys:
        return Table(
            f"Rows held back: no extract for {_label(month)} is held", header, (("none", "", ""),)
        )
    lines: dict[tuple[str, str], set[tuple[str, str, int]]] = {}
    for key in keys:
        for number, issue in enumerate(_issues(generation, key)):
            table = _table_of(manifest, key, issue)
            words = reason_words(
                issue.get("column"), issue.get("value"), str(issue["rule"]), issue["message"] or ""
            )
            # a row is its line; an issue without one (a return's) is a row of its own
            line = (key, issue["file"], int(issue["line"]) if issue["line"] else -1 - number)
            lines.setdefault((table, words), set()).add(line)
    total = len(set().union(*lines.values())) if lines else 0
    rows = tuple(
        (table_words(table).capitalize(), words, f"{len(found):,}")
        for (table, words), found in sorted(lines.items())
    )
    where = "the " + " and the ".join(
        f"{_label(month)} extract" if not is_return(k) else f"return {k}" for k in keys
    )
    if not total:
        return Table(f"No rows held back from {where}", header, (("none", "", ""),))
    plural = "row" if total == 1 else "rows"
    return Table(
        f"{total:,} {plural} held back from {where} (not counted in any figure)", header, rows
    )


def corrections(manifest: Manifest, month: Month) -> list[Table]:
    """(2) Records later extracts updated, by table: in the month's extract, in the 12 months'
    extracts to it, and in extracts after it when held; and returns superseded by extracts."""
    extracts = manifest.extracts
    monthly = [k for k in extracts if not is_return(k)]
    first = month.shift(-11)
    spans = {
        "month": [k for k in monthly if Month.parse(k) == month],
        "year": [k for k in monthly if first <= Month.parse(k) <= month],
        "after": [k for k in monthly if Month.parse(k) > month],
    }
    counts: dict[str, dict[str, int]] = {}
    for span, keys in spans.items():
        for key in keys:
            for name, info in extracts[key].files.items():
                if info.revised:
                    counts.setdefault(name, {}).setdefault(span, 0)
                    counts[name][span] += info.revised
    header = [f"{_label(month)} extract", f"The 12 months' extracts to {_label(month)}"]
    if spans["after"]:
        last = max(Month.parse(k) for k in spans["after"])
        header.append(f"Extracts after it, to {_label(last)}")
    rows = tuple(
        (
            table_words(name).capitalize(),
            *(f"{counts[name].get(s, 0):,}" for s in ("month", "year", "after")[: len(header)]),
        )
        for name in sorted(counts, key=table_words)
    )
    tables = [
        Table(
            "Records updated by a later extract, by table (each extract sends the open cases "
            "again; an update is usually a case moving on, sometimes a correction; the newest "
            "version of each record is used)",
            ("Data", *header),
            rows or (("none", *("" for _ in header)),),
        )
    ]
    returns = [
        (key, name, info.superseded_by_newer)
        for key, entry in sorted(extracts.items())
        if is_return(key)
        for name, info in sorted(entry.files.items())
        if info.superseded_by_newer
    ]
    if returns:
        tables.append(
            Table(
                "Statutory returns' records replaced by a monthly extract's newer version",
                ("Return", "Data", "Records replaced"),
                tuple((key, table_words(name), f"{n:,}") for key, name, n in returns),
            )
        )
    return tables


def tables_read(
    catalogue: Catalogue, store: Store, manifest: Manifest, month: Month
) -> dict[str, list[str]]:
    """Each indicator's tables, as its rule reads them (the rule's plan is built, not run)."""
    months = [month.first_day]
    cal = WorkingCalendar(month.first_day.year, month.first_day.year)
    read: dict[str, list[str]] = {}
    for name, spec in catalogue.indicators.items():
        ctx = Context(store, months, cal, dict(spec.parameters), _manifest=manifest)
        with contextlib.suppress(NotAvailable):
            RULES[spec.rule](ctx)
        read[name] = list(dict.fromkeys(table for table, _ in ctx.needs))
    return read


def _shown(row: dict[str, Any], unit: str, decimals: int) -> str:
    if row["status"] == "ok" and row["value"] is not None:
        return fmt(row["value"], unit, decimals)
    return str(row["status"])


def _later(manifest: Manifest, since: Month) -> list[str]:
    """The extracts after ``since``, and the returns whose window ends after it."""
    return sorted(
        k
        for k, e in manifest.extracts.items()
        if (Month.parse(k) > since if not is_return(k) else window_of(k, e)[1] > since)
    )


def _why(tables: Iterable[str], manifest: Manifest, later: list[str]) -> str:
    parts = []
    for table in tables:
        revised = new = 0
        for key in later:
            info = manifest.extracts[key].files.get(table)
            if info is not None:
                revised += info.revised or 0
                new += info.new or 0
        if revised or new:
            counts = [f"{revised:,} revised" if revised else "", f"{new:,} added" if new else ""]
            parts.append(f"{table_words(table)}: records {', '.join(filter(None, counts))}")
    if not parts:
        return "no later extract changed the data it reads: a change of definition or settings"
    monthly = [Month.parse(k) for k in later if not is_return(k)]
    span = (
        ""
        if not monthly
        else f" by the {_label(monthly[0])} extract"
        if len(monthly) == 1
        else f" by the {_label(monthly[0])} to {_label(monthly[-1])} extracts"
    )
    returns = [k for k in later if is_return(k)]
    span += f"{' and' if span else ' by'} return {', '.join(returns)}" if returns else ""
    return "; ".join(parts) + "," + span


def restatements(
    processed: Path,
    store: Store,
    manifest: Manifest,
    catalogue: Catalogue,
    series: pl.DataFrame,
    month: Month,
) -> Table:
    """(3) Last month's paper's figures that have changed since: then (the series that paper
    printed, ``PUBLISHED``; without one, the series last computed for that month), now (this
    computation, same month), why (the tables its rule reads that later extracts revised or
    added to)."""
    previous = month.shift(-1)
    header = ("Indicator", "Month", "Then", "Now", "Why")
    caption = (
        f"Figures in last month's paper ({_label(previous)}) that have changed since, for the "
        f"{RESTATED_MONTHS} months to {_label(previous)}"
    )
    folder = processed / OUTPUT / str(previous)
    # as last month's paper printed them; else as they were last computed for that month
    published = folder / PUBLISHED
    kept = published if published.is_file() else folder / "series.parquet"
    if not kept.is_file():
        text = f"The {_label(previous)} paper's figures are not held, so changes cannot be shown"
        return Table(caption, header, ((text, "", "", "", ""),))
    first = previous.shift(-(RESTATED_MONTHS - 1)).first_day
    columns = ["indicator", "month", "value", "status"]
    then = pl.read_parquet(kept, columns=columns).filter(
        pl.col("month").is_between(first, previous.first_day)
    )
    joined = then.join(
        series.select(columns), on=["indicator", "month"], how="inner", suffix="_now"
    ).sort("indicator", "month")
    reads: dict[str, list[str]] | None = None
    later = _later(manifest, previous)
    rows = []
    order = {name: i for i, name in enumerate(catalogue.indicators)}
    changed = []
    for row in joined.iter_rows(named=True):
        spec = catalogue.indicators.get(row["indicator"])
        if spec is None:
            continue
        before = _shown(row, str(spec.unit), spec.decimals)
        now = _shown(
            {"status": row["status_now"], "value": row["value_now"]}, str(spec.unit), spec.decimals
        )
        if before != now:
            changed.append((order[row["indicator"]], row["month"], row["indicator"], before, now))
    for _, when, name, before, now in sorted(changed):
        if reads is None:
            reads = tables_read(catalogue, store, manifest, month)
        title = catalogue.indicators[name].title
        rows.append((title, f"{when:%b %Y}", before, now, _why(reads[name], manifest, later)))
    return Table(caption, header, tuple(rows) or (("none changed", "", "", "", ""),))


def not_available(card: pl.DataFrame, month: Month) -> Table:
    """(4) The figures not available or not applicable, one line per reason."""
    reasons: dict[str, list[str]] = {}
    for row in card.iter_rows(named=True):
        if row["status"] != "ok":
            reasons.setdefault(f"{row['status']}: {row['reason']}", []).append(row["title"])
    return Table(
        f"Figures not available or not applicable for {_label(month)}",
        ("Why", "Figures"),
        tuple((why, "; ".join(titles)) for why, titles in reasons.items()) or (("none", ""),),
    )


def per_extract(store: Store, manifest: Manifest, month: Month) -> list[Table]:
    """The internal lists: rows quarantined by extract, file and rule, and records revised by
    extract and file, for the extracts of the year to the month."""
    generation = store.generation
    first = month.shift(-11)
    extracts = manifest.extracts
    keys = [key for key in extracts if first <= window_of(key, extracts[key])[1] <= month]
    quarantine: list[tuple[str, ...]] = []
    revised: list[tuple[str, ...]] = []
    for extract in sorted(keys):
        counted: dict[tuple[str, str], int] = {}
        for issue in _issues(generation, extract) if generation is not None else []:
            found = (issue["file"], str(issue["rule"]))
            counted[found] = counted.get(found, 0) + 1
        quarantine += [(extract, f, r, str(n)) for (f, r), n in sorted(counted.items())]
        files = extracts[extract].files
        for name in sorted(files):
            info = files[name]
            if info.revised:
                revised.append((extract, info.file, f"{info.revised:,}"))
    return [
        Table(
            "Internal: rows quarantined by validation rule, by extract (not counted in any figure)",
            ("Extract", "File", "Rule", "Rows"),
            tuple(quarantine) or (("none", "", "", ""),),
        ),
        Table(
            "Internal: records revised by each extract (the newer version is used)",
            ("Extract", "File", "Records revised"),
            tuple(revised) or (("none", "", ""),),
        ),
    ]


def annex(
    processed: Path, written: Written, catalogue: Catalogue, month: Month, audience: str
) -> tuple[Table, ...]:
    """The data-quality annex for ``audience`` ("public" or "internal")."""
    store = Store(processed)
    manifest = store.manifest()
    tables = [
        held_back(store, manifest, month),
        *corrections(manifest, month),
        restatements(processed, store, manifest, catalogue, written.computed.series, month),
        not_available(written.scorecard, month),
    ]
    if audience == "internal":
        tables += per_extract(store, manifest, month)
    return tuple(tables)
