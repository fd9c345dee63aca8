"""REST resources: report jobs and their PDFs, report subscriptions and their delivery log."""

from flask import send_file
from flask.views import MethodView

from relhealth.auth.api import api_blueprint, api_user
from relhealth.core.pagination import PAGING, paged
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.reports import jobs, subscriptions, tasks
from relhealth.reports.schemas import (
    DeliverySchema,
    ReportArgs,
    ReportSchema,
    SubscriptionArgs,
    SubscriptionSchema,
    SubscriptionUpdateArgs,
)

blp = api_blueprint(
    "reports", __name__, "/reports", "PDF reports: ask for one, poll it, download it."
)
subscriptions_blp = api_blueprint(
    "report_subscriptions",
    __name__,
    "/report-subscriptions",
    "Reports rendered on a schedule and e-mailed as PDF attachments.",
)


@blp.route("")
class Reports(MethodView):
    @blp.arguments(ReportArgs)
    @blp.response(202, ReportSchema)
    def post(self, args):
        """Ask for a report

        Account and partner reports: an account you may read (404 otherwise). Portfolio: the
        accounts you may read, optionally filtered. Rendered by a Celery worker when a broker
        is configured (poll the job), otherwise before the answer (status done or failed).
        """
        report = jobs.request_report(
            db.session, api_user(), args["kind"], args.get("account_id"), args.get("filters")
        )
        db.session.commit()
        return tasks.start_report(db.session, report)

    @blp.response(200, ReportSchema(many=True))
    @blp.paginate(**PAGING)
    def get(self, pagination_parameters):
        """List your reports (an admin: everyone's), newest first"""
        return paged(
            pagination_parameters,
            lambda page, size: jobs.list_reports(db.session, api_user(), page, size),
        )


@blp.route("/<id:report_id>")
class ReportById(MethodView):
    @blp.response(200, ReportSchema)
    def get(self, report_id):
        """Get a report job: its status, and its hash and size once done"""
        return jobs.get_report(db.session, api_user(), report_id)


@blp.route("/<id:report_id>/pdf")
class ReportPdf(MethodView):
    @blp.response(200, content_type="application/pdf")
    def get(self, report_id):
        """Download a rendered report's PDF (409 while it is not done)"""
        report = jobs.get_report(db.session, api_user(), report_id)
        path = jobs.archived_path(report, jobs.archive_folder())
        return send_file(
            path,
            mimetype=jobs.PDF,
            as_attachment=True,
            download_name=jobs.report_filename(report),
            etag=report.sha256,
        )


@subscriptions_blp.route("")
class Subscriptions(MethodView):
    @subscriptions_blp.arguments(SubscriptionArgs)
    @subscriptions_blp.response(201, SubscriptionSchema)
    def post(self, args):
        """Subscribe to a report

        It is rendered at every occurrence of ``rrule`` (from ``starts_at``, at most daily)
        and e-mailed to you with the PDF attached.
        """
        subscription = subscriptions.create_subscription(db.session, api_user(), args, utcnow())
        db.session.commit()
        return subscription

    @subscriptions_blp.response(200, SubscriptionSchema(many=True))
    @subscriptions_blp.paginate(**PAGING)
    def get(self, pagination_parameters):
        """List your report subscriptions (an admin: everyone's)"""
        return paged(
            pagination_parameters,
            lambda page, size: subscriptions.list_subscriptions(db.session, api_user(), page, size),
        )


@subscriptions_blp.route("/<id:subscription_id>")
class SubscriptionById(MethodView):
    @subscriptions_blp.response(200, SubscriptionSchema)
    def get(self, subscription_id):
        """Get a report subscription"""
        return subscriptions.get_subscription(db.session, api_user(), subscription_id)

    @subscriptions_blp.arguments(SubscriptionUpdateArgs)
    @subscriptions_blp.response(200, SubscriptionSchema)
    def patch(self, args, subscription_id):
        """Change a subscription's rule, start, filters, or pause and resume it (active)"""
        subscription = subscriptions.get_subscription(db.session, api_user(), subscription_id)
        subscriptions.update_subscription(db.session, subscription, args, utcnow())
        db.session.commit()
        return subscription

    @subscriptions_blp.response(204)
    def delete(self, subscription_id):
        """Unsubscribe: the subscription stops, its delivery log stays"""
        subscription = subscriptions.get_subscription(db.session, api_user(), subscription_id)
        subscriptions.update_subscription(db.session, subscription, {"active": False}, utcnow())
        db.session.commit()


@subscriptions_blp.route("/<id:subscription_id>/deliveries")
class SubscriptionDeliveries(MethodView):
    @subscriptions_blp.response(200, DeliverySchema(many=True))
    @subscriptions_blp.paginate(**PAGING)
    def get(self, subscription_id, pagination_parameters):
        """The subscription's delivery log, newest first"""
        subscription = subscriptions.get_subscription(db.session, api_user(), subscription_id)
        return paged(
            pagination_parameters,
            lambda page, size: subscriptions.list_deliveries(db.session, subscription, page, size),
        )
