"""A realistic, deterministic demo portfolio: generated as plain rows, then seeded.

``generate_portfolio`` returns rows in the CSV import formats (so benchmarks can write them as
files); ``seed_database`` writes them straight into an empty database. The same seed and
``today`` always give the same portfolio.
"""

import datetime as dt
import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from relhealth.accounts.models import (
    Account,
    AccountTeamMember,
    Person,
    PersonRole,
    Relationship,
)
from relhealth.accounts.service import end_person
from relhealth.auth.models import AccountAssignment, User
from relhealth.auth.service import hash_password
from relhealth.cohorts.models import Invitation, InvitationStatus, Wave
from relhealth.cohorts.service import create_cohort, create_program
from relhealth.cohorts.tick import tick
from relhealth.messaging.models import MessageStatus, OutboxMessage
from relhealth.surveys.builtin import install_builtin_surveys
from relhealth.surveys.models import SurveyVersion
from relhealth.surveys.service import submit_response, survey_by_key

DEMO_PASSWORD = "relhealth-demo"  # noqa: S105 -- documented in the README, demo data only
DEMO_DOMAIN = "relhealth.demo"

FIRST_NAMES = (
    "Ada Alan Amara Anders Anya Arjun Beatriz Bruno Camila Chen Chiara Daniel Dara Elena Emeka "
    "Erik Fatima Felix Grace Hana Hugo Ines Ingrid Isaac Jamal Jana Jonas Julia Kai Kenji Lara "
    "Leila Liam Lucia Magnus Maya Mei Mikael Nadia Noah Nora Oliver Olga Omar Paula Pedro Priya "
    "Rafael Rosa Ruth Sami Sara Sofia Tariq Theo Uma Victor Wen Yara Yusuf Zoe"
).split()
LAST_NAMES = (
    "Abbott Adeyemi Alvarez Andersen Bauer Becker Bianchi Brennan Castillo Chowdhury Costa "
    "Dubois Eriksson Fischer Fontaine Garcia Haddad Hansen Hoffmann Ito Jansen Kaur Keller Kim "
    "Kowalski Larsen Laurent Lindqvist Lopez Martens Meyer Moreau Nakamura Novak Okafor Olsen "
    "Patel Pereira Petrov Quinn Rossi Sato Schmidt Silva Singh Sorensen Tanaka Torres Varga "
    "Vogel Wagner Weber Wong Yilmaz Young Zhang Zimmermann"
).split()
COMPANY_HEADS = (
    "Aster Borealis Cobalt Delta Ember Fjord Granite Harbor Iris Juniper Kestrel Lumen Meridian "
    "Nimbus Orion Pioneer Quartz Redwood Summit Tidal Umber Vertex Willow Zenith"
).split()
COMPANY_TAILS = (
    "Logistics Health Bank Energy Foods Systems Retail Pharma Telecom Insurance Manufacturing "
    "Airlines Media Capital Motors Labs"
).split()
PARTNER_TAILS = ("Consulting", "Integrators", "Cloud Services", "Digital", "Solutions")

EXTERNAL_TITLES = {
    "executive": (
        "Chief Executive Officer",
        "Chief Financial Officer",
        "Chief Technology Officer",
        "Chief Operating Officer",
        "Chief Information Officer",
        "Chief Procurement Officer",
        "VP Engineering",
        "VP Operations",
        "SVP Supply Chain",
        "Head of IT",
    ),
    "senior": (
        "Director of IT",
        "Director of Procurement",
        "Senior Director, Operations",
        "Principal Architect",
        "Finance Director",
        "Director of Engineering",
    ),
    "manager": (
        "IT Manager",
        "Procurement Manager",
        "Operations Manager",
        "Engineering Manager",
        "Platform Team Lead",
        "Project Manager",
    ),
    "staff": (
        "Software Engineer",
        "Procurement Specialist",
        "Business Analyst",
        "Systems Administrator",
        "Buyer",
        "Data Engineer",
        "Operations Coordinator",
    ),
}
DEPARTMENTS = ("IT", "Procurement", "Operations", "Finance", "Engineering")

