"""The reports API: asking for a report, its lifecycle inline, downloading it, who may."""

import hashlib
from pathlib import Path

import pytest
from flask import current_app

from relhealth.accounts.models import AccountKind, Tier
from relhealth.auth.models import Role
from relhealth.reports import tasks
from relhealth.reports.models import Report, ReportKind, ReportStatus
from tests import factories as f


def archive() -> Path:
    return Path(current_app.instance_path) / "reports"


@pytest.fixture
def manager():
    return f.UserFactory(role=Role.ACCOUNT_MANAGER)


@pytest.fixture
def account(manager):
    return f.AccountFactory(owner_id=manager.id, name="Acme Industries")


def test_an_account_report_is_rendered_inline_archived_by_hash_and_downloaded(
    api, manager, account
):
    response = api.as_(manager).post(
        "/api/v1/reports", json={"kind": "account", "account_id": account.id}
    )

    assert response.status_code == 202, response.json
    job = response.json
    assert job["status"] == "done"
    assert job["kind"] == "account"
    assert job["account_id"] == account.id
    assert job["parameters"] == {"kind": "account", "account_id": account.id, "filters": {}}
    assert job["requested_by_id"] == manager.id
    assert job["finished_at"]
    assert job["started_at"]

    download = api.as_(manager).get(f"/api/v1/reports/{job['id']}/pdf")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "account-report-acme-industries-" in disposition
    pdf = download.data
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == job["sha256"]
    assert len(pdf) == job["size"]
    assert (archive() / f"{job['sha256']}.pdf").read_bytes() == pdf

    polled = api.as_(manager).get(f"/api/v1/reports/{job['id']}")
    assert polled.status_code == 200
    assert polled.json["sha256"] == job["sha256"]


def test_reports_of_a_foreign_account_are_not_found(api, manager, account):
    stranger = f.UserFactory(role=Role.ACCOUNT_MANAGER)

    asked = api.as_(stranger).post(
        "/api/v1/reports", json={"kind": "account", "account_id": account.id}
    )
    assert asked.status_code == 404

    job = (
        api.as_(manager)
        .post("/api/v1/reports", json={"kind": "account", "account_id": account.id})
        .json
    )
    assert api.as_(stranger).get(f"/api/v1/reports/{job['id']}").status_code == 404
    assert api.as_(stranger).get(f"/api/v1/reports/{job['id']}/pdf").status_code == 404
    assert api.as_(stranger).get("/api/v1/reports").json == []
    assert [r["id"] for r in api.as_(manager).get("/api/v1/reports").json] == [job["id"]]
    admin = f.UserFactory(role=Role.ADMIN)
    assert job["id"] in [r["id"] for r in api.as_(admin).get("/api/v1/reports").json]


def test_a_viewer_may_ask_for_reports_of_the_accounts_assigned_to_them_only(api, account):
    assignment = f.AssignmentFactory(account_id=account.id)
    viewer = assignment.user
    other = f.AccountFactory()

    mine = api.as_(viewer).post(
        "/api/v1/reports", json={"kind": "account", "account_id": account.id}
    )
    theirs = api.as_(viewer).post(
        "/api/v1/reports", json={"kind": "account", "account_id": other.id}
    )

    assert mine.status_code == 202
    assert mine.json["status"] == "done"
    assert theirs.status_code == 404


def test_a_portfolio_report_takes_filters_and_covers_the_readable_accounts(api, manager, account):
    f.AccountFactory(name="Someone else's", tier=Tier.KEY)

    response = api.as_(manager).post(
        "/api/v1/reports", json={"kind": "portfolio", "filters": {"tier": "key"}}
    )

    assert response.status_code == 202, response.json
    assert response.json["status"] == "done"
    assert response.json["parameters"]["filters"] == {"tier": "key"}
    pdf = api.as_(manager).get(f"/api/v1/reports/{response.json['id']}/pdf").data
    assert pdf.startswith(b"%PDF")


