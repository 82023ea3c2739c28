from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Subscriptions"

    def ready(self) -> None:
        from anymail.signals import tracking

        from .esp_events import handle_tracking_event

        tracking.connect(handle_tracking_event, dispatch_uid="subscriptions.esp_events")
