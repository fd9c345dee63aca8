"""Relationship rules as pure functions (relhealth.accounts.rules): no app, no database."""

import pytest

from relhealth.accounts.models import RelationshipKind, Side
from relhealth.accounts.rules import End, closes_cycle, relationship_violation, reporting_cycle

OURS_A = End(1, Side.INTERNAL, None)
OURS_B = End(2, Side.INTERNAL, None)
THEIRS_A = End(3, Side.EXTERNAL, 100)
THEIRS_B = End(4, Side.EXTERNAL, 100)
OTHER_ACCOUNT = End(5, Side.EXTERNAL, 200)


@pytest.mark.parametrize("kind", list(RelationshipKind))
@pytest.mark.parametrize("person", [OURS_A, THEIRS_A])
def test_nobody_has_a_relationship_with_themselves(kind, person):
    assert relationship_violation(person, person, kind) == (
        "target_id",
        "A person cannot have a relationship with themselves.",
    )


@pytest.mark.parametrize("kind", list(RelationshipKind))
def test_people_of_two_different_accounts_are_never_linked(kind):
    field, message = relationship_violation(THEIRS_A, OTHER_ACCOUNT, kind)
    assert field == "target_id"
    assert "two different accounts" in message


def test_covers_goes_from_one_of_ours_to_one_of_theirs_only():
    assert relationship_violation(OURS_A, THEIRS_A, RelationshipKind.COVERS) is None
    for source, target in [(THEIRS_A, OURS_A), (OURS_A, OURS_B), (THEIRS_A, THEIRS_B)]:
        field, message = relationship_violation(source, target, RelationshipKind.COVERS)
        assert field == "kind"
        assert "one of our people to one of theirs" in message


def test_reports_to_stays_inside_one_organisation():
    assert relationship_violation(OURS_A, OURS_B, RelationshipKind.REPORTS_TO) is None
    assert relationship_violation(THEIRS_A, THEIRS_B, RelationshipKind.REPORTS_TO) is None
    for source, target in [(THEIRS_A, OURS_A), (OURS_A, THEIRS_A)]:
        field, message = relationship_violation(source, target, RelationshipKind.REPORTS_TO)
        assert field == "kind"
        assert "same organisation" in message


@pytest.mark.parametrize("kind", [RelationshipKind.WORKS_WITH, RelationshipKind.SPONSORS])
def test_works_with_and_sponsors_link_either_side_in_either_direction(kind):
    for source, target in [(OURS_A, THEIRS_A), (THEIRS_A, OURS_A), (OURS_A, OURS_B)]:
        assert relationship_violation(source, target, kind) is None


def test_ends_not_yet_in_the_database_are_told_apart_by_their_keys():
    # The CSV importer checks rows before the people exist, by their CSV keys.
    new = End("row-7", Side.EXTERNAL, "acme")
    same = End("row-7", Side.EXTERNAL, "acme")
    other = End("row-8", Side.EXTERNAL, "acme")
    assert relationship_violation(new, same, RelationshipKind.WORKS_WITH)[0] == "target_id"
    assert relationship_violation(new, other, RelationshipKind.WORKS_WITH) is None


def test_closing_a_reporting_loop_is_detected():
    lines = [("a", "b"), ("b", "c")]  # a reports to b, b reports to c
    assert closes_cycle(lines, "c", "a") is True
    assert closes_cycle(lines, "b", "a") is True
    assert closes_cycle(lines, "a", "c") is False  # a second, shorter line up: no loop
    assert closes_cycle(lines, "c", "d") is False
    assert closes_cycle(lines, "d", "a") is False
    assert closes_cycle([], "a", "b") is False


def test_reporting_cycle_names_the_people_on_a_loop():
    assert reporting_cycle([("a", "b"), ("b", "c")]) is None
    assert set(reporting_cycle([("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")])) == {"a", "b", "c"}
