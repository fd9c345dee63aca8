"""Benchmark the analytics over about 3 million answers: print figures; assert nothing.

Builds a portfolio of 2,000 accounts with two years of quarterly survey history into a fresh
database (PostgreSQL by default, dropped afterwards; ``--backend sqlite`` for a temporary
SQLite file), then measures, in a separate process so that its memory is the measurement's own:

- the portfolio summary (``relhealth.analytics.service.portfolio_summary``): median of
  ``--runs`` runs, and its peak memory: the growth of the process's resident memory over what
  it held before the call (VmHWM after resetting it through /proc/self/clear_refs), and the
  peak of Python's own allocations (tracemalloc, numpy and pandas included) in one more run;
- a bare SQL ``GROUP BY`` over the same answers (count and average per account and
  dimension), and the summary's ratio to it;
- one account's trends (``service.account_trends``): median and 95th percentile over
  ``--accounts-sampled`` random accounts.

The data: ``relhealth.demo.generate_portfolio`` (about 19 of their people per account), widened
with a second organisation chart per account (``--widen``) so that about 25 people answer per
account and wave, ``relhealth.demo.seed_database``, then
``relhealth.demo_history.bulk_survey_history`` (8 closed waves, 8 numeric answers per
response). The build is timed too.

    .venv/bin/python bench/analytics.py [--accounts 2000] [--backend postgresql|sqlite]
        [--runs 5] [--explain] [--profile] [--keep | --url URL]

``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of every query the summary issues and of the
bare GROUP BY (PostgreSQL); ``--profile`` prints the summary's cProfile (top 25 by cumulative
time). ``--keep`` keeps the database and prints its URL; ``--url`` measures an existing one
without building. Targets (issue 5): summary <= 3 s and <= 1.5 GB on PostgreSQL; one account's
trends <= 200 ms.
"""

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

import sqlalchemy as sa

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TODAY = dt.date(2026, 11, 26)
SUMMARY_SECONDS, SUMMARY_MB, TRENDS_SECONDS = 3.0, 1536, 0.2
BARE_SQL = """
SELECT r.account_id, a.dimension, count(*) AS n, avg(a.scaled) AS mean
FROM answers a JOIN responses r ON r.id = a.response_id
WHERE a.scaled IS NOT NULL
GROUP BY r.account_id, a.dimension
"""
# The same, over the answers the summary reads: each account's latest wave.
BARE_LATEST_SQL = """
SELECT r.account_id, a.dimension, count(*) AS n, avg(a.scaled) AS mean
FROM answers a JOIN responses r ON r.id = a.response_id
JOIN (
    SELECT account_id, max(wave_id) AS wave_id FROM responses GROUP BY account_id
) latest ON latest.account_id = r.account_id AND latest.wave_id = r.wave_id
WHERE a.scaled IS NOT NULL
GROUP BY r.account_id, a.dimension
"""
TREND_BREAKDOWNS = (None, "side", "dimension")


# Building the data ------------------------------------------------------------------------------


def widen(portfolio, seed: int) -> int:
    """Give every account a second organisation chart of their people; returns how many.

    The demo's accounts have 8-40 of their people (19 on average); the issue's figure is about
    25 answering per account and wave. The second chart has the account's tier, its own
    reporting lines and roles, and crm ids ``<account>-D<n>``.
    """
    from relhealth import demo

    rng = random.Random(seed)  # noqa: S311 -- reproducible benchmark data, not secrets
    names = demo._Names(rng)
    names.emails = {p["email"] for p in portfolio.people}
    domains = {p["account_crm_id"]: p["email"].split("@")[1] for p in portfolio.people}
    added = 0
    for account in portfolio.accounts:
        domain = domains[account["crm_id"]]
        people = demo._their_people(rng, names, account["crm_id"], domain, account["tier"], TODAY)
        for number, person in enumerate(people, start=1):
            person["crm_id"] = f"{account['crm_id']}-D{number:03d}"
        portfolio.people.extend(people)
        portfolio.relationships.extend(demo._reporting_lines(people, rng))
        added += len(people)
    return added


def build(url: str, accounts: int, seed: int, widened: bool) -> dict:
    """Migrate, seed the portfolio, write the survey history; time each step."""
    from flask_migrate import upgrade

    from relhealth import create_app
    from relhealth.demo import generate_portfolio, seed_database
    from relhealth.demo_history import bulk_survey_history
    from relhealth.extensions import db

    timings: dict[str, float] = {}
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        started = time.perf_counter()
        upgrade()
        timings["migrate"] = time.perf_counter() - started

        started = time.perf_counter()
        portfolio = generate_portfolio(seed=seed, accounts=accounts, today=TODAY)
        extra = widen(portfolio, seed) if widened else 0
        timings["generate portfolio"] = time.perf_counter() - started

        started = time.perf_counter()
        counts = seed_database(db.session, portfolio)
        db.session.commit()
        timings["seed portfolio"] = time.perf_counter() - started

        started = time.perf_counter()
        history = bulk_survey_history(db.session, today=TODAY, seed=seed)
        db.session.commit()
        timings["write survey history"] = time.perf_counter() - started

        started = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE")
        timings["vacuum analyze"] = time.perf_counter() - started
        db.engine.dispose()
    return {"timings": timings, "counts": {**counts, **history, "people added": extra}}


