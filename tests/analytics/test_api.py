"""The analytics API: permissions, validation, empty accounts, suppression in JSON and CSV, and
figures equal to the pure functions' on the hand-sized Acme of test_service."""

import csv
import datetime as dt
import io
import json

import pandas as pd
import pytest

from relhealth.analytics import metrics, panel, service, trends
from relhealth.analytics.schemas import (
    GapSchema,
    MigrationSchema,
    PanelChangeSchema,
    TopVsLineSchema,
    TrendPointSchema,
)
from relhealth.analytics.summaries import records
from relhealth.auth.models import Role
from relhealth.cohorts.models import Confidentiality, InvitationStatus
from relhealth.extensions import db
from relhealth.surveys.builtin import DIMENSIONS
from tests import factories as f
from tests.analytics import test_service as built
from tests.analytics.test_service import Q1, Q2, answered, closed_wave

acme = built.acme  # the hand-sized account of test_service, as a fixture here too
V1 = "/api/v1"
SETTINGS = metrics.AnalyticsSettings()


def strict_json(response):
    """The body parsed as strict JSON: NaN or Infinity in it fail the test."""

    def refuse(constant):
        raise AssertionError(f"invalid JSON constant {constant}")

    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def expected(frame: pd.DataFrame, columns) -> list[dict]:
    """What the API should say for ``frame``: its published columns, NaN as None, JSON-round."""
    rows = records(frame[[c for c in columns if c in frame.columns]])
    return json.loads(json.dumps(rows, default=lambda v: v.isoformat().replace("+00:00", "Z")))


def same_rows(actual: list[dict], wanted: list[dict]) -> None:
    assert len(actual) == len(wanted)
    for got, want in zip(actual, wanted, strict=True):
        assert set(got) == set(want)
        for key, value in want.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-12), key
            elif key.startswith("wave_at") and value is not None:
                assert pd.Timestamp(got[key]) == pd.Timestamp(value), key
            else:
                assert got[key] == value, key


@pytest.fixture
def admin(session):
    return f.UserFactory(role=Role.ADMIN)


# Permissions ---------------------------------------------------------------------------------

ACCOUNT_PATHS = ("trends", "trends?by=side", "gaps", "panel")


@pytest.mark.parametrize("path", ACCOUNT_PATHS)
def test_a_manager_reads_the_analytics_of_their_own_account(api, acme, path):
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    acme.account.owner_id = manager.id
    db.session.flush()

    response = api.as_(manager).get(f"{V1}/accounts/{acme.account.id}/{path}")

    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("path", ACCOUNT_PATHS)
def test_a_foreign_account_is_not_found(api, acme, path):
    stranger = f.UserFactory(role=Role.ACCOUNT_MANAGER)

    response = api.as_(stranger).get(f"{V1}/accounts/{acme.account.id}/{path}")

    assert response.status_code == 404


@pytest.mark.parametrize("path", ACCOUNT_PATHS)
def test_a_viewer_reads_the_analytics_of_an_assigned_account(api, acme, path):
    assignment = f.AssignmentFactory(account_id=acme.account.id)

    response = api.as_(assignment.user).get(f"{V1}/accounts/{acme.account.id}/{path}")

    assert response.status_code == 200


def test_analytics_need_a_token(client, acme):
    assert client.get(f"{V1}/accounts/{acme.account.id}/trends").status_code == 401
    assert client.get(f"{V1}/portfolio/summary").status_code == 401


def test_the_portfolio_summary_lists_only_readable_accounts(api, acme):
    other = f.AccountFactory()
    answered(f.PersonFactory(account=other), None, 2, 1, at=Q1)
    assignment = f.AssignmentFactory(account_id=acme.account.id)

    rows = strict_json(api.as_(assignment.user).get(f"{V1}/portfolio/summary"))

    assert [row["account_id"] for row in rows] == [acme.account.id]


# Validation ----------------------------------------------------------------------------------

