"""The scheduler tick: opening due waves, skips, reminders, closing, triggers, idempotence."""

import datetime as dt
import re

from sqlalchemy import select

from relhealth.accounts.models import GraphSnapshot, SnapshotReason
from relhealth.accounts.service import take_snapshot
from relhealth.cohorts import rules, service
from relhealth.cohorts import tick as tick_module
from relhealth.cohorts.models import (
    CohortMember,
    CohortMode,
    ComplementaryCohort,
    Invitation,
    InvitationStatus,
    Trigger,
    Wave,
    WaveStatus,
)
from relhealth.cohorts.tick import tick
from relhealth.core.tokens import digest
from relhealth.messaging.models import OutboxMessage
from relhealth.surveys.models import Survey, SurveyVersion
from tests import factories as f
from tests.cohorts.conftest import NOW, TODAY, count

DAY = dt.timedelta(days=1)
LINK = re.compile(r"http://[^\s\"<>]+/s/([A-Za-z0-9_\-]+)")


def program(rule=None, mode=CohortMode.DYNAMIC, **kwargs):
    cohort = f.CohortFactory(rule=rule or {}, mode=mode)
    return f.ProgramFactory(cohort=cohort, starts_at=kwargs.pop("starts_at", NOW), **kwargs)


def invitations(session, wave=None):
    stmt = select(Invitation).order_by(Invitation.id)
    if wave is not None:
        stmt = stmt.where(Invitation.wave_id == wave.id)
    return session.scalars(stmt).all()


def by_person(session, wave):
    return {(i.person_id, i.account_id): i for i in invitations(session, wave)}


def outbox(session, kind=None):
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    return session.scalars(stmt).all()


def token_in(message) -> str:
    return LINK.search(message.body_text).group(1)


def only_wave(session) -> Wave:
    return session.scalars(select(Wave)).one()


def test_nothing_opens_before_the_first_occurrence(session, world):
    program(starts_at=NOW)
    report = tick(session, NOW - dt.timedelta(minutes=1))
    assert report.opened == []
    assert count(session, Wave) == 0


def test_a_due_wave_opens_with_the_survey_version_frozen(session, world):
    p = program(starts_at=NOW, open_days=14)
    report = tick(session, NOW + dt.timedelta(hours=1))
    wave = only_wave(session)
    assert report.opened == [f"{p.name} 2027-01-04"]
    assert wave.occurrence == NOW.isoformat()
    assert (wave.opens_at, wave.closes_at) == (NOW, NOW + 14 * DAY)
    assert wave.status == WaveStatus.OPEN
    version = session.get(SurveyVersion, wave.survey_version_id)
    assert version.frozen_at == NOW + dt.timedelta(hours=1)
    latest = service.latest_version(session, p.survey_id)
    assert version.id == latest.id


def test_invitations_freeze_members_with_hashed_tokens_expiring_with_the_wave(session, world):
    program({"account_ids": [world.acme.id]})
    tick(session, NOW)
    wave = only_wave(session)
    invited = by_person(session, wave)
    ceo = invited[world.ceo.id, world.acme.id]
    assert ceo.status == InvitationStatus.INVITED
    assert (ceo.side, ceo.seniority) == ("external", "executive")
    assert re.fullmatch(r"[0-9a-f]{64}", ceo.token_hash)
    assert ceo.expires_at == wave.closes_at
    assert ceo.invited_at == NOW
    olivia = invited[world.olivia.id, world.acme.id]
    assert (olivia.side, olivia.seniority, olivia.status) == ("internal", "executive", "invited")
    # The plain token is only in the e-mail; its digest is what the invitation keeps.
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"invitation:{ceo.id}")
    ).one()
    assert message.to_address == world.ceo.email
    assert digest(token_in(message)) == ceo.token_hash
    assert token_in(message) not in (ceo.token_hash or "")
    assert "List-Unsubscribe" in message.headers
    assert world.ceo.first_name in message.body_text
    assert "/unsubscribe/" in message.body_html


def test_people_who_cannot_be_asked_are_skipped_with_a_reason(session, world):
    program({"account_ids": [world.acme.id]})
    report = tick(session, NOW)
    invited = by_person(session, only_wave(session))
    reasons = {
        world.gone.id: "left",
        world.quiet.id: "opted_out",
        world.no_email.id: "no_email",
        world.newcomer.id: "inactive",
    }
    for person_id, reason in reasons.items():
        skipped = invited[person_id, world.acme.id]
        assert (skipped.status, skipped.skip_reason) == (InvitationStatus.SKIPPED, reason)
        assert skipped.token_hash is None
        assert skipped.invited_at is None
    assert report.skipped == {"left": 1, "opted_out": 1, "no_email": 1, "inactive": 1}
    assert report.invited == 6
    assert len(outbox(session)) == 6  # nobody skipped gets an e-mail


