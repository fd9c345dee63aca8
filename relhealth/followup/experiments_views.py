"""Pages: praise of our people, and outreach experiments (define, start, finish, compare).

Thin, like the API beside them (``experiments_api``): the same schemas read the forms, the
same services act, and a refused action shows its reason on the page it came from, with the
status the API would answer (409 for a second start, 422 for a bad period...).
"""

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError, fields, validate
from sqlalchemy import func, select

from relhealth.accounts.models import Person
from relhealth.core.errors import DomainError
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup import experiments, praise, service
from relhealth.followup.experiments_api import ExperimentArgs
from relhealth.followup.models import ExperimentStatus
from relhealth.web.paging import page_number, pager

bp = Blueprint("followup_more_pages", __name__)
PAGE_SIZE = 25
# The closed loop's tabs (templates/followup/_tabs.html) show experiments to those who run them.
bp.add_app_template_global(experiments.may_run_experiments)


class ExperimentForm(ExperimentArgs):
    """The API's definition, read from a form: every value arrives as text."""

    seed = fields.Integer(strict=False, validate=validate.Range(min=0, max=experiments.MAX_SEED))


# Praise ----------------------------------------------------------------------------------


@bp.route("/praise")
@login_required
def praise_page():
    """Praise on the accounts the user may read, newest first; ?employee= narrows it."""
    employee_id = request.args.get("employee", "")
    filters = {}
    employee = None
    if employee_id.isdigit() and len(employee_id) < 10:
        filters["employee_id"] = int(employee_id)
        employee = db.session.get(Person, int(employee_id))
    page = page_number()
    items, total = praise.list_praise(
        db.session, current_user, filters, ("-created_at",), page, PAGE_SIZE
    )
    top = praise.praise_by_employee(db.session, current_user, limit=5)
    names = dict(
        db.session.execute(
            select(Person.id, Person.first_name + " " + Person.last_name).where(
                Person.id.in_([employee_id for employee_id, _ in top])
            )
        ).all()
    )
    args = {"employee": filters["employee_id"]} if filters else {}
    return render_template(
        "followup/praise.html",
        rows=praise.praise_rows(db.session, items),
        top=[(employee_id, names.get(employee_id, "?"), count) for employee_id, count in top],
        employee=employee if filters else None,
        pager=pager(page, total, PAGE_SIZE, args),
    )


# Experiments -----------------------------------------------------------------------------


def _form_data() -> dict[str, str]:
    """The form's fields, blanks left out (an optional field left empty is not given)."""
    names = ExperimentForm().fields
    return {k: v.strip() for k, v in request.form.items() if k in names and v.strip()}


def _list_page(form: dict | None = None, errors: dict | None = None, status: int = 200):
    page = page_number()
    items, total = experiments.list_experiments(
        db.session, current_user, {}, ("-created_at",), page, PAGE_SIZE
    )
    return (
        render_template(
            "followup/experiments.html",
            experiments=items,
            pager=pager(page, total, PAGE_SIZE),
            form=form or {},
            errors=errors or {},
        ),
        status,
    )


@bp.route("/experiments")
@login_required
def experiments_page():
    """Every experiment, newest first, and the form that defines a new one."""
    return _list_page()


@bp.route("/experiments", methods=["POST"])
@login_required
def create_experiment():
    form = _form_data()
    try:
        data = ExperimentForm().load(form)
    except ValidationError as error:
        return _list_page(form, error.messages, 422)
    try:
        experiment = experiments.create_experiment(db.session, current_user, data, utcnow())
    except DomainError as error:
        db.session.rollback()
        if error.status_code == 403:
            raise
        return _list_page(form, error.fields or {"form": [error.message]}, error.status_code)
    db.session.commit()
    flash("Experiment defined. Nobody is assigned until you start it.", "info")
    return redirect(
        url_for("followup_more_pages.experiment_page", experiment_id=experiment.id), 303
    )