BAD_ARGS = {
    "trends by colour": ("/accounts/{id}/trends?by=colour", "by"),
    "trends format": ("/accounts/{id}/trends?format=xml", "format"),
    "trends program": ("/accounts/{id}/trends?program=abc", "program"),
    "gaps wave": ("/accounts/{id}/gaps?wave_id=0", "wave_id"),
    "gaps table": ("/accounts/{id}/gaps?format=csv&table=people", "table"),
    "panel table": ("/accounts/{id}/panel?table=gaps", "table"),
    "summary sort": ("/portfolio/summary?sort=colour", "sort"),
    "summary kind": ("/portfolio/summary?kind=vendor", "kind"),
    "summary tier": ("/portfolio/summary?tier=gold", "tier"),
    "summary owner": ("/portfolio/summary?owner=-1", "owner"),
    "portfolio trends by": ("/portfolio/trends?by=colour", "by"),
    "portfolio trends tier": ("/portfolio/trends?tier=gold", "tier"),
    "portfolio trends format": ("/portfolio/trends?format=xml", "format"),
}


@pytest.mark.parametrize(("path", "field"), BAD_ARGS.values(), ids=BAD_ARGS.keys())
def test_bad_query_arguments_are_answered_422_with_a_message_per_field(
    api, admin, acme, path, field
):
    response = api.as_(admin).get(V1 + path.format(id=acme.account.id))

    assert response.status_code == 422
    assert list(response.get_json()["errors"]["query"]) == [field]


def test_a_wave_without_answers_of_the_account_is_422(api, admin, acme):
    elsewhere = closed_wave(f.ProgramFactory(), Q2, "elsewhere")

    response = api.as_(admin).get(f"{V1}/accounts/{acme.account.id}/gaps?wave_id={elsewhere.id}")

    assert response.status_code == 422
    assert "wave_id" in response.get_json()["errors"]["query"]


# Empty accounts ------------------------------------------------------------------------------


def test_an_account_without_answers_has_empty_tables_not_errors(api, admin):
    account = f.AccountFactory()
    base = f"{V1}/accounts/{account.id}"

    trends_ = strict_json(api.as_(admin).get(f"{base}/trends?by=dimension"))
    gaps = strict_json(api.as_(admin).get(f"{base}/gaps"))
    panel_ = strict_json(api.as_(admin).get(f"{base}/panel"))
    summary = strict_json(api.as_(admin).get(f"{V1}/portfolio/summary"))

    assert trends_ == {"account_id": account.id, "by": "dimension", "series": []}
    assert gaps["gaps"] == [] and gaps["top_vs_line"] == [] and gaps["wave_id"] is None  # noqa: PT018
    assert panel_ == {"account_id": account.id, "change": [], "migration": [], "drop_outs": []}
    assert summary[0]["health"] is None
    assert summary[0]["health_status"] == "no_answers"
    csv_lines = api.as_(admin).get(f"{base}/trends?format=csv").get_data(as_text=True)
    assert csv_lines.splitlines()[0].startswith("wave,wave_id,wave_at,n,")
    assert len(csv_lines.splitlines()) == 1


# Figures equal the pure functions' -----------------------------------------------------------


@pytest.mark.parametrize("by", [None, "side", "seniority", "dimension"])
def test_trends_are_the_trend_of_the_accounts_answers(api, admin, acme, by):
    query = f"?by={by}" if by else ""

    body = strict_json(api.as_(admin).get(f"{V1}/accounts/{acme.account.id}/trends{query}"))

    answers = service.load_answers(db.session, account_ids=[acme.account.id])
    wanted = trends.trend(answers, by, SETTINGS)
    same_rows(body["series"], expected(wanted, TrendPointSchema().fields))
    assert len(body["series"]) > 0


