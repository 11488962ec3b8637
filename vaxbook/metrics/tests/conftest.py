import pytest

from vaxbook.metrics import health


@pytest.fixture(autouse=True)
def _no_health_result_from_another_test():
    """The health checks' result is reused for a moment (per process): not across tests."""
    health.forget_latest()
    yield
    health.forget_latest()
