"""The campaign's page in the admin: "Generate slots…" is reachable from it, with the campaign
chosen."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from campaigns.tests.admin_forms import campaign_page
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _generate_slots_link(page: str) -> str | None:
    match = re.search(r'<a href="([^"]*)" id="generate-slots"', page)
    return match.group(1).replace("&amp;", "&") if match else None


def test_the_campaign_page_links_to_generate_slots_with_the_campaign_chosen(admin_client):
    campaign = CampaignFactory()
    page = admin_client.get(campaign_page(campaign))
    assert page.status_code == 200
    link = _generate_slots_link(page.content.decode())
    assert link == reverse("admin:clinics_clinic_changelist") + f"?campaign={campaign.pk}"
    clinics = admin_client.get(link)
    assert clinics.status_code == 200  # the clinics' list takes it, not as a bad filter


def test_no_link_for_an_official_who_may_not_add_slots(client):
    campaign = CampaignFactory()
    official = UserFactory(is_staff=True)
    official.user_permissions.add(Permission.objects.get(codename="change_campaign"))
    client.force_login(official)
    page = client.get(campaign_page(campaign))
    assert page.status_code == 200
    assert _generate_slots_link(page.content.decode()) is None