def test_trends_by_side_show_the_hand_computed_figures(api, admin, acme):
    body = strict_json(api.as_(admin).get(f"{V1}/accounts/{acme.account.id}/trends?by=side"))

    external = [p for p in body["series"] if p["side"] == "external"]
    # Wave 1, theirs: nps 9, 7, 5, 8 (scaled 90, 70, 50, 80) and 7 ratings each of 4, 3, 2, 4.
    w1 = external[1]
    ratings = [75.0] * 7 + [50.0] * 7 + [25.0] * 7 + [75.0] * 7
    assert w1["n"] == 32
    assert w1["respondents"] == 4
    assert w1["mean"] == pytest.approx(sum([90, 70, 50, 80, *ratings]) / 32)
    assert w1["nps"] == pytest.approx(100 * (1 - 1) / 4)
    assert external[0]["status"] == "insufficient"  # one imported response in 2025Q3
    assert external[0]["mean"] is None
    assert external[0]["n"] == 8  # insufficient signal still shows its n
    assert external[2]["change"] == pytest.approx(external[2]["mean"] - w1["mean"])


def test_gaps_are_the_gaps_of_the_latest_period(api, admin, acme):
    _, w2 = acme.waves

    body = strict_json(api.as_(admin).get(f"{V1}/accounts/{acme.account.id}/gaps"))

    answers = service.load_answers(db.session, account_ids=[acme.account.id])
    latest = answers[answers["wave_id"].eq(w2.id).fillna(False).to_numpy(bool)]
    assert body["wave_id"] == w2.id
    assert body["wave"] == "2026Q2"  # the period: every wave that opened in that quarter
    same_rows(
        body["gaps"],
        expected(metrics.internal_external_gap(latest, [], SETTINGS), GapSchema().fields),
    )
    same_rows(
        body["top_vs_line"],
        expected(metrics.top_vs_line_gap(latest, [], SETTINGS), TopVsLineSchema().fields),
    )
    trust = next(row for row in body["gaps"] if row["dimension"] == "trust")
    assert trust["status"] == "insufficient"  # two of ours answered: below 3 respondents


def test_gaps_of_a_chosen_wave(api, admin, acme):
    w1, _ = acme.waves

    body = strict_json(api.as_(admin).get(f"{V1}/accounts/{acme.account.id}/gaps?wave_id={w1.id}"))

    assert body["wave_id"] == w1.id
    assert body["wave"] == "2026Q1"
    assert {row["dimension"] for row in body["gaps"]} == {"overall", *DIMENSIONS}


def test_panel_is_the_panel_of_the_accounts_answers_with_named_drop_outs(api, admin, acme):
    body = strict_json(api.as_(admin).get(f"{V1}/accounts/{acme.account.id}/panel"))

    answers = service.load_answers(db.session, account_ids=[acme.account.id])
    same_rows(
        body["change"],
        expected(panel.panel_change(answers, SETTINGS), PanelChangeSchema().fields),
    )
    same_rows(
        body["migration"],
        expected(panel.migration_matrix(answers, SETTINGS), MigrationSchema().fields),
    )
    _, w2 = acme.waves
    assert [(d["person_id"], d["name"], d["wave_id"]) for d in body["drop_outs"]] == [
        (acme.manager.id, acme.manager.name, w2.id)
    ]


def test_the_portfolio_summary_ranks_health_and_value_at_risk(api, admin, acme):
    other = f.AccountFactory(name="Zeta", annual_value=60000)
    wave = closed_wave(f.ProgramFactory(), Q2, "zeta")
    for nps in (2, 3, 9):
        answered(f.PersonFactory(account=other), wave, nps, 5)

    rows = strict_json(api.as_(admin).get(f"{V1}/portfolio/summary?sort=-value_at_risk"))

    by_id = {row["account_id"]: row for row in rows}
    zeta, mine = by_id[other.id], by_id[acme.account.id]
    assert zeta["detractor_share"] == pytest.approx(2 / 3)
    assert zeta["value_at_risk"] == pytest.approx(60000 * 2 / 3)
    assert zeta["health"] == pytest.approx(expected_health(other.id))
    # Acme's latest wave, theirs: nps 10, 6, 9 -> one detractor of three.
    _, w2 = acme.waves
    assert mine["wave_id"] == w2.id
    assert mine["detractor_share"] == pytest.approx(1 / 3)
    assert mine["value_at_risk"] == pytest.approx(100000 / 3)
    assert mine["nps"] == pytest.approx(100 * (2 - 1) / 3)
    assert [row["account_id"] for row in rows] == [other.id, acme.account.id]
    assert (zeta["value_at_risk_rank"], mine["value_at_risk_rank"]) == (1, 2)
    healthiest = max(rows, key=lambda r: r["health"])
    assert healthiest["health_rank"] == 2


