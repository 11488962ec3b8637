"""/ping, the one-line view the benchmark measures the booking pages against: it answers
"ok" through every middleware and touches neither the database nor the session."""

import pytest
from django.test import Client
from django.urls import reverse


@pytest.mark.django_db
def test_ping_answers_ok_without_a_query_or_a_session(django_assert_num_queries):
    client = Client()
    with django_assert_num_queries(0):
        response = client.get(reverse("metrics:ping"))
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]
    assert not response.cookies  # no session, no CSRF cookie: nothing kept for the caller


def test_ping_takes_no_writes():
    assert Client().post(reverse("metrics:ping")).status_code == 405
