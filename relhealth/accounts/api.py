"""REST resources: accounts, people, relationships and account teams."""

from flask import Response
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from relhealth.accounts import graph, importer, schemas, service
from relhealth.accounts.map import render_map
from relhealth.accounts.seniority import ladder
from relhealth.analytics import service as analytics_service
from relhealth.analytics.people import map_scores, whom_we_hear_from
from relhealth.auth.api import api_blueprint, api_user
from relhealth.auth.permissions import account_access, may_import, require
from relhealth.core.pagination import PAGING, paged
from relhealth.core.schemas import EndArgs, sort_keys
from relhealth.core.time import today_utc
from relhealth.extensions import db

accounts_blp = api_blueprint("accounts", __name__, "/accounts", "Customer and partner accounts.")
people_blp = api_blueprint("people", __name__, "/people", "Stakeholders on both sides.")
relationships_blp = api_blueprint(
    "relationships", __name__, "/relationships", "Who relates to whom."
)
team_blp = api_blueprint("team", __name__, "/accounts", "Our people on each account's team.")


def _list(pagination_parameters, args, default_sort, lister):
    sort = sort_keys(args, default_sort)
    return paged(
        pagination_parameters,
        lambda page, size: lister(db.session, api_user(), args, sort, page, size),
    )


def _end_on(args) -> object:
    return args.get("on") or today_utc()


@accounts_blp.route("")
class Accounts(MethodView):
    @accounts_blp.arguments(schemas.AccountListArgs, location="query")
    @accounts_blp.response(200, schemas.AccountSchema(many=True))
    @accounts_blp.paginate(**PAGING)
    def get(self, args, pagination_parameters):
        """List accounts you may see

        Filters: kind, tier, relationship_type, owner (user id), active, q (name contains).
        Sort by name, kind, tier, annual_value, lifetime_value, renewal_date, created_at.
        """
        return _list(pagination_parameters, args, ("name",), service.list_accounts)

    @accounts_blp.arguments(schemas.AccountArgs)
    @accounts_blp.response(201, schemas.AccountSchema)
    def post(self, data):
        """Create an account"""
        account = service.create_account(db.session, api_user(), data)
        db.session.commit()
        return account


@accounts_blp.route("/<id:account_id>")
class AccountById(MethodView):
    @accounts_blp.response(200, schemas.AccountSchema)
    def get(self, account_id):
        """Get an account"""
        return account_access(db.session, api_user(), account_id)

    @accounts_blp.arguments(schemas.AccountArgs(partial=True))
    @accounts_blp.response(200, schemas.AccountSchema)
    def patch(self, data, account_id):
        """Change an account"""
        account = account_access(db.session, api_user(), account_id, write=True)
        service.update_account(db.session, api_user(), account, data)
        db.session.commit()
        return account


@accounts_blp.route("/<id:account_id>/end")
class AccountEnd(MethodView):
    @accounts_blp.arguments(EndArgs)
    @accounts_blp.response(200, schemas.AccountSchema)
    def post(self, args, account_id):
        """End an account (kept for history)"""
        account = account_access(db.session, api_user(), account_id, write=True)
        service.end_account(db.session, account, _end_on(args))
        db.session.commit()
        return account


@people_blp.route("")
class People(MethodView):
    @people_blp.arguments(schemas.PersonListArgs, location="query")
    @people_blp.response(200, schemas.PersonSchema(many=True))
    @people_blp.paginate(**PAGING)
    def get(self, args, pagination_parameters):
        """List people you may see

        Filters: account, side, seniority, role, active, q (name, e-mail or title contains).
        Sort by last_name, first_name, email, seniority (ladder order), created_at.
        """
        return _list(pagination_parameters, args, ("last_name",), service.list_people)

    @people_blp.arguments(schemas.PersonArgs)
    @people_blp.response(201, schemas.PersonSchema)
    def post(self, data):
        """Add a person"""
        person = service.create_person(db.session, api_user(), data)
        db.session.commit()
        return person


@people_blp.route("/<id:person_id>")
class PersonById(MethodView):
    @people_blp.response(200, schemas.PersonSchema)
    def get(self, person_id):
        """Get a person"""
        return service.get_person(db.session, api_user(), person_id)

    @people_blp.arguments(schemas.PersonUpdateArgs(partial=True))
    @people_blp.response(200, schemas.PersonSchema)
    def patch(self, data, person_id):
        """Change a person"""
        person = service.get_person(db.session, api_user(), person_id, write=True)
        service.update_person(db.session, person, data)
        db.session.commit()
        return person


@people_blp.route("/<id:person_id>/end")
class PersonEnd(MethodView):
    @people_blp.arguments(EndArgs)
    @people_blp.response(200, schemas.PersonSchema)
    def post(self, args, person_id):
        """Record that a person left (their links and team places end too)"""
        person = service.get_person(db.session, api_user(), person_id, write=True)
        service.end_person(db.session, person, _end_on(args))
        db.session.commit()
        return person