# Measuring (in a child process) -----------------------------------------------------------------


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, for the figures' context."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _status_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(field)))


def peak_growth_mb(work) -> tuple[object, float]:
    """(result, MB): how far the resident memory rose above its level before ``work``.

    Resets the peak (VmHWM) to the current RSS first (Linux: ``5`` to /proc/self/clear_refs).
    """
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS:")
    result = work()
    return result, (_status_kib("VmHWM:") - before) / 1024


def timed(work, runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return seconds


class _Statements:
    """Collect the SQL statements (with parameters) a call issues."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append((statement, parameters))


def measure(url: str, runs: int, sampled: int, explain: bool, profile: bool) -> dict:
    from relhealth import create_app
    from relhealth.accounts.models import Account
    from relhealth.analytics import service
    from relhealth.auth.models import User
    from relhealth.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    report: dict = {"explain": [], "profile": "", "trends_s": {}}
    with app.app_context():
        session = db.session
        engine = db.engine
        settings = service.analytics_settings()
        admin = session.scalar(select_admin(User))

        def summary():
            result = service.portfolio_summary(session, admin, {}, settings)
            session.rollback()  # end the read transaction, as a request does
            return result

        def bare(sql):
            def work():
                with engine.connect() as conn:
                    return conn.exec_driver_sql(sql).all()

            return work

        summary()  # warm: imports, caches, the database's buffers
        bare(BARE_SQL)()
        result, report["summary_rss_mb"] = peak_growth_mb(summary)
        report["summary_shape"] = _shape(result)
        report["summary_s"] = timed(summary, runs)
        tracemalloc.start()
        summary()
        report["summary_tracemalloc_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        for name, sql in (("bare", BARE_SQL), ("bare_latest", BARE_LATEST_SQL)):
            report[f"{name}_s"] = timed(bare(sql), runs)
            report[f"{name}_rows"] = len(bare(sql)())

        ids = session.scalars(sa.select(Account.id).order_by(Account.id)).all()
        picked = random.Random(1).sample(ids, k=min(sampled, len(ids)))  # noqa: S311
        accounts = [session.get(Account, account_id) for account_id in picked]

        def trends_of(account, by):
            def work():
                result = service.account_trends(session, account, by, settings)
                session.rollback()
                return result

            return work

        for by in TREND_BREAKDOWNS:
            trends_of(accounts[0], by)()  # warm
            report["trends_s"][str(by)] = [timed(trends_of(a, by), 1)[0] for a in accounts]
        _, report["trends_rss_mb"] = peak_growth_mb(trends_of(accounts[-1], "dimension"))

        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(summary)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            report["profile"] = out.getvalue()
        if explain and engine.dialect.name == "postgresql":
            with _Statements(engine) as seen:
                summary()
            for statement, parameters in [*seen, (BARE_SQL, None), (BARE_LATEST_SQL, None)]:
                with engine.connect() as conn:
                    cursor = conn.connection.cursor()
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                    cursor.close()
                report["explain"].append({"sql": statement, "plan": plan})
        engine.dispose()
    return report


def select_admin(user_model):
    return sa.select(user_model).where(user_model.role == "admin").order_by(user_model.id).limit(1)


def _shape(result) -> str:
    """A short description of what the summary returned (rows of its frames)."""
    try:
        import pandas as pd

        if isinstance(result, pd.DataFrame):
            return f"DataFrame {result.shape[0]:,} x {result.shape[1]}"
        if isinstance(result, dict):
            return ", ".join(f"{key}: {_shape(value)}" for key, value in result.items())
        if isinstance(result, list | tuple):
            return f"{type(result).__name__} of {len(result):,}"
    except ImportError:
        pass
    return type(result).__name__


# Databases and the report -----------------------------------------------------------------------


class _Database:
    """A context: the URL of a new, empty database (removed afterwards unless kept)."""

    def __init__(self, backend: str, folder: Path, keep: bool):
        self.backend, self.keep = backend, keep
        self.name = f"rh_bench_analytics_{uuid.uuid4().hex[:8]}"
        self.path = folder / f"{self.name}.db"

    def __enter__(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.path}"
        self.admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        return sa.make_url(POSTGRES_SERVER).set(database=self.name).render_as_string(False)

    def __exit__(self, *exc):
        if self.keep:
            return
        if self.backend == "sqlite":
            self.path.unlink(missing_ok=True)
            return
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


def print_report(built: dict | None, measured: dict, backend: str, runs: int) -> None:
    print(f"\n## {backend}")
    if built:
        counts, timings = built["counts"], built["timings"]
        print(
            f"Data: {counts['accounts']:,} accounts, {counts['people']:,} people"
            f" ({counts['people added']:,} of them a second chart per account),"
            f" {counts['waves']} waves, {counts['invitations']:,} invitations"
            f" ({counts['skipped']:,} skipped), {counts['responses']:,} responses,"
            f" {counts['answers']:,} answers; {counts['people left']:,} people left on the way."
        )
        print("\n| build step | seconds |\n|---|---:|")
        for step, seconds in timings.items():
            print(f"| {step} | {seconds:.1f} |")
        print(f"| **total** | **{sum(timings.values()):.1f}** |")
    summary = statistics.median(measured["summary_s"])
    bare = statistics.median(measured["bare_s"])
    bare_latest = statistics.median(measured["bare_latest_s"])

    def spread(values):
        return f"{min(values):.2f}-{max(values):.2f} s ({len(values)} runs)"

    print("\n| measurement | budget | median | spread | memory |\n|---|---:|---:|---|---|")
    print(
        f"| portfolio summary | {SUMMARY_SECONDS:.1f} s, {SUMMARY_MB / 1024:.1f} GB"
        f" | **{summary:.2f} s** | {spread(measured['summary_s'])}"
        f" | {measured['summary_rss_mb']:.0f} MB RSS growth;"
        f" {measured['summary_tracemalloc_mb']:.0f} MB tracemalloc peak |"
    )
    print(
        f"| bare GROUP BY, all answers ({measured['bare_rows']:,} groups)"
        f" | | {bare:.2f} s | {spread(measured['bare_s'])} | |"
    )
    print(
        f"| bare GROUP BY, latest wave's answers ({measured['bare_latest_rows']:,} groups)"
        f" | | {bare_latest:.2f} s | {spread(measured['bare_latest_s'])} | |"
    )
    print(
        f"| summary / bare GROUP BY | | **{summary / bare:.2f}x** all answers,"
        f" {summary / bare_latest:.2f}x latest wave | | |"
    )
    medians = {}
    for by, seconds in measured["trends_s"].items():
        ordered = sorted(seconds)
        p95 = ordered[round(0.95 * (len(ordered) - 1))]
        medians[by] = statistics.median(ordered)
        label = "one account's trends" + ("" if by == "None" else f", by {by}")
        print(
            f"| {label} | {TRENDS_SECONDS * 1000:.0f} ms | **{medians[by] * 1000:.0f} ms**"
            f" | p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
            f" ({len(ordered)} accounts) | |"
        )
    print(f"\nTrends by dimension, RSS growth: {measured['trends_rss_mb']:.0f} MB.")
    print(f"Summary returned: {measured['summary_shape']}.")
    verdicts = [
        ("summary time", summary <= SUMMARY_SECONDS),
        ("summary memory", measured["summary_rss_mb"] <= SUMMARY_MB),
        ("trends time", max(medians.values()) <= TRENDS_SECONDS),
    ]
    print("Targets: " + ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in verdicts))
    for item in measured["explain"]:
        print(
            f"\n### EXPLAIN ANALYZE\n```sql\n{item['sql'].strip()}\n```\n```\n{item['plan']}\n```"
        )
    if measured["profile"]:
        print(f"\n### cProfile of the summary\n```\n{measured['profile']}```")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5, help="runs of the summary")
    parser.add_argument("--accounts-sampled", type=int, default=50, help="for the trends")
    parser.add_argument("--no-widen", action="store_true", help="the demo's people only")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database; print its URL")
    parser.add_argument("--url", help="measure this database; build nothing")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: URL to measure
    args = parser.parse_args()
    if args.child:
        report = measure(args.child, args.runs, args.accounts_sampled, args.explain, args.profile)
        print(json.dumps(report))
        return 0

    print(
        f"# Analytics benchmark: {args.accounts:,} accounts, {args.backend}"
        f"\nMachine: {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}; load average before:"
        f" {load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="relhealth-bench-") as tmp:
        env = {**os.environ, "RELHEALTH_INSTANCE_PATH": str(Path(tmp) / "instance")}
        built = None
        database = _Database(args.backend, Path(tmp) if not args.keep else Path("."), args.keep)
        with database if not args.url else _Given(args.url) as url:
            if not args.url:
                built = build(url, args.accounts, args.seed, not args.no_widen)
                if args.keep:
                    print(f"Database kept: {url}")
            child = subprocess.run(
                [sys.executable, __file__, "--child", url, "--runs", str(args.runs)]
                + ["--accounts-sampled", str(args.accounts_sampled)]
                + (["--explain"] if args.explain else [])
                + (["--profile"] if args.profile else []),
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        if child.returncode != 0:
            print(f"Measuring FAILED:\n{child.stderr}")
            return 1
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        print_report(built, measured, args.backend, args.runs)
        print(f"\nLoad average after: {load_average()}")
    return 0


class _Given:
    def __init__(self, url: str):
        self.url = url

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc):
        return None


if __name__ == "__main__":
    sys.exit(main())