def expected_health(account_id) -> float:
    answers = service.load_answers(db.session, account_ids=[account_id])
    answers = answers[answers["side"].eq("external").to_numpy(bool)]
    return float(metrics.health_index(answers, ["account_id"], SETTINGS)["health"].iloc[0])


def test_the_portfolio_summary_filters_and_sorts(api, admin, acme):
    partner = f.AccountFactory(name="Partner Co", kind="partner")

    partners = strict_json(api.as_(admin).get(f"{V1}/portfolio/summary?kind=partner"))
    by_name = strict_json(api.as_(admin).get(f"{V1}/portfolio/summary?sort=-name"))

    assert [row["account_id"] for row in partners] == [partner.id]
    assert [row["name"] for row in by_name] == ["Partner Co", "Acme"]


# Confidential programs: suppression in the API and the CSV -------------------------------------


@pytest.fixture
def confidential(session):
    """A confidential program (k = 3): four of theirs answer, only two of ours."""
    account = f.AccountFactory(name="Hush")
    program = f.ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL, min_group_size=3)
    wave = closed_wave(program, Q1, "hush-1")
    later = closed_wave(program, Q2, "hush-2")
    theirs = [f.PersonFactory(account=account, seniority="staff") for _ in range(4)]
    ours = [f.StaffFactory(), f.StaffFactory()]
    for nps, person in zip((9, 8, 4, 10), theirs, strict=True):
        answered(person, wave, nps, 4)
    for person in ours:
        answered(person, wave, 3, 1, account=account)
    for person in theirs[:3]:
        answered(person, later, 7, 3)
    f.InvitationFactory(wave=later, person=theirs[3], status=InvitationStatus.EXPIRED)
    return account


def test_a_small_group_in_a_confidential_program_is_suppressed_in_json(api, admin, confidential):
    body = strict_json(api.as_(admin).get(f"{V1}/accounts/{confidential.id}/trends?by=side"))

    internal = [p for p in body["series"] if p["side"] == "internal"]
    assert internal
    for point in internal:
        assert point["status"] == "suppressed"
        assert point["n"] is None
        assert point["respondents"] is None
        assert point["mean"] is None
        assert point["nps"] is None
    first, second = [p for p in body["series"] if p["side"] == "external"]
    # Secondary suppression: beside the hidden internal side, the external side of the first
    # wave would give it away through the account's total, so it is hidden too. In the second
    # wave ours did not answer: three of theirs are published.
    assert first["status"] == "suppressed"
    assert first["n"] is None
    assert second["status"] == "ok"
    assert second["respondents"] == 3


def test_a_small_group_in_a_confidential_program_is_blank_in_csv(api, admin, confidential):
    rows = read_csv(
        api.as_(admin).get(f"{V1}/accounts/{confidential.id}/trends?by=side&format=csv")
    )

    internal = [row for row in rows if row["side"] == "internal"]
    assert internal
    for row in internal:
        assert row["status"] == "suppressed"
        assert row["n"] == ""
        assert row["respondents"] == ""
        assert row["mean"] == ""


def test_confidential_gaps_are_suppressed_in_json_and_csv(api, admin, confidential):
    base = f"{V1}/accounts/{confidential.id}/gaps"
    wave = strict_json(api.as_(admin).get(f"{base}?wave_id={_first_wave(confidential)}"))
    rows = read_csv(api.as_(admin).get(f"{base}?wave_id={_first_wave(confidential)}&format=csv"))

    assert {row["status"] for row in wave["gaps"]} == {"suppressed"}
    assert all(row["internal"] is None and row["n_internal"] is None for row in wave["gaps"])
    assert list(rows[0]) == list(GapSchema().fields)
    assert {row["status"] for row in rows} == {"suppressed"}
    assert {row["n_internal"] for row in rows} == {""}


