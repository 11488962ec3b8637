from rest_framework import generics, serializers

from campaigns.models import Campaign
from campaigns.windows import window_state


class CampaignSerializer(serializers.ModelSerializer):
    # The vaccine's name, as the free-text field it replaced gave it ("" when none).
    vaccine = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "slug",
            "name",
            "vaccine",
            "born_from",
            "born_to",
            "opens_at",
            "closes_at",
            "state",
        ]

    def get_vaccine(self, campaign: Campaign) -> str:
        return campaign.vaccine.name if campaign.vaccine else ""

    def get_state(self, campaign: Campaign) -> str:
        return window_state(campaign).value


class CampaignListView(generics.ListAPIView):
    """GET /api/campaigns/: every campaign with its window and state (read-only)."""

    queryset = Campaign.objects.select_related("vaccine")
    serializer_class = CampaignSerializer