@relationships_blp.route("")
class Relationships(MethodView):
    @relationships_blp.arguments(schemas.RelationshipListArgs, location="query")
    @relationships_blp.response(200, schemas.RelationshipSchema(many=True))
    @relationships_blp.paginate(**PAGING)
    def get(self, args, pagination_parameters):
        """List relationships you may see

        Filters: kind, person, account, active. Sort by id, kind, strength, last_contact_on.
        """
        return _list(pagination_parameters, args, ("id",), service.list_relationships)

    @relationships_blp.arguments(schemas.RelationshipArgs)
    @relationships_blp.response(201, schemas.RelationshipSchema)
    def post(self, data):
        """Link two people"""
        edge = service.create_relationship(db.session, api_user(), data)
        db.session.commit()
        return edge


@relationships_blp.route("/<id:relationship_id>")
class RelationshipById(MethodView):
    @relationships_blp.response(200, schemas.RelationshipSchema)
    def get(self, relationship_id):
        """Get a relationship"""
        return service.get_relationship(db.session, api_user(), relationship_id)

    @relationships_blp.arguments(schemas.RelationshipUpdateArgs)
    @relationships_blp.response(200, schemas.RelationshipSchema)
    def patch(self, data, relationship_id):
        """Change a relationship's strength or last contact"""
        edge = service.get_relationship(db.session, api_user(), relationship_id, write=True)
        service.update_relationship(db.session, edge, data)
        db.session.commit()
        return edge


@relationships_blp.route("/<id:relationship_id>/end")
class RelationshipEnd(MethodView):
    @relationships_blp.arguments(EndArgs)
    @relationships_blp.response(200, schemas.RelationshipSchema)
    def post(self, args, relationship_id):
        """End a relationship (kept for history)"""
        edge = service.get_relationship(db.session, api_user(), relationship_id, write=True)
        service.end_relationship(db.session, edge, _end_on(args))
        db.session.commit()
        return edge


@team_blp.route("/<id:account_id>/team")
class Team(MethodView):
    @team_blp.arguments(schemas.TeamListArgs, location="query")
    @team_blp.response(200, schemas.TeamMemberSchema(many=True))
    def get(self, args, account_id):
        """List an account's team"""
        account = account_access(db.session, api_user(), account_id)
        return service.team_of(db.session, account, active=args.get("active"))

    @team_blp.arguments(schemas.TeamMemberArgs)
    @team_blp.response(201, schemas.TeamMemberSchema)
    def post(self, data, account_id):
        """Add one of our people to an account's team"""
        account = account_access(db.session, api_user(), account_id, write=True)
        member = service.add_team_member(db.session, account, data)
        db.session.commit()
        return member


@team_blp.route("/<id:account_id>/team/<id:member_id>")
class TeamMemberById(MethodView):
    @team_blp.response(200, schemas.TeamMemberSchema)
    def get(self, account_id, member_id):
        """Get a team member"""
        account = account_access(db.session, api_user(), account_id)
        return service.get_team_member(db.session, account, member_id)

    @team_blp.arguments(schemas.TeamMemberUpdateArgs)
    @team_blp.response(200, schemas.TeamMemberSchema)
    def patch(self, data, account_id, member_id):
        """Change a team member's role"""
        account = account_access(db.session, api_user(), account_id, write=True)
        member = service.get_team_member(db.session, account, member_id)
        service.update_team_member(db.session, member, data)
        db.session.commit()
        return member


@team_blp.route("/<id:account_id>/team/<id:member_id>/end")
class TeamMemberEnd(MethodView):
    @team_blp.arguments(EndArgs)
    @team_blp.response(200, schemas.TeamMemberSchema)
    def post(self, args, account_id, member_id):
        """Take someone off an account's team (kept for history)"""
        account = account_access(db.session, api_user(), account_id, write=True)
        member = service.get_team_member(db.session, account, member_id)
        service.end_team_member(db.session, member, _end_on(args))
        db.session.commit()
        return member


graph_blp = api_blueprint(
    "stakeholder-graphs", __name__, "/accounts", "Stakeholder graphs, maps and snapshots."
)
portfolio_blp = api_blueprint("portfolio", __name__, "/portfolio", "Across all your accounts.")


@graph_blp.route("/<id:account_id>/graph")
class StakeholderGraph(MethodView):
    @graph_blp.arguments(schemas.GraphArgs, location="query")
    @graph_blp.response(200, schemas.StakeholderGraphSchema)
    @graph_blp.alt_response(200, content_type="application/graphml+xml", description="GraphML")
    def get(self, args, account_id):
        """The account's stakeholder graph with its metrics (node-link JSON or GraphML)

        Node-link JSON opens in Cytoscape or d3; GraphML (`?format=graphml`) in Gephi or yEd.
        """
        account = account_access(db.session, api_user(), account_id)
        stakeholders, metrics = service.account_map(db.session, account)
        if args["format"] == "graphml":
            return Response(
                graph.graphml(stakeholders),
                mimetype="application/graphml+xml",
                headers={
                    "Content-Disposition": f'attachment; filename="account-{account.id}.graphml"'
                },
            )
        settings = service.graph_settings()
        answers = analytics_service.load_answers(
            db.session, user=api_user(), account_ids=[account.id]
        )
        return {
            "account_id": account.id,
            "graph": graph.node_link(stakeholders),
            "metrics": {
                **metrics,
                "heard_from": whom_we_hear_from(stakeholders, answers, settings),
            },
        }


