"""Dispatch benchmarks (issue 3): print figures, assert nothing.

Run from the repository root: ``.venv/bin/python bench/dispatch.py [--backend both]``. Each
measurement is a small function returning lines of text; ``main`` runs them all.

``smtp_delivery``: invitation e-mails (rendered from the real templates, with unsubscribe
headers) are queued in a fresh database, then ``deliver_due`` sends them over SMTP to a stock
aiosmtpd sink (``python -m aiosmtpd -c aiosmtpd.handlers.Sink``) in its own process, on
loopback, from 1 and from several sender processes at once. Target: 200 messages/s or more.
The CPU the senders and the sink spend per message is reported too: on a shared machine the
rate follows the load, the CPU per message does not.

``open_wave_100k``: the scheduler tick opening one wave for 100,000 people of a demo portfolio
on PostgreSQL (invitations and their e-mails in the outbox), then snapshotting the stakeholder
graphs of its accounts. Target: the wave open in 30 s or less.
"""

import argparse
import contextlib
import datetime as dt
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SMTP_TARGET = 200  # messages per second


@contextlib.contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file, or a PostgreSQL database dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"rh_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[int, int]]:
    """A stock aiosmtpd sink in its own process; yields its loopback port and process id."""
    port = _free_port()
    listen = f"127.0.0.1:{port}"
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", listen, "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or sink.poll() is not None:
                    raise RuntimeError("the aiosmtpd sink did not start") from None
                time.sleep(0.1)
        yield port, sink.pid
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def _app(url: str, folder: Path):
    os.environ["RELHEALTH_INSTANCE_PATH"] = str(folder / "instance")
    from relhealth import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})


def queue_invitations(url: str, folder: Path, messages: int) -> None:
    """Migrate the database and queue ``messages`` invitation e-mails, as the scheduler would."""
    from flask_migrate import upgrade

    from relhealth.extensions import db
    from relhealth.messaging.service import (
        queue_message,
        render_email,
        render_subject,
        survey_link,
        unsubscribe_headers,
        unsubscribe_link,
    )

    app = _app(url, folder)
    with app.app_context():
        upgrade()
        for n in range(messages):
            context = {
                "person_name": f"Person {n}",
                "account_name": f"Account {n % 97}",
                "survey_name": "Relationship health",
                "link": survey_link(uuid.uuid4().hex),
                "closes_on": dt.date(2026, 12, 10),
                "unsubscribe_link": unsubscribe_link(n + 1),
                "side": "external" if n % 5 else "internal",
            }
            text, html = render_email("invitation", **context)
            queue_message(
                db.session,
                dedupe_key=f"bench:{n}",
                kind="invitation",
                to=f"person{n}@customer.test",
                subject=render_subject("invitation", **context),
                text=text,
                html=html,
                headers=unsubscribe_headers(context["unsubscribe_link"]),
            )
        db.session.commit()
        db.engine.dispose()


def _sender(url: str, folder: Path, port: int, ready, start, batch: int, cpu) -> None:
    """One sender process: deliver until nothing is due (as ``send-mail --once`` does).

    Adds the CPU seconds it spent to ``cpu``: on a busy machine the rate says little, the
    CPU a message costs still says how fast one core could go.
    """
    from relhealth.extensions import db
    from relhealth.messaging.delivery import deliver_due

    app = _app(url, folder)
    with app.app_context():
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        db.session.execute(sa.text("SELECT 1"))  # connect before the clock starts
        db.session.commit()
        ready.wait()
        start.wait()
        began = time.process_time()
        while deliver_due(db.session, batch=batch).attempted:
            pass
        with cpu.get_lock():
            cpu.value += time.process_time() - began
        db.engine.dispose()


def _count_sent(url: str) -> int:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT count(*) FROM outbox_messages WHERE status='sent'"))
    finally:
        engine.dispose()


def smtp_delivery(
    backend: str = "postgresql", messages: int = 2000, senders: int = 1, batch: int = 100
) -> str:
    """Messages per second from ``senders`` processes to a local aiosmtpd sink."""
    with tempfile.TemporaryDirectory(prefix="relhealth-bench-") as tmp:
        folder = Path(tmp)
        with database(backend, folder) as url, smtp_sink() as (port, sink):
            queue_invitations(url, folder, messages)
            spawn = multiprocessing.get_context("spawn")
            ready, start = spawn.Barrier(senders + 1), spawn.Barrier(senders + 1)
            cpu = spawn.Value("d", 0.0)
            processes = [
                spawn.Process(target=_sender, args=(url, folder, port, ready, start, batch, cpu))
                for _ in range(senders)
            ]
            for process in processes:
                process.start()
            ready.wait(timeout=120)
            sink_before = cpu_seconds(sink)
            start.wait(timeout=10)
            began = time.perf_counter()
            for process in processes:
                process.join(timeout=600)
            elapsed = time.perf_counter() - began
            sink_cpu = cpu_seconds(sink) - sink_before
            sent = _count_sent(url)
    rate = sent / elapsed
    verdict = "meets" if rate >= SMTP_TARGET and sent == messages else "MISSES"
    cpu_ms, sink_ms = (seconds / max(sent, 1) * 1000 for seconds in (cpu.value, sink_cpu))
    return (
        f"| {backend} | {senders} | {sent:,} of {messages:,} | {elapsed:.2f} | {rate:,.0f}"
        f" | {verdict} | {cpu_ms:.2f} | {sink_ms:.2f} | {os.getloadavg()[0]:.1f} |"
    )


