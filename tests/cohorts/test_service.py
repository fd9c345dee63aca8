"""Programs (validation, schedule) and fixed panels (members with dates)."""

import datetime as dt

import pytest
from sqlalchemy import select

from relhealth.cohorts import service
from relhealth.cohorts.models import CohortMember, CohortMode, InvitationStatus
from relhealth.core.errors import Conflict, InvalidInput
from tests import factories as f
from tests.cohorts.conftest import NOW, TODAY, count

DAY = dt.timedelta(days=1)


@pytest.fixture
def base(session):
    return {
        "name": "Quarterly health",
        "survey_id": f.builtin_survey().id,
        "cohort_id": f.CohortFactory().id,
        "starts_at": NOW,
    }


def create(session, base, **changes):
    return service.create_program(session, {**base, **changes}, TODAY)


def errors_of(session, base, **changes) -> dict:
    with pytest.raises(InvalidInput) as raised:
        create(session, base, **changes)
    return raised.value.fields


def test_a_program_defaults_to_quarterly_with_a_reminder_a_fatigue_cap_and_k_3(session, base):
    program = create(session, base)
    assert program.rrule == "FREQ=MONTHLY;INTERVAL=3"
    assert (program.open_days, program.reminder_days, program.fatigue_days) == (14, [7], 90)
    assert (program.confidentiality, program.min_group_size) == ("identified", 3)
    assert (program.trigger, program.trigger_days, program.active) == ("schedule", None, True)
    assert service.next_occurrence(program, NOW) == dt.datetime(2027, 4, 4, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=FORTNIGHTLY",
        "FREQ=HOURLY",
        "FREQ=MINUTELY;INTERVAL=5",
        "INTERVAL=3",
        "FREQ=MONTHLY;BYDAY=XX",
        "FREQ=DAILY;COUNT=0",
        "FREQ=DAILY;UNTIL=20260101",  # before starts_at, and not in UTC
        "DTSTART:20270101T000000Z\nRRULE:FREQ=DAILY",
        "FREQ=DAILY\nRRULE:FREQ=WEEKLY",
        "   ",
    ],
)
def test_a_bad_recurrence_rule_is_refused_on_the_rrule_field(session, base, rrule):
    assert set(errors_of(session, base, rrule=rrule)) == {"rrule"}


def test_a_recurrence_rule_may_carry_its_rrule_prefix(session, base):
    assert create(session, base, rrule="RRULE:FREQ=WEEKLY;BYDAY=MO").rrule == "FREQ=WEEKLY;BYDAY=MO"


@pytest.mark.parametrize(
    ("reminders", "open_days"),
    [([0], 14), ([14], 14), ([3, 20], 14), ([3, 3], 14), ([-1], 14), ([True], 14)],
)
def test_reminders_are_positive_days_before_the_wave_closes(session, base, reminders, open_days):
    errors = errors_of(session, base, reminder_days=reminders, open_days=open_days)
    assert set(errors) == {"reminder_days"}


def test_reminders_are_kept_in_order(session, base):
    assert create(session, base, reminder_days=[10, 3]).reminder_days == [3, 10]


def test_an_event_trigger_needs_its_days_and_ignores_the_rule(session, base):
    assert set(errors_of(session, base, trigger="before_renewal")) == {"trigger_days"}
    program = create(session, base, trigger="before_renewal", trigger_days=60, rrule="nonsense")
    assert program.trigger_days == 60
    assert service.next_occurrence(program, NOW) is None


def test_every_problem_is_reported_at_once(session, base):
    errors = errors_of(
        session, base, survey_id=999_999, cohort_id=999_998, rrule="FREQ=NEVER", reminder_days=[0]
    )
    assert set(errors) == {"survey_id", "cohort_id", "rrule", "reminder_days"}


def test_names_are_unique(session, base):
    create(session, base)
    with pytest.raises(Conflict):
        create(session, base)


def test_an_update_is_checked_with_what_it_leaves_unchanged(session, base):
    program = create(session, base, reminder_days=[7, 10])
    with pytest.raises(InvalidInput) as raised:
        service.update_program(session, program, {"open_days": 9}, TODAY)
    assert set(raised.value.fields) == {"reminder_days"}
    service.update_program(session, program, {"open_days": 21, "rrule": "FREQ=YEARLY"}, TODAY)
    assert (program.open_days, program.rrule) == (21, "FREQ=YEARLY")