def _first_wave(account) -> int:
    answers = service.load_answers(db.session, account_ids=[account.id])
    return int(answers.sort_values("wave_at")["wave_id"].iloc[0])


def test_confidential_drop_outs_are_counted_not_named(api, admin, confidential):
    body = strict_json(api.as_(admin).get(f"{V1}/accounts/{confidential.id}/panel"))

    assert len(body["drop_outs"]) == 1
    drop_out = body["drop_outs"][0]
    assert drop_out["people"] == 1
    assert drop_out["person_id"] is None
    assert drop_out["name"] is None


def test_confidential_value_at_risk_is_withheld_when_suppressed(api, admin, confidential):
    hidden = f.AccountFactory(name="Tiny")
    program = f.ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL, min_group_size=3)
    wave = closed_wave(program, Q2, "tiny")
    for nps in (2, 9):
        answered(f.PersonFactory(account=hidden), wave, nps, 3)

    rows = strict_json(api.as_(admin).get(f"{V1}/portfolio/summary"))

    tiny = next(row for row in rows if row["account_id"] == hidden.id)
    assert tiny["value_at_risk_status"] == "suppressed"
    assert tiny["value_at_risk"] is None
    assert tiny["detractor_share"] is None
    assert tiny["nps_n"] is None
    assert tiny["health"] is None
    assert tiny["respondents"] is None


# CSV ------------------------------------------------------------------------------------------


def test_accept_text_csv_asks_for_csv(api, admin, acme):
    caller = api.as_(admin)
    response = caller.client.get(
        f"{V1}/accounts/{acme.account.id}/trends",
        headers={**caller._headers(), "Accept": "text/csv"},
    )

    rows = read_csv(response)
    assert "attachment" in response.headers["Content-Disposition"]
    assert {row["status"] for row in rows} <= {"ok", "insufficient", "suppressed"}


@pytest.mark.parametrize(
    ("path", "first_columns"),
    [
        ("/accounts/{id}/trends?format=csv&by=dimension", ["dimension", "wave", "wave_id"]),
        ("/accounts/{id}/gaps?format=csv", ["dimension", "internal", "external"]),
        ("/accounts/{id}/gaps?format=csv&table=top_vs_line", ["side", "top", "line"]),
        ("/accounts/{id}/panel?format=csv", ["program_id", "wave_before", "wave_after"]),
        ("/accounts/{id}/panel?format=csv&table=migration", ["program_id", "wave_before"]),
        ("/accounts/{id}/panel?format=csv&table=drop_outs", ["program_id", "wave_id"]),
        ("/portfolio/summary?format=csv", ["account_id", "name", "kind"]),
    ],
)
def test_every_table_exports_as_csv_with_a_status_column(api, admin, acme, path, first_columns):
    rows = read_csv(api.as_(admin).get(V1 + path.format(id=acme.account.id)))

    assert rows
    assert list(rows[0])[: len(first_columns)] == first_columns
    assert "status" in " ".join(rows[0])


def test_csv_rows_match_the_json_rows(api, admin, acme):
    base = f"{V1}/accounts/{acme.account.id}/trends?by=seniority"

    body = strict_json(api.as_(admin).get(base))
    rows = read_csv(api.as_(admin).get(base + "&format=csv"))

    assert len(rows) == len(body["series"])
    for row, point in zip(rows, body["series"], strict=True):
        assert row["status"] == point["status"]
        assert (row["mean"] == "") == (point["mean"] is None)
        if point["mean"] is not None:
            assert float(row["mean"]) == pytest.approx(point["mean"])


def test_wave_times_are_iso_utc_in_json_and_csv(api, admin, acme):
    w1, _ = acme.waves
    base = f"{V1}/accounts/{acme.account.id}/trends"

    series = strict_json(api.as_(admin).get(base))["series"]
    rows = read_csv(api.as_(admin).get(base + "?format=csv"))

    opened = next(p for p in series if p["wave_id"] == w1.id)
    assert pd.Timestamp(opened["wave_at"]) == pd.Timestamp(w1.opens_at)
    row = next(r for r in rows if r["wave_id"] == str(w1.id))
    assert pd.Timestamp(row["wave_at"]) == pd.Timestamp(w1.opens_at)
    assert w1.opens_at.tzinfo is dt.UTC or w1.opens_at.utcoffset() == dt.timedelta(0)


