"""Pages of the digest app (the view-in-browser page of a sent digest)."""

from django.urls import path

from . import views

app_name = "digest"
urlpatterns: list = [
    path("digests/<str:token>/", views.view_digest, name="view"),
]
