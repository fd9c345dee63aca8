"""The CSV importer: formats, CRM headers, title inference, upserts, all-or-nothing, rules."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from relhealth.accounts import importer
from relhealth.accounts.importer import ImportRejected, import_csv
from relhealth.accounts.models import (
    Account,
    Person,
    Relationship,
    RelationshipKind,
    Side,
)
from relhealth.auth.models import Role
from relhealth.demo import generate_portfolio
from tests import factories as f

PEOPLE_HEADER = "crm_id,account_crm_id,side,first_name,last_name,email,title,seniority,roles"


def csv_text(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def run(session, kind: str, *lines: str, **options):
    return import_csv(session, kind, csv_text(*lines), **options)


def rejected(session, kind: str, *lines: str) -> list[str]:
    """The problems of a file that must be refused, after checking that it wrote nothing."""
    before = f.db_snapshot(session)
    with pytest.raises(ImportRejected) as caught:
        run(session, kind, *lines)
    assert f.db_snapshot(session) == before
    return caught.value.problems


def counts(result) -> tuple[int, int, int]:
    return result.created, result.updated, result.unchanged


def person(session, email: str) -> Person:
    return session.scalars(select(Person).where(Person.email == email)).one()


@pytest.fixture
def acme(session):
    return f.AccountFactory(name="Acme", crm_id="ACC-1")


# Accounts -------------------------------------------------------------------------------------


def test_accounts_are_created_with_defaults_and_their_owner(session):
    owner = f.UserFactory(email="kim@relhealth.test", role=Role.ACCOUNT_MANAGER)
    result = run(
        session,
        "accounts",
        "crm_id,name,kind,tier,annual_value,lifetime_value,renewal_date,owner_email",
        "ACC-1,Acme,customer,strategic,1250000.50,,2027-01-31,Kim@relhealth.test",
        "ACC-2,Globex,partner,,,,,",
    )
    assert counts(result) == (2, 0, 0)
    acme, globex = session.scalars(select(Account).order_by(Account.crm_id)).all()
    assert (acme.name, acme.kind, acme.tier, acme.annual_value) == (
        "Acme",
        "customer",
        "strategic",
        Decimal("1250000.50"),
    )
    assert acme.renewal_date == dt.date(2027, 1, 31)
    assert acme.owner_id == owner.id
    assert acme.lifetime_value is None
    assert (globex.relationship_type, globex.tier, globex.annual_value) == (
        "regular",
        "standard",
        Decimal("0.00"),
    )
    assert globex.owner_id is None


def test_salesforce_style_account_headers_are_understood_and_unknown_ones_listed(session):
    f.UserFactory(email="owner@relhealth.test")
    result = run(
        session,
        "accounts",
        "Account ID,Account Name,Type,Annual Revenue,Account Owner Email,Renewal Date,Phone",
        "001A,Initech,Customer - Direct,50000,owner@relhealth.test,2026-12-01,555-0100",
        "001B,Hooli,Channel Partner / Reseller,0,,,",
    )
    assert counts(result) == (2, 0, 0)
    initech = session.scalars(select(Account).where(Account.crm_id == "001A")).one()
    assert (initech.name, initech.kind, initech.annual_value) == (
        "Initech",
        "customer",
        Decimal("50000.00"),
    )
    hooli = session.scalars(select(Account).where(Account.crm_id == "001B")).one()
    assert hooli.kind == "partner"
    assert result.warnings == ["Ignored columns the accounts import does not use: Phone."]


def test_bad_account_lines_are_all_reported_by_number_and_reason(session):
    f.AccountFactory(name="Taken Inc", crm_id="ACC-9")
    problems = rejected(
        session,
        "accounts",
        "crm_id,name,kind,annual_value,renewal_date,owner_email",
        "ACC-1,Fine Co,customer,100,2026-05-01,",
        "ACC-2,Neg Co,customer,-5,,",
        "ACC-3,Cents Co,customer,1.999,,",
        "ACC-4,Huge Co,customer,1000000000000,,",
        "ACC-5,Odd Co,prospect,,31/12/2026,",
        "ACC-6,Taken Inc,customer,,,",
        "ACC-7,Owner Co,customer,,,nobody@relhealth.test",
        "ACC-1,Again Co,customer,,,",
        f"ACC-8,{'x' * 201},customer,,,",
        "ACC-10,,customer,,,",
    )
    assert [int(re.match(r"Line (\d+):", p)[1]) for p in problems] == list(range(3, 12))
    assert "annual_value: '-5' is negative." in problems[0]
    assert "more than two decimals" in problems[1]
    assert "too large" in problems[2]
    assert "kind: 'prospect' is not one of: customer, partner." in problems[3]
    assert "renewal_date: '31/12/2026' is not a date" in problems[3]
    assert "'Taken Inc' already belongs to another account (crm_id 'ACC-9')" in problems[4]
    assert "no user has the e-mail 'nobody@relhealth.test'" in problems[5]
    assert problems[6] == "Line 9: crm_id 'ACC-1' is already on line 2."
    assert "name: is longer than 200 characters." in problems[7]
    assert problems[8] == "Line 11: name: a value is required."


def test_an_account_found_by_name_without_a_crm_id_is_given_the_files_crm_id(session):
    account = f.AccountFactory(name="Acme", crm_id=None, tier="key")
    result = run(session, "accounts", "crm_id,name,kind,tier", "ACC-1,Acme,customer,")
    assert counts(result) == (0, 1, 0)
    session.refresh(account)
    assert account.crm_id == "ACC-1"
    assert account.tier == "key"  # an empty cell keeps a field that has a default


def test_an_account_can_be_renamed_through_its_crm_id(session, acme):
    result = run(session, "accounts", "crm_id,name,kind", "ACC-1,Acme Corporation,customer")
    assert counts(result) == (0, 1, 0)
    session.refresh(acme)
    assert acme.name == "Acme Corporation"


# People ---------------------------------------------------------------------------------------


def test_people_of_both_sides_are_created_with_their_account_and_roles(session, acme):
    result = run(
        session,
        "people",
        PEOPLE_HEADER,
        "C-1,ACC-1,,Ada,Lovelace,Ada@Acme.example,CTO,,decision_maker;champion",
        "E-1,,,Grace,Hopper,grace@relhealth.test,Key Account Manager,manager,",
        "C-2,ACC-1,external,Alan,Turing,alan@acme.example,Engineer,staff,user",
    )
    assert counts(result) == (3, 0, 0)
    ada, grace = person(session, "ada@acme.example"), person(session, "grace@relhealth.test")
    assert (ada.side, ada.account_id, ada.crm_id) == (Side.EXTERNAL, acme.id, "C-1")
    assert ada.roles == ["champion", "decision_maker"]
    assert ada.seniority == "executive"  # empty cell: inferred from "CTO"
    assert (grace.side, grace.account_id, grace.seniority) == (Side.INTERNAL, None, "manager")
    assert grace.roles == []


def test_hubspot_style_contact_export_infers_seniority_from_the_job_title(session, acme):
    result = run(
        session,
        "people",
        "Record ID,First Name,Last Name,Email,Job Title,Company Name,Lead Status",
        "101,Ines,Costa,ines@acme.example,Chief Financial Officer,Acme,New",
        "102,Omar,Haddad,omar@acme.example,VP Engineering,Acme,New",
        "103,Yara,Silva,yara@acme.example,Head of IT,Acme,New",
        "104,Theo,Novak,theo@acme.example,Director of Procurement,Acme,New",
        "105,Mei,Tanaka,mei@acme.example,Platform Team Lead,Acme,New",
        "106,Kai,Weber,kai@acme.example,Executive Assistant to the CEO,Acme,New",
        "107,Uma,Kaur,uma@acme.example,Data Engineer,Acme,New",
        "108,Noah,Kim,noah@acme.example,,Acme,New",
    )
    assert counts(result) == (8, 0, 0)
    levels = dict(
        session.execute(
            select(Person.crm_id, Person.seniority).where(Person.account_id == acme.id)
        ).all()
    )
    assert levels == {
        "101": "executive",
        "102": "executive",
        "103": "executive",
        "104": "senior",
        "105": "manager",
        "106": "staff",
        "107": "staff",
        "108": "staff",
    }
    assert person(session, "ines@acme.example").side == Side.EXTERNAL
    assert "Ignored columns the people import does not use: Lead Status." in result.warnings
    assert any("No seniority column" in warning for warning in result.warnings)


def test_an_existing_person_keeps_their_level_unless_their_title_changes(session, acme):
    f.PersonFactory(
        account=acme, email="ada@acme.example", crm_id="C-1", title="Lead", seniority="senior"
    )
    header = "crm_id,account_crm_id,first_name,last_name,email,title"
    same = run(session, "people", header, "C-1,ACC-1,Ada,Lovelace,ada@acme.example,Lead")
    assert person(session, "ada@acme.example").seniority == "senior"
    assert same.updated == 1  # the names differ from the factory's, the level does not
    run(session, "people", header, "C-1,ACC-1,Ada,Lovelace,ada@acme.example,VP Sales")
    assert person(session, "ada@acme.example").seniority == "executive"


def test_seniority_must_be_on_the_configured_ladder(app, session, acme, monkeypatch):
    monkeypatch.setitem(app.config, "SENIORITY_LADDER", ("c-suite", "director", "staff"))
    problems = rejected(
        session,
        "people",
        "account_crm_id,first_name,last_name,email,title,seniority",
        "ACC-1,Ada,Lovelace,ada@acme.example,CEO,C-Suite",
        "ACC-1,Alan,Turing,alan@acme.example,Engineer,",
        "ACC-1,Grace,Hopper,grace@acme.example,CTO,executive",
        "ACC-1,Edsger,Dijkstra,edsger@acme.example,VP Research,",
    )
    assert problems == [
        "Line 4: seniority: 'executive' is not one of: c-suite, director, staff.",
        "Line 5: seniority: the title 'VP Research' fits no level of the ladder"
        " (c-suite, director, staff); give a seniority.",
    ]


def test_a_person_found_by_email_is_updated_and_given_the_crm_id(session, acme):
    ada = f.PersonFactory(account=acme, email="ada@acme.example", crm_id=None, title="CTO")
    result = run(
        session,
        "people",
        "crm_id,account_crm_id,first_name,last_name,email,title,seniority",
        f"C-1,ACC-1,{ada.first_name},{ada.last_name},ADA@acme.example,CTO,{ada.seniority}",
    )
    assert counts(result) == (0, 1, 0)
    session.refresh(ada)
    assert ada.crm_id == "C-1"
    assert result.changes == []  # listed on dry runs only


def test_bad_people_lines_are_all_reported_and_nothing_is_written(session, acme):
    f.PersonFactory(email="taken@acme.example", crm_id="C-9")
    problems = rejected(
        session,
        "people",
        PEOPLE_HEADER + ",active_from,left_on",
        "C-1,ACC-1,,Ada,Lovelace,ada@acme.example,CTO,,,,",
        "C-2,ACC-1,,Alan,Turing,not-an-email,Engineer,,,,",
        "C-3,ACC-1,,Grace,Hopper,grace@acme.example,CIO,,,,",
        "C-4,ACC-404,,Edsger,Dijkstra,edsger@acme.example,CIO,,,,",
        "C-5,ACC-1,,Barbara,Liskov,ADA@acme.example,CIO,,,,",
        "C-6,ACC-1,,Ken,Thompson,ken@acme.example,CIO,,,2026-13-01,",
        "C-7,ACC-1,,Dennis,Ritchie,dennis@acme.example,CIO,,boss,,",
        "C-8,,external,Linus,Torvalds,linus@acme.example,CIO,,,,",
        "C-10,ACC-1,internal,Guido,Rossum,guido@acme.example,CIO,,,,",
        "C-11,ACC-1,,John,Backus,taken@acme.example,CIO,,,,",
        "C-12,ACC-1,,Frances,Allen,frances@acme.example,CIO,,,2026-05-01,2026-04-01",
        ",ACC-1,,Niklaus,Wirth,,CIO,,,,",
    )
    assert [int(re.match(r"Line (\d+):", p)[1]) for p in problems] == [
        3,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
    ]
    by_line = {int(re.match(r"Line (\d+):", p)[1]): p for p in problems}
    assert "email: 'not-an-email' is not an e-mail address." in by_line[3]
    assert "account_crm_id: no account has the crm_id 'ACC-404'." in by_line[5]
    assert "email 'ada@acme.example' is already on line 2." in by_line[6]
    assert "active_from: '2026-13-01' is not a date" in by_line[7]
    assert "roles: 'boss' is not one of: decision_maker" in by_line[8]
    assert "external people belong to an account" in by_line[9]
    assert "our own (internal) people belong to no account" in by_line[10]
    assert "'taken@acme.example' already belongs to another person (crm_id 'C-9')" in by_line[11]
    assert "cannot leave before they joined" in by_line[12]
    assert "give a crm_id or an email to identify the person." in by_line[13]


def test_a_person_cannot_move_to_another_account_by_import(session, acme):
    other = f.AccountFactory(crm_id="ACC-2")
    f.PersonFactory(account=other, email="ada@acme.example", crm_id="C-1")
    problems = rejected(
        session,
        "people",
        "crm_id,account_crm_id,first_name,last_name,email",
        "C-1,ACC-1,Ada,Lovelace,ada@acme.example",
    )
    assert len(problems) == 1
    assert problems[0].startswith("Line 2: someone cannot move to another organisation")


def test_people_may_name_their_account_by_name_and_both_references_must_agree(session, acme):
    f.AccountFactory(name="Globex", crm_id="ACC-2")
    header = "account_crm_id,Account Name,first_name,last_name,email"
    result = run(session, "people", header, ",Acme,Ada,Lovelace,ada@acme.example")
    assert person(session, "ada@acme.example").account_id == acme.id
    assert result.created == 1
    problems = rejected(session, "people", header, "ACC-1,Globex,Alan,Turing,alan@acme.example")
    assert "name two different accounts" in problems[0]


def test_leaving_ends_the_persons_open_relationships_and_team_places(session, acme):
    ada = f.PersonFactory(account=acme, email="ada@acme.example", crm_id="C-1")
    ours = f.StaffFactory()
    edge = f.RelationshipFactory(source=ours, target=ada)
    place = f.TeamMemberFactory(account=acme, person=ours)
    run(
        session,
        "people",
        "crm_id,first_name,last_name,email,left_on",
        f"C-1,{ada.first_name},{ada.last_name},ada@acme.example,2026-06-30",
        f",{ours.first_name},{ours.last_name},{ours.email},2026-07-31",
    )
    session.refresh(edge)
    session.refresh(place)
    assert edge.ended_on == dt.date(2026, 6, 30)
    assert place.ended_on == dt.date(2026, 7, 31)


# Relationships --------------------------------------------------------------------------------


@pytest.fixture
def org(session, acme):
    """Two of theirs at Acme, one at another account, two of ours."""
    return {
        "ada": f.PersonFactory(account=acme, email="ada@acme.example", crm_id="C-1"),
        "alan": f.PersonFactory(account=acme, email="alan@acme.example", crm_id="C-2"),
        "gus": f.PersonFactory(email="gus@globex.example", crm_id="G-1"),
        "kim": f.StaffFactory(email="kim@relhealth.test", crm_id="E-1"),
        "lee": f.StaffFactory(email="lee@relhealth.test", crm_id="E-2"),
    }


def test_relationships_are_created_between_people_named_by_email_or_crm_id(session, org):
    result = run(
        session,
        "relationships",
        "source,target,kind,strength,last_contact_on",
        "kim@relhealth.test,C-1,covers,5,2026-03-01",
        "C-2,ADA@acme.example,reports_to,,",
        "E-2,E-1,Works With,,",
    )
    assert counts(result) == (3, 0, 0)
    edges = {(e.source_id, e.target_id, e.kind): e for e in session.scalars(select(Relationship))}
    covers = edges[(org["kim"].id, org["ada"].id, RelationshipKind.COVERS)]
    assert (covers.strength, covers.last_contact_on) == (5, dt.date(2026, 3, 1))
    assert edges[(org["alan"].id, org["ada"].id, RelationshipKind.REPORTS_TO)].strength == 3
    assert (org["lee"].id, org["kim"].id, RelationshipKind.WORKS_WITH) in edges


def test_every_relationship_rule_applies_to_every_line(session, org):
    f.RelationshipFactory(source=org["alan"], target=org["ada"], kind=RelationshipKind.REPORTS_TO)
    left = f.PersonFactory(account=org["ada"].account, email="gone@acme.example")
    left.left_on = dt.date(2026, 1, 1)
    session.flush()
    problems = rejected(
        session,
        "relationships",
        "source,target,kind",
        "kim@relhealth.test,ada@acme.example,covers",
        "ada@acme.example,ada@acme.example,works_with",
        "ada@acme.example,gus@globex.example,works_with",
        "ada@acme.example,kim@relhealth.test,covers",
        "kim@relhealth.test,ada@acme.example,reports_to",
        "ada@acme.example,alan@acme.example,reports_to",
        "nobody@acme.example,ada@acme.example,works_with",
        "kim@relhealth.test,ada@acme.example,covers",
        "kim@relhealth.test,gone@acme.example,covers",
        "kim@relhealth.test,lee@relhealth.test,likes",
    )
    assert problems == [
        "Line 3: target: A person cannot have a relationship with themselves.",
        "Line 4: target: People of two different accounts cannot be linked.",
        "Line 5: kind: 'covers' goes from one of our people to one of theirs.",
        "Line 6: kind: 'reports_to' links two people of the same organisation.",
        "Line 7: target: this reporting line would close a cycle:"
        " ada@acme.example -> alan@acme.example -> ada@acme.example.",
        "Line 8: source: no person has the e-mail or crm_id 'nobody@acme.example'.",
        "Line 9: the same relationship (source, target, kind) is on line 2.",
        "Line 10: target: gone@acme.example left on 2026-01-01; their links are history.",
        "Line 11: kind: 'likes' is not one of: reports_to, works_with, covers, sponsors.",
    ]


def test_a_reporting_cycle_within_the_file_is_refused_on_the_line_that_closes_it(session, org):
    problems = rejected(
        session,
        "relationships",
        "source,target,kind",
        "E-1,E-2,reports_to",
        "C-1,C-2,reports_to",
        "E-2,E-1,reports_to",
    )
    assert problems == [
        "Line 4: target: this reporting line would close a cycle:"
        " lee@relhealth.test -> kim@relhealth.test -> lee@relhealth.test."
    ]


def test_an_ended_relationship_stays_ended(session, org):
    edge = f.RelationshipFactory(source=org["kim"], target=org["ada"])
    edge.ended_on = dt.date(2026, 1, 1)
    session.flush()
    result = run(session, "relationships", "source,target,kind,strength", "E-1,C-1,covers,5")
    assert counts(result) == (0, 0, 1)
    assert "stay ended" in result.warnings[0]
    session.refresh(edge)
    assert (edge.ended_on, edge.strength) == (dt.date(2026, 1, 1), 3)


# Upserts --------------------------------------------------------------------------------------

ACCOUNTS_FILE = (
    "crm_id,name,kind,relationship_type,tier,annual_value,lifetime_value,renewal_date,started_on",
    "ACC-1,Acme,customer,relationship,strategic,2500000.00,,2027-01-31,2021-03-01",
    "ACC-2,Globex,partner,,,,,,",
)
PEOPLE_FILE = (
    "crm_id,account_crm_id,first_name,last_name,email,title,department,roles,active_from",
    "C-1,ACC-1,Ada,Lovelace,ada@acme.example,CTO,IT,decision_maker;champion,2020-01-01",
    "C-2,ACC-1,Alan,Turing,alan@acme.example,Engineer,,,",
    "E-1,,Kim,Lee,kim@relhealth.test,Key Account Manager,Sales,,",
)
RELATIONSHIPS_FILE = (
    "source,target,kind,strength,last_contact_on",
    "E-1,C-1,covers,4,2026-02-01",
    "C-2,C-1,reports_to,,",
)


def test_importing_the_same_files_again_changes_nothing(session):
    files = (
        ("accounts", ACCOUNTS_FILE),
        ("people", PEOPLE_FILE),
        ("relationships", RELATIONSHIPS_FILE),
    )
    for kind, lines in files:
        assert run(session, kind, *lines).created == len(lines) - 1
    before = f.db_snapshot(session)
    stamps = [
        (model, dict(session.execute(select(model.id, model.updated_at)).all()))
        for model in (Account, Person, Relationship)
    ]
    for kind, lines in files:
        assert counts(run(session, kind, *lines)) == (0, 0, len(lines) - 1)
    assert f.db_snapshot(session) == before
    for model, updated_at in stamps:
        assert dict(session.execute(select(model.id, model.updated_at)).all()) == updated_at


def test_only_changed_rows_are_updated(session):
    run(session, "accounts", *ACCOUNTS_FILE)
    run(session, "people", *PEOPLE_FILE)
    alan = person(session, "alan@acme.example")
    ada = person(session, "ada@acme.example")
    ada_stamp, alan_stamp = ada.updated_at, alan.updated_at
    changed = list(PEOPLE_FILE)
    changed[1] = changed[1].replace("decision_maker;champion", "champion")
    changed[2] = changed[2].replace("Engineer", "Engineering Manager")
    result = run(session, "people", *changed, dry_run=True)
    assert counts(result) == (0, 2, 1)
    assert [str(change) for change in result.changes] == [
        "Line 2: update person 'C-1' (roles)",
        "Line 3: update person 'C-2' (title, seniority)",
    ]
    assert run(session, "people", *changed).updated == 2
    session.refresh(ada)
    session.refresh(alan)
    assert ada.roles == ["champion"]
    assert (alan.title, alan.seniority) == ("Engineering Manager", "manager")
    assert alan.updated_at > alan_stamp
    assert ada.updated_at > ada_stamp
    kim = person(session, "kim@relhealth.test")
    assert kim.updated_at == kim.created_at


def test_an_empty_optional_cell_clears_the_field(session):
    run(session, "accounts", *ACCOUNTS_FILE)
    run(session, "people", *PEOPLE_FILE)
    cleared = list(PEOPLE_FILE)
    cleared[1] = "C-1,ACC-1,Ada,Lovelace,ada@acme.example,CTO,,,"
    assert run(session, "people", *cleared).updated == 1
    ada = person(session, "ada@acme.example")
    assert (ada.department, ada.roles, ada.active_from) == (None, [], None)


def test_a_dry_run_writes_nothing_but_counts_and_lists_the_changes(session):
    before = f.db_snapshot(session)
    result = run(session, "accounts", *ACCOUNTS_FILE, dry_run=True)
    assert counts(result) == (2, 0, 0)
    assert result.dry_run
    assert [str(change) for change in result.changes] == [
        "Line 2: create account 'ACC-1'",
        "Line 3: create account 'ACC-2'",
    ]
    assert f.db_snapshot(session) == before


def test_the_demo_portfolio_imports_and_then_reimports_without_change(session):
    portfolio = generate_portfolio(seed=3, accounts=3, today=dt.date(2026, 6, 1))
    for user in portfolio.users:
        f.UserFactory(email=user["email"], role=user["role"])
    files = {}
    for kind in importer.KINDS:
        rows = getattr(portfolio, kind)
        out = io.StringIO()
        writer = csv.DictWriter(out, list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)
        files[kind] = (out.getvalue(), len(rows))
    for kind, (text, rows) in files.items():
        assert counts(import_csv(session, kind, text)) == (rows, 0, 0)
    for kind, (text, rows) in files.items():
        assert counts(import_csv(session, kind, text)) == (0, 0, rows)


# Files ----------------------------------------------------------------------------------------


def test_lines_text_files_and_binary_files_are_all_accepted(session, tmp_path):
    lines = ["crm_id,name,kind", "ACC-1,Acme,customer"]
    assert import_csv(session, "accounts", lines, dry_run=True).created == 1
    assert import_csv(session, "accounts", io.StringIO("\n".join(lines)), dry_run=True).created == 1
    path = tmp_path / "accounts.csv"
    path.write_text("\n".join(lines), encoding="utf-8-sig")
    with path.open(encoding="utf-8") as text_file:
        assert import_csv(session, "accounts", text_file, dry_run=True).created == 1
    with path.open("rb") as binary_file:
        assert import_csv(session, "accounts", binary_file).created == 1


def test_progress_is_reported_while_checking_and_writing(session, monkeypatch):
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(importer, "WRITE_CHUNK", 2)
    reports = []
    lines = ["crm_id,name,kind"] + [f"ACC-{n},Account {n},customer" for n in range(5)]
    import_csv(session, "accounts", lines, progress=lambda *report: reports.append(report))
    assert reports == [
        ("checking", 2, 6),
        ("checking", 4, 6),
        ("checking", 6, 6),
        ("writing", 2, 5),
        ("writing", 4, 5),
        ("writing", 5, 5),
    ]


def test_a_byte_order_mark_and_semicolons_are_accepted(session):
    data = "\ufeffcrm_id;name;kind\r\nACC-1;Acme;customer\r\n".encode()
    assert import_csv(session, "accounts", data).created == 1


def test_a_file_that_is_not_utf8_is_refused_with_the_line_of_the_bad_byte(session):
    data = "crm_id,name,kind\nACC-1,Acme,customer\nACC-2,Société,customer\n".encode("latin-1")
    with pytest.raises(ImportRejected) as caught:
        import_csv(session, "accounts", data)
    assert caught.value.problems[0].startswith("Line 3: the file is not UTF-8 text (byte 0xe9")


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n \n"])
def test_an_empty_file_is_refused(session, data):
    with pytest.raises(ImportRejected) as caught:
        import_csv(session, "people", data)
    assert caught.value.problems == ["The file is empty: its first line should name the columns."]


def test_a_header_without_lines_imports_nothing(session):
    assert counts(run(session, "accounts", "crm_id,name,kind")) == (0, 0, 0)


def test_a_missing_required_column_is_named(session):
    problems = rejected(session, "accounts", "crm_id,name", "ACC-1,Acme")
    assert problems == [
        "Line 1: the required column 'kind' (or 'type', 'account type') is missing."
    ]
    problems = rejected(session, "people", "first_name,last_name,title", "Ada,Lovelace,CTO")
    assert problems == ["Line 1: give a 'crm_id' or an 'email' column to identify people."]


def test_two_columns_for_one_field_are_refused(session):
    problems = rejected(session, "accounts", "Id,Record ID,name,kind", "1,2,Acme,customer")
    assert problems == ["Line 1: the columns 'Id' and 'Record ID' both give crm_id; keep one."]


def test_line_numbers_count_the_lines_of_quoted_cells_and_blank_lines_are_skipped(session):
    problems = rejected(
        session,
        "accounts",
        "crm_id,name,kind,annual_value",
        'ACC-1,"Acme',
        'Holdings",customer,10',
        "",
        "ACC-2,Globex,customer,ten",
        "ACC-3,Initech,customer,1,extra",
        "ACC-4,Hooli\x00,customer,1",
    )
    assert problems == [
        "Line 5: annual_value: 'ten' is not an amount (write it like 125000.00).",
        "Line 6: 5 values, but the header names 4 columns.",
        "Line 7: contains a NUL character.",
    ]


def test_the_readme_documents_every_column_and_crm_name():
    readme = (Path(__file__).parents[2] / "README.md").read_text().lower()
    reference = readme.split("## csv import")[1].split("\n## ")[0]
    for columns in importer.FORMATS.values():
        for column in columns:
            assert f"`{column.field}`" in reference
            for alias in column.aliases:
                assert alias in reference, alias
