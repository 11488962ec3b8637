"""The chain of booking steps: each step hands the next a signed, short-lived token.

The token names the campaign, the step it opens, the flow (a random id kept only in this
person's session, which binds the token to the session) and the person (a prefix of the keyed
hash of their registration number), and expires after ``VAXBOOK_STEP_TOKEN_MAX_AGE``. A step
reached without a valid token from the step before — a bookmark, a copied URL, a token from
another session or campaign — is sent back to the first step.
The person's identity stays on the server, in the session, the RRN only encrypted.
"""

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from bookings.identity import Identity, IdentityError, decrypt_rrn, encrypt_rrn, rrn_hmac
from campaigns.windows import WindowState, closed_response, window_state

SALT = "vaxbook.booking.step"
SESSION_KEY = "booking_flow"
SUBMITTED_KEY = "submitted_flows"
OWNED_KEY = "my_bookings"
MOVES_KEY = "booking_moves"

VERIFY_PHONE = "verify_phone"  # only in a campaign that asks for it (Campaign.verify_phone)
CHOOSE = "choose"
REVIEW = "review"
RESTART_MESSAGE = _("Your booking session expired or the link is not valid. Please start again.")


@dataclass
class Flow:
    id: str
    campaign: str
    name: str
    phone: str
    rrn_encrypted: str
    person: str = ""
    email: str = ""
    slot_id: int | None = None
    # The slots shown for the later doses of a multi-dose vaccine (bookings.doses), chosen with
    # the first: the review page shows them and the submit asks for exactly these.
    later_slot_ids: list[int] = field(default_factory=list)
    # The phone a one-time code proved (vaxbook.notifications.phone_codes), "" until then. It
    # is the flow's own phone, which no later step changes: the booking and its messages use it.
    verified_phone: str = ""

    @property
    def identity(self) -> Identity:
        return Identity(
            name=self.name,
            rrn=decrypt_rrn(self.rrn_encrypted),
            phone=self.phone,
            email=self.email,
        )

    @property
    def phone_verified(self) -> bool:
        return bool(self.verified_phone) and self.verified_phone == self.phone


def start_flow(request: HttpRequest, *, campaign: str, identity: Identity) -> Flow:
    flow = Flow(
        id=secrets.token_urlsafe(12),
        campaign=campaign,
        name=identity.name,
        phone=identity.phone,
        email=identity.email,
        rrn_encrypted=encrypt_rrn(identity.rrn),
        person=rrn_hmac(identity.rrn)[:16],
    )
    save_flow(request, flow)
    return flow


def save_flow(request: HttpRequest, flow: Flow) -> None:
    request.session[SESSION_KEY] = flow.__dict__.copy()


def token_for(flow: Flow, step: str) -> str:
    return signing.dumps({"c": flow.campaign, "s": step, "f": flow.id, "p": flow.person}, salt=SALT)


