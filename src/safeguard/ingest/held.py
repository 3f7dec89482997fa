"""What the processed store already holds, as the validation of a monthly extract consults it.

A monthly extract holds 24 months of events, so an assessment can stay in the window after
its referral has left it: the referral is in the store, from an earlier extract. A reference
is therefore looked up in the extract first and then, for the few ids it does not hold, in
the store (an anti-join on the id column, scanned lazily from parquet); only an id neither
holds is ``reference-not-found``.

Which records count as held: the store's current view, every record id any extract or return
has delivered, at its newest version. So a record superseded by a newer version counts (its id
is current); a record that only an older extract holds counts too, even when a later extract
whose window still covers it left it out (deleted in the case-management system, or moved):
the store keeps such records, as the contract says, and the figures count them, so a reference
to one resolves to a record the paper counts. A record ``safeguard purge`` removed is no
longer held and no longer counts. When the extract's own month is already in the store (a
corrected copy replacing the first), that month's records do not count: the copy replaces
them, so the ids of every other extract's and return's versions are read instead.

The store also says what the previous monthly extract held of each table, for the warning on
a header-only file (``rows-vanished``).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from safeguard.ingest.pseudonym import _mapping, fingerprint
from safeguard.ingest.validate import StoreHeld
from safeguard.periods import Month
from safeguard.schema import Contract
from safeguard.store import Store, _version_parts, is_return

KEY = "__held_key"


def store_held(
    processed: Path, month: Month, contract: Contract, key: bytes | None
) -> StoreHeld | None:
    """What the store at ``processed`` holds for validating the extract closing ``month``;
    None when it holds nothing else (no store, an empty one, or only this month's own copy).
    ``key`` is the pseudonym key in use: the store's child ids are compared under it."""
    store = Store(processed)
    generation = store.generation
    if generation is None:
        return None
    manifest = store.manifest()
    this = str(month)
    others = sorted(k for k in manifest.extracts if k != this)
    if not others:
        return None
    replacing = this in manifest.extracts
    pseudonymised = manifest.pseudonym_key is not None
    usable = key if pseudonymised and fingerprint(key) == manifest.pseudonym_key else None

    def rows(table: str) -> pl.LazyFrame | None:
        """The store's records of ``table``, typed, lazily; None when it holds none. When
        this month is being replaced, every other source's newest version of each id."""
        if not replacing:
            return store.scan(table)
        parts = [p for p in _version_parts(generation / "versions" / table) if p.stem != this]
        if not parts:
            return None
        # parts are in precedence order, lowest first, so an id's last row is its newest
        return pl.concat([pl.scan_parquet(p) for p in parts], how="diagonal_relaxed").unique(
            subset=[contract.tables[table].id], keep="last", maintain_order=True
        )

    def not_held(table: str, candidates: pl.LazyFrame) -> pl.LazyFrame | None:
        found = rows(table)
        if found is None:
            return None
        held = found.select(pl.col(contract.tables[table].id).alias(KEY))
        name = candidates.collect_schema().names()[0]
        target = contract.tables[table]
        keyed = candidates.with_columns(pl.col(name).alias(KEY))
        if pseudonymised and target.columns[target.id].person_id:
            if usable is None:
                return None
            # the store holds pseudonyms: map the few candidate ids the same way first
            values = candidates.collect().get_column(name)
            keyed = candidates.with_columns(
                pl.col(name)
                .replace_strict(_mapping(values, usable), default=None, return_dtype=pl.String)
                .alias(KEY)
            )
        return keyed.join(held, on=KEY, how="anti").select(name)

    previous: dict[str, tuple[str, int]] = {}
    earlier = [k for k in others if not is_return(k) and k < this]
    if earlier:
        newest = earlier[-1]
        for table, entry in manifest.extracts[newest].files.items():
            previous[table] = (newest, entry.rows)
    not_checked = []
    if pseudonymised and usable is None:
        not_checked.append(
            "references to children (person.csv) not looked up in the store: its child ids "
            "are pseudonymised, and SAFEGUARD_PSEUDONYM_KEY is not set or is another key"
        )
    count = len(others)
    label = f"{processed}, holding {count} other extract{'s' if count != 1 else ''}"

    def records(table: str) -> pl.LazyFrame | None:
        target = contract.tables[table]
        if pseudonymised and target.columns[target.id].person_id:
            return None  # the store's ids are pseudonyms: not comparable with the extract's
        return rows(table)

    return StoreHeld(label, not_held, previous, not_checked, records)
