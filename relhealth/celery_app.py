"""Celery for background work, when a broker is configured (``RELHEALTH_BROKER_URL``).

Without a broker relhealth runs embedded: ``relhealth tick`` from cron does the scheduling.
With one, ``relhealth worker`` runs a Celery worker (and, unless ``--no-beat``, Celery beat,
which queues the scheduler tick every ``RELHEALTH_TICK_MINUTES``). Tasks run inside an app
context of the app that made the Celery app, so they use ``db.session`` like a command does.
Task modules are each domain's ``tasks.py``.
"""

import datetime as dt
import os

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask

from relhealth.config import ConfigError

TICK_TASK = "relhealth.tick"
DOMAINS = ("relhealth.cohorts", "relhealth.messaging", "relhealth.reports", "relhealth.followup")


def beat_schedule(app: Flask) -> dict:
    """The periodic tasks: the scheduler tick every ``TICK_MINUTES`` (none without a broker)."""
    if not app.config["BROKER_URL"]:
        return {}
    minutes = app.config["TICK_MINUTES"]
    if minutes <= 0:
        raise ConfigError("RELHEALTH_TICK_MINUTES: must be more than 0")
    every = dt.timedelta(minutes=minutes)
    return {
        "tick": {
            "task": TICK_TASK,
            "schedule": every,
            # A tick nobody picked up before the next one is due is dropped, not piled up.
            "options": {"expires": every.total_seconds()},
        }
    }


def celery_for(app: Flask) -> Celery:
    """The app's Celery app, made on first use and kept in ``app.extensions``."""
    if "celery" in app.extensions:
        return app.extensions["celery"]

    class AppContextTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=AppContextTask)
    celery.conf.update(
        broker_url=app.config["BROKER_URL"] or None,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        enable_utc=True,
        timezone="UTC",
        beat_schedule=beat_schedule(app),
        beat_schedule_filename=os.path.join(app.instance_path, "celerybeat-schedule"),
    )
    celery.autodiscover_tasks(list(DOMAINS), force=True)
    celery.set_default()
    app.extensions["celery"] = celery

    @worker_process_init.connect(weak=False)
    def _fresh_connections(**_kwargs) -> None:
        # A forked pool process must not share the parent's pooled database connections.
        from relhealth.extensions import db

        with app.app_context():
            db.engine.dispose(close=False)

    return celery
