"""Benchmark the closed loop (issue 7): print figures; assert nothing.

Builds a portfolio with two years of quarterly survey history into a fresh PostgreSQL database
(``bench/analytics.py``'s ``build``: ``relhealth.demo`` + ``relhealth.demo_history``; dropped
afterwards unless ``--keep``; ``--url`` measures an existing one), bulk-inserts ``--cases``
(100,000) follow-up cases over the last two years with ``core.bulk.insert_rows`` (COPY): on
the accounts' responses, their owners, every status (ended ones with their times, open ones with
their open key), 3% held by an experiment, 0-2 root-cause tags each; then measures:

- ``followup.kpis.closed_loop_kpis`` over all the cases (the last two years), for an admin
  (overall; by owner; by account; by month) and for the account manager with the most accounts
  (by owner): median and spread of ``--runs`` runs after a warm-up; and ``kpis.root_causes``
  per month;
- what opening cases adds to a response submission: ``--submissions`` detractor responses
  (NPS 3, low ratings, a negative comment) submitted through ``surveys.service.submit_response``
  on invitations of a new open wave, alternately without follow-up and as the respondent form
  serves them (``followup.hooks.after_response``: cases and kudos in a savepoint, then the one
  commit), and the hook alone.

    .venv/bin/python bench/followup.py [--accounts 400] [--cases 100000] [--runs 7]
        [--submissions 200] [--keep | --url URL]

Targets (issue 7): closed-loop KPIs over 100,000 cases <= 1 s on PostgreSQL; case creation
adds <= 10 ms to a response submission.
"""

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics import _Database, _Given, _Statements, build, load_average, timed

KPI_SECONDS, SUBMIT_MS = 1.0, 10.0
STATUSES = (  # (status, share): most cases of two years have ended
    ("resolved", 0.55),
    ("closed_unresolved", 0.12),
    ("action_planned", 0.08),
    ("contacted", 0.10),
    ("open", 0.15),
)


# Building the cases -----------------------------------------------------------------------------


def bulk_cases(session, count: int, now: dt.datetime, seed: int, root_causes) -> dict[str, int]:
    """Insert ``count`` cases (and their tags) on the database's responses of their people."""
    from relhealth.accounts.models import Account, Side
    from relhealth.core import bulk, memory
    from relhealth.followup.models import Case, CaseTag
    from relhealth.surveys.models import Response

    rng = random.Random(seed)  # noqa: S311 -- reproducible benchmark data
    responses = session.execute(
        sa.select(
            Response.id,
            Response.person_id,
            Response.account_id,
            Response.wave_id,
            Account.owner_id,
            Account.lifetime_value,
            Account.annual_value,
        )
        .join(Account, Account.id == Response.account_id)
        .where(Response.side == Side.EXTERNAL)
        .order_by(Response.id)
    ).all()
    statuses = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    ids = bulk.reserve_ids(session, Case.__table__, count)
    cases, tags = [], []
    for index, case_id in enumerate(ids):
        response = responses[index % len(responses)]
        opened = now - dt.timedelta(minutes=rng.randrange(730 * 24 * 60))
        status = rng.choices(statuses, weights)[0]
        first_due = opened + dt.timedelta(hours=48)
        resolution_due = opened + dt.timedelta(days=14)
        contacted = status != "open" and rng.random() < 0.97
        first_contact = opened + dt.timedelta(hours=rng.lognormvariate(3.2, 0.8))
        ended = None
        if status in ("resolved", "closed_unresolved"):
            ended = opened + dt.timedelta(days=rng.lognormvariate(2.2, 0.6))
            if contacted:
                ended = max(ended, first_contact)
        if ended and ended > now:
            ended = now
        if contacted and first_contact > now:
            first_contact = now
        value = response.lifetime_value or response.annual_value or Decimal(0)
        cases.append(
            {
                "id": case_id,
                "reason": "detractor" if rng.random() < 0.8 else "low_score",
                "open_key": None if ended else f"bench:{case_id}",
                "account_id": response.account_id,
                "person_id": response.person_id,
                "response_id": response.id,
                "alert_id": None,
                "wave_id": response.wave_id,
                "title": "Detractor (bench)",
                "score": float(rng.randrange(7)),
                "owner_id": response.owner_id,
                "priority": round(rng.uniform(1, 20), 4),
                "priority_parts": {},
                "value_at_stake": value,
                "status": status,
                "held": rng.random() < 0.03,
                "experiment_id": None,
                "opened_at": opened,
                "first_contact_due": first_due,
                "resolution_due": resolution_due,
                "first_contact_at": first_contact if contacted else None,
                "ended_at": ended,
                "resolution": "Done." if status == "resolved" else None,
                "told_respondent_at": ended
                if status == "resolved" and rng.random() < 0.6
                else None,
                "created_at": opened,
            }
        )
        for tag in rng.sample(root_causes, k=rng.choice((0, 1, 1, 2))):
            tags.append({"case_id": case_id, "tag": tag})
    with memory.paused_gc():
        written = bulk.insert_rows(session, Case.__table__, cases)
        tagged = bulk.insert_rows(session, CaseTag.__table__, tags)
    return {"cases": written, "tags": tagged, "responses used": min(count, len(responses))}


