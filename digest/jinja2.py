"""Jinja2 environments: one for web pages and HTML emails (autoescaped), one for
plain-text parts and subjects (no HTML escaping), both reading templates/."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from jinja2 import Environment, FileSystemLoader, StrictUndefined


def absolute_url(path: str) -> str:
    """A link that works from an email client: SITE_URL plus the path."""
    return settings.SITE_URL + path


def url(viewname: str, *args, **kwargs) -> str:
    return reverse(viewname, args=args or None, kwargs=kwargs or None)


def _add_globals(env: Environment) -> Environment:
    from .digest_html import no_fragment
    from .tex import readable

    env.filters["readable"] = readable
    env.globals.update(
        {
            "url": url,
            "fragment": no_fragment,
            "static": static,
            "absolute_url": absolute_url,
            "site_url": settings.SITE_URL,
            "postal_address": settings.POSTAL_ADDRESS,
            "privacy_policy_url": settings.PRIVACY_POLICY_URL,
        }
    )
    return env


def environment(**options) -> Environment:
    """The environment Django's Jinja2 backend uses for pages and HTML emails."""
    # A misspelt variable fails loudly instead of rendering as an empty string.
    options.setdefault("undefined", StrictUndefined)
    options.setdefault("trim_blocks", True)
    options.setdefault("lstrip_blocks", True)
    return _add_globals(Environment(**options))


class _TextEnvironment(Environment):
    def getattr(self, obj, attribute):
        # `paper.title` on a dict: Jinja tries the attribute first and the key after a
        # failed lookup, which was a sixth of a digest's text part. The contexts built
        # for text parts are plain dicts whose keys never name a dict method.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


@cache
def text_environment() -> Environment:
    """For plain-text bodies and subjects: same templates folder, no HTML escaping."""
    env = _TextEnvironment(
        loader=FileSystemLoader(str(settings.BASE_DIR / "templates")),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # As Django's backend does for the HTML environment: checking every template
        # file's time on every render is for development.
        auto_reload=settings.DEBUG,
    )
    return _add_globals(env)
