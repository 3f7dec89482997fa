"""Build the report model from the store, the indicators and the meeting's narrative."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from safeguard.indicators.catalogue import Authority, Catalogue, Indicator
from safeguard.indicators.scorecard import NOT_HELD
from safeguard.indicators.stage import Written
from safeguard.periods import Month
from safeguard.report.breakdowns import tables as breakdown_tables
from safeguard.report.chart_worker import Workers
from safeguard.report.commentary import exceptions, fmt, positives_and_challenges, year_label
from safeguard.report.model import Chart, Footnote, ReportModel, ScoreRow, Section, xml_safe
from safeguard.report.narrative import SECTIONS, Narrative, paragraphs
from safeguard.report.quality import annex as data_quality
from safeguard.report.suppress import CHART_NOTE, KEY, WITHHELD, Cell, cell_text, withheld
from safeguard.report.workbook import paper_order

TITLE = "Children's safeguarding performance data"
NUMBERED_FROM = "alternative_options"  # the first section whose paragraphs are numbered
UNNUMBERED = ("appendices", "background_papers")
CHART_MONTHS = 24


@dataclass(frozen=True)
class Appendix:
    """The data appendix: every figure shown, with its definition."""

    figures: pl.DataFrame
    by_team: pl.DataFrame | None  # internal audience only
    withheld: frozenset[Cell] = frozenset()  # (indicator, month) printed "c" (public only)


_TONES = {
    ("higher", "up"): "good",
    ("higher", "down"): "bad",
    ("lower", "up"): "bad",
    ("lower", "down"): "good",
}


def direction(row: dict[str, Any]) -> tuple[str, str, str]:
    """The month's direction arrow: ("up", "good", "Up on the previous month (better)"); a
    change too small to show at the figure's decimals is "level"; ("", "", "") without both."""
    now, before = row.get("value"), row.get("previous_value")
    if row.get("status") != "ok" or now is None or before is None:
        return "", "", ""
    decimals = row["decimals"]
    if round(now, decimals) == round(before, decimals):
        return "level", "neutral", "Level with the previous month"
    way = "up" if now > before else "down"
    tone = _TONES.get((row.get("polarity") or "neutral", way), "neutral")
    judged = {"good": " (better)", "bad": " (worse)"}.get(tone, "")
    return way, tone, f"{way.capitalize()} on the previous month{judged}"


ASSURANCE_SHORT = {
    "consistently_pass": "Consistently met",
    "consistently_fail": "Consistently missed",
    "inconsistent": "Met only sometimes",
}
"""The assurance icon's words on the dashboard, under the heading "Assurance (target)"."""


def _no_spc(words: str | None) -> str:
    """The dashboard's short word for a figure without SPC (the chart says why in full)."""
    if not words:
        return ""
    if words.startswith("not applicable"):
        return "No SPC: overlapping windows"
    if words.startswith("not enough history"):
        return "Not enough history for SPC"
    return words[:1].upper() + words[1:]


def _denominator(row: dict[str, Any]) -> float | None:
    """A share's denominator; a rate's population (held in tens of thousands)."""
    value: float | None = row.get("denominator")
    if value is not None and row["unit"] == "rate_per_10k":
        return value * 10_000
    return value


def _count(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _score_row(row: dict[str, Any], number: int, stage: str = "") -> ScoreRow:
    from safeguard.indicators.spc import VARIATION_WORDS

    unit, decimals = row["unit"], row["decimals"]

    def show(value: float | None) -> str:
        return fmt(value, unit, decimals) if value is not None else ""

    value = show(row["value"]) if row["status"] == "ok" else row["status"]
    note = row["reason"] or ""  # an ok rate's reason names a stand-in population estimate
    if row.get("dfe_note") and row["dfe_note"] != NOT_HELD:  # that one is said once, in the key
        note = "; ".join(filter(None, [note, row["dfe_note"]]))
    if row.get("dfe_rank") is not None:  # where the authority stands among all of England's
        standing = (
            f"ranked {row['dfe_rank']} of {row['dfe_rank_of']} authorities, quartile band "
            f"{row['dfe_quartile']}: {row['dfe_rank_order']}"
        )
        note = "; ".join(filter(None, [note, standing]))
    shared = row["status"] == "ok" and unit != "count" and row.get("denominator") is not None
    way, tone, words = direction(row)
    variation = row.get("spc_variation") or ""
    assurance = row.get("spc_assurance") or ""
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
        stage=stage,
        numerator=_count(row.get("numerator")) if shared else "",
        denominator=_count(_denominator(row)) if shared else "",
        direction=way,
        direction_tone=tone,
        direction_words=words,
        variation=variation,
        variation_words=VARIATION_WORDS.get(variation, "") or _no_spc(row.get("spc_words")),
        assurance=assurance,
        assurance_words=ASSURANCE_SHORT.get(assurance, ""),
    )


