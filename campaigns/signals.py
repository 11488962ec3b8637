"""Forget the campaign each web process holds (``waiting_room.campaign_for``, the booking
pages' guard) on any save or delete of a campaign, its windows or its vaccine, wherever it is
made: the services call ``forget_config`` themselves, but a save made elsewhere (a shell, a
test, a data fix) must not leave a process serving the old windows for the shared copy's
30 s. ``QuerySet.update`` sends no signal: code that updates campaigns that way calls
``forget_config`` itself (``services.publish_draws``)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from campaigns import waiting_room
from campaigns.models import BookingWindow, Campaign, Vaccine


@receiver(post_save, sender=Campaign)
@receiver(post_delete, sender=Campaign)
def campaign_changed(sender, instance: Campaign, **kwargs) -> None:
    waiting_room.forget_slug(instance.slug)


@receiver(post_save, sender=BookingWindow)
@receiver(post_delete, sender=BookingWindow)
def window_changed(sender, instance: BookingWindow, **kwargs) -> None:
    slug = Campaign.objects.filter(pk=instance.campaign_id).values_list("slug", flat=True).first()
    if slug is not None:
        waiting_room.forget_slug(slug)


@receiver(post_save, sender=Vaccine)
def vaccine_changed(sender, instance: Vaccine, **kwargs) -> None:
    for slug in Campaign.objects.filter(vaccine=instance).values_list("slug", flat=True):
        waiting_room.forget_slug(slug)