# Measuring -------------------------------------------------------------------------------------


def measure_kpis(session, runs: int, now: dt.datetime) -> dict:
    from relhealth.accounts.models import Account
    from relhealth.auth.models import User
    from relhealth.followup import kpis

    admin = session.scalar(sa.select(User).where(User.role == "admin").order_by(User.id).limit(1))
    manager = session.scalar(
        sa.select(User)
        .join(Account, Account.owner_id == User.id)
        .where(User.role == "account_manager")
        .group_by(User.id)
        .order_by(sa.func.count(Account.id).desc(), User.id)
        .limit(1)
    )
    start = now - dt.timedelta(days=731)
    results = {}

    def kpi(user, by, period="month"):
        def work():
            result = kpis.closed_loop_kpis(
                session, user, start=start, end=now, by=by, period=period, now=now
            )
            session.rollback()
            return result

        return work

    def causes():
        result = kpis.root_causes(session, admin, start=start, end=now, period="month")
        session.rollback()
        return result

    cases = {
        "admin, overall": kpi(admin, None),
        "admin, by owner": kpi(admin, "owner"),
        "admin, by account": kpi(admin, "account"),
        "admin, by month": kpi(admin, "period"),
        "admin, by quarter": kpi(admin, "period", "quarter"),
        f"manager ({manager.name}), by owner": kpi(manager, "owner"),
    }
    for name, work in cases.items():
        sample = work()  # warm
        results[name] = {
            "seconds": timed(work, runs),
            "detractors": sample["overall"]["detractors"],
            "groups": len(sample["groups"]),
            "resolved_pct": sample["overall"]["resolved_pct"],
        }
    sample = causes()
    results["root causes, by month"] = {
        "seconds": timed(causes, runs),
        "rows": len(sample),
    }
    explain = []
    stmt = kpis.kpi_statement(None, start=start, end=now, by="owner", period="month", now=now)
    compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = session.execute(sa.text(f"EXPLAIN (ANALYZE) {compiled}")).scalars().all()
    session.rollback()
    explain.append("\n".join(plan))
    return {"kpis": results, "explain": explain}


def _detractor_answers(version) -> dict:
    """Answers to every question: NPS 3, the lowest ratings, a negative comment."""
    answers = {}
    for question in version.questions:
        kind = question.type.value
        if kind == "nps":
            answers[question.key] = 3
        elif kind == "rating":
            answers[question.key] = question.scale_min + 1
        elif kind == "choice":
            answers[question.key] = question.options[0]
        elif kind == "multi_choice":
            answers[question.key] = [question.options[0]]
        elif kind == "text":
            answers[question.key] = "Support is slow and nobody calls back. Very disappointing."
    return answers