def test_complementary_cohorts_are_kept_with_the_day_they_were_added(session, base):
    extra, more = f.CohortFactory(), f.CohortFactory()
    program = create(session, base, complementary_cohort_ids=[extra.id])
    service.update_program(
        session, program, {"complementary_cohort_ids": [extra.id, more.id]}, TODAY + DAY
    )
    assert {(c.cohort_id, c.added_on) for c in program.complementary} == {
        (extra.id, TODAY),
        (more.id, TODAY + DAY),
    }
    errors = errors_of(
        session, {**base, "name": "Other"}, complementary_cohort_ids=[base["cohort_id"]]
    )
    assert set(errors) == {"complementary_cohort_ids"}


def test_a_program_with_waves_cannot_be_deleted(session, base):
    program = create(session, base)
    f.WaveFactory(program=program)
    with pytest.raises(Conflict):
        service.delete_program(session, program)


def test_a_cohort_a_program_uses_cannot_be_deleted(session, base):
    program = create(session, base)
    with pytest.raises(Conflict):
        service.delete_cohort(session, program.cohort)


def test_a_cohort_rule_is_validated_when_created_and_changed(session):
    with pytest.raises(InvalidInput):
        service.create_cohort(session, {"name": "x", "mode": "dynamic", "rule": {"sides": ["x"]}})
    cohort = service.create_cohort(session, {"name": "x", "mode": "fixed", "rule": {}})
    with pytest.raises(InvalidInput):
        service.update_cohort(session, cohort, {"rule": {"tiers": ["gold"]}})


# Fixed panels --------------------------------------------------------------------------------


@pytest.fixture
def panel(session, world):
    return f.CohortFactory(mode=CohortMode.FIXED, rule={"account_ids": [world.acme.id]})


def test_refreshing_a_panel_adds_new_matches_but_not_who_left_or_was_removed(session, world, panel):
    assert service.refresh_panel(session, panel, TODAY) == 9  # ten match; Gone left
    member = session.scalars(
        select(CohortMember).where(CohortMember.person_id == world.director.id)
    ).one()
    service.remove_panel_member(session, member, TODAY)
    f.PersonFactory(account=world.acme, seniority="senior")
    assert service.refresh_panel(session, panel, TODAY + DAY) == 1  # the newcomer only
    assert member.removed_on == TODAY


def test_a_panel_member_is_added_removed_and_re_added_on_one_row(session, world, panel):
    member = service.add_panel_member(session, panel, world.ceo.id, world.acme.id, TODAY)
    with pytest.raises(Conflict):
        service.add_panel_member(session, panel, world.ceo.id, world.acme.id, TODAY)
    with pytest.raises(InvalidInput):
        service.remove_panel_member(session, member, TODAY - DAY)
    service.remove_panel_member(session, member, TODAY + 10 * DAY)
    again = service.add_panel_member(session, panel, world.ceo.id, world.acme.id, TODAY + 20 * DAY)
    assert again.id == member.id
    assert (again.added_on, again.removed_on) == (TODAY + 20 * DAY, None)
    assert count(session, CohortMember) == 1


def test_panel_members_answer_for_an_account_they_belong_to(session, world, panel):
    with pytest.raises(InvalidInput):  # theirs: only their own account
        service.add_panel_member(session, panel, world.ceo.id, world.globex.id, TODAY)
    with pytest.raises(InvalidInput):  # ours: only accounts whose team they are on
        service.add_panel_member(session, panel, world.olivia.id, world.initech.id, TODAY)
    with pytest.raises(InvalidInput):  # Eve's place on Acme's team ended
        service.add_panel_member(session, panel, world.eve.id, world.acme.id, TODAY)
    assert service.add_panel_member(session, panel, world.olivia.id, world.globex.id, TODAY)


def test_a_dynamic_cohort_has_no_panel(session, world):
    with pytest.raises(InvalidInput):
        service.add_panel_member(session, f.CohortFactory(), world.ceo.id, world.acme.id, TODAY)


def test_a_panels_members_are_its_members_not_its_rule(session, world, panel):
    service.add_panel_member(session, panel, world.initech_staff.id, world.initech.id, TODAY)
    members = service.cohort_members(session, panel, TODAY)
    assert {(m.person_id, m.account_id) for m in members} == {
        (world.initech_staff.id, world.initech.id)
    }


# Wave counts ---------------------------------------------------------------------------------


