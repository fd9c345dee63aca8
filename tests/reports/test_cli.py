"""``relhealth report ...``: writes the PDF, and says clearly what is wrong when it cannot."""

from relhealth.accounts.models import AccountKind
from tests import factories as f


def test_report_account_writes_a_pdf_found_by_name_or_id(app, session, tmp_path):
    account = f.AccountFactory(name="Quiet Quarry")
    runner = app.test_cli_runner()
    by_name = runner.invoke(args=["report", "account", "quiet quarry", "-o", tmp_path / "a.pdf"])
    assert by_name.exit_code == 0, by_name.output
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF-")
    by_id = runner.invoke(args=["report", "account", str(account.id), "-o", tmp_path / "b.pdf"])
    assert by_id.exit_code == 0, by_id.output


def test_report_of_an_unknown_account_fails_clearly(app, session, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["report", "account", "Nobody Inc", "-o", tmp_path / "x.pdf"]
    )
    assert result.exit_code != 0
    assert "No account with the id or name 'Nobody Inc'" in result.output
    assert not (tmp_path / "x.pdf").exists()


def test_a_partner_report_of_a_customer_is_an_error(app, session, tmp_path):
    f.AccountFactory(name="Plain Customer", kind=AccountKind.CUSTOMER)
    result = app.test_cli_runner().invoke(
        args=["report", "partner", "Plain Customer", "-o", tmp_path / "x.pdf"]
    )
    assert result.exit_code != 0
    assert "is a customer" in result.output
    assert not (tmp_path / "x.pdf").exists()


def test_report_portfolio_filters_by_kind_and_owner(app, session, tmp_path):
    owner = f.UserFactory(email="owner@example.com")
    f.AccountFactory(name="Owned Partner", kind=AccountKind.PARTNER, owner=owner)
    runner = app.test_cli_runner()
    done = runner.invoke(
        args=[
            "report",
            "portfolio",
            "--kind",
            "partner",
            "--owner",
            "owner@example.com",
            "-o",
            tmp_path / "p.pdf",
        ]
    )
    assert done.exit_code == 0, done.output
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF-")
    unknown = runner.invoke(
        args=["report", "portfolio", "--owner", "ghost@example.com", "-o", tmp_path / "q.pdf"]
    )
    assert unknown.exit_code != 0
    assert "No user 'ghost@example.com'" in unknown.output
