"""Benchmark the PDF reports (issue 6): print figures; assert nothing.

Builds a portfolio (``--accounts 200``) with two years of quarterly survey history into a fresh
PostgreSQL database (dropped afterwards; ``--url`` measures an existing one) the way
``bench/analytics.py`` does, then measures, in a separate process so that its memory is the
measurement's own:

- the account report (``reports.service.render_account_report``) of the ``--sampled`` largest
  accounts (most responses): median and spread of the render time, and the peak memory of one
  render (RSS growth over the level before it: ``bench/analytics.py``'s ``peak_growth_mb``);
- the portfolio report (``render_portfolio_report``) over every account;
- where one account report's time goes: a cProfile split into the weasyprint layout
  (``render.pdf_bytes``), matplotlib charts (``reports.charts``), the stakeholder map and the
  rest of the data gathering (``content.account_content``).

Then ``--celery-reports`` (200) account reports through Celery on the local Redis
(``--broker``, database 11 by default; emptied before and after): queued with
``reports.jobs.request_report`` and ``send_task``, rendered by one ``relhealth worker --no-beat
--concurrency 1`` process, then by two such processes; the wall time from the first job queued
to the last one done, the ratio of the two, and reports done a minute. At 7-12 s a report on
a busy 2-core machine, 200 reports take 25-40 minutes on one worker: ``--celery-reports 40``
for a quicker look (the rate, not the count, is what compares).

    .venv/bin/python bench/reports.py [--accounts 200] [--sampled 10] [--celery-reports 200]
        [--broker redis://127.0.0.1:6379/11] [--skip-celery] [--keep | --url URL]

Targets (issue 6): account report <= 2 s median and <= 500 MB peak; portfolio report over 200
accounts <= 20 s; 200 account reports on 2 workers take about half the time of one.
"""

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics import _Database, _Given, build, load_average, peak_growth_mb

ACCOUNT_SECONDS, ACCOUNT_MB, PORTFOLIO_SECONDS = 2.0, 500, 20.0
RELHEALTH = Path(sys.executable).with_name("relhealth")


# Measuring (in a child process) -----------------------------------------------------------------


def _largest(session, limit: int) -> list:
    from relhealth.accounts.models import Account
    from relhealth.surveys.models import Response

    return session.scalars(
        sa.select(Account)
        .join(Response, Response.account_id == Account.id)
        .group_by(Account.id)
        .order_by(sa.func.count(Response.id).desc(), Account.id)
        .limit(limit)
    ).all()


def _profile_split(profiler: cProfile.Profile) -> dict:
    """Cumulative seconds of the phases of one account report, from its profile."""
    stats = pstats.Stats(profiler)
    phases = {
        "weasyprint layout + PDF (render.pdf_bytes)": ("reports/render.py", "pdf_bytes"),
        "matplotlib charts (reports.charts._render)": ("reports/charts.py", "_render"),
        "stakeholder map (accounts.map.render_map)": ("accounts/map.py", "render_map"),
        "gathering (content.account_content, charts and map included)": (
            "reports/content.py",
            "account_content",
        ),
        "template (flask render_template)": ("flask/templating.py", "render_template"),
    }
    split = dict.fromkeys(phases, 0.0)
    for (filename, _line, function), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():
        for name, (path, wanted) in phases.items():
            if filename.endswith(path) and function == wanted:
                split[name] += cumulative
    split["total"] = stats.total_tt
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    return {"split": split, "top": out.getvalue()}


