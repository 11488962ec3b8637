"""Korean first: every text a person reads goes through the translation machinery and has its
Korean translation, and the pages speak the language asked for.

The sources are read the way ``makemessages`` reads them (Django's ``templatize`` for templates),
with Babel's extractor standing in for GNU xgettext, so the check needs nothing installed.
"""

import io
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from django.conf import settings
from django.contrib.admin.utils import display_for_value
from django.template.base import Lexer, TokenType
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

from vaxbook.dates import format_day, format_kst

ROOT = Path(settings.BASE_DIR)
APPS = ["vaxbook", "bookings", "campaigns", "clinics"]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}


def _sources() -> list[Path]:
    files = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if not {"tests", "migrations"} & set(path.relative_to(ROOT).parts):
                files.append(path)
    return files + _templates()


def _templates() -> list[Path]:
    dirs = [ROOT / "templates"] + [d for app in APPS for d in (ROOT / app).rglob("templates")]
    return sorted(
        path
        for d in dirs
        if d.is_dir()
        for pattern in ("*.html", "*.txt")
        for path in d.rglob(pattern)
    )


def _messages_in(path: Path) -> list[tuple[str | None, str]]:
    """(context, msgid) of every text marked for translation in one source file."""
    source = path.read_text(encoding="utf-8")
    if path.suffix in {".html", ".txt"}:
        source = templatize(source, origin=str(path))
    found = extract("python", io.BytesIO(source.encode()), keywords=KEYWORDS)
    out = []
    for _lineno, message, _comments, context in found:
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            out.append((context, msgid))
    return out


def _catalogues() -> list[Path]:
    return sorted(
        [
            *ROOT.glob("locale/ko/LC_MESSAGES/*.po"),
            *ROOT.glob("*/locale/ko/LC_MESSAGES/*.po"),
            *ROOT.glob("vaxbook/*/locale/ko/LC_MESSAGES/*.po"),
        ]
    )


def _korean() -> dict[tuple[str | None, str], object]:
    entries = {}
    for path in _catalogues():
        with path.open("rb") as f:
            catalogue = read_po(f, locale="ko")
        for message in catalogue:
            if message.id:
                key = message.id[0] if isinstance(message.id, tuple) else message.id
                entries[(message.context, key)] = message
    return entries


def test_every_marked_text_has_a_korean_translation_that_is_not_fuzzy():
    korean = _korean()
    missing, untranslated = [], []
    for path in _sources():
        for key in _messages_in(path):
            entry = korean.get(key)
            where = f"{path.relative_to(ROOT)}: {key[1]!r}"
            if entry is None:
                missing.append(where)
                continue
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            if entry.fuzzy or not all(strings):
                untranslated.append(where)
    assert not missing, "not in any Korean catalogue (make catalogues):\n" + "\n".join(missing)
    assert not untranslated, "untranslated or fuzzy in Korean:\n" + "\n".join(untranslated)


def test_the_korean_catalogues_are_whole_and_their_placeholders_match():
    assert _catalogues(), "no Korean catalogue committed"
    problems = []
    for path in _catalogues():
        with path.open("rb") as f:
            catalogue = read_po(f, locale="ko")
        assert not catalogue.fuzzy, f"{path} is marked fuzzy as a whole"
        for message in catalogue:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy or not all(strings):
                problems.append(f"{path.relative_to(ROOT)}: {message.id!r} untranslated/fuzzy")
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            wanted = set(re.findall(r"%\(\w+\)[sdif]|\{\w*\}", ids[0]))
            for string in strings:
                if set(re.findall(r"%\(\w+\)[sdif]|\{\w*\}", string)) != wanted:
                    problems.append(f"{path.relative_to(ROOT)}: {message.id!r} placeholders")
    assert not problems, "\n".join(problems)