def read_token(token: str, *, campaign: str, step: str) -> dict | None:
    """The contents of a valid token for this campaign and step, else None."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.VAXBOOK_STEP_TOKEN_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("c") != campaign or data.get("s") != step:
        return None
    return data if isinstance(data.get("f"), str) else None


def flow_for_step(request: HttpRequest, *, campaign: str, step: str) -> Flow | None:
    """The flow of this session that the token in the request opens, else None."""
    token = request.POST.get("t") or request.GET.get("t") or ""
    data = read_token(token, campaign=campaign, step=step)
    stored = request.session.get(SESSION_KEY)
    if not data or not isinstance(stored, dict) or stored.get("id") != data["f"]:
        return None
    if stored.get("person") != data.get("p"):
        return None
    if stored.get("campaign") != campaign:
        return None
    try:
        flow = Flow(**stored)
        flow.identity  # noqa: B018 - a key rotated away, or a session from older code
    except (TypeError, IdentityError):
        request.session.pop(SESSION_KEY, None)
        return None
    return flow


def submitted_booking_for_token(request: HttpRequest, *, campaign: str, step: str) -> str | None:
    """The booking that this token's flow already made: a double submit, or the browser's back
    button after booking (to the review or the choose step), leads to it."""
    token = request.POST.get("t") or request.GET.get("t") or ""
    data = read_token(token, campaign=campaign, step=step)
    return request.session.get(SUBMITTED_KEY, {}).get(data["f"]) if data else None


def finish_flow(request: HttpRequest, flow: Flow, *, public_id: str) -> None:
    request.session.pop(SESSION_KEY, None)
    submitted = request.session.get(SUBMITTED_KEY, {})
    submitted[flow.id] = public_id
    request.session[SUBMITTED_KEY] = submitted
    remember_booking(request, public_id)


def remember_booking(request: HttpRequest, public_id: str) -> None:
    """This session may manage (rebook, cancel) the booking: it made it or proved the RRN."""
    owned = request.session.get(OWNED_KEY, [])
    if public_id not in owned:
        request.session[OWNED_KEY] = [*owned, public_id][-20:]


def may_manage(request: HttpRequest, public_id: str) -> bool:
    return public_id in request.session.get(OWNED_KEY, [])


@dataclass(frozen=True)
class MoveChoice:
    """The new time chosen for a booking's move, and the later doses' times shown with it:
    kept in the session between choosing and the review, never in the page."""

    slot_id: int
    later_slot_ids: list[int]


def choose_move(request: HttpRequest, public_id: str, choice: MoveChoice) -> None:
    moves = request.session.get(MOVES_KEY, {})
    moves = {k: v for k, v in moves.items() if k != public_id}
    moves[public_id] = {"slot": choice.slot_id, "later": list(choice.later_slot_ids)}
    request.session[MOVES_KEY] = dict(list(moves.items())[-5:])


def chosen_move(request: HttpRequest, public_id: str) -> MoveChoice | None:
    """The move this session chose for the booking, or None."""
    stored = request.session.get(MOVES_KEY, {}).get(public_id)
    if not isinstance(stored, dict):
        return None
    slot, later = stored.get("slot"), stored.get("later")
    if not isinstance(slot, int) or not isinstance(later, list):
        return None
    if not all(isinstance(slot_id, int) for slot_id in later):
        return None
    return MoveChoice(slot_id=slot, later_slot_ids=later)


def forget_move(request: HttpRequest, public_id: str) -> None:
    moves = request.session.get(MOVES_KEY, {})
    if public_id in moves:
        request.session[MOVES_KEY] = {k: v for k, v in moves.items() if k != public_id}


def step_required(step: str) -> Callable:
    """Guard a booking step after the first, under ``booking_window_required``: the request
    must carry a valid token of this step for this session's flow, or the person starts again
    at step 1 (a step of a flow that has already booked — a double submit, the back button —
    goes to the booking it made instead); the
    person's own window (staggered windows) must be open, not only some window; and in a
    campaign that asks for a verified phone, every step after the code's needs the flow's phone
    proven. The view gets the flow as ``request.flow``."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def stepped(request: HttpRequest, campaign: str, *args, **kwargs) -> HttpResponse:
            flow = flow_for_step(request, campaign=campaign, step=step)
            if flow is None:
                made = submitted_booking_for_token(request, campaign=campaign, step=step)
                if made:
                    return redirect("bookings:status", public_id=made)
                messages.warning(request, RESTART_MESSAGE)
                return redirect("bookings:start", campaign=campaign)
            born = flow.identity.rrn.birth_date
            state = window_state(request.campaign, birth_date=born)
            if state is not WindowState.OPEN:
                return closed_response(request, request.campaign, state, birth_date=born)
            if request.campaign.verify_phone and step != VERIFY_PHONE and not flow.phone_verified:
                # only the code step hands out a token of the next one; this is the back stop
                messages.warning(request, RESTART_MESSAGE)
                return redirect("bookings:start", campaign=campaign)
            request.flow = flow
            return view(request, campaign, *args, **kwargs)

        return stepped

    return decorate
