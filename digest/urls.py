from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    # Before the admin's own URLs, so this login (with its attempt limits) answers.
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("robots.txt", views.robots_txt, name="robots_txt"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("", include("digest.web_urls")),
    path("", include("subscriptions.urls")),
]

if settings.ESP_WEBHOOKS:
    # The mail provider's tracking webhooks (basic auth: ANYMAIL_WEBHOOK_SECRET), e.g.
    # /esp/postmark/tracking/; routed only when an anymail backend sends the mail.
    urlpatterns.insert(0, path("esp/", include("anymail.urls")))