def test_fatigue_skips_people_surveyed_by_another_program_within_the_cap(session, world):
    earlier = program({"account_ids": [world.acme.id]}, starts_at=NOW - 60 * DAY)
    tick(session, NOW - 60 * DAY)
    later = program({"account_ids": [world.acme.id, world.globex.id]}, fatigue_days=90)
    report = tick(session, NOW)
    wave = session.scalars(select(Wave).where(Wave.program_id == later.id)).one()
    invited = by_person(session, wave)
    assert invited[world.ceo.id, world.acme.id].skip_reason == rules.FATIGUE
    # Olivia answered the earlier program for Acme: she is not asked again, for any account.
    assert invited[world.olivia.id, world.globex.id].skip_reason == rules.FATIGUE
    assert invited[world.globex_ceo.id, world.globex.id].status == InvitationStatus.INVITED
    assert report.skipped[rules.FATIGUE] == 4 + 4  # Acme's four; Olivia and Sam for both
    assert earlier.id != later.id


def test_fatigue_cap_is_measured_from_the_earlier_invitation(session, world):
    program({"account_ids": [world.acme.id]}, starts_at=NOW - 91 * DAY)
    tick(session, NOW - 91 * DAY)
    later = program({"account_ids": [world.acme.id]}, fatigue_days=90)
    tick(session, NOW)
    wave = session.scalars(select(Wave).where(Wave.program_id == later.id)).one()
    assert by_person(session, wave)[world.ceo.id, world.acme.id].status == "invited"


def test_a_programs_own_waves_do_not_trip_its_fatigue_cap(session, world):
    # Quarterly from 1 February: 1 May is only 89 days later.
    start = dt.datetime(2027, 2, 1, 9, tzinfo=dt.UTC)
    program({"account_ids": [world.initech.id]}, starts_at=start, fatigue_days=90)
    tick(session, start)
    tick(session, dt.datetime(2027, 5, 1, 9, tzinfo=dt.UTC))
    rows = invitations(session)
    assert [(i.status, i.skip_reason) for i in rows] == [("expired", None), ("invited", None)]


def test_ours_answer_once_per_account_and_count_as_one_survey_per_wave(session, world):
    program({"sides": ["internal"]})
    report = tick(session, NOW)
    invited = by_person(session, only_wave(session))
    assert set(invited) == {
        (world.olivia.id, world.acme.id),
        (world.olivia.id, world.globex.id),
        (world.sam.id, world.acme.id),
        (world.sam.id, world.globex.id),
    }
    assert all(i.status == InvitationStatus.INVITED for i in invited.values())
    assert report.skipped == {}


def test_a_second_tick_changes_nothing(session, world):
    program({})
    tick(session, NOW)

    def state():
        session.expire_all()
        return (
            [(i.id, i.status, i.token_hash) for i in invitations(session)],
            [(m.id, m.dedupe_key) for m in outbox(session)],
            count(session, Wave),
            count(session, GraphSnapshot),
        )

    before = state()
    report = tick(session, NOW + dt.timedelta(minutes=5))
    assert state() == before
    assert (report.opened, report.invited, report.invitation_emails) == ([], 0, 0)


def test_a_wave_snapshots_the_stakeholder_graph_of_each_account(session, world):
    program({"account_ids": [world.acme.id, world.globex.id]})
    tick(session, NOW)
    wave = only_wave(session)
    snapshots = session.scalars(select(GraphSnapshot).order_by(GraphSnapshot.account_id)).all()
    assert [s.account_id for s in snapshots] == sorted([world.acme.id, world.globex.id])
    assert {(s.reason, s.wave_id, s.taken_at) for s in snapshots} == {
        (SnapshotReason.WAVE, wave.id, NOW)
    }


def test_a_passed_window_is_skipped_and_the_next_occurrence_opens(session, world):
    program({"account_ids": [world.initech.id]}, starts_at=NOW - 20 * DAY, open_days=14)
    assert tick(session, NOW).opened == []
    assert count(session, Wave) == 0
    report = tick(session, NOW - 20 * DAY + dt.timedelta(days=91))  # the next quarter
    assert len(report.opened) == 1