WAVE_TARGET = 30.0  # seconds to open a wave for 100,000 people
WAVE_AT = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)


def open_wave_100k(people: int = 100_000, backend: str = "postgresql") -> str:
    """Seconds for the tick to open one wave for ``people`` people (target ≤ 30 s).

    A demo portfolio (``generate_portfolio``: about 20 of theirs per account, plus our account
    teams) is seeded into a fresh database with one program whose cohort is everyone. The tick's
    steps are timed as it runs them: opening the wave (the cohort query, the fatigue check,
    invitations with their token digests, every invitation e-mail rendered into the outbox,
    committed), then the stakeholder-graph snapshot of each of its accounts.
    """
    from flask_migrate import upgrade
    from sqlalchemy.orm import sessionmaker

    from relhealth.cohorts.models import Cohort, CohortMode, Invitation, Program
    from relhealth.cohorts.tick import TickReport, due_waves, open_wave, snapshot_wave
    from relhealth.demo import generate_portfolio, seed_database
    from relhealth.extensions import db
    from relhealth.messaging.models import OutboxMessage
    from relhealth.surveys.builtin import install_builtin_surveys

    def count(session, model) -> int:
        return session.scalar(sa.select(sa.func.count()).select_from(model))

    with tempfile.TemporaryDirectory(prefix="relhealth-bench-") as tmp:
        folder = Path(tmp)
        with database(backend, folder) as url:
            app = _app(url, folder)
            with app.app_context():
                upgrade()
                accounts = max(2, round(people / 19.9))  # the demo's mix: ~19.9 people each
                portfolio = generate_portfolio(seed=7, accounts=accounts, today=WAVE_AT.date())
                seed_database(db.session, portfolio)
                survey = install_builtin_surveys(db.session)[0]
                cohort = Cohort(name="Everyone", mode=CohortMode.DYNAMIC, rule={})
                db.session.add(cohort)
                db.session.flush()
                program = Program(
                    name="Quarterly", survey_id=survey.id, cohort_id=cohort.id, starts_at=WAVE_AT
                )
                db.session.add(program)
                db.session.commit()
                seeded, program_id = len(portfolio.people), program.id
                db.session.remove()
                report = TickReport(now=WAVE_AT)
                with sessionmaker(bind=db.engine)() as session:
                    began = time.perf_counter()
                    (due,) = due_waves(session, session.get(Program, program_id), WAVE_AT)
                    wave_id = open_wave(session, program_id, due, WAVE_AT, report)
                    opened = time.perf_counter()
                    snapshot_wave(session, program_id, wave_id, WAVE_AT, report)
                    snapshots = time.perf_counter()
                    invitations = count(session, Invitation)
                    emails = count(session, OutboxMessage)
                db.engine.dispose()
    wave, graphs = opened - began, snapshots - opened
    verdict = "meets" if wave <= WAVE_TARGET else "MISSES"
    return (
        f"| {backend} | {seeded:,} | {accounts:,} | {invitations:,} | {emails:,}"
        f" | {wave:.1f} | {verdict} | {report.snapshots:,} | {graphs:.1f} |"
    )