@graph_blp.route("/<id:account_id>/map.svg")
class StakeholderMapSvg(MethodView):
    @graph_blp.response(200, content_type="image/svg+xml", description="The SVG map")
    def get(self, account_id):
        """The account's stakeholder map as a standalone SVG

        The same drawing as the map page and the PDF reports: layered by seniority, their
        people facing ours, gaps outlined, with a legend.
        """
        account = account_access(db.session, api_user(), account_id)
        stakeholders, metrics = service.account_map(db.session, account)
        scores, sentiment = map_scores(
            analytics_service.load_answers(db.session, user=api_user(), account_ids=[account.id])
        )
        svg = render_map(
            stakeholders,
            metrics,
            title=account.name,
            ladder=ladder(),
            scores=scores,
            sentiment=sentiment,
        )
        return Response(svg, mimetype="image/svg+xml")


@graph_blp.route("/<id:account_id>/snapshots")
class Snapshots(MethodView):
    @graph_blp.response(200, schemas.SnapshotSchema(many=True))
    def get(self, account_id):
        """Snapshots of the account's graph, newest first"""
        account = account_access(db.session, api_user(), account_id)
        return service.snapshots_of(db.session, account)

    @graph_blp.response(201, schemas.SnapshotDetailSchema)
    def post(self, account_id):
        """Take a snapshot of the account's graph now"""
        account = account_access(db.session, api_user(), account_id, write=True)
        snapshot = service.take_snapshot(db.session, account)
        db.session.commit()
        return snapshot


@graph_blp.route("/<id:account_id>/snapshots/<id:snapshot_id>")
class SnapshotById(MethodView):
    @graph_blp.response(200, schemas.SnapshotDetailSchema)
    def get(self, account_id, snapshot_id):
        """One snapshot with its graph"""
        account = account_access(db.session, api_user(), account_id)
        return service.get_snapshot(db.session, account, snapshot_id)


@graph_blp.route("/<id:account_id>/snapshots/diff")
class SnapshotDiff(MethodView):
    @graph_blp.arguments(schemas.SnapshotDiffArgs, location="query")
    @graph_blp.response(200, schemas.SnapshotDiffSchema)
    def get(self, args, account_id):
        """What changed between two snapshots (or a snapshot and today's map)

        Who joined and left, which links appeared or went, and how coverage moved.
        """
        account = account_access(db.session, api_user(), account_id)
        before = service.get_snapshot(db.session, account, args["before"])
        if args.get("after"):
            return service.snapshot_diff(
                before, service.get_snapshot(db.session, account, args["after"])
            )
        return service.diff_with_today(db.session, account, before)


@portfolio_blp.route("/coverage")
class PortfolioCoverage(MethodView):
    @portfolio_blp.arguments(schemas.PortfolioCoverageArgs, location="query")
    @portfolio_blp.response(200, schemas.PortfolioCoverageSchema(many=True))
    def get(self, args):
        """Coverage of every active account you may see, worst first

        Filters: kind, tier, owner. Sort: coverage (default, worst first), name, annual_value,
        key_person_risks, uncovered_executives, stale_links; '-' for descending.
        """
        sort = args.pop("sort")
        return service.portfolio_coverage(db.session, api_user(), args, sort)


# Imports ---------------------------------------------------------------------------------------

imports_blp = api_blueprint(
    "imports", __name__, "/imports", "CSV imports of accounts, people and relationships (admins)."
)


class ImportArgs(Schema):
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "check and count, but write nothing"}
    )


class ImportFileArgs(Schema):
    file = Upload(required=True, metadata={"description": "the CSV file (UTF-8)"})


class ImportResultSchema(Schema):
    kind = fields.String()
    dry_run = fields.Boolean()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    warnings = fields.List(fields.String())


@imports_blp.before_request
def _admins_only() -> None:
    # Runs after the blueprint's token check, so the user is known.
    require(may_import(api_user()), "Only an admin may import.")


@imports_blp.route("/<any(accounts, people, relationships):kind>")
class Import(MethodView):
    @imports_blp.arguments(ImportArgs, location="query")
    @imports_blp.arguments(ImportFileArgs, location="files")
    @imports_blp.response(200, ImportResultSchema)
    def post(self, args, files, kind):
        """Import a CSV file of accounts, people or relationships

        All or nothing: a file with any bad line writes nothing and is answered 422 with one
        message per bad line under ``errors.files.file``. Columns: the README, "CSV import".
        """
        result = importer.import_csv(db.session, kind, files["file"], dry_run=args["dry_run"])
        if args["dry_run"]:
            db.session.rollback()
        else:
            db.session.commit()
        return result


blueprints = (
    accounts_blp,
    people_blp,
    relationships_blp,
    team_blp,
    graph_blp,
    portfolio_blp,
    imports_blp,
)