def test_an_inactive_program_opens_nothing(session, world):
    program({}, active=False)
    tick(session, NOW)
    assert count(session, Wave) == 0


# Reminders -----------------------------------------------------------------------------------


def test_reminders_go_to_non_responders_at_the_offset_with_a_new_link(session, world):
    program({"account_ids": [world.acme.id]}, reminder_days=[7])
    tick(session, NOW)
    invited = by_person(session, only_wave(session))
    answered = invited[world.ceo.id, world.acme.id]
    answered.status, answered.responded_at = InvitationStatus.RESPONDED, NOW + DAY
    world.director.opted_out = True  # unsubscribed after being invited
    session.commit()
    assert tick(session, NOW + 7 * DAY - dt.timedelta(minutes=1)).reminders == 0

    lead = invited[world.lead.id, world.acme.id]
    old_hash = lead.token_hash
    report = tick(session, NOW + 7 * DAY)
    reminded = {m.to_address for m in outbox(session, "reminder")}
    assert world.ceo.email not in reminded
    assert world.director.email not in reminded
    assert world.lead.email in reminded
    assert report.reminders == len(reminded) == 4  # Lena, Enzo, Olivia, Sam
    session.refresh(lead)
    assert (lead.reminders_sent, lead.last_reminded_at) == (1, NOW + 7 * DAY)
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"reminder:{lead.id}:1")
    ).one()
    assert lead.token_hash != old_hash  # the old link stops working
    assert digest(token_in(message)) == lead.token_hash
    assert message.subject.startswith("Reminder")

    again = tick(session, NOW + 7 * DAY + dt.timedelta(hours=1))
    assert again.reminders == 0
    assert len(outbox(session, "reminder")) == 4


def test_each_reminder_offset_sends_one_reminder(session, world):
    program({"account_ids": [world.initech.id]}, reminder_days=[3, 7], open_days=14)
    tick(session, NOW)
    assert tick(session, NOW + 3 * DAY).reminders == 1
    assert tick(session, NOW + 5 * DAY).reminders == 0
    assert tick(session, NOW + 7 * DAY).reminders == 1
    keys = [m.dedupe_key for m in outbox(session, "reminder")]
    invitation = invitations(session)[0]
    assert keys == [f"reminder:{invitation.id}:1", f"reminder:{invitation.id}:2"]
    assert invitation.reminders_sent == 2


def test_a_tick_that_missed_several_offsets_sends_only_the_latest_reminder(session, world):
    program({"account_ids": [world.initech.id]}, reminder_days=[3, 7], open_days=14)
    tick(session, NOW)
    assert tick(session, NOW + 8 * DAY).reminders == 1
    invitation = invitations(session)[0]
    assert [m.dedupe_key for m in outbox(session, "reminder")] == [f"reminder:{invitation.id}:2"]


# Closing -------------------------------------------------------------------------------------


def test_closing_a_wave_expires_its_unanswered_invitations(session, world):
    program({"account_ids": [world.acme.id]}, open_days=14)
    tick(session, NOW)
    invited = by_person(session, only_wave(session))
    invited[world.ceo.id, world.acme.id].status = InvitationStatus.RESPONDED
    session.commit()
    assert tick(session, NOW + 14 * DAY - dt.timedelta(seconds=1)).closed == 0
    report = tick(session, NOW + 14 * DAY)
    session.expire_all()
    wave = only_wave(session)
    assert (wave.status, wave.closed_at) == (WaveStatus.CLOSED, NOW + 14 * DAY)
    statuses = {key: i.status for key, i in by_person(session, wave).items()}
    assert statuses[world.ceo.id, world.acme.id] == InvitationStatus.RESPONDED
    assert statuses[world.lead.id, world.acme.id] == InvitationStatus.EXPIRED
    assert statuses[world.gone.id, world.acme.id] == InvitationStatus.SKIPPED
    assert (report.closed, report.expired) == (1, 5)
    assert tick(session, NOW + 15 * DAY).closed == 0


# Panels and dynamic cohorts ------------------------------------------------------------------


