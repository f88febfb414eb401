"""Celery application: tasks autodiscovered in <app>/tasks.py, beat schedule in settings.

Without CELERY_BROKER_URL the settings make every task run eagerly in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("esfca")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="config.ping")
def ping(value: str = "pong") -> str:
    """Round-trip check used by operations and tests."""
    return value