TIER_VALUE = {
    "strategic": (1_500_000, 6_000_000),
    "key": (400_000, 1_500_000),
    "standard": (40_000, 400_000),
}
TIER_PEOPLE = {"strategic": (24, 40), "key": (14, 28), "standard": (8, 16)}


@dataclass
class Portfolio:
    """Rows in the import formats (see the README), plus users and account teams."""

    accounts: list[dict] = field(default_factory=list)
    people: list[dict] = field(default_factory=list)
    relationships: list[dict] = field(default_factory=list)
    team: list[dict] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)


class _Names:
    """Unique, plausible names and e-mails."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.emails: set[str] = set()

    def person(self, domain: str) -> tuple[str, str, str]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        base = f"{first}.{last}".lower()
        email, n = f"{base}@{domain}", 1
        while email in self.emails:
            n += 1
            email = f"{base}{n}@{domain}"
        self.emails.add(email)
        return first, last, email


def _company_names(count: int, partners: int, rng: random.Random) -> list[str]:
    combos = [f"{h} {t}" for h in COMPANY_HEADS for t in COMPANY_TAILS]
    rng.shuffle(combos)
    partner_combos = [f"{h} {t}" for h in COMPANY_HEADS for t in PARTNER_TAILS]
    rng.shuffle(partner_combos)
    names = []
    for index in range(count):
        pool, position = (
            (partner_combos, index - (count - partners))
            if index >= count - partners
            else (combos, index)
        )
        name = pool[position % len(pool)]
        names.append(name if position < len(pool) else f"{name} {position // len(pool) + 1}")
    return names


def _staff(rng: random.Random, names: _Names, accounts: int, partners: int, today: dt.date):
    """Our own people: a small leadership, sales and customer-success organisation."""
    plan = [
        ("executive", "Chief Executive Officer", "Leadership", 1),
        ("executive", "Chief Customer Officer", "Customer Success", 1),
        ("executive", "VP Sales", "Sales", 1),
        ("executive", "VP Partnerships", "Partnerships", 1),
        ("executive", "Chief Technology Officer", "Engineering", 1),
        ("senior", "Director of Customer Success", "Customer Success", 2 + accounts // 40),
        ("senior", "Sales Director", "Sales", 2 + accounts // 40),
        ("manager", "Key Account Manager", "Sales", max(4, accounts // 3)),
        ("manager", "Partner Manager", "Partnerships", max(1, (partners + 2) // 3)),
        ("staff", "Partner Solutions Architect", "Partnerships", max(3, partners)),
        ("staff", "Solutions Engineer", "Engineering", max(6, accounts // 3)),
        ("staff", "Customer Success Specialist", "Customer Success", max(4, accounts // 4)),
    ]
    staff = []
    for level, title, department, count in plan:
        for _ in range(count):
            first, last, email = names.person(DEMO_DOMAIN)
            staff.append(
                {
                    "crm_id": f"EMP-{len(staff) + 1:05d}",
                    "account_crm_id": "",
                    "side": "internal",
                    "first_name": first,
                    "last_name": last,
                    "email": email,
                    "title": title,
                    "department": department,
                    "seniority": level,
                    "roles": "",
                    "active_from": (today - dt.timedelta(days=rng.randint(200, 3000))).isoformat(),
                }
            )
    return staff


def _reporting_lines(people: list[dict], rng: random.Random) -> list[dict]:
    """Each person reports to someone one level up in the same organisation (a tree)."""
    by_level = defaultdict(list)
    for person in people:
        by_level[person["seniority"]].append(person)
    levels = ["executive", "senior", "manager", "staff"]
    edges = []
    top = by_level["executive"][0] if by_level["executive"] else None
    for person in by_level["executive"][1:]:
        edges.append({"source": person["email"], "target": top["email"], "kind": "reports_to"})
    for upper, lower in itertools.pairwise(levels):
        bosses = by_level[upper] or ([top] if top else [])
        for person in by_level[lower]:
            if bosses:
                boss = rng.choice(bosses)
                edges.append(
                    {"source": person["email"], "target": boss["email"], "kind": "reports_to"}
                )
    for edge in edges:
        edge.update(strength="", last_contact_on="")
    return edges


def generate_portfolio(
    seed: int = 7, accounts: int = 16, today: dt.date | None = None
) -> Portfolio:
    """A portfolio of ``accounts`` accounts (about one in four a partner).

    Customers and partners across tiers and relationship types, 8-40 stakeholders each with
    realistic titles on every seniority level, reporting lines, account teams, and coverage
    with deliberate gaps: single-threaded accounts, executives nobody of ours knows, stale
    contacts, a missing executive sponsor.
    """
    rng = random.Random(seed)  # noqa: S311 -- reproducible demo data, not secrets
    today = today or dt.date.today()
    names = _Names(rng)
    partners = max(1, accounts // 4) if accounts > 1 else 0
    portfolio = Portfolio()
    staff = _staff(rng, names, accounts, partners, today)
    portfolio.people.extend(staff)
    portfolio.relationships.extend(_reporting_lines(staff, rng))
    by_title = defaultdict(list)
    for person in staff:
        by_title[person["title"]].append(person)
    portfolio.users.extend(_users(staff))
    user_of = {u["person_email"]: u["email"] for u in portfolio.users if u["person_email"]}
    executives = [p for p in staff if p["seniority"] == "executive"]
    managers = by_title["Key Account Manager"]
    partner_managers = by_title["Partner Manager"]
    engineers = by_title["Solutions Engineer"] + by_title["Customer Success Specialist"]
    # Partnerships is its own team, so partner waves don't reach people a customer wave just
    # asked (the fatigue cap would skip them) and both sides of a partnership are heard.
    partner_sponsors = by_title["VP Partnerships"]
    partner_engineers = by_title["Partner Solutions Architect"]
    customer_sponsors = [p for p in executives if p not in partner_sponsors]

    for index, name in enumerate(_company_names(accounts, partners, rng)):
        kind = "partner" if index >= accounts - partners else "customer"
        tier = rng.choices(("strategic", "key", "standard"), weights=(2, 4, 5))[0]
        lo, hi = TIER_VALUE[tier]
        annual = Decimal(rng.randrange(lo, hi, 5_000))
        crm_id = f"ACC-{index + 1:05d}"
        domain = name.lower().replace(" ", "") + ".example"
        owner = (partner_managers if kind == "partner" else managers)[
            index % len(partner_managers if kind == "partner" else managers)
        ]
        portfolio.accounts.append(
            {
                "crm_id": crm_id,
                "name": name,
                "kind": kind,
                "relationship_type": rng.choices(
                    ("relationship", "regular", "transactional"), weights=(5, 4, 2)
                )[0]
                if kind == "customer"
                else "relationship",
                "tier": tier,
                "annual_value": f"{annual:.2f}",
                "lifetime_value": f"{annual * rng.randint(3, 9):.2f}" if rng.random() < 0.8 else "",
                "renewal_date": (today + dt.timedelta(days=rng.randint(20, 420))).isoformat(),
                "started_on": (today - dt.timedelta(days=rng.randint(200, 2500))).isoformat(),
                "owner_email": user_of.get(owner["email"], ""),
            }
        )
        theirs = _their_people(rng, names, crm_id, domain, tier, today)
        portfolio.people.extend(theirs)
        portfolio.relationships.extend(_reporting_lines(theirs, rng))
        team = [(owner, "owner")]
        # A deliberate gap: some accounts have no executive sponsor of ours.
        if tier != "standard" and rng.random() < 0.8:
            sponsors = partner_sponsors if kind == "partner" else customer_sponsors
            team.append((rng.choice(sponsors), "executive_sponsor"))
        # Enough of ours answer on most accounts for the internal side to carry signal (n >= 3).
        members = rng.randint(2, 4) if tier != "standard" else rng.randint(1, 3)
        pool = partner_engineers if kind == "partner" else engineers
        for member in rng.sample(pool, k=min(len(pool), members)):
            team.append((member, "member"))
        for person, role in team:
            portfolio.team.append(
                {"account_crm_id": crm_id, "person_email": person["email"], "role": role}
            )
        portfolio.relationships.extend(_coverage(rng, team, theirs, tier, today))
    customers = [a["crm_id"] for a in portfolio.accounts if a["kind"] == "customer"]
    portfolio.users[-1]["assigned"] = ";".join(customers[:3])  # the viewer
    return portfolio


def _their_people(rng, names, crm_id, domain, tier, today) -> list[dict]:
    count = rng.randint(*TIER_PEOPLE[tier])
    executives = max(1, round(count * 0.12))
    seniors = max(1, round(count * 0.18))
    managers = max(1, round(count * 0.25))
    levels = (
        ["executive"] * executives
        + ["senior"] * seniors
        + ["manager"] * managers
        + ["staff"] * (count - executives - seniors - managers)
    )
    people = []
    for level in levels:
        first, last, email = names.person(domain)
        people.append(
            {
                "crm_id": f"{crm_id}-C{len(people) + 1:03d}",
                "account_crm_id": crm_id,
                "side": "external",
                "first_name": first,
                "last_name": last,
                "email": email,
                "title": rng.choice(EXTERNAL_TITLES[level]),
                "department": rng.choice(DEPARTMENTS),
                "seniority": level,
                "roles": "",
                "active_from": (today - dt.timedelta(days=rng.randint(100, 2500))).isoformat(),
            }
        )
    roles = defaultdict(list)
    roles[people[0]["email"]] += ["economic_buyer", "decision_maker"]
    for person in people[1:]:
        level = person["seniority"]
        if level in ("executive", "senior") and rng.random() < 0.4:
            roles[person["email"]].append("decision_maker")
        if level in ("senior", "manager") and rng.random() < 0.25:
            roles[person["email"]].append("champion")
        elif level == "manager" and rng.random() < 0.3:
            roles[person["email"]].append("influencer")
        elif level == "staff" and rng.random() < 0.5:
            roles[person["email"]].append("user")
        if rng.random() < 0.04:
            roles[person["email"]].append("blocker")
    for person in people:
        person["roles"] = ";".join(roles[person["email"]])
    return people


def _coverage(rng, team, theirs, tier, today) -> list[dict]:
    """Who of ours covers whom of theirs; leaves realistic gaps on purpose."""
    edges = []
    single_threaded = tier != "strategic" and rng.random() < 0.25

    def link(ours, person, kind="covers"):
        stale = rng.random() < 0.15
        days = rng.randint(120, 400) if stale else rng.randint(1, 75)
        edges.append(
            {
                "source": ours["email"],
                "target": person["email"],
                "kind": kind,
                "strength": str(rng.randint(1, 5)),
                "last_contact_on": (today - dt.timedelta(days=days)).isoformat(),
            }
        )

    owner = team[0][0]
    if single_threaded:
        # Only the owner knows one person there: a single-threaded account.
        champion = next((p for p in theirs if "champion" in p["roles"]), theirs[-1])
        link(owner, champion)
        return edges
    for ours, role in team:
        if role == "executive_sponsor":
            # Executive-to-executive, except where an executive of theirs is left uncovered.
            their_execs = [p for p in theirs if p["seniority"] == "executive"]
            for person in their_execs[: rng.randint(0, len(their_execs))]:
                link(ours, person)
        elif role == "owner":
            for person in theirs:
                if person["seniority"] in ("senior", "manager") and rng.random() < 0.55:
                    link(ours, person)
        else:
            for person in theirs:
                if person["seniority"] in ("manager", "staff") and rng.random() < 0.4:
                    link(ours, person)
    for person in theirs:
        if person["seniority"] == "staff" and rng.random() < 0.1:
            peer = rng.choice(theirs)
            if peer is not person:
                link(person, peer, "works_with")
    return edges


def _users(staff: list[dict]) -> list[dict]:
    """Sign-in users for every role, with fixed e-mails the README lists (one password)."""
    by_title = defaultdict(list)
    for person in staff:
        by_title[person["title"]].append(person)
    logins = [
        ("admin", "admin", None),
        ("exec", "executive", by_title["Chief Executive Officer"][0]),
    ]
    for title, login, role in (
        ("Key Account Manager", "manager", "account_manager"),
        ("Partner Manager", "partners", "partner_manager"),
    ):
        for n, person in enumerate(by_title[title][:20], start=1):
            logins.append((login if n == 1 else f"{login}{n}", role, person))
    logins.append(("viewer", "viewer", None))
    users = []
    for login, role, person in logins:
        name = f"{person['first_name']} {person['last_name']}" if person else f"Demo {login}"
        users.append(
            {
                "email": f"{login}@{DEMO_DOMAIN}",
                "name": name.title() if not person else name,
                "role": role,
                "person_email": person["email"] if person else "",
                "assigned": "",
            }
        )
    return users


def _date(value: str) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _insert(session: Session, model, rows: list[dict]) -> list[int]:
    """Bulk-insert rows, returning their new ids in order."""
    if not rows:
        return []
    result = session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    return list(result)


def is_empty(session: Session) -> bool:
    return session.scalar(select(Account.id).limit(1)) is None and (
        session.scalar(select(User.id).limit(1)) is None
    )


def seed_database(session: Session, portfolio: Portfolio) -> dict[str, int]:
    """Write a generated portfolio into an empty database; returns row counts. Flushes only."""
    person_rows = [
        {
            "side": p["side"],
            "first_name": p["first_name"],
            "last_name": p["last_name"],
            "email": p["email"],
            "title": p["title"],
            "department": p["department"],
            "seniority": p["seniority"],
            "active_from": _date(p["active_from"]),
            "crm_id": p["crm_id"],
            "account_id": None,
        }
        for p in portfolio.people
    ]
    internal = [i for i, p in enumerate(portfolio.people) if p["side"] == "internal"]
    person_id = dict(
        zip(
            (portfolio.people[i]["email"] for i in internal),
            _insert(session, Person, [person_rows[i] for i in internal]),
            strict=True,
        )
    )
    password_hash = hash_password(DEMO_PASSWORD)  # one hash: every demo user shares it
    users = portfolio.users
    user_id = dict(
        zip(
            (u["email"] for u in users),
            _insert(
                session,
                User,
                [
                    {
                        "email": u["email"],
                        "name": u["name"],
                        "role": u["role"],
                        "password_hash": password_hash,
                        "person_id": person_id.get(u["person_email"]),
                    }
                    for u in users
                ],
            ),
            strict=True,
        )
    )
    account_id = dict(
        zip(
            (a["crm_id"] for a in portfolio.accounts),
            _insert(
                session,
                Account,
                [
                    {
                        "crm_id": a["crm_id"],
                        "name": a["name"],
                        "kind": a["kind"],
                        "relationship_type": a["relationship_type"],
                        "tier": a["tier"],
                        "annual_value": Decimal(a["annual_value"]),
                        "lifetime_value": Decimal(a["lifetime_value"])
                        if a["lifetime_value"]
                        else None,
                        "renewal_date": _date(a["renewal_date"]),
                        "started_on": _date(a["started_on"]),
                        "owner_id": user_id.get(a["owner_email"]),
                    }
                    for a in portfolio.accounts
                ],
            ),
            strict=True,
        )
    )
    external = [i for i, p in enumerate(portfolio.people) if p["side"] == "external"]
    for i in external:
        person_rows[i]["account_id"] = account_id[portfolio.people[i]["account_crm_id"]]
    person_id.update(
        zip(
            (portfolio.people[i]["email"] for i in external),
            _insert(session, Person, [person_rows[i] for i in external]),
            strict=True,
        )
    )
    role_rows = [
        {"person_id": person_id[p["email"]], "role": role}
        for p in portfolio.people
        for role in p["roles"].split(";")
        if role
    ]
    if role_rows:
        session.execute(insert(PersonRole), role_rows)
    edges = [
        {
            "source_id": person_id[r["source"]],
            "target_id": person_id[r["target"]],
            "kind": r["kind"],
            "strength": int(r["strength"]) if r["strength"] else 3,
            "last_contact_on": _date(r["last_contact_on"]),
        }
        for r in portfolio.relationships
    ]
    _insert(session, Relationship, edges)
    started = {a["crm_id"]: _date(a["started_on"]) for a in portfolio.accounts}
    members = [
        {
            "account_id": account_id[t["account_crm_id"]],
            "person_id": person_id[t["person_email"]],
            "role": t["role"],
            "started_on": started[t["account_crm_id"]],
        }
        for t in portfolio.team
    ]
    _insert(session, AccountTeamMember, members)
    assignments = [
        {"user_id": user_id[u["email"]], "account_id": account_id[crm_id]}
        for u in users
        for crm_id in u["assigned"].split(";")
        if crm_id
    ]
    if assignments:
        session.execute(insert(AccountAssignment), assignments)
    session.flush()
    return {
        "accounts": len(account_id),
        "people": len(person_id),
        "relationships": len(edges),
        "team members": len(members),
        "users": len(user_id),
    }


# Two years of listening ---------------------------------------------------------------------

QUARTERS = 8
DEMO_OPEN_DAYS = 21
PROGRAMS = (
    # name, survey key, cohort name, mode, rule
    (
        "Quarterly relationship health",
        "relationship-health",
        "Customer panel, both sides",
        "fixed",
        {"kinds": ["customer"], "sides": ["external", "internal"]},
    ),
    (
        "Partner two-way",
        "partner-two-way",
        "Partners, both sides",
        "dynamic",
        {"kinds": ["partner"], "sides": ["external", "internal"]},
    ),
)
IMPROVEMENTS = (
    "Faster answers from support when something breaks.",
    "Fewer hand-offs between your teams; we repeat ourselves too often.",
    "Be clearer about pricing before renewals.",
    "Bring us ideas from other customers, not only what we ask for.",
    "Involve our engineers earlier in your roadmap.",
    "Keep the same account team for longer.",
)
# What the unhappiest write: VADER scores each of these below -0.4, most below -0.5 (a case).
COMPLAINTS = (
    "We feel ignored since the account team changed; this is disappointing.",
    "The last renewal was a painful, aggressive hard sell.",
    "Outages keep hurting our business and the answers are poor.",
    "Frustrating year: problems escalate before anyone listens.",
    "Support is slow and nobody owns our problems; it is frustrating.",
)
PRAISE = (
    "Keep doing the quarterly reviews, they are genuinely useful.",
    "Nothing major: the team is responsive and knows our business.",
    "More of the same, the onboarding of our new site went very well.",
)


@dataclass
class _Mood:
    """How an account's relationship drifts: a level, a trend per quarter, blind spots."""

    level: float
    trend: float
    optimism: float  # how much rosier our people see it
    dimension_offsets: dict[str, float]