def measure(url: str, sampled: int) -> dict:
    from relhealth import create_app
    from relhealth.accounts.models import Account
    from relhealth.auth.models import Role, User
    from relhealth.extensions import db
    from relhealth.reports import service

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    report: dict = {}
    with app.app_context():
        session = db.session
        accounts = _largest(session, sampled)
        report["accounts_total"] = session.scalar(sa.select(sa.func.count(Account.id)))

        def account_report(account):
            def work():
                pdf = service.render_account_report(session, account)
                session.rollback()
                return pdf

            return work

        account_report(accounts[0])()  # warm: imports, fonts, caches
        pdf, report["account_rss_mb"] = peak_growth_mb(account_report(accounts[0]))
        report["account_pdf_kib"] = len(pdf) / 1024
        seconds, cpu = [], []
        for account in accounts:
            started, started_cpu = time.perf_counter(), time.process_time()
            account_report(account)()
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        report["account_s"], report["account_cpu_s"] = seconds, cpu

        profiler = cProfile.Profile()
        profiler.runcall(account_report(accounts[0]))
        report["profile"] = _profile_split(profiler)

        reader = User(role=Role.ADMIN, name="bench", email="bench@relhealth.invalid")

        def portfolio():
            pdf = service.render_portfolio_report(session, reader)
            session.rollback()
            return pdf

        started = time.perf_counter()
        pdf, report["portfolio_rss_mb"] = peak_growth_mb(portfolio)
        report["portfolio_s"] = time.perf_counter() - started
        report["portfolio_pdf_kib"] = len(pdf) / 1024
        db.engine.dispose()
    return report


# Celery ----------------------------------------------------------------------------------------


def _worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(RELHEALTH), "worker", "--no-beat", "--concurrency", "1", "--loglevel", "warning"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()  # warm shutdown: the pool finishes nothing (the queue is empty)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)
            worker.wait()