# Attributes a person reads (or hears from a screen reader).
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "label"}
LETTERS = re.compile(r"[A-Za-z\uac00-\ud7a3]")
HOLE = "\x00"  # where a {{ variable }} or {% tag %} stood


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.tag = ""

    def handle_starttag(self, tag, attrs):
        self.tag = tag
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name in READ_ATTRIBUTES and value:
                self.texts.append(value)
        if tag in {"input", "button"} and attrs.get("type") in {"submit", "button", "reset"}:
            self.texts.append(attrs.get("value") or "")

    def handle_data(self, data):
        if self.tag not in {"script", "style"}:
            self.texts.append(data)


def _text_outside_translation(path: Path) -> list[str]:
    """What a person would read in this template that no translation tag covers."""
    skipping = 0
    rebuilt = []
    for token in Lexer(path.read_text(encoding="utf-8")).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0]
            if name in {"blocktranslate", "blocktrans", "comment"}:
                skipping += 1
            elif name in {"endblocktranslate", "endblocktrans", "endcomment"}:
                skipping -= 1
            rebuilt.append(HOLE)
        elif token.token_type == TokenType.TEXT and not skipping:
            rebuilt.append(token.contents)
        elif token.token_type == TokenType.VAR:
            rebuilt.append(HOLE)
    reader = _Reader()
    reader.feed("".join(rebuilt))
    texts = [text.replace(HOLE, "{…}").strip() for text in reader.texts]
    return [text for text in texts if LETTERS.search(text.replace("{…}", ""))]


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_template_has_no_text_outside_the_translation_tags(path):
    assert _text_outside_translation(path) == []


def test_the_checker_sees_a_bare_text_and_a_bare_attribute(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '{% translate "Kept" %}<p title="Bare title">{{ x }}</p>'
        "{% blocktranslate %}Also kept {{ x }}{% endblocktranslate %}<b>Bare</b>"
        '<input type="submit" value="{% translate "Go" %}">'
    )
    assert _text_outside_translation(page) == ["Bare title", "Bare"]


@pytest.mark.django_db
def test_korean_is_the_default_english_on_request_and_the_switch_is_remembered():
    home = reverse("home")
    korean = Client().get(home)
    assert korean.status_code == 200
    assert korean["Content-Language"] == "ko"
    assert re.search(r'<html lang="ko">', korean.content.decode())
    # a language we do not speak falls back to Korean, not English
    assert Client(headers={"accept-language": "fr"}).get(home)["Content-Language"] == "ko"
    assert Client(headers={"accept-language": "en-GB,en"}).get(home)["Content-Language"] == "en"

    browser = Client(headers={"accept-language": "ko"})
    switched = browser.post(reverse("set_language"), {"language": "en", "next": home})
    assert switched.status_code == 302 and switched["Location"] == home
    again = browser.get(home)
    assert again["Content-Language"] == "en"
    assert '<html lang="en">' in again.content.decode()
    # every page carries the switch back, posting to set_language
    assert 'name="language" value="ko"' in again.content.decode()


def test_the_catalogues_are_compiled_and_loaded():
    with translation.override("ko"):
        assert translation.gettext("Find my booking") != "Find my booking"


def test_dates_read_as_each_language_writes_them_and_always_in_korea_time():
    moment = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # 20:00 in Korea
    with translation.override("ko"):
        assert format_kst(moment) == "2026년 11월 27일 (금) 20:00 KST"
        assert format_day(moment.date()) == "2026년 11월 27일 (금)"
    with translation.override("en"):
        assert format_kst(moment) == "Fri 27 Nov 2026, 20:00 KST"
        assert format_day(moment.date()) == "Fri 27 Nov 2026"


def test_the_admin_shows_a_moment_as_the_pages_do():
    moment = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    with translation.override("ko"):
        assert display_for_value(moment, "") == "2026년 11월 27일 (금) 20:00 KST"
    with translation.override("en"):
        assert display_for_value(moment, "") == "Fri 27 Nov 2026, 20:00 KST"
