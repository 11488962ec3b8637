import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

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
