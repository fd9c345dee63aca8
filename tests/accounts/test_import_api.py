"""``POST /api/v1/imports/<kind>``: an admin uploads a CSV file."""

import io

import pytest
from sqlalchemy import select

from relhealth.accounts.models import Account
from relhealth.auth.models import Role
from tests import factories as f

ACCOUNTS = b"crm_id,name,kind\nACC-1,Acme,customer\nACC-2,Globex,partner\n"


@pytest.fixture
def admin():
    return f.UserFactory(role=Role.ADMIN)


def upload(caller, kind: str, data: bytes | None, query: str = ""):
    form = {} if data is None else {"file": (io.BytesIO(data), f"{kind}.csv")}
    return caller.post(
        f"/api/v1/imports/{kind}{query}", data=form, content_type="multipart/form-data"
    )


def test_an_admin_imports_a_file_and_gets_the_counts(api, admin, session):
    answer = upload(api.as_(admin), "accounts", ACCOUNTS)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {
        "kind": "accounts",
        "dry_run": False,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "warnings": [],
    }
    assert session.scalars(select(Account.name).order_by(Account.name)).all() == [
        "Acme",
        "Globex",
    ]
    again = upload(api.as_(admin), "accounts", ACCOUNTS).get_json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_a_dry_run_counts_and_writes_nothing(api, admin, session):
    answer = upload(api.as_(admin), "accounts", ACCOUNTS, "?dry_run=true")
    assert answer.status_code == 200
    assert (answer.get_json()["created"], answer.get_json()["dry_run"]) == (2, True)
    assert session.scalars(select(Account)).all() == []


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN])
def test_only_admins_may_import(api, session, role):
    answer = upload(api.as_(f.UserFactory(role=role)), "accounts", ACCOUNTS)
    assert answer.status_code == 403
    assert session.scalars(select(Account)).all() == []


def test_a_bad_file_is_answered_422_with_a_message_per_bad_line(api, admin, session):
    data = b"crm_id,name,kind\nACC-1,Acme,customer\nACC-2,Globex,vendor\nACC-3,,customer\n"
    answer = upload(api.as_(admin), "accounts", data)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["errors"] == {
        "files": {
            "file": [
                "Line 3: kind: 'vendor' is not one of: customer, partner.",
                "Line 4: name: a value is required.",
            ]
        }
    }
    assert body["message"] == "Nothing was imported: the file has 2 problems."
    assert session.scalars(select(Account)).all() == []


def test_a_file_that_is_not_utf8_is_answered_422(api, admin):
    answer = upload(
        api.as_(admin), "accounts", "crm_id,name,kind\n1,Café,customer\n".encode("cp1252")
    )
    assert answer.status_code == 422
    assert "not UTF-8" in answer.get_json()["errors"]["files"]["file"][0]


def test_a_missing_file_is_answered_422(api, admin):
    answer = upload(api.as_(admin), "people", None)
    assert answer.status_code == 422
    assert "file" in answer.get_json()["errors"]["files"]


def test_an_unknown_kind_is_not_found_and_no_token_is_unauthorised(api, admin, client):
    assert upload(api.as_(admin), "responses", ACCOUNTS).status_code == 404
    assert upload(api, "accounts", ACCOUNTS).status_code == 401


def test_the_upload_is_documented_as_multipart(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/imports/{kind}"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"dry_run"}


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = api.as_(f.UserFactory(role=Role.ADMIN)).post(
        "/api/v1/imports/people",
        data={"file": (io.BytesIO(b"x" * 4096), "people.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.get_json()["code"] == 413