def _display(comparison: dict[str, Any]) -> dict[str, Any]:
    """An outcome's figures as the page writes them.

    Score changes are points on the 0-100 scale; renewal and value change are shares, shown
    as percentages, and the difference of two shares in percentage points.
    """
    scale = 1 if comparison["outcome"] == "score_change" else 100
    signed_means = comparison["outcome"] != "renewal"

    def figure(value, signed):
        if value is None:
            return None
        text = f"{value * scale:+.1f}" if signed else f"{value * scale:.1f}"
        return text if scale == 1 else text + "%"

    def points(value):
        return None if value is None else f"{value * scale:+.1f}"

    return {
        **comparison,
        "mean_outreach_text": figure(comparison["mean_outreach"], signed_means),
        "mean_control_text": figure(comparison["mean_control"], signed_means),
        "difference_text": points(comparison["difference"]),
        "ci_text": None
        if comparison["ci_low"] is None
        else f"{points(comparison['ci_low'])} to {points(comparison['ci_high'])}",
        "difference_unit": "points" if scale == 1 else "percentage points",
        "p_text": None if comparison["p_value"] is None else f"{comparison['p_value']:.3f}",
        # The interval leaves out zero: the arms differ at the 95% level.
        "excludes_zero": comparison["ci_low"] is not None
        and comparison["ci_low"] != comparison["ci_high"]
        and (comparison["ci_low"] > 0 or comparison["ci_high"] < 0),
    }


def _experiment_page(experiment, error: str | None = None, status: int = 200):
    results = None
    if experiment.status != ExperimentStatus.DRAFT:
        results = experiments.outcomes(db.session, experiment, utcnow())
        results["outcomes"] = [_display(c) for c in results["outcomes"]]
    waiting = None
    if experiment.status == ExperimentStatus.DRAFT:
        waiting = db.session.scalar(
            select(func.count()).select_from(experiments.eligible_cases(experiment).subquery())
        )
    strata = experiments.assignment_counts(db.session, experiment)
    return (
        render_template(
            "followup/experiment.html",
            experiment=experiment,
            strata=strata,
            totals={
                key: sum(row[key] for row in strata) for key in ("outreach", "control", "total")
            },
            audit=experiments.audit(db.session, experiment),
            events=experiments.events_of(db.session, experiment),
            results=results,
            waiting=waiting,
            period_over=experiment.period_end < utcnow().date(),
            error=error,
        ),
        status,
    )


@bp.route("/experiments/<id:experiment_id>")
@login_required
def experiment_page(experiment_id: int):
    """An experiment: its arms per tier, its audit trail, its results."""
    experiment = experiments.get_experiment(db.session, current_user, experiment_id)
    return _experiment_page(experiment)


def _act(experiment_id: int, action, done: str):
    experiment = experiments.get_experiment(db.session, current_user, experiment_id)
    try:
        action(db.session, experiment, current_user, service.settings_for(), utcnow())
    except DomainError as error:
        db.session.rollback()
        if error.status_code in (403, 404):
            raise
        experiment = experiments.get_experiment(db.session, current_user, experiment_id)
        return _experiment_page(experiment, error.message, error.status_code)
    db.session.commit()
    flash(done, "info")
    return redirect(
        url_for("followup_more_pages.experiment_page", experiment_id=experiment_id), 303
    )


@bp.route("/experiments/<id:experiment_id>/start", methods=["POST"])
@login_required
def start_experiment(experiment_id: int):
    return _act(
        experiment_id,
        experiments.start_experiment,
        "Started: the arms are drawn and the control arm's cases are held until you finish.",
    )


@bp.route("/experiments/<id:experiment_id>/finish", methods=["POST"])
@login_required
def finish_experiment(experiment_id: int):
    return _act(
        experiment_id,
        experiments.finish_experiment,
        "Finished: the control arm's cases are released to their owners, due from now.",
    )