def test_wave_counts_give_rates_by_side_and_level_and_skips_by_reason(session, world):
    wave = f.WaveFactory()
    f.InvitationFactory(wave=wave, person=world.ceo, status=InvitationStatus.RESPONDED)
    f.InvitationFactory(wave=wave, person=world.lead)
    f.InvitationFactory(wave=wave, person=world.quiet, status="skipped", skip_reason="opted_out")
    f.InvitationFactory(wave=wave, person=world.olivia, account_id=world.acme.id, status="expired")
    counts = service.wave_counts(session, wave)
    assert (counts["invited"], counts["responded"], counts["response_rate"]) == (3, 1, 0.3333)
    assert (counts["awaiting"], counts["expired"], counts["skipped"]) == (1, 1, 1)
    assert counts["skipped_by_reason"] == {"opted_out": 1}
    assert counts["by_side"]["external"]["invited"] == 2
    assert counts["by_level"]["executive"] == {
        "suppressed": False,
        "invited": 2,
        "responded": 1,
        "response_rate": 0.5,
    }
    assert list(counts["by_level"]) == ["executive", "manager"]


def test_a_confidential_wave_suppresses_groups_with_fewer_than_k_respondents(session, world):
    program = f.ProgramFactory(confidentiality="confidential", min_group_size=3)
    wave = f.WaveFactory(program=program)
    groups = [  # (level, ours, invited, responded)
        ("executive", False, 4, 3),
        ("manager", False, 5, 4),
        ("staff", False, 4, 2),
        ("executive", True, 3, 3),
        ("manager", True, 3, 3),
    ]
    for level, ours, invited, responded in groups:
        for index in range(invited):
            person = (f.StaffFactory if ours else f.PersonFactory)(seniority=level)
            f.InvitationFactory(
                wave=wave,
                person=person,
                account_id=world.acme.id,
                status=InvitationStatus.RESPONDED if index < responded else "invited",
            )
    counts = service.wave_counts(session, wave)
    assert (counts["invited"], counts["responded"], counts["awaiting"]) == (19, 15, 4)
    assert counts["by_side"]["external"]["response_rate"] == 0.6923
    assert counts["by_side"]["internal"]["invited"] == 6
    # staff: 4 invited but 2 answered, below k; alone it would be the total minus the other
    # levels, so the published level with the fewest respondents (executive, 6) goes too.
    assert counts["by_level"]["staff"] == {
        "suppressed": True,
        "invited": None,
        "responded": None,
        "response_rate": None,
    }
    assert counts["by_level"]["executive"]["suppressed"] is True
    assert counts["by_level"]["manager"] == {
        "suppressed": False,
        "invited": 8,
        "responded": 7,
        "response_rate": 0.875,
    }


def test_a_hidden_side_cannot_be_recovered_from_the_wave_total(session, world):
    program = f.ProgramFactory(confidentiality="confidential", min_group_size=3)
    wave = f.WaveFactory(program=program)
    for person in (world.ceo, world.director, world.lead):
        f.InvitationFactory(wave=wave, person=person, status=InvitationStatus.RESPONDED)
    f.InvitationFactory(wave=wave, person=world.olivia, account_id=world.acme.id)
    counts = service.wave_counts(session, wave)
    # Under the old rule (fewer than k invited) only our side was hidden, and the total
    # (4 invited, 3 responded) minus their side (3, 3) said Olivia had not answered.
    assert (counts["suppressed"], counts["invited"], counts["responded"]) == (False, 4, 3)
    assert {side: c["suppressed"] for side, c in counts["by_side"].items()} == {
        "external": True,
        "internal": True,
    }
    assert all(c["suppressed"] for c in counts["by_level"].values())


def test_an_identified_wave_and_an_all_skipped_group_are_never_suppressed(session, world):
    wave = f.WaveFactory(program=f.ProgramFactory(confidentiality="confidential"))
    f.InvitationFactory(wave=wave, person=world.quiet, status="skipped", skip_reason="opted_out")
    for person in (world.ceo, world.director, world.engineer):
        f.InvitationFactory(wave=wave, person=person, status=InvitationStatus.RESPONDED)
    counts = service.wave_counts(session, wave)
    assert counts["by_level"]["manager"] == {
        "suppressed": False,
        "invited": 0,
        "responded": 0,
        "response_rate": None,
    }
    assert counts["by_level"]["executive"]["suppressed"] is True
    identified = f.WaveFactory()
    f.InvitationFactory(wave=identified, person=world.ceo)
    assert service.wave_counts(session, identified)["by_level"]["executive"] == {
        "suppressed": False,
        "invited": 1,
        "responded": 0,
        "response_rate": 0.0,
    }