def celery_run(url: str, broker: str, env: dict, count: int, workers: int, log: Path) -> dict:
    """Start ``workers`` worker processes, queue ``count`` account reports, wait for them."""
    import redis

    from relhealth import create_app
    from relhealth.auth.models import User
    from relhealth.celery_app import celery_for
    from relhealth.extensions import db
    from relhealth.reports import jobs
    from relhealth.reports.models import Report, ReportStatus
    from relhealth.reports.tasks import RENDER_TASK

    redis.Redis.from_url(broker).flushdb()
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "BROKER_URL": broker},
    )
    with app.app_context():
        session = db.session
        admin = session.scalar(
            sa.select(User).where(User.role == "admin").order_by(User.id).limit(1)
        )
        accounts = _largest(session, count)
        accounts = (accounts * (count // len(accounts) + 1))[:count]
        celery = celery_for(app)
        processes = [_worker(env, log) for _ in range(workers)]
        try:
            time.sleep(8)  # let the workers start (imports, pool fork) before the clock starts
            load_before = load_average()
            started = time.perf_counter()
            ids = []
            for account in accounts:
                ids.append(jobs.request_report(session, admin, "account", account.id).id)
            session.commit()
            for report_id in ids:
                celery.send_task(RENDER_TASK, args=[report_id])
            pending = set(ids)
            deadline = started + 3600
            while pending and time.perf_counter() < deadline:
                time.sleep(0.5)
                finished = session.scalars(
                    sa.select(Report.id).where(
                        Report.id.in_(pending),
                        Report.status.in_([ReportStatus.DONE, ReportStatus.FAILED]),
                    )
                ).all()
                session.rollback()
                pending -= set(finished)
            seconds = time.perf_counter() - started
            statuses = dict(
                session.execute(
                    sa.select(Report.status, sa.func.count())
                    .where(Report.id.in_(ids))
                    .group_by(Report.status)
                ).all()
            )
            session.rollback()
        finally:
            _stop(processes)
            redis.Redis.from_url(broker).flushdb()
        db.engine.dispose()
    return {
        "workers": workers,
        "seconds": seconds,
        "pending": len(pending),
        "statuses": {str(getattr(k, "value", k)): v for k, v in statuses.items()},
        "load_before": load_before,
        "load_after": load_average(),
    }


# The report -------------------------------------------------------------------------------------


def print_report(built: dict | None, measured: dict, celery: list[dict]) -> None:
    if built:
        counts, timings = built["counts"], built["timings"]
        print(
            f"\nData: {counts['accounts']:,} accounts, {counts['people']:,} people,"
            f" {counts['waves']} waves, {counts['responses']:,} responses,"
            f" {counts['answers']:,} answers; built in {sum(timings.values()):.0f} s."
        )
    seconds, cpu = measured["account_s"], measured["account_cpu_s"]
    median = statistics.median(seconds)
    print("\n| measurement | target | result | spread | memory |\n|---|---:|---:|---|---|")
    print(
        f"| account report, {len(seconds)} largest accounts | {ACCOUNT_SECONDS:.0f} s median,"
        f" {ACCOUNT_MB} MB | **{median:.2f} s** median"
        f" | {min(seconds):.2f}-{max(seconds):.2f} s ({measured['account_pdf_kib']:.0f} KiB PDF)"
        f" | {measured['account_rss_mb']:.0f} MB RSS growth |"
    )
    print(
        f"| account report, CPU time of this process | | {statistics.median(cpu):.2f} s median"
        f" | {min(cpu):.2f}-{max(cpu):.2f} s | |"
    )
    print(
        f"| portfolio report, {measured['accounts_total']:,} accounts | {PORTFOLIO_SECONDS:.0f} s"
        f" | **{measured['portfolio_s']:.2f} s** | 1 run ({measured['portfolio_pdf_kib']:.0f} KiB"
        f" PDF) | {measured['portfolio_rss_mb']:.0f} MB RSS growth |"
    )
    one = next((run for run in celery if run["workers"] == 1), None)
    for run in celery:
        ratio = f"; **{run['seconds'] / one['seconds']:.2f}x** of one" if one else ""
        per_minute = 60 * run["statuses"].get("done", 0) / run["seconds"]
        print(
            f"| {sum(run['statuses'].values())} account reports via Celery, {run['workers']}"
            f" worker process(es) | ~0.5x of one | **{run['seconds']:.1f} s**{ratio}"
            f" ({per_minute:.1f} done a minute) | {json.dumps(run['statuses'])};"
            f" load {run['load_before']} -> {run['load_after']} | |"
        )
    verdicts = [
        ("account time", median <= ACCOUNT_SECONDS),
        ("account memory", measured["account_rss_mb"] <= ACCOUNT_MB),
        ("portfolio time", measured["portfolio_s"] <= PORTFOLIO_SECONDS),
    ]
    print("\nTargets: " + ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in verdicts))
    split = measured["profile"]["split"]
    print("\n### Where one account report's time goes (cProfile, cumulative)\n")
    print("| phase | seconds | share |\n|---|---:|---:|")
    for name, value in split.items():
        print(f"| {name} | {value:.2f} | {value / split['total']:.0%} |")
    print(f"\n```\n{measured['profile']['top']}```")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sampled", type=int, default=10, help="largest accounts rendered")
    parser.add_argument("--celery-reports", type=int, default=200)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--skip-celery", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database; print its URL")
    parser.add_argument("--url", help="measure this database; build nothing")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: URL to measure
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.sampled)))
        return 0

    print(
        f"# Reports benchmark: {args.accounts:,} accounts, postgresql"
        f"\nMachine: {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}; load average before: {load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="relhealth-bench-") as tmp:
        env = {**os.environ, "RELHEALTH_INSTANCE_PATH": str(Path(tmp) / "instance")}
        os.environ["RELHEALTH_INSTANCE_PATH"] = env["RELHEALTH_INSTANCE_PATH"]
        built, celery = None, []
        database = _Database("postgresql", Path(tmp), args.keep)
        database.name = database.name.replace("analytics", "reports")
        with database if not args.url else _Given(args.url) as url:
            if not args.url:
                built = build(url, args.accounts, args.seed, widened=False)
                if args.keep:
                    print(f"Database kept: {url}")
            child = subprocess.run(
                [sys.executable, __file__, "--child", url, "--sampled", str(args.sampled)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                print(f"Measuring FAILED:\n{child.stderr}")
                return 1
            measured = json.loads(child.stdout.strip().splitlines()[-1])
            if not args.skip_celery:
                worker_env = {
                    **env,
                    "RELHEALTH_DATABASE_URL": url,
                    "RELHEALTH_BROKER_URL": args.broker,
                    "RELHEALTH_SECRET_KEY": "bench",
                }
                log = Path(tmp) / "workers.log"
                for workers in (1, 2):
                    celery.append(
                        celery_run(url, args.broker, worker_env, args.celery_reports, workers, log)
                    )
                    print(
                        f"(celery, {workers} worker(s): {celery[-1]['seconds']:.1f} s)", flush=True
                    )
                if any(run["pending"] or set(run["statuses"]) != {"done"} for run in celery):
                    print(f"Worker log tail:\n{log.read_text()[-3000:]}")
        print_report(built, measured, celery)
        print(f"\nLoad average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
