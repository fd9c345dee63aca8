"""Cohort rules evaluated in SQL, and the preview built on them."""

import pytest

from relhealth.cohorts import rules, service
from relhealth.core.errors import InvalidInput
from tests.cohorts.conftest import TODAY, pairs

LADDER = ("executive", "senior", "manager", "staff")


def members(session, rule):
    return rules.load_members(session, rules.rule_members_query(rule, TODAY))


def test_an_empty_rule_asks_their_people_and_ours_once_per_account_they_serve(session, world):
    found = pairs(members(session, {}))
    theirs = {
        (p.id, p.account_id)
        for p in (
            world.ceo,
            world.director,
            world.lead,
            world.engineer,
            world.gone,
            world.quiet,
            world.no_email,
            world.newcomer,
            world.globex_ceo,
            world.globex_lead,
            world.initech_staff,
        )
    }
    ours = {
        (world.olivia.id, world.acme.id),
        (world.olivia.id, world.globex.id),
        (world.sam.id, world.acme.id),
        (world.sam.id, world.globex.id),
    }
    assert found == theirs | ours  # Eve's team place ended: she no longer answers for Acme


def test_sides_choose_their_people_or_ours(session, world):
    external = members(session, {"sides": ["external"]})
    internal = members(session, {"sides": ["internal"]})
    assert {m.side for m in external} == {"external"}
    assert pairs(internal) == {
        (world.olivia.id, world.acme.id),
        (world.olivia.id, world.globex.id),
        (world.sam.id, world.acme.id),
        (world.sam.id, world.globex.id),
    }


def test_account_filters_kinds_tiers_types_and_ids(session, world):
    partners = members(session, {"kinds": ["partner"]})
    assert {m.account_id for m in partners} == {world.globex.id}
    assert pairs(partners) >= {(world.olivia.id, world.globex.id), (world.sam.id, world.globex.id)}
    strategic = members(session, {"tiers": ["strategic"], "sides": ["external"]})
    assert {m.account_id for m in strategic} == {world.acme.id}
    transactional = members(session, {"relationship_types": ["transactional"]})
    assert pairs(transactional) == {(world.initech_staff.id, world.initech.id)}
    by_id = members(session, {"account_ids": [world.initech.id, world.globex.id]})
    assert {m.account_id for m in by_id} == {world.initech.id, world.globex.id}


def test_levels_filter_both_sides(session, world):
    executives = members(session, {"seniorities": ["executive"]})
    assert pairs(executives) == {
        (world.ceo.id, world.acme.id),
        (world.globex_ceo.id, world.globex.id),
        (world.olivia.id, world.acme.id),
        (world.olivia.id, world.globex.id),
    }


def test_roles_match_stakeholder_roles_and_our_team_roles(session, world):
    deciders = members(session, {"roles": ["decision_maker", "champion"]})
    assert pairs(deciders) == {(world.ceo.id, world.acme.id), (world.lead.id, world.acme.id)}
    sponsors = members(session, {"roles": ["decision_maker", "executive_sponsor"]})
    # Olivia is Acme's executive sponsor but only a member at Globex.
    assert pairs(sponsors) == {(world.ceo.id, world.acme.id), (world.olivia.id, world.acme.id)}


def test_people_who_cannot_be_asked_still_match_with_a_flag(session, world):
    flags = {m.person_id: m.flag(TODAY) for m in members(session, {"account_ids": [world.acme.id]})}
    assert flags[world.gone.id] == rules.LEFT
    assert flags[world.quiet.id] == rules.OPTED_OUT
    assert flags[world.no_email.id] == rules.NO_EMAIL
    assert flags[world.newcomer.id] == rules.INACTIVE
    assert flags[world.ceo.id] is None
    assert flags[world.olivia.id] is None


def test_someone_who_left_long_ago_is_no_longer_part_of_the_account(session, world):
    world.gone.left_on = TODAY.replace(year=TODAY.year - 2)
    session.flush()
    assert world.gone.id not in {m.person_id for m in members(session, {})}


def test_an_ended_account_asks_nobody(session, world):
    world.initech.ended_on = TODAY
    session.flush()
    assert world.initech.id not in {m.account_id for m in members(session, {})}


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"sides": ["theirs"]}, "rule.sides"),
        ({"kinds": "partner"}, "rule.kinds"),
        ({"seniorities": ["boss"]}, "rule.seniorities"),
        ({"roles": ["king"]}, "rule.roles"),
        ({"account_ids": [0]}, "rule.account_ids"),
        ({"account_ids": ["1"]}, "rule.account_ids"),
        ({"colour": ["red"]}, "rule"),
        (["sides"], "rule"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_list(rule, field):
    with pytest.raises(InvalidInput) as raised:
        rules.validate_rule(rule, LADDER)
    assert field in raised.value.fields


def test_a_rule_is_cleaned_of_duplicates_and_empty_lists():
    clean = rules.validate_rule({"sides": ["external", "external"], "tiers": []}, LADDER)
    assert clean == {"sides": ["external"]}


def test_preview_counts_by_account_side_and_level_and_flags_who_would_be_skipped(session, world):
    preview = service.preview_cohort(session, {"account_ids": [world.acme.id]}, TODAY)
    assert preview["pairs"] == 10  # eight of theirs, Olivia and Sam
    assert preview["people"] == 10
    assert preview["askable"] == 6
    assert preview["flagged"] == {"left": 1, "inactive": 1, "opted_out": 1, "no_email": 1}
    assert preview["by_side"] == {"external": 8, "internal": 2}
    assert preview["by_level"] == {"executive": 2, "senior": 1, "manager": 3, "staff": 4}
    assert preview["by_side_and_level"]["internal"] == {
        "executive": 1,
        "senior": 0,
        "manager": 1,
        "staff": 0,
    }
    assert preview["by_account"] == [
        {
            "account_id": world.acme.id,
            "account_name": "Acme",
            "people": 10,
            "external": 8,
            "internal": 2,
        }
    ]
    sample = preview["sample"]
    assert len(sample) == 10
    # In ladder order within each side, flags shown.
    assert sample[0]["seniority"] == "executive"
    assert {row["flag"] for row in sample} == {None, "left", "inactive", "opted_out", "no_email"}


def test_preview_narrowed_to_the_accounts_a_user_may_read(session, world):
    from relhealth.accounts.models import Account

    preview = service.preview_cohort(session, {}, TODAY, accounts=Account.id == world.globex.id)
    assert [row["account_id"] for row in preview["by_account"]] == [world.globex.id]


def test_preview_sample_is_capped(session, world):
    preview = service.preview_cohort(session, {}, TODAY, sample_size=3)
    assert preview["pairs"] == 15
    assert len(preview["sample"]) == 3