def measure_submissions(session, count: int) -> dict:
    """Submit ``count`` detractor responses, alternately without and with follow-up."""
    from relhealth.accounts.models import Person, Side
    from relhealth.cohorts.models import Invitation, InvitationStatus, Program, Wave, WaveStatus
    from relhealth.core.tokens import digest, new_token
    from relhealth.db import utcnow
    from relhealth.followup import hooks
    from relhealth.followup.models import Case
    from relhealth.surveys.models import SurveyVersion
    from relhealth.surveys.service import submit_response

    now = utcnow()
    program = session.scalar(sa.select(Program).order_by(Program.id).limit(1))
    version_id = session.scalar(
        sa.select(Wave.survey_version_id).where(Wave.program_id == program.id).limit(1)
    )
    wave = Wave(
        program_id=program.id,
        occurrence=f"bench-{now:%Y%m%d%H%M%S}",
        survey_version_id=version_id,
        opens_at=now - dt.timedelta(days=1),
        closes_at=now + dt.timedelta(days=14),
        status=WaveStatus.OPEN,
    )
    session.add(wave)
    session.flush()
    # Their people without an open case, so each submission opens new ones.
    people = session.scalars(
        sa.select(Person)
        .where(
            Person.side == Side.EXTERNAL,
            Person.account_id.is_not(None),
            ~sa.exists().where(Case.person_id == Person.id, Case.open_key.is_not(None)),
        )
        .order_by(Person.id)
        .limit(2 * count)
    ).all()
    invitations = []
    for person in people:
        invitation = Invitation(
            wave_id=wave.id,
            person_id=person.id,
            account_id=person.account_id,
            side=person.side,
            seniority=person.seniority,
            status=InvitationStatus.INVITED,
            token_hash=digest(new_token()[0]),
            expires_at=wave.closes_at,
            invited_at=wave.opens_at,
        )
        session.add(invitation)
        invitations.append(invitation)
    session.commit()
    version = session.get(SurveyVersion, version_id)
    answers = _detractor_answers(version)
    times = {key: [] for key in ("plain", "served", "hook")}
    statements, opened = [], 0
    engine = session.get_bind()
    for index in range(count):
        first, second = invitations[2 * index : 2 * index + 2]
        # Without follow-up: submit and commit.
        started = time.perf_counter()
        submit_response(session, first, answers, now=utcnow())
        session.commit()
        times["plain"].append(time.perf_counter() - started)
        # As the respondent form serves it: submit, the hook (cases and kudos in a savepoint),
        # one commit.
        started = time.perf_counter()
        response = submit_response(session, second, answers, now=utcnow())
        middle = time.perf_counter()
        with _Statements(engine) as seen:
            hooks.after_response(session, response.id, utcnow())
        times["hook"].append(time.perf_counter() - middle)
        session.commit()
        times["served"].append(time.perf_counter() - started)
        statements.append(len(seen))
        opened += len(
            session.scalars(sa.select(Case.id).where(Case.response_id == response.id)).all()
        )
    return {**times, "cases_opened": opened, "statements": statements}


def measure(url: str, runs: int, submissions: int) -> dict:
    from relhealth import create_app
    from relhealth.db import utcnow
    from relhealth.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        session = db.session
        report = measure_kpis(session, runs, utcnow())
        report["submissions"] = measure_submissions(session, submissions)
        db.engine.dispose()
    return report


# The report ------------------------------------------------------------------------------------


