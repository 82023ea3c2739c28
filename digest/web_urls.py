"""Pages of the digest app (the view-in-browser page of a sent digest)."""

from django.urls import path

app_name = "digest"
urlpatterns: list = []