def _quarter_starts(today: dt.date, quarters: int) -> list[dt.datetime]:
    first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    starts = []
    for back in range(quarters - 1, -1, -1):
        month = first.month - 3 * back
        year = first.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        starts.append(dt.datetime(year, month, 1, 9, tzinfo=dt.UTC))
    return starts


def _answer(rng: random.Random, question, score: float) -> object:
    """A plausible answer to ``question`` from someone whose latent score is ``score``."""
    if question.type.value == "nps":
        return max(0, min(10, round(score / 10 + rng.gauss(0, 0.9))))
    if question.type.value == "rating":
        lo, hi = question.scale_min, question.scale_max
        return max(lo, min(hi, round(lo + (hi - lo) * score / 100 + rng.gauss(0, 0.5))))
    if question.type.value in ("choice", "multi_choice"):
        pick = rng.choice(question.options)
        return pick if question.type.value == "choice" else [pick]
    return None


def _new_mood(rng: random.Random) -> _Mood:
    """An account's drift: about 30% decline, 20% improve, the rest hold steady."""
    shape = rng.random()
    return _Mood(
        level=rng.uniform(58, 85),
        trend=rng.uniform(-6, -3)
        if shape < 0.3
        else rng.uniform(1.5, 4)
        if shape > 0.8
        else rng.uniform(-1, 1),
        optimism=rng.uniform(6, 16),
        dimension_offsets={},
    )