def test_a_partner_report_is_for_a_partner_account(api):
    manager = f.UserFactory(role=Role.PARTNER_MANAGER)
    partner = f.AccountFactory(owner_id=manager.id, kind=AccountKind.PARTNER)

    response = api.as_(manager).post(
        "/api/v1/reports", json={"kind": "partner", "account_id": partner.id}
    )

    assert response.status_code == 202, response.json
    assert response.json["status"] == "done"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "quarterly", "account_id": 1}, "kind"),
        ({"account_id": 1}, "kind"),
        ({"kind": "account"}, "account_id"),
        ({"kind": "partner"}, "account_id"),
        ({"kind": "account", "account_id": "1"}, "account_id"),
        ({"kind": "account", "account_id": 0}, "account_id"),
        ({"kind": "portfolio", "account_id": "ACCOUNT"}, "account_id"),
        ({"kind": "portfolio", "filters": {"tier": "gold"}}, "filters"),
        ({"kind": "portfolio", "filters": {"colour": "red"}}, "filters"),
        ({"kind": "portfolio", "format": "docx"}, "format"),
    ],
)
def test_bad_requests_are_refused_with_the_field_named(api, manager, body, field):
    response = api.as_(manager).post("/api/v1/reports", json=body)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_scope_rules_are_refused_with_the_field_named(api, manager, account):
    customer_as_partner = api.as_(manager).post(
        "/api/v1/reports", json={"kind": "partner", "account_id": account.id}
    )
    filtered_account = api.as_(manager).post(
        "/api/v1/reports",
        json={"kind": "account", "account_id": account.id, "filters": {"tier": "key"}},
    )
    portfolio_of_one = api.as_(manager).post(
        "/api/v1/reports", json={"kind": "portfolio", "account_id": account.id}
    )

    assert customer_as_partner.status_code == 422
    assert "kind" in customer_as_partner.json["errors"]["json"]
    assert filtered_account.status_code == 422
    assert "filters" in filtered_account.json["errors"]["json"]
    assert portfolio_of_one.status_code == 422
    assert "account_id" in portfolio_of_one.json["errors"]["json"]


def test_the_api_needs_a_token(client):
    assert client.get("/api/v1/reports").status_code == 401
    assert client.post("/api/v1/reports", json={"kind": "portfolio"}).status_code == 401


def test_a_report_not_rendered_yet_cannot_be_downloaded(api, manager, account, session):
    queued = Report(
        kind=ReportKind.ACCOUNT,
        account_id=account.id,
        parameters={},
        status=ReportStatus.QUEUED,
        requested_by=manager,
    )
    session.add(queued)
    session.flush()

    response = api.as_(manager).get(f"/api/v1/reports/{queued.id}/pdf")

    assert response.status_code == 409
    assert api.as_(manager).get(f"/api/v1/reports/{queued.id}").json["status"] == "queued"


def test_a_report_that_fails_to_render_is_failed_with_its_error(api, manager, account, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the printer is on fire")

    monkeypatch.setattr("relhealth.reports.service.render_account_report", broken)

    job = (
        api.as_(manager)
        .post("/api/v1/reports", json={"kind": "account", "account_id": account.id})
        .json
    )

    assert job["status"] == "failed"
    assert "the printer is on fire" in job["error"]
    assert job["sha256"] is None
    assert api.as_(manager).get(f"/api/v1/reports/{job['id']}/pdf").status_code == 409


def test_with_a_broker_the_job_is_queued_for_a_worker_not_rendered(
    api, manager, account, app, monkeypatch
):
    sent = []

    class FakeCelery:
        def send_task(self, name, args):
            sent.append((name, args))

    monkeypatch.setitem(app.config, "BROKER_URL", "redis://127.0.0.1:6379/14")
    monkeypatch.setattr(tasks, "celery_for", lambda _app: FakeCelery())

    job = (
        api.as_(manager)
        .post("/api/v1/reports", json={"kind": "account", "account_id": account.id})
        .json
    )

    assert job["status"] == "queued"
    assert sent == [(tasks.RENDER_TASK, [job["id"]])]
    # What the worker runs: the task renders the queued job.
    assert tasks.render_report_task.run(job["id"]) == "done"
    assert api.as_(manager).get(f"/api/v1/reports/{job['id']}").json["status"] == "done"
