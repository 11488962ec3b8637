import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.signals import task_postrun, task_prerun
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vaxbook.settings")

app = Celery("vaxbook")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes every database connection before and after each task unless
# this is set: a new PostgreSQL connection per confirmation cost more than the confirmation.
# Connections are reused; the handlers below drop broken or expired ones the way Django does
# between requests (CONN_MAX_AGE), so a connection dropped under a worker is replaced.
app.conf.CELERY_DB_REUSE_MAX = 10_000
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_unusable_connections(**kwargs) -> None:
    from django.db import close_old_connections

    close_old_connections()


class RetryingTask(DjangoTask):
    """The base of vaxbook's tasks, which are thin: they call one idempotent service.

    Database hiccups (a failover, a dropped connection, a lock timeout) are retried a bounded
    number of times, waiting 1, 2, 4… seconds with jitter; acks_late with reject_on_worker_lost
    puts the message back if a pool process dies mid-task, and the service's idempotence makes
    the re-run harmless. A retry runs on a working connection: between tasks the worker drops
    a connection that failed (``_close_unusable_connections``), so the next try reconnects.
    """

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (OperationalError, InterfaceError)
    max_retries = 5
    retry_backoff = True
    retry_backoff_max = 30
    retry_jitter = True
