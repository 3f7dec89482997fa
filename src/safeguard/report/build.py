"""Build the report model from the store, the indicators and the meeting's narrative."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from safeguard.indicators.catalogue import Authority, Catalogue
from safeguard.indicators.scorecard import NOT_HELD
from safeguard.indicators.stage import Written
from safeguard.periods import Month
from safeguard.report.commentary import exceptions, fmt, positives_and_challenges, year_label
from safeguard.report.model import Chart, Footnote, ReportModel, ScoreRow, Section, Table
from safeguard.report.narrative import SECTIONS, Narrative, paragraphs
from safeguard.store import Store, window_of

TITLE = "Children's safeguarding performance data"
CHART_MONTHS = 24


@dataclass(frozen=True)
class Appendix:
    """The data appendix: every figure shown, with its definition."""

    figures: pl.DataFrame
    by_team: pl.DataFrame | None  # internal audience only


def _score_row(row: dict[str, Any], number: int) -> ScoreRow:
    unit, decimals = row["unit"], row["decimals"]

    def show(value: float | None) -> str:
        return fmt(value, unit, decimals) if value is not None else ""

    value = show(row["value"]) if row["status"] == "ok" else row["status"]
    note = row["reason"] or ""  # an ok rate's reason names a stand-in population estimate
    if row.get("dfe_note") and row["dfe_note"] != NOT_HELD:  # that one is said once, in the key
        note = "; ".join(filter(None, [note, row["dfe_note"]]))
    return ScoreRow(
        indicator=row["indicator"],
        title=row["title"],
        value=value,
        previous=show(row["previous_value"]),
        last_year=show(row["last_year_value"]),
        target=show(row["target"]),
        rag=row["rag"] or "",
        spc_letters=row["spc_letters"] or "",
        spc_words=row["spc_words"] or "",
        england=show(row.get("dfe_england")),
        region=show(row.get("dfe_region")),
        neighbours=show(row.get("dfe_sn_mean")),
        comparator_year=year_label(row["dfe_year"]) if row.get("dfe_year") else "",
        footnote=number,
        note=note,
        kind=row.get("kind") or "",
        window_label=row.get("window_label") or "",
    )


COMPARATORS_LEGEND = (
    "The comparators (England, region and statistical neighbours) are the latest published "
    "figures, for the year shown under each indicator."
)


def _comparators_legend(rows: list[dict[str, Any]]) -> str:
    """The scorecard key's sentence on comparators: the claim of "latest published figures"
    only when some row has one; otherwise why there are none (a command to fix it)."""

    if any(row.get("dfe_year") for row in rows):
        return COMPARATORS_LEGEND
    if any("safeguard reference update" in (row.get("dfe_note") or "") for row in rows):
        return NOT_HELD
    return "No published DfE comparator is available for these figures."


def _charts(
    series: pl.DataFrame, card: pl.DataFrame, catalogue: Catalogue, month: Month
) -> list[Chart]:
    from safeguard.indicators.scorecard import no_spc_reason, spc_settings
    from safeguard.report.charts import indicator_chart

    settings = spc_settings(catalogue)
    first = month.shift(-(CHART_MONTHS - 1)).first_day
    charts = []
    for row in card.iter_rows(named=True):
        name = row["indicator"]
        own = series.filter((pl.col("indicator") == name) & (pl.col("month") >= first)).sort(
            "month"
        )
        if own.filter(pl.col("status") == "ok").height < 2:
            continue
        spec = catalogue.indicators[name]
        # as the scorecard judged it, on the whole series
        held = series.filter((pl.col("indicator") == name) & (pl.col("status") == "ok")).height
        no_spc = no_spc_reason(spec, held, catalogue.spc.minimum_points)
        bars = json.loads(row["dfe_neighbour_values"]) if row.get("dfe_neighbour_values") else None
        extra: dict[str, Any] = {}
        if bars:
            extra["authority"] = bars[0][0]
            extra["comparator_period"] = year_label(row["dfe_year"])
            # England's total would dwarf every authority's count: show it for rates only
            if row.get("dfe_england") is not None and row["unit"] != "count":
                extra["references"] = [("England", row["dfe_england"])]
        charts.append(
            indicator_chart(
                name,
                spec.title,
                own["month"].to_list(),
                [
                    v if s == "ok" else None
                    for v, s in zip(own["value"], own["status"], strict=True)
                ],
                [
                    (r or "") if s == "ok" else f"{s}: {r}"
                    for s, r in zip(own["status"], own["reason"], strict=True)
                ],
                str(spec.unit),
                spec.decimals,
                str(spec.polarity),
                spec.target,
                settings,
                [(label, float(value)) for label, value in bars] if bars else None,
                no_spc=no_spc or "",
                window_months=spec.window_months,
                **extra,
            )
        )
    return charts


def _annex(store: Store, card: pl.DataFrame, month: Month) -> list[Table]:
    """Data quality: rows quarantined by rule, records revised by later extracts, figures not
    available, for the extracts of the year to the month."""
    manifest = store.manifest()
    generation = store.generation
    first = month.shift(-11)
    extracts = manifest.extracts
    # the extracts closing in the year to the month, and the returns whose year ends in it
    months = [key for key in extracts if first <= window_of(key, extracts[key])[1] <= month]
    quarantine: list[tuple[str, ...]] = []
    revised: list[tuple[str, ...]] = []
    for extract in sorted(months):
        report = generation / "extracts" / extract / "validation.csv" if generation else None
        if report is not None and report.is_file():
            issues = pl.read_csv(report, infer_schema=False)
            counted = (
                issues.filter((pl.col("level") == "row") & (pl.col("severity") == "error"))
                .group_by("file", "rule")
                .len()
                .sort("file", "rule")
            )
            quarantine += [(extract, f, r, str(n)) for f, r, n in counted.iter_rows()]
        files = extracts[extract].files
        for name in sorted(files):
            info = files[name]
            if info.revised:
                revised.append((extract, info.file, f"{info.revised:,}"))
    missing = [
        (r["title"], r["status"], r["reason"])
        for r in card.iter_rows(named=True)
        if r["status"] != "ok"
    ]
    return [
        Table(
            "Rows quarantined by validation rule (not counted in any figure)",
            ("Extract", "File", "Rule", "Rows"),
            tuple(quarantine) or (("none", "", "", ""),),
        ),
        Table(
            "Records revised by a later extract (the newer version is used)",
            ("Extract", "File", "Records revised"),
            tuple(revised) or (("none", "", ""),),
        ),
        Table(
            f"Figures not available or not applicable for {month.first_day:%B %Y}",
            ("Indicator", "Status", "Why"),
            tuple(missing) or (("none", "", ""),),
        ),
    ]


def build_model(
    processed: Path,
    written: Written,
    catalogue: Catalogue,
    authority: Authority,
    month: Month,
    narrative: Narrative,
    audience: str,
) -> tuple[ReportModel, Appendix]:
    """The committee paper for ``month`` from the computed indicators."""
    card, series = written.scorecard, written.computed.series
    label = f"{month.first_day:%B %Y}"
    rows = list(card.iter_rows(named=True))
    scorecard = tuple(_score_row(row, i + 1) for i, row in enumerate(rows))
    footnotes = tuple(
        Footnote(i + 1, catalogue.indicators[row["indicator"]].definition)
        for i, row in enumerate(rows)
    )
    last_year_label = f"{month.shift(-12).first_day:%B %Y}"
    positives, challenges = positives_and_challenges(rows, label, last_year_label)
    # the exception report: what stands out this month, each with a question for members
    commentary = tuple(
        (found.title, f"{found.text} Suggested question: {found.question}")
        for found in exceptions(rows, label, last_year_label)
    )
    sections = []
    for key, heading, owner in SECTIONS:
        text = paragraphs(getattr(narrative, key))
        if text:
            sections.append(Section(key, heading, text))
        else:
            sections.append(Section(key, heading, (f"[To be completed by {owner}]",), True))
    header = (
        ("Meeting", narrative.meeting or "[Meeting to be added]"),
        ("Meeting date", narrative.meeting_date or "[Date to be added]"),
        ("Title of report", f"{TITLE}: {label}"),
        ("Report by", narrative.report_by or "[Report author to be added]"),
    )
    model = ReportModel(
        title=TITLE,
        council=f"{authority.name} (synthetic demo data)" if authority.demo else authority.name,
        month_label=label,
        audience=audience,
        header=header,
        sections=tuple(sections),
        positives=tuple(positives),
        challenges=tuple(challenges),
        scorecard=scorecard,
        charts=tuple(_charts(series, card, catalogue, month)),
        commentary=commentary,
        footnotes=footnotes,
        annex=tuple(_annex(Store(processed), card, month)),
        banner="INTERNAL: not for publication" if audience == "internal" else "",
        extra={"comparators_legend": _comparators_legend(rows)},
    )
    first = month.shift(-(CHART_MONTHS - 1)).first_day
    figures = series.filter(pl.col("month") >= first).join(
        card.select(
            "indicator",
            "title",
            "definition" if "definition" in card.columns else pl.lit(None).alias("definition"),
        ),
        on="indicator",
        how="left",
    )
    definitions = pl.DataFrame(
        {
            "indicator": list(catalogue.indicators),
            "definition": [i.definition for i in catalogue.indicators.values()],
        }
    )
    figures = figures.drop("definition").join(definitions, on="indicator", how="left")
    by_team = written.computed.by_team if audience == "internal" else None
    return model, Appendix(figures.sort("indicator", "month"), by_team)


def month_date(month: Month) -> date:
    return month.first_day