def _team_names(session: Session) -> dict[int, list[str]]:
    """Account id -> the names of our team on it (whom their people may praise)."""
    team_names = defaultdict(list)
    for account_id, first, last in session.execute(
        select(AccountTeamMember.account_id, Person.first_name, Person.last_name).join(
            Person, Person.id == AccountTeamMember.person_id
        )
    ):
        team_names[account_id].append(f"{first} {last}")
    return team_names


def _responds(rng: random.Random, propensity: float, external: bool, executive: bool) -> bool:
    """Whether an invited person answers. Some answer every wave, some rarely: panels keep
    their regulars; their executives answer less often; our people more often."""
    chance = propensity
    if external and executive:
        chance *= 0.7
    return rng.random() <= (chance if external else min(1.0, chance + 0.15))


def _latent_score(
    mood: _Mood, quarter: int, person_effect: float, external: bool, executive: bool
) -> float:
    """How someone sees the account in a quarter (0-100, before the noise of each answer):
    the account's level and trend, the person's own bias, executives more critical, our
    people rosier."""
    score = mood.level + mood.trend * quarter + person_effect
    if external and executive:
        score -= 8
    if not external:
        score += mood.optimism
    return score


def _simulated_answers(
    rng: random.Random,
    questions,
    mood: _Mood,
    score: float,
    external: bool,
    team_names: list[str],
) -> dict[str, object]:
    """The answers (question key -> value, as submitted) of someone whose score is ``score``."""
    answers = {}
    for question in questions:
        offset = mood.dimension_offsets.setdefault(question.dimension or "", rng.gauss(0, 7))
        # A blind spot: where we see strength they see weakness.
        value = _answer(
            rng,
            question,
            score + (offset if external else -offset / 2) + rng.gauss(0, 6),
        )
        if value is not None:
            answers[question.key] = value
        elif question.key == "do_differently" and rng.random() < 0.4:
            said = COMPLAINTS if score < 45 else IMPROVEMENTS if score < 70 else PRAISE
            answers[question.key] = rng.choice(said)
        elif question.key == "made_a_difference" and external and team_names and rng.random() < 0.3:
            answers[question.key] = rng.choice(team_names)
    return answers