def _stage_label(spec: Indicator) -> str:
    return spec.stage.label if spec.stage is not None else ""


COMPARATORS_LEGEND = (
    "The comparators (England, region and statistical neighbours) are the latest published "
    "figures, for the year shown under each indicator."
)


def _comparators_legend(rows: list[dict[str, Any]]) -> str:
    """The scorecard key's sentence on comparators: the claim of "latest published figures"
    only when some row has one, with the statistical neighbour model they use (issue 13: the
    model in force was not printed); otherwise why there are none (a command to fix it)."""

    if any(row.get("dfe_year") for row in rows):
        models = sorted({row["dfe_sn_model"] for row in rows if row.get("dfe_sn_model")})
        if not models:
            return COMPARATORS_LEGEND
        return f"{COMPARATORS_LEGEND[:-1]}; the statistical neighbours are {_model(models)}."
    if any("safeguard reference update" in (row.get("dfe_note") or "") for row in rows):
        return NOT_HELD
    return "No published DfE comparator is available for these figures."


def _model(models: list[str]) -> str:
    """Which statistical neighbours the comparators use, as the legend names them: DfE's
    model and its file, the authority's own list, or the file or source it names."""

    def named(model: str) -> str:
        if model.split(" (")[0].endswith(("model", "groupings")):
            return f"DfE's {model}"
        if model == "listed in authority.yaml":
            return "those listed in pipelines/authority.yaml"
        return f"those of {model}"

    return " and ".join(named(m) for m in models)


_GAP_NOTE = "not shown: a small number, withheld"  # the alt text's words for a withheld point


def _withhold(row: ScoreRow, hidden: frozenset[Cell], month: Month) -> ScoreRow:
    """A dashboard row with each withheld figure as "c"; a month-on-month arrow beside a
    withheld figure would tell which way it went, so it is left out too."""
    name = row.indicator
    now, before, year_ago = (
        (name, month.first_day) in hidden,
        (name, month.shift(-1).first_day) in hidden,
        (name, month.shift(-12).first_day) in hidden,
    )
    if not (now or before or year_ago):
        return row
    arrow = not (now or before)
    return replace(
        row,
        value=cell_text(row.value, now),
        numerator=cell_text(row.numerator, now),
        denominator=cell_text(row.denominator, now),
        previous=cell_text(row.previous, before),
        last_year=cell_text(row.last_year, year_ago),
        direction=row.direction if arrow else "",
        direction_tone=row.direction_tone if arrow else "",
        direction_words=row.direction_words if arrow else "",
    )


def _charts(
    series: pl.DataFrame,
    order: list[str],
    catalogue: Catalogue,
    month: Month,
    card: dict[str, dict[str, Any]],
    *,
    small: bool = True,
    hidden: frozenset[Cell] = frozenset(),
    workers: Workers | None = None,
) -> list[Chart]:
    """The charts in the paper's order (by journey stage): small multiples, or full width."""
    from safeguard.indicators.scorecard import no_spc_reason, spc_settings
    from safeguard.report.charts import indicator_charts

    settings = spc_settings(catalogue)
    first = month.shift(-(CHART_MONTHS - 1)).first_day
    jobs: list[dict[str, Any]] = []
    drawn: list[tuple[list[bool], str]] = []  # each job's withheld months and stage
    for name in order:
        row = card[name]
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
        months = own["month"].to_list()
        gone = [(name, m) in hidden for m in months]
        # a withheld point is a gap: its SPC limits come from the points shown, so they
        # cannot give it back
        jobs.append(
            {
                "indicator": name,
                "title": spec.title,
                "months": months,
                "values": [
                    v if s == "ok" and not g else None
                    for v, s, g in zip(own["value"], own["status"], gone, strict=True)
                ],
                "notes": [
                    _GAP_NOTE if g else (r or "") if s == "ok" else f"{s}: {r}"
                    for s, r, g in zip(own["status"], own["reason"], gone, strict=True)
                ],
                "unit": str(spec.unit),
                "decimals": spec.decimals,
                "polarity": str(spec.polarity),
                "target": spec.target,
                "spc_settings": settings,
                "neighbours": [(label, float(value)) for label, value in bars] if bars else None,
                "no_spc": no_spc or "",
                "window_months": spec.window_months,
                "small": small,
                **extra,
            }
        )
        drawn.append((gone, _stage_label(spec)))
    charts = []
    for chart, (gone, stage) in zip(indicator_charts(jobs, started=workers), drawn, strict=True):
        if any(gone):
            points = tuple(
                replace(p, value=WITHHELD, note=CHART_NOTE) if g else p
                for p, g in zip(chart.points, gone, strict=True)
            )
            chart = replace(chart, points=points)
        charts.append(replace(chart, stage=stage))
    return charts


