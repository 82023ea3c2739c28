"""Pages of the digest app: a sent digest in the browser, the public listing pages, and
the Atom feeds."""

from django.urls import path

from . import converters, feeds, views  # noqa: F401 (converters: registers "row_id")

app_name = "digest"
urlpatterns: list = [
    path("digests/<str:token>/", views.view_digest, name="view"),
    path("days/<str:day>/", views.listing_day, name="day"),
    path("papers/<row_id:pk>/", views.paper, name="paper"),
    path("topics/<slug:slug>.atom", feeds.topic_feed, name="topic_feed"),
    path("feed/<str:token>.atom", feeds.personal_feed, name="personal_feed"),
]
