import pytest
import redis

from vaxbook.celery import app


@pytest.fixture
def broker():
    """The real Redis broker, its queues emptied before and after the test."""
    app.control.purge()
    with redis.Redis.from_url(app.conf.broker_url) as connection:
        yield connection
    app.control.purge()
