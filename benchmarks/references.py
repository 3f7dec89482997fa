"""The two references ``make bench`` measures safeguard against (issue 16).

- ``floor``: polars reading each of a month's CSV files as text and writing it as parquet:
  what no ingest can beat, as it must at least read the files and write what it keeps.
- ``duckdb``: DuckDB reading two consecutive monthly extracts, keeping the newest version of
  each record (by record id, the later extract wins) and computing, in SQL, eight of the
  indicators that cost safeguard's engine the most, for the 24 months to the later extract.

The eight (timed one by one with ``compute(only=[...])`` on a scale-10 store holding two
extracts; each the heaviest of its rule) are the two rolling 12-month rates
(``referrals_rate_per_10k``, ``s47_rate_per_10k``: every event in 12 windows), re-referrals
within 12 months (a lag over each child's referrals), children with three or more placements
(periods and placements built from episodes, then a join per month), plan visits in
timescale and open assessments past their timescale (working days at every month end),
CLA reviews on time (an as-of join to the period of care, working days added), and children
on a plan (open records at every month end, counted by child). Working days are a calendar
table (weekdays less England's bank holidays, the ones safeguard's calendar uses); elapsed
working days are the difference of two running counts. Each indicator's numerator and
denominator per month are fetched, so every query runs to the end.

DuckDB is a benchmark-only dependency (the ``bench`` extra): without it, ``duckdb_available``
says why and the benchmark leaves that reference out.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

# table -> (its record id, its date columns): the tables the eight indicators read
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "referrals": ("cine_referral_id", ("cine_referral_date", "cine_close_date")),
    "s47_enquiries": ("s47e_s47_enquiry_id", ("s47e_s47_start_date", "s47e_s47_end_date")),
    "assessments": (
        "cina_assessment_id",
        ("cina_assessment_start_date", "cina_assessment_auth_date"),
    ),
    "cp_plans": ("cppl_cp_plan_id", ("cppl_cp_plan_start_date", "cppl_cp_plan_end_date")),
    "cp_visits": ("cppv_cp_visit_id", ("cppv_cp_visit_date",)),
    "cla_episodes": (
        "clae_cla_episode_id",
        ("clae_cla_episode_start_date", "clae_cla_episode_ceased_date"),
    ),
    "cla_reviews": ("clar_cla_review_id", ("clar_cla_review_date", "clar_cla_review_due_date")),
}

INDICATORS = (
    "referrals_rate_per_10k",
    "s47_rate_per_10k",
    "rereferrals_12m_pct",
    "cla_3plus_placements_pct",
    "cp_visits_in_timescale_pct",
    "assessments_open_overdue",
    "cla_reviews_on_time_pct",
    "cp_plans_open",
)

# care episodes, each with the end of the child's episode before it: a period of care (and a
# placement) starts where that is not this episode's start (3+ placements and reviews read it)
_ORDERED_EPISODES = """ordered AS (
            SELECT *, lag(clae_cla_episode_ceased_date) OVER w AS previous_end
            FROM cla_episodes
            WINDOW w AS (PARTITION BY clae_person_id ORDER BY clae_cla_episode_start_date)
        )"""

# each query yields (month, numerator, denominator) for the 24 months in ``months``
QUERIES: dict[str, str] = {
    "referrals_rate_per_10k": """
        SELECT m.month, count(*) AS numerator, NULL AS denominator
        FROM referrals r JOIN months m
          ON date_trunc('month', r.cine_referral_date) BETWEEN m.month - INTERVAL 11 MONTH
             AND m.month
        GROUP BY m.month""",
    "s47_rate_per_10k": """
        SELECT m.month, count(*) AS numerator, NULL AS denominator
        FROM s47_enquiries s JOIN months m
          ON date_trunc('month', s.s47e_s47_start_date) BETWEEN m.month - INTERVAL 11 MONTH
             AND m.month
        GROUP BY m.month""",
    "rereferrals_12m_pct": """
        WITH distinct_dates AS (
            SELECT cine_person_id, cine_referral_date,
                   lag(cine_referral_date) OVER (
                       PARTITION BY cine_person_id ORDER BY cine_referral_date
                   ) AS previous_referral
            FROM (SELECT DISTINCT cine_person_id, cine_referral_date FROM referrals)
        )
        SELECT date_trunc('month', r.cine_referral_date)::DATE AS month,
               count(*) FILTER (
                   WHERE d.previous_referral >= r.cine_referral_date - INTERVAL 12 MONTH
               ) AS numerator,
               count(*) AS denominator
        FROM referrals r
        LEFT JOIN distinct_dates d USING (cine_person_id, cine_referral_date)
        WHERE date_trunc('month', r.cine_referral_date) IN (SELECT month FROM months)
        GROUP BY 1""",
    "cp_plans_open": """
        SELECT m.month, count(DISTINCT p.cppl_person_id) AS numerator, NULL AS denominator
        FROM cp_plans p JOIN months m
          ON p.cppl_cp_plan_start_date <= m.month_end
         AND (p.cppl_cp_plan_end_date IS NULL OR p.cppl_cp_plan_end_date > m.month_end)
        GROUP BY m.month""",
    "cp_visits_in_timescale_pct": """
        WITH open_plans AS (
            SELECT p.cppl_cp_plan_id, m.month, m.month_end, ce.n AS end_n
            FROM cp_plans p JOIN months m
              ON p.cppl_cp_plan_start_date <= m.month_end
             AND (p.cppl_cp_plan_end_date IS NULL OR p.cppl_cp_plan_end_date > m.month_end)
            JOIN cal cs ON cs.day = p.cppl_cp_plan_start_date
            JOIN cal ce ON ce.day = m.month_end
            WHERE ce.n - cs.n > 10
        ),
        latest AS (
            SELECT o.cppl_cp_plan_id, o.month, max(v.cppv_cp_visit_date) AS last_visit
            FROM open_plans o JOIN cp_visits v
              ON v.cppv_cp_plan_id = o.cppl_cp_plan_id AND v.cppv_cp_visit_date <= o.month_end
            WHERE coalesce(v.cppv_cp_visit_seen IN ('Y', 'y', 'Yes', 'true', '1'), false)
            GROUP BY ALL
        )
        SELECT o.month,
               count(*) FILTER (WHERE o.end_n - cv.n <= 10) AS numerator,
               count(*) AS denominator
        FROM open_plans o
        LEFT JOIN latest l USING (cppl_cp_plan_id, month)
        LEFT JOIN cal cv ON cv.day = l.last_visit
        GROUP BY o.month""",
    "assessments_open_overdue": """
        SELECT m.month, count(*) AS numerator, NULL AS denominator
        FROM assessments a JOIN months m
          ON a.cina_assessment_start_date <= m.month_end
         AND (a.cina_assessment_auth_date IS NULL OR a.cina_assessment_auth_date > m.month_end)
        JOIN cal cs ON cs.day = a.cina_assessment_start_date
        JOIN cal ce ON ce.day = m.month_end
        WHERE ce.n - cs.n > CASE coalesce(a.cina_assessment_type, 'SINGLE')
                               WHEN 'INITIAL' THEN 10 WHEN 'CORE' THEN 35 ELSE 45 END
        GROUP BY m.month""",
    "cla_3plus_placements_pct": """
        WITH """
    + _ORDERED_EPISODES
    + """,
        flagged AS (
            SELECT *,
                   (previous_end IS NULL OR previous_end <> clae_cla_episode_start_date)
                       AS new_period
            FROM ordered
        ),
        numbered AS (
            SELECT *,
                   sum((new_period OR coalesce(clae_cla_episode_start_reason, '') <> 'L')::INT)
                       OVER (PARTITION BY clae_person_id ORDER BY clae_cla_episode_start_date
                             ROWS UNBOUNDED PRECEDING) AS placement
            FROM flagged
        ),
        placements AS (
            SELECT clae_person_id, placement,
                   min(clae_cla_episode_start_date) AS placement_start,
                   arg_max(clae_cla_episode_ceased_date, clae_cla_episode_start_date)
                       AS placement_end
            FROM numbered GROUP BY ALL
        ),
        looked_after AS (
            SELECT DISTINCT m.month, m.month_end, e.clae_person_id
            FROM cla_episodes e JOIN months m
              ON e.clae_cla_episode_start_date <= m.month_end
             AND (e.clae_cla_episode_ceased_date IS NULL
                  OR e.clae_cla_episode_ceased_date > m.month_end)
        ),
        counts AS (
            SELECT l.month, l.clae_person_id, count(*) AS placements
            FROM looked_after l JOIN placements p USING (clae_person_id)
            WHERE p.placement_start <= l.month_end
              AND (p.placement_end IS NULL
                   OR p.placement_end >= l.month - INTERVAL 11 MONTH)
            GROUP BY ALL
        )
        SELECT l.month, count(*) FILTER (WHERE coalesce(c.placements, 0) >= 3) AS numerator,
               count(*) AS denominator
        FROM looked_after l LEFT JOIN counts c USING (month, clae_person_id)
        GROUP BY l.month""",
    "cla_reviews_on_time_pct": """
        WITH """
    + _ORDERED_EPISODES
    + """,
        numbered AS (
            SELECT *,
                   sum((previous_end IS NULL
                        OR previous_end <> clae_cla_episode_start_date)::INT)
                       OVER (PARTITION BY clae_person_id ORDER BY clae_cla_episode_start_date
                             ROWS UNBOUNDED PRECEDING) AS period
            FROM ordered
        ),
        periods AS (
            SELECT clae_person_id, period, min(clae_cla_episode_start_date) AS period_start
            FROM numbered GROUP BY ALL
        ),
        matched AS (
            SELECT r.*, p.period, p.period_start
            FROM cla_reviews r ASOF LEFT JOIN periods p
              ON r.clar_person_id = p.clae_person_id
             AND r.clar_cla_review_date >= p.period_start
        ),
        sequenced AS (
            SELECT *,
                   row_number() OVER w AS number,
                   lag(clar_cla_review_date) OVER w AS previous
            FROM matched
            WINDOW w AS (PARTITION BY clar_person_id, period ORDER BY clar_cla_review_date)
        ),
        due AS (
            SELECT s.*,
                   coalesce(
                       s.clar_cla_review_due_date,
                       CASE WHEN s.period IS NULL THEN NULL
                            WHEN s.number = 1 THEN w.day
                            WHEN s.number = 2 THEN (s.previous + INTERVAL 3 MONTH)::DATE
                            ELSE (s.previous + INTERVAL 6 MONTH)::DATE END
                   ) AS due
            FROM sequenced s
            LEFT JOIN cal c ON c.day = s.period_start
            LEFT JOIN workdays w ON w.n = c.n + 20
        )
        SELECT date_trunc('month', clar_cla_review_date)::DATE AS month,
               count(*) FILTER (WHERE clar_cla_review_date <= due) AS numerator,
               count(*) AS denominator
        FROM due
        WHERE date_trunc('month', clar_cla_review_date) IN (SELECT month FROM months)
        GROUP BY 1""",
}


def duckdb_available() -> str | None:
    """None when DuckDB can be imported; otherwise why not (the reference is then skipped)."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return (
            "duckdb is not installed (pip install -e '.[bench]'): the DuckDB reference is skipped"
        )
    return None