def submissions_under_gunicorn(
    invitations: int = 3_000, clients: int = 8, backend: str = "postgresql"
) -> str:
    """Response submissions per second through the JSON endpoint, gunicorn with 2 workers.

    A demo portfolio is seeded with one program whose cohort is everyone; the real tick opens
    the wave and queues the invitation e-mails, whose links carry the personal tokens. Then
    ``clients`` threads each keep one HTTP connection and submit a full set of answers per
    token; each request's latency is recorded.
    """
    import http.client
    import json
    import re
    import statistics
    from concurrent.futures import ThreadPoolExecutor

    from flask_migrate import upgrade

    from relhealth.cohorts.models import Cohort, CohortMode, Program
    from relhealth.cohorts.tick import tick
    from relhealth.demo import generate_portfolio, seed_database
    from relhealth.extensions import db
    from relhealth.messaging.models import OutboxMessage
    from relhealth.surveys.builtin import install_builtin_surveys

    with tempfile.TemporaryDirectory(prefix="relhealth-bench-") as tmp:
        folder = Path(tmp)
        with database(backend, folder) as url:
            app = _app(url, folder)
            with app.app_context():
                upgrade()
                accounts = max(2, round(invitations / 19.9))
                seed_database(db.session, generate_portfolio(seed=3, accounts=accounts))
                survey = install_builtin_surveys(db.session)[0]
                cohort = Cohort(name="Everyone", mode=CohortMode.DYNAMIC, rule={})
                db.session.add(cohort)
                db.session.flush()
                now = dt.datetime.now(dt.UTC)
                db.session.add(
                    Program(
                        name="Quarterly",
                        survey_id=survey.id,
                        cohort_id=cohort.id,
                        starts_at=now - dt.timedelta(hours=1),
                    )
                )
                db.session.commit()
                tick(db.session, now=now)
                bodies = db.session.scalars(sa.select(OutboxMessage.body_text)).all()
                tokens = [m.group(1) for body in bodies if (m := re.search(r"/s/([\w-]+)", body))]
                answers = {
                    "nps": 8,
                    "trust": 4,
                    "communication": 4,
                    "responsiveness": 3,
                    "value": 4,
                    "expertise": 5,
                    "strategic_alignment": 4,
                    "ease_of_business": 3,
                    "do_differently": "Keep it up.",
                }
                db.session.remove()
                db.engine.dispose()
            port = _free_port()
            env = {
                **os.environ,
                "RELHEALTH_DATABASE_URL": url,
                "RELHEALTH_INSTANCE_PATH": str(folder / "instance"),
                "RELHEALTH_SECRET_KEY": "bench",
            }
            server = subprocess.Popen(
                [
                    Path(sys.executable).parent / "relhealth",
                    "serve",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise RuntimeError("gunicorn did not start") from None
                        time.sleep(0.2)
                body = json.dumps({"answers": answers})
                shares = [tokens[i::clients] for i in range(clients)]

                def submit_all(share: list[str]) -> list[tuple[float, int]]:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    results = []
                    for token in share:
                        began = time.perf_counter()
                        conn.request(
                            "POST",
                            f"/api/v1/responses/submit/{token}",
                            body,
                            {"Content-Type": "application/json"},
                        )
                        response = conn.getresponse()
                        response.read()
                        results.append((time.perf_counter() - began, response.status))
                    conn.close()
                    return results

                began = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    results = [r for part in pool.map(submit_all, shares) for r in part]
                elapsed = time.perf_counter() - began
            finally:
                server.terminate()
                server.wait(timeout=20)
    latencies = sorted(seconds for seconds, _status in results)
    accepted = sum(1 for _seconds, status in results if status == 201)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return (
        f"| {backend} | {len(results):,} | {accepted:,} | {clients} | "
        f"{len(results) / elapsed:.0f} | {statistics.median(latencies) * 1000:.0f} | "
        f"{p99 * 1000:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--senders", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--people", type=int, default=100_000, help="in the opened wave")
    parser.add_argument("--runs", type=int, default=1, help="of the wave opening")
    parser.add_argument("--only", choices=("smtp", "wave", "submit"), help="run one measurement")
    parser.add_argument("--submissions", type=int, default=3_000, help="tokens to submit")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}, load {os.getloadavg()[0]:.1f}"
    )
    if args.only in (None, "smtp"):
        print(f"\nSMTP delivery to an aiosmtpd sink (target ≥ {SMTP_TARGET} messages/s)\n")
        print(
            "| backend | senders | sent | seconds | messages/s | target"
            " | sender CPU ms/message | sink CPU ms/message | load after |"
        )
        print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
        for backend in backends:
            for senders in args.senders:
                print(smtp_delivery(backend, args.messages, senders), flush=True)
    if args.only in (None, "submit"):
        print("\nResponse submissions (JSON endpoint) under gunicorn, 2 workers, PostgreSQL\n")
        print("| backend | submissions | accepted (201) | clients | per second | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        print(submissions_under_gunicorn(args.submissions), flush=True)
    if args.only in (None, "wave"):
        print(f"\nOpening a wave (target ≤ {WAVE_TARGET:.0f} s), then its graph snapshots\n")
        print(
            "| backend | people | accounts | invitations | e-mails | wave s | target"
            " | snapshots | snapshots s |"
        )
        print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
        for _ in range(args.runs):
            print(open_wave_100k(args.people), flush=True)


if __name__ == "__main__":
    main()
