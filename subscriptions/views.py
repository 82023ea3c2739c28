from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Shown instead of the form when someone submits it too often."""
    return render(request, "subscriptions/rate_limited.html", status=429)