def _ms(values) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def print_report(built: dict | None, added: dict | None, measured: dict, runs: int) -> None:
    if built:
        counts, timings = built["counts"], built["timings"]
        print(
            f"\nData: {counts['accounts']:,} accounts, {counts['people']:,} people,"
            f" {counts['waves']} waves, {counts['responses']:,} responses,"
            f" {counts['answers']:,} answers."
        )
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
        print(f"Build: {steps}.")
    if added:
        print(
            f"Cases: {added['cases']:,} cases ({added['tags']:,} root-cause tags) in"
            f" {added['seconds']:.1f} s (COPY), on {added['responses used']:,} responses."
        )
    print(f"\n| closed-loop KPIs ({runs} runs) | target | median | spread | result |")
    print("|---|---:|---:|---|---|")
    verdict = []
    for name, item in measured["kpis"].items():
        seconds = item["seconds"]
        median = statistics.median(seconds)
        if "detractors" in item:
            what = f"{item['detractors']:,} detractor cases, {item['groups']:,} groups"
            verdict.append(median <= KPI_SECONDS)
        else:
            what = f"{item['rows']:,} rows"
        print(
            f"| {name} | {KPI_SECONDS:.0f} s | **{median * 1000:.0f} ms**"
            f" | {min(seconds) * 1000:.0f}-{max(seconds) * 1000:.0f} ms | {what} |"
        )
    sub = measured["submissions"]
    plain, served = statistics.median(sub["plain"]), statistics.median(sub["served"])
    n = len(sub["plain"])
    print(f"\n| response submission ({n} detractor responses each) | median | p95 |")
    print("|---|---:|---:|")

    def p95(values):
        ordered = sorted(values)
        return ordered[round(0.95 * (len(ordered) - 1))] * 1000

    for label, key in (
        ("submit_response + commit", "plain"),
        ("submit_response + hooks.after_response + commit (as served)", "served"),
        ("hooks.after_response alone (cases + kudos, savepoint)", "hook"),
    ):
        print(f"| {label} | {_ms(sub[key])} | {p95(sub[key]):.1f} ms |")
    added_ms = (served - plain) * 1000
    print(
        f"\nCase creation adds **{added_ms:.1f} ms** to a detractor's submission (difference"
        f" of the medians; the hook alone {_ms(sub['hook'])}; target {SUBMIT_MS:.0f} ms);"
        f" {sub['cases_opened']} cases opened, {statistics.median(sub['statements']):.0f} SQL"
        " statements per hook (savepoint included)."
    )
    print(
        "Targets: KPIs "
        + ("met" if all(verdict) else "MISSED")
        + ", submission "
        + ("met" if added_ms <= SUBMIT_MS else "MISSED")
    )
    for plan in measured["explain"]:
        print(f"\n### EXPLAIN ANALYZE, admin by owner\n```\n{plan}\n```")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database; print its URL")
    parser.add_argument("--url", help="measure this database; build nothing")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.runs, args.submissions)))
        return 0

    print(
        f"# Closed-loop benchmark: {args.cases:,} cases, {args.accounts:,} accounts, PostgreSQL"
        f"\nMachine: {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}\nLoad average before: {load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="relhealth-bench-") as tmp:
        env = {**os.environ, "RELHEALTH_INSTANCE_PATH": str(Path(tmp) / "instance")}
        os.environ["RELHEALTH_INSTANCE_PATH"] = env["RELHEALTH_INSTANCE_PATH"]
        built = added = None
        database = _Database("postgresql", Path(tmp), args.keep)
        database.name = database.name.replace("analytics", "followup")
        with database if not args.url else _Given(args.url) as url:
            if not args.url:
                built = build(url, args.accounts, args.seed, widened=False)
                added = add_cases(url, args.cases, args.seed)
                if args.keep:
                    print(f"Database kept: {url}")
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    url,
                    "--runs",
                    str(args.runs),
                    "--submissions",
                    str(args.submissions),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        if child.returncode != 0:
            print(f"Measuring FAILED:\n{child.stderr}")
            return 1
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        print_report(built, added, measured, args.runs)
        print(f"\nLoad average after: {load_average()}")
    return 0


def add_cases(url: str, count: int, seed: int) -> dict:
    from relhealth import create_app
    from relhealth.db import utcnow
    from relhealth.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        started = time.perf_counter()
        result = bulk_cases(
            db.session, count, utcnow(), seed, list(app.config["FOLLOWUP_ROOT_CAUSES"])
        )
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE cases")
            conn.exec_driver_sql("VACUUM ANALYZE case_tags")
        result["seconds"] = time.perf_counter() - started
        db.engine.dispose()
    return result


if __name__ == "__main__":
    sys.exit(main())
