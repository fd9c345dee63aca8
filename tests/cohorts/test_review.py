"""The listening program review, on hand-made facts."""

import datetime as dt

from relhealth.accounts.models import Tier
from relhealth.auth.models import Role
from relhealth.cohorts.review import AccountFacts, Reach, review
from tests.factories import PASSWORD, AccountFactory, UserFactory

LADDER = ("executive", "senior", "manager", "staff")


def facts(name, kind="customer", tier="key", relationship_type="relationship", account_id=1):
    return AccountFacts(account_id, name, kind, tier, relationship_type)


def reach(wave, answered, *, account_id=1, panel=True, event=False, program="Quarterly"):
    return Reach(
        account_id=account_id,
        wave_id=wave,
        opens_at=dt.datetime(2026, wave, 1, tzinfo=dt.UTC),
        program=program,
        panel=panel,
        event_triggered=event,
        answered=frozenset(answered),
    )


def test_an_account_nobody_asked_is_flagged_first():
    results = review(
        [facts("Heard", account_id=1), facts("Contoso", account_id=2)],
        [
            reach(1, {(1, "external", "executive"), (2, "external", "manager")}),
            reach(
                2,
                {
                    (1, "external", "executive"),
                    (2, "external", "manager"),
                    (3, "internal", "manager"),
                },
            ),
        ],
        LADDER,
    )
    assert [r.name for r in results] == ["Contoso", "Heard"]
    assert results[0].recommendations == [
        "Nobody at Contoso has been surveyed yet: add it to a panel."
    ]
    assert results[1].recommendations == []
    assert results[1].levels_heard == ["executive", "manager"]
    assert results[1].panel_continuity == 1.0


def test_only_executives_answering_a_deep_relationship_asks_for_a_lower_cohort():
    [result] = review(
        [facts("Contoso")],
        [reach(1, {(1, "external", "executive")}), reach(2, {(1, "external", "executive")})],
        LADDER,
    )
    assert "Only executive level answers at Contoso: add a senior-level cohort." in (
        result.recommendations
    )


def test_a_partner_whose_side_of_ours_is_never_asked_is_told_so():
    [result] = review(
        [facts("Fabrikam", kind="partner")],
        [reach(1, {(1, "external", "manager"), (2, "external", "staff")})],
        LADDER,
    )
    assert "Fabrikam is a partner but our side is never asked: add our team." in (
        result.recommendations
    )
    assert result.sides_heard == ["external"]


def test_a_deep_customer_relationship_without_our_side_cannot_show_its_gap():
    answered = {(1, "external", "manager"), (2, "external", "staff")}
    [result] = review([facts("Contoso")], [reach(1, answered), reach(2, answered)], LADDER)
    assert result.recommendations == [
        "Nobody of ours on Contoso answered its programs' recent waves: without our side the "
        "internal-vs-external gap cannot be measured; add our team or remind them."
    ]
    # Ours asked quarterly in a program of their own, theirs monthly: the account's last two
    # waves are both theirs, but our side was heard in its own program's latest wave.
    ours = reach(3, {(9, "internal", "manager")}, program="Our side")
    monthly = [reach(wave, answered, program="Pulse") for wave in (4, 5)]
    [result] = review([facts("Contoso")], [ours, *monthly], LADDER)
    assert not any("Nobody of ours" in text for text in result.recommendations)


def test_deep_relationships_want_a_panel_and_transactional_ones_event_triggers():
    [deep] = review(
        [facts("Deep", tier="strategic")],
        [reach(1, {(1, "external", "manager"), (2, "external", "staff")}, panel=False)],
        LADDER,
    )
    assert any("no fixed panel" in text for text in deep.recommendations)
    assert any("heard only once" in text for text in deep.recommendations)
    [shop] = review(
        [facts("Shop", tier="standard", relationship_type="transactional")],
        [reach(1, {(1, "external", "staff")}, panel=False)],
        LADDER,
    )
    assert shop.recommendations == [
        "Shop is transactional: a survey triggered by its renewal or start fits better "
        "than a recurring one."
    ]


def test_panel_continuity_compares_the_last_two_waves_and_low_continuity_is_flagged():
    [result] = review(
        [facts("Churny")],
        [
            reach(1, {(1, "external", "manager"), (2, "external", "staff")}),
            reach(2, {(1, "external", "manager"), (2, "external", "staff")}),
            reach(3, {(3, "external", "manager"), (4, "external", "staff")}),
        ],
        LADDER,
    )
    assert result.waves == 3
    assert result.panel_continuity == 0.0
    assert any("answered again" in text for text in result.recommendations)


def test_review_api_and_page_cover_only_accounts_the_user_may_see(api, client):
    manager = UserFactory(role=Role.ACCOUNT_MANAGER)
    mine = AccountFactory(name="Mine", owner_id=manager.id)
    AccountFactory(name="Someone else's")
    rows = api.as_(manager).get("/api/v1/review").get_json()
    assert [row["account_id"] for row in rows] == [mine.id]
    assert rows[0]["recommendations"] == [
        "Nobody at Mine has been surveyed yet: add it to a program."
    ]
    assert api.as_(manager).get("/api/v1/review?account=0").status_code == 422

    client.post("/login", data={"email": manager.email, "password": PASSWORD})
    html = client.get("/listening/review").data.decode()
    assert "Nobody at Mine has been surveyed yet" in html
    assert "Someone else" not in html


def test_review_command_prints_advice_per_account(app):
    AccountFactory(name="Quiet Corp", tier=Tier.STRATEGIC)
    result = app.test_cli_runner().invoke(args=["review"])
    assert result.exit_code == 0, result.output
    assert "Quiet Corp" in result.output
    assert "Nobody at Quiet Corp has been surveyed yet: add it to a panel." in result.output