def test_a_fixed_panel_asks_the_same_people_though_the_rule_now_matches_others(session, world):
    p = program({"account_ids": [world.acme.id], "sides": ["external"]}, mode=CohortMode.FIXED)
    tick(session, NOW)
    first = set(by_person(session, only_wave(session)))
    assert count(session, CohortMember) == 7  # filled from the rule; who left is not added
    newcomer = f.PersonFactory(account=world.acme, seniority="executive")
    member = session.scalars(
        select(CohortMember).where(CohortMember.person_id == world.director.id)
    ).one()
    service.remove_panel_member(session, member, TODAY + 30 * DAY)
    session.commit()
    tick(session, NOW + 91 * DAY)
    second = session.scalars(
        select(Wave).where(Wave.program_id == p.id).order_by(Wave.opens_at.desc())
    ).first()
    asked = set(by_person(session, second))
    assert (newcomer.id, world.acme.id) not in asked
    assert (world.director.id, world.acme.id) not in asked
    assert asked == first - {(world.director.id, world.acme.id), (world.gone.id, world.acme.id)}


def test_a_dynamic_cohort_asks_whoever_the_rule_matches_at_each_wave(session, world):
    p = program({"account_ids": [world.acme.id], "sides": ["external"]})
    tick(session, NOW)
    newcomer = f.PersonFactory(account=world.acme, seniority="executive")
    session.commit()
    tick(session, NOW + 91 * DAY)
    latest = session.scalars(
        select(Wave).where(Wave.program_id == p.id).order_by(Wave.opens_at.desc())
    ).first()
    assert by_person(session, latest)[newcomer.id, world.acme.id].status == "invited"


def test_a_panel_member_who_moved_on_is_skipped_as_left(session, world):
    program({"sides": ["internal"]}, mode=CohortMode.FIXED)
    tick(session, NOW)
    team_place = next(m for m in world.acme.team if m.person_id == world.sam.id)
    team_place.ended_on = TODAY + DAY
    session.commit()
    tick(session, NOW + 91 * DAY)
    latest = session.scalars(select(Wave).order_by(Wave.opens_at.desc())).first()
    invited = by_person(session, latest)
    assert invited[world.sam.id, world.acme.id].skip_reason == rules.LEFT
    assert invited[world.sam.id, world.globex.id].status == InvitationStatus.INVITED


def test_a_complementary_cohort_is_asked_beside_the_programs_own(session, world):
    p = program({"account_ids": [world.initech.id]})
    extra = f.CohortFactory(rule={"kinds": ["partner"], "sides": ["external"]})
    session.add(ComplementaryCohort(program_id=p.id, cohort_id=extra.id, added_on=TODAY))
    session.commit()
    tick(session, NOW)
    assert {i.account_id for i in invitations(session)} == {world.initech.id, world.globex.id}


def test_a_partner_two_way_wave_asks_their_people_and_our_team_together(session, world):
    p = program(service.PARTNER_TWO_WAY_RULE)
    tick(session, NOW)
    invited = by_person(session, only_wave(session))
    assert {(key, i.side) for key, i in invited.items()} == {
        ((world.globex_ceo.id, world.globex.id), "external"),
        ((world.globex_lead.id, world.globex.id), "external"),
        ((world.olivia.id, world.globex.id), "internal"),
        ((world.sam.id, world.globex.id), "internal"),
    }
    subjects = {m.to_address: m.subject for m in outbox(session)}
    assert "Globex" in subjects[world.olivia.email]  # ours: how do you think Globex sees us?
    assert subjects[world.globex_ceo.email] != subjects[world.olivia.email]
    assert p.cohort.rule["sides"] == ["external", "internal"]


# Event triggers ------------------------------------------------------------------------------


def test_a_wave_opens_per_account_n_days_before_its_renewal_once(session, world):
    world.acme.renewal_date = TODAY + 30 * DAY
    world.globex.renewal_date = TODAY + 90 * DAY
    p = program({}, trigger=Trigger.BEFORE_RENEWAL, trigger_days=30, starts_at=NOW - 365 * DAY)
    report = tick(session, NOW)
    wave = only_wave(session)
    assert wave.occurrence == f"renewal:{world.acme.id}:{(TODAY + 30 * DAY).isoformat()}"
    assert wave.account_id == world.acme.id
    assert {i.account_id for i in invitations(session)} == {world.acme.id}
    assert report.opened == [f"{p.name} Acme renewal"]
    assert tick(session, NOW + DAY).opened == []
    assert count(session, Wave) == 1


def test_a_renewal_moved_to_a_new_date_opens_a_new_wave(session, world):
    world.acme.renewal_date = TODAY + 30 * DAY
    program({}, trigger=Trigger.BEFORE_RENEWAL, trigger_days=30, starts_at=NOW - 365 * DAY)
    tick(session, NOW)
    world.acme.renewal_date = TODAY + 30 * DAY + 365 * DAY
    session.commit()
    tick(session, NOW + 365 * DAY)
    assert count(session, Wave) == 2


