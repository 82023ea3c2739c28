from django.urls import path

app_name = "subscriptions"
urlpatterns: list = []
