"""An audit event's details as officials read them: each fact, and each change as before → after,
instead of the stored JSON.

``details`` is what the writers (``auditlog.services.record``'s callers) put there: facts about
the event (``campaign``, ``clinic``, ``window``, ``date``…), a change of one field (``field``,
``old``, ``new``), or a whole row added (``new``), deleted (``old``) or changed (``old`` and
``new``, both objects). Anything else is shown as it is stored.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vaxbook.dates import format_day, format_kst

# Details keys that name a related row, read with the model that holds the field.
RELATED_MODELS = {"window": "campaigns.BookingWindow"}

# The facts the writers record beside a change, as officials call them.
FACT_LABELS = {
    "campaign": _("campaign"),
    "clinic": _("clinic"),
    "window": _("staggered window"),
    "date": _("day"),
    "start_time": _("time"),
    "format": _("file format"),
    "user": _("user"),
    "search": _("search"),
    "filters": _("filters"),
    "rows": _("rows found"),
    "shown": _("rows shown"),
}


@dataclass(frozen=True)
class Row:
    """One line of the details: ``key`` as stored, and what it says (``kind``): a ``value``
    (``fact``), a change of ``old`` to ``new`` (``changed``), or a field of a whole row that
    was ``added`` (its ``new``) or ``removed`` (its ``old``)."""

    key: str
    label: str
    kind: str = "fact"
    value: Any = None
    old: Any = None
    new: Any = None


def rows(object_type: str, details: Any) -> list[Row]:
    """The details of an event about an ``object_type`` (``app_label.model``), line by line."""
    if not isinstance(details, dict):
        return [Row(key="", label="", value=details)]
    model = _model(object_type)
    found: list[Row] = []
    changed_field = details.get("field") if "old" in details or "new" in details else None
    for key, value in details.items():
        if key in {"field", "old", "new"}:
            continue
        label = FACT_LABELS.get(key) or _label(model, key)
        found.append(Row(key=key, label=str(label), value=value))
    if isinstance(changed_field, str):
        row_model = _model(RELATED_MODELS["window"]) if "window" in details else model
        found.append(
            Row(
                key=changed_field,
                label=_label(row_model, changed_field),
                kind="changed",
                old=details.get("old"),
                new=details.get("new"),
            )
        )
        return found
    old, new = details.get("old"), details.get("new")
    if isinstance(old, dict) or isinstance(new, dict):
        row_model = _model(RELATED_MODELS["window"]) if "window" in details else model
        before = old if isinstance(old, dict) else None
        after = new if isinstance(new, dict) else None
        kind = "changed" if before is not None and after is not None else "removed"
        if before is None:
            kind = "added"
        for key in dict.fromkeys([*(before or {}), *(after or {})]):
            found.append(
                Row(
                    key=key,
                    label=_label(row_model, key),
                    kind=kind,
                    old=(before or {}).get(key),
                    new=(after or {}).get(key),
                )
            )
    else:
        for key in ("old", "new"):
            if key in details:
                label = gettext("before") if key == "old" else gettext("after")
                found.append(Row(key=key, label=label, value=details[key]))
    return found


def as_html(object_type: str, details: Any) -> SafeString:
    """The details as a definition list (every value escaped): ``<dt>`` what, ``<dd>`` the
    value, or the old value struck through → the new one."""
    shown = []
    for row in rows(object_type, details):
        if row.kind == "changed":
            value = format_html(
                '<del class="audit-old">{}</del> → <ins class="audit-new">{}</ins>',
                shown_value(row.old),
                shown_value(row.new),
            )
        elif row.kind == "added":
            value = format_html('<ins class="audit-new">{}</ins>', shown_value(row.new))
        elif row.kind == "removed":
            value = format_html('<del class="audit-old">{}</del>', shown_value(row.old))
        else:
            value = shown_value(row.value)
        shown.append((row.key, row.label or row.key, row.kind, value))
    if not shown:
        return format_html('<span class="audit-details-empty">{}</span>', "-")
    return format_html(
        '<dl class="audit-details">{}</dl>',
        format_html_join(
            "",
            '<div class="audit-detail" data-key="{}" data-kind="{}"><dt>{}</dt><dd>{}</dd></div>',
            ((key, kind, label, value) for key, label, kind, value in shown),
        ),
    )


def shown_value(value: Any) -> str:
    """A stored value as a person reads it: times in KST, days, yes/no, nothing as "–"."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str):
        moment = _parse(value)
        if moment is not None:
            return moment
        return value
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _parse(text: str) -> str | None:
    """A date or an aware date-time as the encoder wrote it (ISO 8601), shown; else None."""
    if len(text) == 10:
        try:
            return format_day(date.fromisoformat(text))
        except ValueError:
            return None
    if len(text) >= 19 and text[4] == "-" and "T" in text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is not None:
            return format_kst(moment)
    return None


def _model(label: str) -> type[Model] | None:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _label(model: type[Model] | None, key: str) -> str:
    """The field's verbose name where the model has such a field, else the key as stored."""
    if model is not None:
        try:
            field = model._meta.get_field(key)
        except FieldDoesNotExist:
            pass
        else:
            name = getattr(field, "verbose_name", None)
            if name:
                return str(name)
    return key