def test_a_wave_opens_per_account_n_days_after_it_starts(session, world):
    world.initech.started_on = TODAY - 10 * DAY
    world.acme.started_on = TODAY - 400 * DAY
    program({}, trigger=Trigger.AFTER_START, trigger_days=10, starts_at=NOW - 365 * DAY)
    tick(session, NOW)
    wave = only_wave(session)
    assert (wave.occurrence, wave.account_id) == (f"start:{world.initech.id}", world.initech.id)
    tick(session, NOW + 2 * DAY)
    assert count(session, Wave) == 1


def test_an_event_at_an_account_outside_the_cohort_opens_no_wave(session, world):
    world.initech.started_on = TODAY - 10 * DAY
    program({"kinds": ["partner"]}, trigger=Trigger.AFTER_START, trigger_days=10)
    tick(session, NOW)
    assert count(session, Wave) == 0


def test_events_before_the_program_started_open_nothing(session, world):
    world.initech.started_on = TODAY - 10 * DAY
    program({}, trigger=Trigger.AFTER_START, trigger_days=10, starts_at=NOW + DAY)
    tick(session, NOW)
    assert count(session, Wave) == 0


# Finishing what an earlier tick left ---------------------------------------------------------


def test_a_wave_left_without_invitations_is_filled_by_the_next_tick(session, world):
    p = program({"account_ids": [world.initech.id]})
    f.WaveFactory(program=p, occurrence=NOW.isoformat(), opens_at=NOW, closes_at=NOW + 14 * DAY)
    session.commit()
    report = tick(session, NOW + dt.timedelta(minutes=5))
    assert report.opened == []
    assert [i.person_id for i in invitations(session)] == [world.initech_staff.id]
    assert len(outbox(session)) == 1
    assert report.repaired


def test_invited_people_missing_their_e_mail_get_it_with_a_fresh_link(session, world):
    program({"account_ids": [world.acme.id]})
    tick(session, NOW)
    lost = outbox(session)[:2]
    for message in lost:
        session.delete(message)
    session.commit()
    report = tick(session, NOW + dt.timedelta(minutes=5))
    assert report.invitation_emails == 2
    messages = outbox(session)
    assert len(messages) == 6
    assert len({m.dedupe_key for m in messages}) == 6
    by_key = {f"invitation:{i.id}": i for i in invitations(session)}
    for message in messages:
        assert digest(token_in(message)) == by_key[message.dedupe_key].token_hash


def test_a_survey_without_versions_is_reported_not_crashed(session, world):
    survey = Survey(key="empty", name="Empty")
    session.add(survey)
    session.flush()
    other = service.create_program(
        session,
        {
            "name": "Empty",
            "survey_id": survey.id,
            "cohort_id": f.CohortFactory().id,
            "starts_at": NOW,
        },
        TODAY,
    )
    report = tick(session, NOW)
    assert report.opened == []
    assert report.problems == [f"{other.name}: its survey has no version; no wave opened."]


def test_a_waves_snapshot_is_the_accounts_map_as_one_snapshot_would_keep_it(session, world):
    f.RelationshipFactory(source=world.olivia, target=world.ceo)
    f.RelationshipFactory(source=world.sam, target=world.lead, kind="works_with")
    program({"account_ids": [world.acme.id]})
    tick(session, NOW)
    in_wave = session.scalars(select(GraphSnapshot)).one()
    alone = take_snapshot(session, world.acme, now=NOW)
    assert (in_wave.graph, in_wave.metrics) == (alone.graph, alone.metrics)
    assert len(in_wave.graph["nodes"]) == 9  # Acme's active people, Olivia and Sam


def test_large_waves_are_written_and_reminded_in_chunks(session, world, monkeypatch):
    monkeypatch.setattr(tick_module, "CHUNK", 2)
    monkeypatch.setattr(tick_module, "SNAPSHOT_CHUNK", 1)
    program({}, reminder_days=[7])
    report = tick(session, NOW)
    assert (report.invited, sum(report.skipped.values()), report.snapshots) == (11, 4, 3)
    reminded = tick(session, NOW + 7 * DAY)
    assert reminded.reminders == 11
    by_key = {f"reminder:{i.id}:1": i for i in invitations(session)}
    messages = outbox(session, "reminder")
    assert len({m.dedupe_key for m in messages}) == 11
    for message in messages:
        assert digest(token_in(message)) == by_key[message.dedupe_key].token_hash
