"""A small, complete report model for renderer tests and template development."""

from __future__ import annotations

import io

from safeguard.report.model import (
    Chart,
    ChartPoint,
    Footnote,
    ReportModel,
    ScoreRow,
    Section,
    Table,
)

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="120" viewBox="0 0 400 120">'
    '<polyline points="10,100 60,80 110,90 160,40 210,50 260,30" fill="none" stroke="#12436D"'
    ' stroke-width="3"/></svg>'
)


STAGES = (
    "Front door",
    "Assessment",
    "Child protection",
    "Children looked after",
    "Workforce",
    "Quality",
)


def _png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4, 1.2), dpi=50)
    axes.plot([1, 2, 3, 4], [3, 1, 2, 4], color="#12436D")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def sample_model(rows: int = 3, audience: str = "public", breakdowns: bool = False) -> ReportModel:
    """A report with every part present: sections (one a placeholder), a scorecard of
    ``rows`` rows, one chart, commentary, footnotes and an annex table; with ``breakdowns``,
    two breakdown tables (one narrow, one wide)."""
    scorecard = tuple(
        ScoreRow(
            indicator=f"indicator_{i}",
            title=f"Indicator {i}",
            value=f"{90 + i}.0%",
            previous="89.5%",
            last_year="88.0%",
            target="95.0%",
            rag="Amber",
            spc_letters="- ?",
            spc_words="Common cause variation; target met only sometimes",
            england="91.2%",
            region="90.1%",
            neighbours="92.0%",
            comparator_year="2013-14",
            footnote=i + 1,
            stage=STAGES[i * len(STAGES) // rows],
            numerator=f"{90 + i}",
            denominator="100",
            direction="up",
            direction_tone="good",
            direction_words="Up on the previous month (better)",
            variation="common_cause",
            variation_words="Common cause variation",
            assurance="inconsistent",
            assurance_words="Met only sometimes",
        )
        for i in range(rows)
    )
    return ReportModel(
        title="Children's safeguarding performance data",
        council="Demoshire Council",
        month_label="October 2015",
        audience=audience,
        header=(
            ("Meeting", "Children and young people scrutiny committee"),
            ("Meeting date", "Monday 25 January 2016"),
            ("Title of report", "Children's safeguarding performance data"),
            ("Report by", "Director for children's wellbeing"),
        ),
        sections=(
            Section("purpose", "Purpose", ("To review performance for October 2015.",)),
            Section(
                "financial",
                "Financial implications",
                ("[To be completed by Finance]",),
                placeholder=True,
            ),
        ),
        positives=("98.2% of contacts were screened on the same working day.",),
        challenges=("Re-referrals rose to 24.4%.",),
        scorecard=scorecard,
        charts=(
            Chart(
                indicator="indicator_0",
                title="Indicator 0",
                svg=SVG,
                png=_png(),
                alt="Line chart of indicator 0 from May to October 2015, rising to 90%.",
                stage=STAGES[0],
                points=tuple(
                    ChartPoint(m, v) for m, v in (("Sep 2015", "89.5%"), ("Oct 2015", "90.0%"))
                ),
            ),
        ),
        commentary=(("Indicator 0", "90.0% in October 2015, below the 95% target."),),
        footnotes=tuple(Footnote(i + 1, f"Definition of indicator {i}.") for i in range(rows)),
        annex=(
            Table(
                "Rows quarantined by rule",
                ("Extract", "File", "Rule", "Rows"),
                (("2015-10", "contacts.csv", "invalid-datetime", "1"),),
            ),
        ),
        breakdowns=SAMPLE_BREAKDOWNS if breakdowns else (),
        banner="INTERNAL: not for publication" if audience == "internal" else "",
    )


SAMPLE_BREAKDOWNS = (
    Table(
        "Contacts by source: October 2015 and the 12 months to October 2015",
        ("Source", "Oct 2015", "%", "12 months to Oct 2015", "%"),
        (
            ("Police", "152", "26.9%", "1,642", "27.9%"),
            ("Housing", "c", "c", "106", "1.8%"),
        ),
        "Sources as the CIN census codes them.",
    ),
    Table(
        "Caseloads by team, October 2015",
        ("Team", "Case-holding workers", "FTE", "Cases per FTE", "Lowest", "Highest"),
        (("MASH", "7", "6.4", "17.2", "1", "27"), ("Small team", "c", "c", "c", "c", "c")),
    ),
)
