"""The Reports page: asking for a PDF, downloading it, subscribing and unsubscribing, who may."""

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import AccountKind
from relhealth.auth.models import Role
from relhealth.extensions import db
from relhealth.reports.models import Report, ReportStatus, ReportSubscription
from tests import factories as f


@pytest.fixture
def manager():
    return f.UserFactory(role=Role.ACCOUNT_MANAGER)


@pytest.fixture
def account(manager):
    return f.AccountFactory(owner_id=manager.id, name="Acme Industries")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_page_offers_only_readable_accounts_and_says_when_there_is_nothing_yet(
    signed_in, manager, account
):
    f.AccountFactory(name="Someone Else's Account")

    page = signed_in(manager).get("/reports")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Acme Industries" in html
    assert "Someone Else" not in html
    assert "No reports yet" in html
    assert "No scheduled reports" in html
    # What the forms hold before anything is picked can be sent as it is: the portfolio report.
    assert html.count('<option selected value="portfolio">') == 2


def test_asking_for_a_report_renders_it_and_lists_it_for_download(signed_in, manager, account):
    client = signed_in(manager)

    answer = client.post("/reports", data={"ask-kind": "account", "ask-account_id": account.id})

    assert answer.status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert report.status == ReportStatus.DONE
    assert report.requested_by_id == manager.id
    page = client.get("/reports").get_data(as_text=True)
    assert "Your report is ready" in page
    assert f"/reports/{report.id}.pdf" in page
    download = client.get(f"/reports/{report.id}.pdf")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert hashlib.sha256(download.data).hexdigest() == report.sha256


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ask-kind": "account", "ask-account_id": 0}, "Give the account for the account report"),
        ({"ask-kind": "portfolio", "ask-account_id": "{account}"}, "use filters"),
        ({"ask-kind": "partner", "ask-account_id": "{account}"}, "for a partner account"),
        ({"ask-kind": "account", "ask-account_id": "{foreign}"}, "Not a valid choice"),
        ({"ask-kind": "weekly", "ask-account_id": "{account}"}, "Not a valid choice"),
        ({"ask-kind": "account", "ask-account_id": "x"}, "Invalid Choice"),
    ],
)
def test_a_report_that_cannot_be_made_is_explained_and_nothing_is_queued(
    signed_in, manager, account, data, message
):
    foreign = f.AccountFactory(name="Foreign")
    data = {
        key: str(value).format(account=account.id, foreign=foreign.id)
        for key, value in data.items()
    }

    answer = signed_in(manager).post("/reports", data=data)

    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    assert count(Report) == 0


def test_someone_elses_report_cannot_be_downloaded(signed_in, client, manager, account):
    signed_in(manager).post("/reports", data={"ask-kind": "account", "ask-account_id": account.id})
    report = db.session.scalars(select(Report)).one()
    client.post("/logout")

    other = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    assert signed_in(other).get(f"/reports/{report.id}.pdf").status_code == 404


def test_subscribing_schedules_the_next_07_00_and_can_be_stopped_and_resumed(
    signed_in, manager, account
):
    client = signed_in(manager)

    answer = client.post(
        "/reports/subscriptions",
        data={"sub-kind": "account", "sub-account_id": account.id, "sub-schedule": "monthly"},
    )

    assert answer.status_code == 303
    subscription = db.session.scalars(select(ReportSubscription)).one()
    assert subscription.user_id == manager.id
    assert subscription.account_id == account.id
    assert subscription.rrule == "FREQ=MONTHLY;BYMONTHDAY=1"
    assert (subscription.starts_at.hour, subscription.starts_at.minute) == (7, 0)
    assert subscription.next_run_at.day == 1
    assert subscription.next_run_at > dt.datetime.now(dt.UTC)
    page = client.get("/reports").get_data(as_text=True)
    assert "On the 1st of every month" in page

    assert client.post(f"/reports/subscriptions/{subscription.id}/stop").status_code == 303
    db.session.refresh(subscription)
    assert not subscription.active
    assert "stopped" in client.get("/reports").get_data(as_text=True)
    assert client.post(f"/reports/subscriptions/{subscription.id}/resume").status_code == 303
    db.session.refresh(subscription)
    assert subscription.active


def test_a_portfolio_subscription_needs_no_account_and_a_bad_schedule_is_refused(
    signed_in, manager, account
):
    client = signed_in(manager)
    bad = client.post(
        "/reports/subscriptions",
        data={"sub-kind": "portfolio", "sub-account_id": 0, "sub-schedule": "hourly"},
    )
    assert bad.status_code == 422
    assert count(ReportSubscription) == 0

    good = client.post(
        "/reports/subscriptions",
        data={"sub-kind": "portfolio", "sub-account_id": 0, "sub-schedule": "quarterly"},
    )
    assert good.status_code == 303
    assert db.session.scalars(select(ReportSubscription)).one().account_id is None


def test_a_partner_report_subscription_needs_a_partner_account(signed_in, manager, account):
    partner = f.AccountFactory(owner_id=manager.id, kind=AccountKind.PARTNER, name="Partner Co")
    client = signed_in(manager)

    refused = client.post(
        "/reports/subscriptions",
        data={"sub-kind": "partner", "sub-account_id": account.id, "sub-schedule": "weekly"},
    )
    assert refused.status_code == 422
    assert count(ReportSubscription) == 0

    taken = client.post(
        "/reports/subscriptions",
        data={"sub-kind": "partner", "sub-account_id": partner.id, "sub-schedule": "weekly"},
    )
    assert taken.status_code == 303
    assert "Partner Co (partner)" in client.get("/reports").get_data(as_text=True)


def test_someone_elses_subscription_cannot_be_stopped(signed_in, client, manager, account):
    other = f.UserFactory(role=Role.EXECUTIVE)
    signed_in(other).post(
        "/reports/subscriptions",
        data={"sub-kind": "portfolio", "sub-account_id": 0, "sub-schedule": "weekly"},
    )
    subscription = db.session.scalars(select(ReportSubscription)).one()
    client.post("/logout")

    assert (
        signed_in(manager).post(f"/reports/subscriptions/{subscription.id}/stop").status_code == 404
    )
    db.session.refresh(subscription)
    assert subscription.active


def test_the_page_needs_a_signed_in_user(client):
    answer = client.get("/reports")
    assert answer.status_code == 302
    assert "/login" in answer.headers["Location"]
