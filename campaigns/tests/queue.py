"""Join the waiting room the way a browser does: read the challenge from the queue page,
solve it with ALTCHA's own solver (the tests keep its cost low), post the join form."""

import json
import re
from html import unescape

import altcha
from django.test import Client
from django.urls import reverse

JOIN_FORM = re.compile(r'<form[^>]*\bid="queue-join"[^>]*>')


def queue_url(campaign) -> str:
    return reverse("campaigns:queue", kwargs={"campaign": campaign.slug})


def join_form(page: str) -> dict[str, str] | None:
    """The join form's attributes (``action``, ``data-challenge``), or None if the page has
    no join form."""
    match = JOIN_FORM.search(page)
    if not match:
        return None
    return {k: unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', match.group(0))}


def solved(form: dict[str, str]) -> str:
    """The ``altcha`` field a browser's script posts: the challenge with its solution."""
    challenge = altcha.Challenge.from_dict(json.loads(form["data-challenge"]))
    solution = altcha.solve_challenge(challenge)
    assert solution is not None
    return altcha.Payload(challenge, solution).to_base64()


def join(client: Client, campaign, *, payload: str | None = None):
    """GET the queue page, POST its join form with a solved challenge (or ``payload``) and,
    like a browser, follow the answer back to the queue page (which hands out the pass when
    nobody is ahead). Returns the answer to the POST."""
    page = client.get(queue_url(campaign))
    form = join_form(page.content.decode())
    assert form is not None, f"no join form (HTTP {page.status_code})"
    answer = client.post(form["action"], {"altcha": payload or solved(form)})
    if answer.status_code == 303:
        client.get(answer["Location"])
    return answer