def seed_survey_history(session: Session, today: dt.date, seed: int = 7) -> dict[str, int]:
    """Two years of quarterly waves with answers that behave like real ones.

    Runs the real scheduler tick at each quarter and submits answers through the survey
    service: some accounts decline, our people see things rosier than their people,
    executives are more critical than the line, people leave between waves. Commits as the
    tick does; the demo's historical e-mails are marked sent.
    """
    rng = random.Random(seed * 7919)  # noqa: S311 -- reproducible demo data, not secrets
    install_builtin_surveys(session)
    starts = _quarter_starts(today, QUARTERS)
    for name, survey_key, cohort_name, mode, rule in PROGRAMS:
        cohort = create_cohort(session, {"name": cohort_name, "mode": mode, "rule": rule})
        create_program(
            session,
            {
                "name": name,
                "survey_id": survey_by_key(session, survey_key).id,
                "cohort_id": cohort.id,
                "starts_at": starts[0],
                "open_days": DEMO_OPEN_DAYS,
                "fatigue_days": 60,
            },
            today,
        )
    session.commit()

    moods = {
        account_id: _new_mood(rng)
        for account_id in session.scalars(select(Account.id).order_by(Account.id))
    }
    person_effect: dict[int, float] = defaultdict(lambda: rng.gauss(0, 6))
    propensity: dict[int, float] = defaultdict(lambda: rng.betavariate(6, 2))
    team_names = _team_names(session)

    responses = 0
    for quarter, opens in enumerate(starts):
        if quarter:
            _churn(session, rng, opens)
        tick(session, now=opens)
        waves = session.scalars(select(Wave).where(Wave.opens_at == opens)).all()
        for wave in waves:
            version = session.get(SurveyVersion, wave.survey_version_id)
            invited = session.scalars(
                select(Invitation)
                .where(
                    Invitation.wave_id == wave.id,
                    Invitation.status == InvitationStatus.INVITED,
                )
                .order_by(Invitation.id)  # the same draws for the same people, every run
            ).all()
            for invitation in invited:
                external = invitation.side.value == "external"
                executive = invitation.seniority == "executive"
                if not _responds(rng, propensity[invitation.person_id], external, executive):
                    continue
                mood = moods[invitation.account_id]
                score = _latent_score(
                    mood, quarter, person_effect[invitation.person_id], external, executive
                )
                answers = _simulated_answers(
                    rng,
                    version.questions,
                    mood,
                    score,
                    external,
                    team_names[invitation.account_id],
                )
                submitted = wave.opens_at + dt.timedelta(
                    days=rng.randint(0, DEMO_OPEN_DAYS - 2), hours=rng.randint(0, 8)
                )
                if submitted >= dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC):
                    continue
                submit_response(session, invitation, answers, now=submitted)
                responses += 1
        session.commit()
    tick(session, now=dt.datetime.combine(today, dt.time(8), tzinfo=dt.UTC))
    # What the demo "sent" in the past is history, not mail waiting to go out.
    session.execute(
        update(OutboxMessage).values(status=MessageStatus.SENT, sent_at=OutboxMessage.created_at)
    )
    session.commit()
    waves = session.scalar(select(func.count()).select_from(Wave))
    return {"survey waves": waves, "responses": responses}


def _churn(session: Session, rng: random.Random, when: dt.datetime) -> None:
    """A few of their people leave before a wave, and a few new ones arrive."""
    today = when.date()
    active = session.scalars(
        select(Person).where(
            Person.side == "external",
            or_(Person.left_on.is_(None), Person.left_on > today),
        )
    ).all()
    for person in rng.sample(active, k=max(1, len(active) // 50)):
        left = today - dt.timedelta(days=rng.randint(5, 40))
        end_person(session, person, max(left, person.active_from or left))
    accounts = sorted({p.account_id for p in active})
    for account_id in rng.sample(accounts, k=min(3, len(accounts))):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        level = rng.choice(("senior", "manager", "staff"))
        session.add(
            Person(
                account_id=account_id,
                side="external",
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{today:%Y%m}.{account_id}@newcomer.example".lower(),
                title=rng.choice(EXTERNAL_TITLES[level]),
                seniority=level,
                active_from=today - dt.timedelta(days=rng.randint(5, 40)),
            )
        )
    session.flush()
