"""Read /metrics as Prometheus does: its text format, parsed by prometheus-client's parser."""

from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-the-tests-0123456789abcdef"


def scrape(client: Client, *, token: str = TOKEN) -> dict[tuple[str, tuple], float]:
    """Every sample: (sample name, sorted labels) → value."""
    response = client.get(reverse("metrics:metrics"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    """A sample's value; 0 when it is absent (a label set not seen yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
