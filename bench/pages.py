"""What a browser acts on in a page, and nothing it shows: links, forms and their fields, and
whether the page reloads itself. The simulated citizens find their way by element ids, field
names and the links' query parameters, never by the pages' wording, so the bench keeps working
when the pages are reworded or translated.
"""

import json
import re
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import altcha

# Fields a browser sends as they are (hidden ones, and text fields the person fills in);
# radio buttons and check boxes are choices, buttons send nothing unless clicked.
CHOICE_TYPES = {"radio", "checkbox"}
UNSENT_TYPES = {"submit", "button", "reset", "image", "file"}

# The pages are read by their tags alone, with regular expressions: html.parser costs the load
# generator some 50 times as much, and the load generator shares the server's cores.
UNREAD = re.compile(r"<!--.*?-->|<(script|style)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
TAG = re.compile(r"""<(/?)([a-zA-Z][\w-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
ATTRIBUTE = re.compile(r"""([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'<>`]+)))?""")
# A bare "&" in an attribute ("?t=…&region=…") is text to a browser, where unescape() would
# read the "&reg" of "&region=" as "®": only references closed by ";" are decoded.
REFERENCE = re.compile(r"&#?\w+;")
READ_TAGS = {"a", "form", "input", "meta"}  # and any element with an id


def attribute_values(raw: str) -> dict[str, str]:
    return {
        name.lower(): REFERENCE.sub(lambda ref: unescape(ref.group(0)), double or single or bare)
        for name, double, single, bare in ATTRIBUTE.findall(raw)
    }


@dataclass
class Form:
    attrs: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)

    def add_input(self, attrs: dict[str, str]) -> None:
        name, kind = attrs.get("name"), attrs.get("type", "text").lower()
        if not name or kind in UNSENT_TYPES:
            return
        if kind in CHOICE_TYPES:
            self.choices.setdefault(name, []).append(attrs.get("value", "on"))
        else:
            self.fields[name] = attrs.get("value", "")

    def has(self, name: str) -> bool:
        return name in self.fields or name in self.choices

    def action(self, page_url: str) -> str:
        """Where the browser posts it: the action, else the page's own address."""
        return urljoin(page_url, self.attrs.get("action") or page_url)

    def data(self, **filled: str) -> dict[str, str]:
        """What the browser posts: the form's own fields with the person's input over them."""
        return {**self.fields, **filled}


class Page:
    """A page as read once: its links, forms, elements with an id, and its reload interval."""

    def __init__(self, url: str, html: str):
        self.url = url
        self.hrefs: list[str] = []  # every <a href>, as written
        self.forms: list[Form] = []
        self.ids: dict[str, dict[str, str]] = {}  # the attributes of every element with an id
        form: Form | None = None  # the form being read
        for closing, tag, raw in TAG.findall(UNREAD.sub("", html)):
            tag = tag.lower()
            if closing and tag == "form":
                form = None
            elif not closing and (tag in READ_TAGS or "id" in raw):
                form = self._read(tag, attribute_values(raw), form)

    def _read(self, tag: str, found: dict[str, str], form: Form | None) -> Form | None:
        """Take in one start tag; returns the form being read after it."""
        if "id" in found:
            self.ids[found["id"]] = found
        if tag == "a" and "href" in found:
            self.hrefs.append(found["href"])
        elif tag == "form":
            form = Form(found)
            self.forms.append(form)
        elif tag == "input" and form is not None:  # the pages use no other fields
            form.add_input(found)
        return form

    def form_with(self, field_name: str) -> Form | None:
        """The first form with this field."""
        return next((form for form in self.forms if form.has(field_name)), None)

    def form_by_id(self, element_id: str) -> Form | None:
        return next((form for form in self.forms if form.attrs.get("id") == element_id), None)

    def links_here(self, *params: str, without: tuple[str, ...] = ()) -> list[str]:
        """Links back to this page whose query carries all `params` and none of `without`
        (the choose page's region, clinic and day links), resolved as the browser does."""
        here = urlsplit(self.url).path
        found = []
        for href in self.hrefs:
            if not all(f"{param}=" in href for param in params):
                continue  # most links, without parsing them
            link = urlsplit(urljoin(self.url, href))
            keys = parse_qs(link.query).keys()
            if link.path == here and keys >= set(params) and not keys & set(without):
                found.append(f"{link.path}?{link.query}")
        return found


def solve_proof_of_work(form: Form) -> str:
    """What the queue page's script does before it posts the join form: solve the ALTCHA
    challenge of the form's data-challenge attribute; the value of its `altcha` field."""
    challenge = altcha.Challenge.from_dict(json.loads(form.attrs["data-challenge"]))
    solution = altcha.solve_challenge(challenge)
    return altcha.Payload(challenge, solution).to_base64()