def test_the_openapi_document_lists_the_analytics_with_their_csv_alternative(client):
    spec = client.get(f"{V1}/openapi.json").get_json()

    for path in ("trends", "gaps", "panel"):
        get = spec["paths"][f"/api/v1/accounts/{{account_id}}/{path}"]["get"]
        assert "text/csv" in get["responses"]["200"]["description"]
    trend = spec["paths"]["/api/v1/portfolio/trends"]["get"]
    assert "text/csv" in trend["responses"]["200"]["description"]
    summary = spec["paths"]["/api/v1/portfolio/summary"]["get"]
    sort = next(p for p in summary["parameters"] if p["name"] == "sort")
    assert "-value_at_risk" in sort["schema"]["enum"]


# The portfolio's trend ---------------------------------------------------------------------


@pytest.mark.parametrize("by", [None, "side", "dimension"])
def test_portfolio_trends_are_the_services_in_json_and_csv(api, admin, acme, by):
    query = f"?by={by}" if by else ""

    body = strict_json(api.as_(admin).get(f"{V1}/portfolio/trends{query}"))
    rows = read_csv(api.as_(admin).get(f"{V1}/portfolio/trends{query or '?'}&format=csv"))

    wanted = service.portfolio_trends(db.session, admin, by, {}, SETTINGS)
    assert body["by"] == by
    assert len(body["series"]) > 0
    same_rows(body["series"], expected(wanted, TrendPointSchema().fields))
    assert len(rows) == len(body["series"])
    assert list(rows[0])[:2] == ([by, "wave"] if by else ["wave", "wave_id"])
    assert {point["wave"] for point in body["series"]} >= {"2026Q1", "2026Q2"}


def test_a_managers_portfolio_trend_counts_only_their_accounts(api, acme):
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    other = f.AccountFactory(owner_id=manager.id)
    for nps, person in enumerate(f.PersonFactory.create_batch(3, account=other)):
        answered(person, acme.waves[0], nps, 2, account=other)

    body = strict_json(api.as_(manager).get(f"{V1}/portfolio/trends"))

    answers = service.load_answers(db.session, account_ids=[other.id])
    wanted = trends.trend(answers, None, SETTINGS).drop(columns="wave_id")
    wanted = wanted.assign(wave="2026Q1", wave_id=None)
    same_rows(body["series"], expected(wanted, TrendPointSchema().fields))
    assert body["series"][0]["respondents"] == 3


def test_an_empty_portfolio_has_an_empty_trend(api):
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)

    body = strict_json(api.as_(manager).get(f"{V1}/portfolio/trends?by=seniority"))
    response = api.as_(manager).get(f"{V1}/portfolio/trends?format=csv")

    assert body == {"by": "seniority", "series": []}
    assert response.status_code == 200
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("wave,wave_id,wave_at,n,")


def test_a_small_group_is_suppressed_in_the_portfolio_trend(api, admin, confidential):
    base = f"{V1}/portfolio/trends?by=side"

    body = strict_json(api.as_(admin).get(base))
    rows = read_csv(api.as_(admin).get(base + "&format=csv"))

    # As in the account's trend: two of ours (k = 3) hidden, theirs beside them too.
    internal = [p for p in body["series"] if p["side"] == "internal"]
    assert [p["status"] for p in internal] == ["suppressed"]
    assert internal[0]["n"] is None
    assert internal[0]["mean"] is None
    first, second = [p for p in body["series"] if p["side"] == "external"]
    assert (first["status"], first["respondents"]) == ("suppressed", None)
    assert (second["status"], second["respondents"]) == ("ok", 3)
    hidden = [row for row in rows if row["status"] == "suppressed"]
    assert len(hidden) == 2
    for row in hidden:
        assert row["n"] == row["respondents"] == row["mean"] == row["nps"] == ""
