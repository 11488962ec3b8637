"""The site's URLs and one view that fails, to see a server error counted as one."""

from django.urls import path

from vaxbook.urls import urlpatterns as site_urlpatterns


def broken(request):
    raise RuntimeError("a bug")


urlpatterns = [*site_urlpatterns, path("broken-for-metrics", broken, name="broken")]
