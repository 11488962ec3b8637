"""The one writer of the audit log."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from vaxbook.auditlog.models import AuditEvent


def record(
    action: AuditEvent.Action | str,
    *,
    actor: AbstractBaseUser | str,
    obj_type: str,
    obj_id: object,
    details: dict[str, Any],
) -> AuditEvent:
    """Write one audit event, now. The only writer of the audit log.

    ``actor`` is the logged-in user, or a name for what has none (``COMMAND_LINE``).
    ``obj_type`` is ``app_label.model``; ``obj_id`` is stored as text. ``details`` must be
    JSON-serialisable by ``AuditEventJSONEncoder`` and must not hold a citizen's name or
    registration number.

    Call it inside the transaction of the change it records, so that both are kept or neither.
    """
    if isinstance(actor, str):
        user, name = None, actor
    else:
        user, name = actor, actor.get_username()
    return AuditEvent.objects.create(
        action=AuditEvent.Action(action),
        actor=user,
        actor_name=name,
        object_type=obj_type,
        object_id=str(obj_id),
        details=details,
    )
