"""The waiting room: tickets, the draw at the opening, admission at a rate, passes."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from bookings.tests.flow import submit, walk_to_review
from campaigns import services, waiting_room
from campaigns.models import Campaign, QueueDraw, QueueDrawEntry
from campaigns.tests.admin_forms import campaign_form, campaign_page
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import join
from clinics.tests.factories import SlotFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("draw_at_the_opening_instant")]


def _queue(campaign):
    return reverse("campaigns:queue", kwargs={"campaign": campaign.slug})


def _status(client, campaign):
    return client.get(reverse("campaigns:queue-status", kwargs={"campaign": campaign.slug}))


def _start(campaign):
    return reverse("bookings:start", kwargs={"campaign": campaign.slug})


def _api_create(campaign):
    return reverse("api:booking-create", kwargs={"campaign": campaign.slug})


def _draw(campaign):
    """What the first poll after the opening starts on a worker."""
    services.run_draw(campaign.pk)


def _arrive(n, campaign):
    clients = [Client() for _ in range(n)]
    for client in clients:
        assert join(client, campaign).status_code == 303
    return clients


def test_a_deep_link_without_a_pass_leads_to_the_queue_never_to_a_form(campaign, opening):
    client = Client()
    for moment in (opening - timedelta(minutes=5), opening + timedelta(minutes=5)):
        with time_machine.travel(moment, tick=False):
            for name in ("bookings:start", "bookings:choose", "bookings:review"):
                url = reverse(name, kwargs={"campaign": campaign.slug})
                for response in (
                    client.get(url),
                    client.post(url, {"name": "x", "rrn": "620714-1234567"}),
                ):
                    assert response.status_code == 302
                    assert response["Location"] == _queue(campaign)
            api = client.post(_api_create(campaign), {}, content_type="application/json")
            assert api.status_code == 403 and api.json()["queue"] == _queue(campaign)
    assert Booking.objects.count() == 0


def test_arriving_before_the_opening_gets_a_ticket_and_the_before_opening_page(campaign, opening):
    client = Client()
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        joined = join(client, campaign)
        assert waiting_room.ticket_cookie(campaign.slug) in joined.cookies
        response = client.get(_queue(campaign))
        assert response.status_code == 200
        assert response.context["status"].state == "before_opening"
        assert _status(client, campaign).json()["state"] == "before_opening"


def test_a_refresh_or_second_tab_keeps_the_place(campaign, opening):
    with time_machine.travel(opening, tick=False):
        _draw(campaign)
        first, me = _arrive(1, campaign)[0], Client()
        join(me, campaign)
        place = _status(me, campaign).json()["position"]
        for _ in range(3):
            me.get(_queue(campaign))
        assert _status(me, campaign).json()["position"] == place
        assert _status(first, campaign).json()["position"] == place - 1


def test_early_arrivals_are_drawn_in_random_order_reproducible_from_the_seed(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        early = _arrive(30, campaign)
    with time_machine.travel(opening + timedelta(seconds=5), tick=False):
        assert _status(early[0], campaign).json()["state"] == "drawing"
        assert services.run_draw(campaign.pk) == 30
        late = _arrive(2, campaign)
        places = [_status(c, campaign).json()["position"] for c in early]
        late_places = [_status(c, campaign).json()["position"] for c in late]
    assert sorted(places) == list(range(1, 31))
    assert places != list(range(1, 31)), "arriving first gives no advantage"
    assert late_places == [31, 32], "after the opening, arrival order"

    draw = QueueDraw.objects.get(campaign=campaign)
    assert draw.seed and draw.drawn_at and draw.opens_at == opening
    entries = list(QueueDrawEntry.objects.filter(draw=draw).order_by("position"))
    assert [e.ticket_id for e in entries] == waiting_room.draw_order(
        draw.seed, [e.ticket_id for e in reversed(entries)]
    )
    call_command("verify_draw", campaign.slug)  # raises if the order does not match the seed

    QueueDrawEntry.objects.filter(pk=entries[0].pk).update(position=999)
    with pytest.raises(Exception, match="does NOT match"):
        call_command("verify_draw", campaign.slug)


def test_the_draw_is_published_only_when_an_official_says_so(campaign, opening, admin_client):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        _arrive(3, campaign)
    with time_machine.travel(opening + timedelta(seconds=5), tick=False):
        services.run_draw(campaign.pk)
    draw_url = reverse("campaigns:draw", kwargs={"campaign": campaign.slug})
    assert Client().get(draw_url).status_code == 404
    admin_client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "publish_draw", "_selected_action": [campaign.pk]},
    )
    page = Client().get(draw_url).content.decode()
    assert QueueDraw.objects.get(campaign=campaign).seed in page


def test_people_are_admitted_at_the_rate_and_get_a_pass(campaign, opening):
    with time_machine.travel(opening, tick=False):
        _draw(campaign)
        clients = _arrive(10, campaign)  # places 1..10; rate 60/min = one a second
    with time_machine.travel(opening + timedelta(seconds=4, milliseconds=500), tick=False):
        states = [_status(c, campaign).json() for c in clients]
        assert [s["state"] for s in states] == ["admitted"] * 4 + ["waiting"] * 6
        assert states[9]["ahead"] == 5 and states[9]["wait_seconds"] == 6
        assert states[0]["next"] == _start(campaign)
        admitted, waiting = clients[0], clients[9]
        assert waiting_room.pass_cookie(campaign.slug) in admitted.cookies
        assert admitted.get(_start(campaign)).status_code == 200
        assert waiting.get(_start(campaign))["Location"] == _queue(campaign)
        queue_page = waiting.get(_queue(campaign))
        assert queue_page.context["status"].ahead == 5
        assert queue_page.context["wait_minutes"] == 1


def _admitted_now(config, opening) -> int:
    return waiting_room.admitted_upto(config, opening.timestamp(), now=timezone.now().timestamp())


def test_changing_the_rate_while_the_queue_runs_never_takes_back_an_admission(campaign, opening):
    with time_machine.travel(opening + timedelta(seconds=10), tick=False):
        config = waiting_room.config_for(campaign.slug)
        assert _admitted_now(config, opening) == 10
        services.configure_waiting_room(campaign, enabled=True, per_minute=600)
    with time_machine.travel(opening + timedelta(seconds=11), tick=False):
        config = waiting_room.config_for(campaign.slug)
        assert _admitted_now(config, opening) == 20
        services.configure_waiting_room(campaign, enabled=True, per_minute=6)
    with time_machine.travel(opening + timedelta(seconds=21), tick=False):
        config = waiting_room.config_for(campaign.slug)
        assert _admitted_now(config, opening) == 21


def test_the_status_endpoint_makes_no_database_query(campaign, opening, django_assert_num_queries):
    with time_machine.travel(opening - timedelta(minutes=1), tick=False):
        early = _arrive(3, campaign)  # arrivals; the campaign's configuration is now cached
        with django_assert_num_queries(0):
            assert _status(early[0], campaign).json()["state"] == "before_opening"
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        with django_assert_num_queries(0):
            assert _status(early[0], campaign).json()["state"] == "drawing"
        _draw(campaign)
        states = set()
        with django_assert_num_queries(0):
            states |= {_status(c, campaign).json()["state"] for c in early}
        assert states == {"admitted", "waiting"}


def test_an_edited_ticket_gets_a_new_place_at_the_back_with_a_message(campaign, opening):
    with time_machine.travel(opening, tick=False):
        _draw(campaign)
        _arrive(3, campaign)
        me = Client()
        join(me, campaign)
        cookie = waiting_room.ticket_cookie(campaign.slug)
        me.cookies[cookie] = me.cookies[cookie].value[:-3] + "abc"
        assert _status(me, campaign).status_code == 403
        page = me.get(_queue(campaign))
        assert page.context["replaced"] and page.context["joining"]
        join(me, campaign)
        assert _status(me, campaign).json()["position"] == 5


def test_tickets_and_passes_of_another_campaign_are_refused(campaign, opening):
    other = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=3))
    with time_machine.travel(opening - timedelta(hours=1), tick=False):
        services.configure_waiting_room(other, enabled=True, per_minute=60)
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        _draw(campaign)
        _draw(other)
        client = Client()
        join(client, other)
        _status(client, other)
        assert waiting_room.pass_cookie(other.slug) in client.cookies
        # copy the other campaign's ticket and pass under this campaign's names
        client.cookies[waiting_room.ticket_cookie(campaign.slug)] = client.cookies[
            waiting_room.ticket_cookie(other.slug)
        ].value
        client.cookies[waiting_room.pass_cookie(campaign.slug)] = client.cookies[
            waiting_room.pass_cookie(other.slug)
        ].value
        assert _status(client, campaign).status_code == 403
        assert client.get(_start(campaign))["Location"] == _queue(campaign)
        forged = Client(HTTP_X_ADMISSION_PASS="forged")
        assert forged.get(_start(campaign))["Location"] == _queue(campaign)


def test_a_pass_expires(campaign, opening):
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        _draw(campaign)
        client = Client()
        join(client, campaign)
        assert client.get(_start(campaign)).status_code == 200
    minutes = campaign.admission_pass_minutes
    with time_machine.travel(opening + timedelta(minutes=2 + minutes), tick=False):
        assert client.get(_start(campaign))["Location"] == _queue(campaign)


def test_switching_the_room_on_again_voids_old_tickets(campaign, opening):
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        _draw(campaign)
        client = Client()
        join(client, campaign)
        assert client.get(_start(campaign)).status_code == 200
        services.configure_waiting_room(campaign, enabled=False, per_minute=60)
    with time_machine.travel(opening + timedelta(minutes=2), tick=False):
        services.configure_waiting_room(campaign, enabled=True, per_minute=60)
        assert client.get(_start(campaign))["Location"] == _queue(campaign)


def test_every_booking_records_the_pass_it_came_through(campaign, opening):
    slot = SlotFactory(campaign=campaign, date=(opening + timedelta(days=1)).date())
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        _draw(campaign)
        client = Client()
        join(client, campaign)
        submit(client, walk_to_review(client, slot, rrn="620714-1234567"))
    booking = Booking.objects.get()
    assert booking.waiting_room_required
    assert len(booking.admission_pass) == 16


def test_the_api_accepts_a_pass_in_a_header(campaign, opening):
    slot = SlotFactory(campaign=campaign, date=(opening + timedelta(days=1)).date())
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        _draw(campaign)
        browser = Client()
        join(browser, campaign)
        token = browser.cookies[waiting_room.pass_cookie(campaign.slug)].value
        api = Client(HTTP_X_ADMISSION_PASS=token)
        body = {"name": "Kim", "rrn": "620714-1234567", "phone": "01012345678", "slot": slot.pk}
        response = api.post(_api_create(campaign), body, content_type="application/json")
    assert response.status_code == 202
    assert Booking.objects.get().admission_pass


@pytest.mark.parametrize("rate", ["0", "-5", "abc"])
def test_the_admin_refuses_a_rate_of_zero_or_less(admin_client, campaign, rate):
    form = campaign_form(campaign, waiting_room_enabled="on", admission_rate_per_minute=rate)
    response = admin_client.post(campaign_page(campaign), form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["admission_rate_per_minute"]
    assert Campaign.objects.get(pk=campaign.pk).admission_rate_per_minute == 60


def test_the_official_sets_the_rate_in_the_admin(admin_client, campaign, opening):
    url = campaign_page(campaign)
    form = campaign_form(
        campaign,
        waiting_room_enabled="on",
        admission_rate_per_minute="1200",
        opens_at_0=timezone.localtime(opening).date().isoformat(),
        opens_at_1=timezone.localtime(opening).time().isoformat(),
    )
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign.refresh_from_db()
    assert campaign.admission_rate_per_minute == 1200
    assert list(campaign.admission_rates.values_list("per_minute", flat=True)) == [1200]
