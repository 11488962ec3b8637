from rest_framework import generics, serializers

from campaigns.models import Campaign
from campaigns.windows import window_state


class CampaignSerializer(serializers.ModelSerializer):
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

    def get_state(self, campaign: Campaign) -> str:
        return window_state(campaign).value


class CampaignListView(generics.ListAPIView):
    """GET /api/campaigns/: every campaign with its window and state (read-only)."""

    queryset = Campaign.objects.all()
    serializer_class = CampaignSerializer
