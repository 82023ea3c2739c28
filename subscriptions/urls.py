from django.urls import path

from digest import converters  # noqa: F401 (registers "row_id")

from . import feedback_views, views

app_name = "subscriptions"
urlpatterns = [
    path("", views.home, name="home"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/preview/", views.preview, name="preview"),
    path("subscribe/preview/fragment/", views.preview_fragment, name="preview_fragment"),
    path("subscribe/check-your-inbox/", views.check_inbox, name="check_inbox"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("confirm-new-address/<str:token>/", views.confirm_email_change, name="confirm_email_change"),
    # The lost-link form and its answer come before /manage/<token>/.
    path("manage/", views.request_link, name="request_link"),
    path("manage/link-sent/", views.link_sent, name="link_sent"),
    path("manage/deleted/", views.deleted, name="deleted"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("manage/<str:token>/pause/", views.pause, name="pause"),
    path("manage/<str:token>/resume/", views.resume, name="resume"),
    path("manage/<str:token>/feed/new/", views.new_feed_link, name="new_feed_link"),
    path("manage/<str:token>/address/", views.change_email, name="change_email"),
    path("manage/<str:token>/resubscribe/", views.resubscribe, name="resubscribe"),
    path("manage/<str:token>/my-data.json", views.export, name="export"),
    path("manage/<str:token>/delete/", views.delete, name="delete"),
    path("manage/<str:token>/feedback/clear/", feedback_views.clear_feedback, name="clear_feedback"),
    path("feedback/<str:token>/", feedback_views.paper_feedback, name="paper_feedback"),
    path("feedback/<str:token>/<row_id:paper_id>/", feedback_views.paper_feedback, name="digest_feedback"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/one-click/", views.one_click, name="one_click"),
    path("unsubscribe/<str:token>/manage-link/", views.unsubscribe_manage_link, name="unsubscribe_manage_link"),
    path("privacy/", views.privacy, name="privacy"),
]
