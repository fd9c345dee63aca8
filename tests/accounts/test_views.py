"""Account and people pages rendered through the test client."""

import datetime as dt

from relhealth.accounts.models import RelationshipKind, Tier
from relhealth.auth.models import Role
from tests.factories import (
    AccountFactory,
    PersonFactory,
    RelationshipFactory,
    StaffFactory,
    TeamMemberFactory,
    UserFactory,
)


def test_user_text_is_escaped_on_every_page(signed_in):
    account = AccountFactory(name="<script>alert(1)</script> Corp")
    person = PersonFactory(account=account, title='<img src="http://evil.example/x">')
    client = signed_in(UserFactory(role=Role.ADMIN))
    for url in ("/accounts", f"/accounts/{account.id}", f"/people/{person.id}", "/people"):
        html = client.get(url).data
        assert b"<script>alert(1)" not in html
        assert b'<img src="http://evil.example' not in html
    assert b"&lt;script&gt;alert(1)&lt;/script&gt; Corp" in client.get("/accounts").data


def test_account_page_puts_each_person_on_their_level_and_side(signed_in):
    account = AccountFactory(name="Acme")
    PersonFactory(account=account, first_name="Eve", last_name="Exec", seniority="executive")
    PersonFactory(account=account, first_name="Stan", last_name="Staff", seniority="staff")
    PersonFactory(account=account, first_name="Lou", last_name="Left", left_on=dt.date(2020, 1, 1))
    ours = TeamMemberFactory(account=account, person=StaffFactory(seniority="manager")).person
    html = signed_in(UserFactory(role=Role.ADMIN)).get(f"/accounts/{account.id}").data.decode()
    rows = html.split('<div class="ladder-row" role="row">')[1:]
    assert [r.split("</h3>")[0].rsplit(">", 1)[1] for r in rows] == [
        "Executive",
        "Senior",
        "Manager",
        "Staff",
    ]
    assert "Eve Exec" in rows[0]
    assert "Stan Staff" in rows[3]
    assert ours.name in rows[2]
    assert "Lou Left" not in html  # people who left are history, not on today's page
    assert "No one known at this level" in rows[1]


def test_someone_elses_account_and_its_people_are_not_found(signed_in):
    mine = AccountFactory()
    other = AccountFactory()
    stranger = PersonFactory(account=other)
    manager = UserFactory(role=Role.ACCOUNT_MANAGER)
    mine.owner_id = manager.id
    client = signed_in(manager)
    assert client.get(f"/accounts/{mine.id}").status_code == 200
    assert client.get(f"/accounts/{other.id}").status_code == 404
    assert client.get(f"/people/{stranger.id}").status_code == 404
    assert other.name.encode() not in client.get("/accounts").data


def test_lists_ignore_bad_filters_and_say_so(signed_in):
    AccountFactory(name="Visible")
    client = signed_in(UserFactory(role=Role.ADMIN))
    response = client.get("/accounts?tier=gold&sort=bogus")
    assert response.status_code == 200
    assert b"Some filters were ignored" in response.data
    assert b"Visible" in response.data


def test_an_empty_portfolio_explains_how_to_get_accounts(signed_in):
    client = signed_in(UserFactory(role=Role.VIEWER))
    html = client.get("/accounts").data
    assert b"No accounts yet" in html
    assert b"relhealth import accounts" in html


def test_person_page_lists_relationships_in_both_directions(signed_in):
    edge = RelationshipFactory()
    client = signed_in(UserFactory(role=Role.ADMIN))
    theirs = client.get(f"/people/{edge.target_id}").data.decode()
    assert "is covered by" in theirs
    assert edge.source.name in theirs
    ours = client.get(f"/people/{edge.source_id}").data.decode()
    assert "covers" in ours
    assert edge.target.name in ours