def floor(files: list[Path], out: Path) -> None:
    """Read each CSV file as text and write it as parquet into ``out``: the floor."""
    import polars as pl

    out.mkdir(parents=True, exist_ok=True)
    for path in files:
        pl.read_csv(path, infer_schema=False).write_parquet(
            out / f"{path.stem}.parquet", compression="zstd", statistics=True
        )


def calendar_rows(last: Any) -> list[date]:
    """The holidays of the calendar safeguard's engine uses for the 24 months to ``last`` (a
    ``Month``): bank holidays from three years before the first month to a year after."""
    from safeguard.calendar import bank_holidays

    return bank_holidays(last.shift(-23).year - 3, last.year + 1)


def duckdb_indicators(
    folders: list[Path], last: date, holidays: list[date]
) -> dict[str, list[tuple[Any, ...]]]:
    """The eight indicators for the 24 months to ``last`` (a first day) from the extracts in
    ``folders`` (oldest first; the later extract's version of a record wins), in DuckDB."""
    import duckdb

    con = duckdb.connect()
    first = date(last.year - 2 + (last.month == 12), last.month % 12 + 1, 1)
    con.execute(
        "CREATE TEMP TABLE months AS SELECT m::DATE AS month, "
        "(m + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE AS month_end "
        "FROM range(?::DATE, ?::DATE + INTERVAL 1 MONTH, INTERVAL 1 MONTH) t(m)",
        [first, last],
    )
    # every day with the running count of working days up to it (its ``n``); working days
    # numbered the same way, for adding working days
    con.execute("CREATE TEMP TABLE holidays (day DATE)")
    con.executemany("INSERT INTO holidays VALUES (?)", [(d,) for d in holidays])
    con.execute(
        "CREATE TEMP TABLE cal AS SELECT d::DATE AS day, sum((isodow(d) <= 5 AND d::DATE NOT "
        "IN (SELECT day FROM holidays))::INT) OVER (ORDER BY d) AS n "
        "FROM range(DATE '1980-01-01', DATE '2030-01-01', INTERVAL 1 DAY) t(d)"
    )
    con.execute("CREATE TEMP TABLE workdays AS SELECT min(day) AS day, n FROM cal GROUP BY n")
    for table, (ident, dates) in TABLES.items():
        files = [str(folder / f"{table}.csv") for folder in folders]
        # dates as the extracts write them: YYYY-MM-DD or DD/MM/YYYY
        casts = ", ".join(
            f"coalesce(TRY_CAST({c} AS DATE), TRY_STRPTIME({c}, '%d/%m/%Y')::DATE) AS {c}"
            for c in dates
        )
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT * EXCLUDE (filename) REPLACE ({casts}) "
            f"FROM read_csv({files!r}, all_varchar = true, union_by_name = true, "
            f"filename = true) QUALIFY row_number() OVER "
            f"(PARTITION BY {ident} ORDER BY filename DESC) = 1"
        )
    results = {name: con.execute(QUERIES[name] + " ORDER BY 1").fetchall() for name in INDICATORS}
    con.close()
    return results
