import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bookings_booking_changelist")
RRN = "620714-1234567"


@pytest.fixture
def booking():
    return BookingFactory(rrn=RRN, status=Booking.Status.CONFIRMED, code="K7M2QX9P")


def test_the_list_shows_the_masked_registration_number_only(admin_client, booking):
    html = admin_client.get(CHANGELIST).content.decode()

    assert '<td class="field-rrn_masked">620714-1******</td>' in html
    assert "1234567" not in html
    assert booking.slot.clinic.code in html


def test_the_booking_page_never_shows_the_number_its_hash_or_ciphertext(admin_client, booking):
    response = admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "620714-1******" in html
    assert "1234567" not in html
    assert booking.rrn_hmac not in html
    assert booking.rrn_encrypted not in html
    assert "rrn_hmac" not in html and "rrn_encrypted" not in html


def test_the_booking_page_masks_the_phone_and_e_mail(admin_client):
    booking = BookingFactory(rrn=RRN, phone="010-2345-6789", email="minsu.kim@example.org")
    html = admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))
    html = html.content.decode()
    assert "010-****-6789" in html and "2345" not in html
    assert "m***@example.org" in html and "minsu.kim" not in html


@pytest.mark.parametrize("term", ["K7M2QX9P", "k7m2qx9p", " k7m2qx9p "])
def test_search_by_code_in_any_case(admin_client, booking, term):
    BookingFactory(status=Booking.Status.CONFIRMED, code="ABCDEFGH")

    response = admin_client.get(CHANGELIST, {"q": term})

    assert list(response.context["cl"].result_list) == [booking]


def test_search_is_by_whole_code(admin_client, booking):
    response = admin_client.get(CHANGELIST, {"q": "K7M2"})

    assert list(response.context["cl"].result_list) == []


def test_bookings_cannot_be_added_changed_or_deleted_here(admin_client, booking):
    change_url = reverse("admin:bookings_booking_change", args=[booking.pk])

    assert admin_client.get(reverse("admin:bookings_booking_add")).status_code == 403
    delete_url = reverse("admin:bookings_booking_delete", args=[booking.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    response = admin_client.post(change_url, {"status": "cancelled", "name": "Someone else"})
    assert response.status_code == 403
    booking.refresh_from_db()
    assert (booking.status, booking.name) == ("confirmed", "Kim Minsu")
    assert 'name="_save"' not in admin_client.get(change_url).content.decode()


def test_the_bulk_delete_action_is_not_offered(admin_client, booking):
    html = admin_client.get(CHANGELIST).content.decode()

    assert "delete_selected" not in html


def test_a_user_with_view_permission_can_watch_bookings(client, booking):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_booking"))
    client.force_login(user)

    assert client.get(CHANGELIST).status_code == 200
    change = client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))
    assert change.status_code == 200
    assert "620714-1******" in change.content.decode()


def test_the_list_costs_the_same_queries_for_5_or_30_bookings(
    admin_client, django_assert_max_num_queries
):
    # Each factory booking has its own slot, clinic and campaign: the worst case for N+1.
    BookingFactory.create_batch(5)
    with django_assert_max_num_queries(30) as with_5:
        assert admin_client.get(CHANGELIST).status_code == 200

    BookingFactory.create_batch(25)
    with django_assert_max_num_queries(len(with_5.captured_queries)):
        response = admin_client.get(CHANGELIST)

    assert len(response.context["cl"].result_list) == 30
