"""Benchmark the CSV import: 100,000 people, with their accounts and relationships.

Builds a demo portfolio with ``relhealth.demo.generate_portfolio`` (about 20 people per
account), writes accounts.csv, people.csv and relationships.csv to a temporary folder, and for
each backend (a temporary SQLite file; a fresh PostgreSQL database, dropped afterwards)
migrates an empty database, imports the three files (timed, each committed), then imports them
again, which must change nothing. Each backend runs in a child process, so the peak memory
reported (VmHWM) is that of the import alone, not of generating the data.

    .venv/bin/python bench/import.py [--people 100000] [--backend sqlite|postgresql|both]

Target: each backend imports the three files in 20 s or less.
"""

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PEOPLE_PER_ACCOUNT = 19.7  # generate_portfolio's average, our own staff included
FILES = ("accounts", "people", "relationships")
COLUMNS = {
    "accounts": (
        "crm_id name kind relationship_type tier annual_value lifetime_value renewal_date"
        " started_on owner_email"
    ).split(),
    "people": (
        "crm_id account_crm_id side first_name last_name email title department seniority roles"
        " active_from left_on"
    ).split(),
    "relationships": "source target kind strength last_contact_on".split(),
}
TARGET_SECONDS = 20


def write_files(folder: Path, people: int, seed: int) -> dict[str, int]:
    """Write the portfolio's CSV files (and its users, which accounts name as owners)."""
    from relhealth.demo import generate_portfolio

    portfolio = generate_portfolio(seed=seed, accounts=max(2, round(people / PEOPLE_PER_ACCOUNT)))
    counts = {}
    for kind in FILES:
        rows = getattr(portfolio, kind)
        with open(folder / f"{kind}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, COLUMNS[kind], restval="")
            writer.writeheader()
            writer.writerows(rows)
        counts[kind] = len(rows)
    users = [{k: u[k] for k in ("email", "name", "role")} for u in portfolio.users]
    (folder / "users.json").write_text(json.dumps(users))
    return counts


def run_backend(url: str, folder: Path) -> dict:
    """In the child: migrate, import the files twice, and measure."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from relhealth import create_app
    from relhealth.accounts.importer import import_csv
    from relhealth.auth.models import User
    from relhealth.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    report: dict = {"passes": []}
    with app.app_context():
        upgrade()
        users = json.loads((folder / "users.json").read_text())
        db.session.execute(insert(User), [{**u, "password_hash": None} for u in users])
        db.session.commit()
        report["rss_before_mb"] = _peak_rss_mb()
        for _pass in range(2):
            timings = []
            for kind in FILES:
                checked: dict[str, float] = {}

                def progress(stage, _done, _total, checked=checked):
                    if stage == "checking":  # its last report ends the checking
                        checked["at"] = time.perf_counter()

                started = time.perf_counter()
                with open(folder / f"{kind}.csv", "rb") as handle:
                    result = import_csv(db.session, kind, handle, progress=progress)
                db.session.commit()
                timings.append(
                    {
                        "kind": kind,
                        "seconds": time.perf_counter() - started,
                        "checking": checked["at"] - started,
                        "created": result.created,
                        "updated": result.updated,
                        "unchanged": result.unchanged,
                    }
                )
            report["passes"].append(timings)
        db.engine.dispose()
    report["rss_peak_mb"] = _peak_rss_mb()
    return report


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, unlike ru_maxrss, starts afresh at exec."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


def _backend_url(backend: str, folder: Path):
    """A context: the URL of a new, empty database, removed afterwards."""
    if backend == "sqlite":
        return _Sqlite(folder)
    return _Postgres()


class _Sqlite:
    def __init__(self, folder: Path):
        self.path = folder / f"bench-{uuid.uuid4().hex[:8]}.db"

    def __enter__(self) -> str:
        return f"sqlite:///{self.path}"

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


class _Postgres:
    def __init__(self):
        self.name = f"rh_bench_{uuid.uuid4().hex[:8]}"
        self.admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        return sa.make_url(POSTGRES_SERVER).set(database=self.name).render_as_string(False)

    def __exit__(self, *exc):
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


def print_report(backend: str, counts: dict[str, int], report: dict) -> bool:
    first, second = report["passes"]
    total = sum(t["seconds"] for t in first)
    print(f"\n## {backend}")
    print(
        "| pass | file | rows | created | updated | unchanged | reading and checking s"
        " | writing s | total s | rows/s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, timings in (("import", first), ("re-import", second)):
        for t in timings:
            rows = counts[t["kind"]]
            print(
                f"| {label} | {t['kind']}.csv | {rows:,} | {t['created']:,} | {t['updated']:,}"
                f" | {t['unchanged']:,} | {t['checking']:.2f} | {t['seconds'] - t['checking']:.2f}"
                f" | {t['seconds']:.2f} | {rows / t['seconds']:,.0f} |"
            )
        seconds = sum(t["seconds"] for t in timings)
        rows = sum(counts.values())
        print(
            f"| {label} | **total** | {rows:,} | | | | | | **{seconds:.2f}**"
            f" | {rows / seconds:,.0f} |"
        )
    print(
        f"\nPeak memory (VmHWM) of the importing process: {report['rss_peak_mb']:.0f} MB"
        f" ({report['rss_before_mb']:.0f} MB after start-up and migrations)."
    )
    changed = any(t["created"] or t["updated"] for t in second)
    verdict = "meets" if total <= TARGET_SECONDS else "MISSES"
    print(f"First import: {total:.2f} s, {verdict} the {TARGET_SECONDS} s target.")
    if changed:
        print("ERROR: the re-import changed records; it must change nothing.")
    return total <= TARGET_SECONDS and not changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000, help="about how many people")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: URL to import into
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_backend(args.child, Path(args.folder))))
        return 0

    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    ok = True
    with tempfile.TemporaryDirectory(prefix="relhealth-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        counts = write_files(folder, args.people, args.seed)
        sizes = {kind: (folder / f"{kind}.csv").stat().st_size for kind in FILES}
        print(
            f"# Import benchmark: {counts['people']:,} people, {counts['accounts']:,} accounts,"
            f" {counts['relationships']:,} relationships"
            f" (files {sum(sizes.values()) / 2**20:.1f} MB, written in"
            f" {time.perf_counter() - started:.1f} s)"
        )
        print(
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()},"
            f" {platform.system()} {platform.release()}"
        )
        env = {**os.environ, "RELHEALTH_INSTANCE_PATH": str(folder / "instance")}
        for backend in backends:
            with _backend_url(backend, folder) as url:
                child = subprocess.run(
                    [sys.executable, __file__, "--child", url, "--folder", str(folder)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            if child.returncode != 0:
                print(f"\n## {backend}: FAILED\n{child.stderr}")
                ok = False
                continue
            report = json.loads(child.stdout.strip().splitlines()[-1])
            ok = print_report(backend, counts, report) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
