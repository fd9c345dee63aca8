"""The tick with real commits: the command, a crash half-way, two processes at once."""

import datetime as dt
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from relhealth.cohorts.emails import SurveyEmails
from relhealth.cohorts.models import Invitation, InvitationStatus, Program, Wave, WaveStatus
from relhealth.cohorts.tick import tick
from relhealth.core.tokens import digest
from relhealth.messaging.models import OutboxMessage
from tests import factories as f
from tests.cohorts.conftest import NOW, count
from tests.databases import base_url, is_postgres

BIN = Path(sys.executable).parent
DAY = dt.timedelta(days=1)
LINK = re.compile(r"/s/([A-Za-z0-9_\-]+)")


def test_the_tick_command_says_what_it_did(app, world):
    f.ProgramFactory(cohort=f.CohortFactory(rule={"account_ids": [world.acme.id]}), starts_at=NOW)
    result = app.test_cli_runner().invoke(args=["tick", "--now", "2027-01-04T09:00:00Z"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Tick at 2027-01-04T09:00:00+00:00"
    assert lines[1].startswith("Waves opened: 1 (Program ")
    assert lines[2] == (
        "Invitations: 6 invited, 4 skipped (inactive 1, left 1, no_email 1, opted_out 1)"
    )
    assert lines[3] == "E-mails queued: 6 invitations, 0 reminders"
    assert lines[4] == "Waves closed: 0 (0 unanswered invitations expired)"
    assert lines[5] == "Stakeholder-graph snapshots: 1"


def test_the_tick_command_refuses_a_bad_time(app):
    result = app.test_cli_runner().invoke(args=["tick", "--now", "soon"])
    assert result.exit_code == 2
    assert "is not an ISO date and time" in result.output


def test_a_tick_that_crashes_half_way_is_finished_by_the_next_without_duplicates(
    committed, world, monkeypatch
):
    """A crash while opening the second of two waves keeps the first whole, the second undone."""
    first = f.ProgramFactory(cohort=f.CohortFactory(rule={"kinds": ["customer"]}), starts_at=NOW)
    second = f.ProgramFactory(
        cohort=f.CohortFactory(rule={"kinds": ["partner"]}), starts_at=NOW, fatigue_days=0
    )
    committed.session.commit()
    first_id, second_name = first.id, second.name
    committed.session.close()  # SQLite: a reader left open would block the tick's writes
    real_row, calls = SurveyEmails.row, Counter()

    def crash_on_the_ninth_e_mail(self, recipient):
        calls["e-mails"] += 1
        if calls["e-mails"] == 9:
            raise RuntimeError("the machine went away")
        return real_row(self, recipient)

    monkeypatch.setattr(SurveyEmails, "row", crash_on_the_ninth_e_mail)
    with pytest.raises(RuntimeError):
        tick(committed.sessions, NOW)

    check = committed.sessions()
    waves = check.scalars(select(Wave)).all()
    assert [w.program_id for w in waves] == [first_id]  # the first wave whole, the second none
    assert count(check, Invitation) == 8 + 1 + 2  # Acme, Initech, and Olivia and Sam at Acme
    assert count(check, OutboxMessage) == 7  # everyone askable at Acme and Initech
    check.close()

    monkeypatch.setattr(SurveyEmails, "row", real_row)
    report = tick(committed.sessions, NOW)
    assert [label.rsplit(" ", 1)[0] for label in report.opened] == [second_name]
    check = committed.sessions()
    assert count(check, Wave) == 2
    keys = check.scalars(select(OutboxMessage.dedupe_key)).all()
    assert len(keys) == len(set(keys)) == 7 + 4  # Globex: two of theirs, Olivia and Sam
    invited = check.scalars(
        select(Invitation).where(Invitation.status == InvitationStatus.INVITED)
    ).all()
    assert sorted(f"invitation:{i.id}" for i in invited) == sorted(keys)
    check.close()


def _seed_a_few_hundred(accounts: int = 24, people: int = 14) -> None:
    """Customers with ``people`` of theirs each; two of ours on every team."""
    ours = [f.StaffFactory(seniority="manager") for _ in range(4)]
    for index in range(accounts):
        account = f.AccountFactory()
        for level in range(people):
            f.PersonFactory(account=account, seniority=("executive", "manager", "staff")[level % 3])
        for person in ours[index % 2 :: 2]:
            f.TeamMemberFactory(account=account, person=person)


def _run_two_ticks(url: str, instance: Path, now: dt.datetime) -> list[str]:
    env = {**os.environ, "RELHEALTH_DATABASE_URL": url, "RELHEALTH_INSTANCE_PATH": str(instance)}
    ticks = [
        subprocess.Popen(
            [BIN / "relhealth", "tick", "--now", now.isoformat()],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in ticks]
    for process, output in zip(ticks, outputs, strict=True):
        assert process.returncode == 0, output
    return outputs


@pytest.mark.slow
@pytest.mark.skipif(
    not is_postgres(base_url()),
    reason="two writers at once need PostgreSQL (SQLite has one writer): the PostgreSQL run",
)
def test_two_ticks_at_once_invite_remind_and_close_exactly_once(committed, tmp_path):
    """Two `relhealth tick` processes at the same moment, three times: open, remind, close."""
    _seed_a_few_hundred()
    # Two programs over the same people: whichever opens first, the other finds them fatigued.
    everyone = f.CohortFactory(rule={})
    one = f.ProgramFactory(cohort=everyone, starts_at=NOW, reminder_days=[7], open_days=14)
    two = f.ProgramFactory(cohort=everyone, starts_at=NOW, reminder_days=[7], open_days=14)
    committed.session.commit()
    pairs = 24 * 14 + 24 * 2

    outputs = _run_two_ticks(committed.url, tmp_path, NOW)
    s = committed.sessions()
    assert count(s, Wave) == 2
    assert count(s, Invitation) == 2 * pairs
    asked_by = s.execute(
        select(Invitation.person_id, Wave.program_id)
        .join(Wave)
        .where(Invitation.status == InvitationStatus.INVITED)
        .distinct()
    ).all()
    programs_per_person = Counter(person for person, _program in asked_by)
    assert len(programs_per_person) == 24 * 14 + 4  # everybody asked ...
    assert set(programs_per_person.values()) == {1}  # ... by one program only
    keys = s.scalars(select(OutboxMessage.dedupe_key)).all()
    assert len(keys) == len(set(keys)) == pairs
    opened = sum(int(re.search(r"Waves opened: (\d+)", o).group(1)) for o in outputs)
    assert opened == 2
    assert {one.id, two.id} == set(s.scalars(select(Wave.program_id)))
    s.close()

    _run_two_ticks(committed.url, tmp_path, NOW + 7 * DAY)
    s = committed.sessions()
    reminders = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")).all()
    assert len(reminders) == len({m.dedupe_key for m in reminders}) == pairs
    invited = {
        i.id: i
        for i in s.scalars(select(Invitation).where(Invitation.status == InvitationStatus.INVITED))
    }
    for message in reminders:
        invitation = invited[int(message.dedupe_key.split(":")[1])]
        assert invitation.reminders_sent == 1
        assert digest(LINK.search(message.body_text).group(1)) == invitation.token_hash
    s.close()

    _run_two_ticks(committed.url, tmp_path, NOW + 14 * DAY)
    s = committed.sessions()
    assert set(s.scalars(select(Wave.status))) == {WaveStatus.CLOSED}
    statuses = Counter(s.scalars(select(Invitation.status)))
    assert statuses == {InvitationStatus.EXPIRED: pairs, InvitationStatus.SKIPPED: pairs}
    assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 2 * pairs
    assert count(s, Program) == 2
    s.close()