def build_model(
    processed: Path,
    written: Written,
    catalogue: Catalogue,
    authority: Authority,
    month: Month,
    narrative: Narrative,
    audience: str,
    *,
    detail: str = "summary",
    workers: Workers | None = None,
) -> tuple[ReportModel, Appendix]:
    """The committee paper for ``month`` from the computed indicators."""
    card, series = written.scorecard, written.computed.series
    label = f"{month.first_day:%B %Y}"
    order, _ = paper_order(card, catalogue)  # by journey stage, then the catalogue's order
    by_name = {row["indicator"]: row for row in card.iter_rows(named=True)}
    rows = [by_name[name] for name in order]
    units = {name: str(spec.unit) for name, spec in catalogue.indicators.items()}
    hidden = withheld(series, units, audience, catalogue.sums)
    scorecard = tuple(
        _withhold(
            _score_row(row, i + 1, _stage_label(catalogue.indicators[row["indicator"]])),
            hidden,
            month,
        )
        for i, row in enumerate(rows)
    )
    footnotes = tuple(
        Footnote(i + 1, catalogue.indicators[row["indicator"]].definition)
        for i, row in enumerate(rows)
    )
    last_year_label = f"{month.shift(-12).first_day:%B %Y}"
    # a sentence quotes the month's, the previous month's and last year's figures: one about a
    # withheld figure is left out of the public paper
    told = [
        row
        for row in rows
        if not any(
            (row["indicator"], month.shift(-back).first_day) in hidden for back in (0, 1, 12)
        )
    ]
    positives, challenges = positives_and_challenges(told, label, last_year_label)
    # the exception report: what stands out this month, each with a question for members
    commentary = tuple(
        (found.title, f"{found.text} Suggested question: {found.question}")
        for found in exceptions(told, label, last_year_label)
    )
    sections = []
    # paragraphs are numbered through the paper from "Alternative options" (as the seed paper
    # is), positives and challenges included; placeholders and the closing lists are not
    number, numbering = 1, False
    firsts = {"positives": 0, "challenges": 0}
    for key, heading, owner in SECTIONS:
        numbering = (numbering or key == NUMBERED_FROM) and key not in UNNUMBERED
        text = paragraphs(getattr(narrative, key))
        if text:
            sections.append(Section(key, heading, text, first_number=number if numbering else 0))
            number += len(text) if numbering else 0
        else:
            sections.append(Section(key, heading, (f"[To be completed by {owner}]",), True))
        if key == "key_considerations" and numbering:
            firsts["positives"] = number
            number += max(len(positives), 1)  # "None this month." is a paragraph too
            firsts["challenges"] = number
            number += max(len(challenges), 1)
    header = (
        ("Meeting", narrative.meeting or "[Meeting to be added]"),
        ("Meeting date", narrative.meeting_date or "[Date to be added]"),
        ("Title of report", f"{TITLE}: {label}"),
        ("Report by", narrative.report_by or "[Report author to be added]"),
        ("Contact officer", narrative.contact_officer or "[Contact officer to be added]"),
    )
    model = xml_safe(
        ReportModel(
            title=TITLE,
            council=f"{authority.name} (synthetic demo data)" if authority.demo else authority.name,
            month_label=label,
            audience=audience,
            header=header,
            sections=tuple(sections),
            positives=tuple(positives),
            challenges=tuple(challenges),
            scorecard=scorecard,
            charts=tuple(
                _charts(
                    series,
                    order,
                    catalogue,
                    month,
                    by_name,
                    small=detail != "full",
                    hidden=hidden,
                    workers=workers,
                )
            ),
            detail=detail,
            positives_first=firsts["positives"],
            challenges_first=firsts["challenges"],
            commentary=commentary,
            footnotes=footnotes,
            annex=data_quality(processed, written, catalogue, month, audience),
            breakdowns=breakdown_tables(written.computed.breakdowns, catalogue, month, audience),
            banner="INTERNAL: not for publication" if audience == "internal" else "",
            extra={
                "comparators_legend": _comparators_legend(rows)
                + (f" {KEY}." if audience == "public" else "")
            },
        )
    )  # text from extracts and the narrative: nothing a format cannot hold
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
    return model, Appendix(figures.sort("indicator", "month"), by_team, hidden)


def month_date(month: Month) -> date:
    return month.first_day