def test_map_page_draws_both_sides_with_escaped_text_and_coverage_figures(signed_in):
    account = AccountFactory(name="<script>alert(1)</script> Corp")
    exec_ = PersonFactory(account=account, first_name="<b>Eve</b>", seniority="executive")
    PersonFactory(account=account, seniority="staff")
    ours = TeamMemberFactory(account=account, person=StaffFactory(seniority="manager")).person
    RelationshipFactory(source=ours, target=exec_)
    client = signed_in(UserFactory(role=Role.ADMIN))
    assert f"/accounts/{account.id}/map".encode() in client.get(f"/accounts/{account.id}").data
    response = client.get(f"/accounts/{account.id}/map")
    assert response.status_code == 200
    html = response.data.decode()
    assert "<script>alert(1)" not in html
    assert "<b>Eve" not in html
    assert html.count('class="node ') == 3
    assert f'href="/people/{exec_.id}"' in html
    assert "50%" in html  # one of their two people is covered
    assert "/static/map.js" in html
    assert "Whom we hear from" in html
    assert "0 of 2); of ours, 0 of 1" in html  # nobody has answered yet


def test_map_of_an_account_without_people_says_so(signed_in):
    account = AccountFactory()
    html = signed_in(UserFactory(role=Role.ADMIN)).get(f"/accounts/{account.id}/map").data
    assert b"No stakeholders recorded yet" in html


def test_someone_elses_map_is_not_found_and_signing_in_is_required(client, signed_in):
    other = AccountFactory()
    assert client.get(f"/accounts/{other.id}/map").status_code == 302
    manager = UserFactory(role=Role.ACCOUNT_MANAGER)
    mine = AccountFactory(owner_id=manager.id)
    client = signed_in(manager)
    assert client.get(f"/accounts/{mine.id}/map").status_code == 200
    assert client.get(f"/accounts/{other.id}/map").status_code == 404


def test_coverage_page_lists_accounts_worst_covered_first_and_filters(signed_in):

    good = AccountFactory(name="Well Covered", tier=Tier.STRATEGIC)
    covered = PersonFactory(account=good)
    RelationshipFactory(source=StaffFactory(), target=covered, kind=RelationshipKind.COVERS)
    bad = AccountFactory(name="Nobody Knows", tier=Tier.KEY)
    PersonFactory(account=bad)
    client = signed_in(UserFactory(role=Role.ADMIN))
    html = client.get("/portfolio/coverage").data.decode()
    assert html.index("Nobody Knows") < html.index("Well Covered")
    assert "100%" in html
    assert "uncovered" in html
    only_key = client.get("/portfolio/coverage?tier=key").data.decode()
    assert "Nobody Knows" in only_key
    assert "Well Covered" not in only_key
    best_first = client.get("/portfolio/coverage?sort=-coverage").data.decode()
    assert best_first.index("Well Covered") < best_first.index("Nobody Knows")


def test_map_page_takes_snapshots_and_shows_what_changed_since(signed_in, session):
    account = AccountFactory()
    stays = PersonFactory(account=account, first_name="Stella")
    leaves = PersonFactory(account=account, first_name="Leon")
    manager = UserFactory(role=Role.ACCOUNT_MANAGER)
    account.owner_id = manager.id
    client = signed_in(manager)
    assert b"No snapshots yet" in client.get(f"/accounts/{account.id}/map").data
    response = client.post(f"/accounts/{account.id}/snapshots")
    assert response.status_code == 302
    snapshot_id = int(response.headers["Location"].split("since=")[1])
    leaves.left_on = dt.date(2020, 1, 1)
    PersonFactory(account=account, first_name="Nina")
    session.flush()
    html = client.get(f"/accounts/{account.id}/map?since={snapshot_id}").data.decode()
    joined, left = html.split("<h3>Joined (1)</h3>")[1].split("<h3>Left (1)</h3>")
    assert "Nina" in joined
    assert "Leon" in left.split("Links:")[0]
    assert stays.first_name not in joined


def test_only_those_who_may_change_an_account_take_snapshots(signed_in):
    account = AccountFactory()
    client = signed_in(UserFactory(role=Role.EXECUTIVE))
    assert b"Take a snapshot now" not in client.get(f"/accounts/{account.id}/map").data
    assert client.post(f"/accounts/{account.id}/snapshots").status_code == 403
