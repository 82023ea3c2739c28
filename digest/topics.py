"""Looking up curated topics by slug, the way forms, commands and the API name them."""

from __future__ import annotations

from collections.abc import Iterable

from .models import Topic


class UnknownTopic(ValueError):
    """One or more slugs name no topic. Carries both lists so that a form or a command
    can say what went wrong and what would have worked."""

    def __init__(self, unknown: list[str], valid: list[str]):
        self.unknown = unknown
        self.valid = valid
        super().__init__(
            f"Unknown topic{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Valid topics: {', '.join(valid) or '(none yet)'}."
        )


def topics_by_slugs(slugs: Iterable[str], *, active_only: bool = False) -> list[Topic]:
    """The topics named by `slugs`, in the order given, each once; raises `UnknownTopic`
    if any slug names no topic (or, with `active_only`, no active topic). One query."""
    wanted = list(dict.fromkeys(s.strip().lower() for s in slugs if s and s.strip()))
    topics = Topic.objects.all()
    if active_only:
        topics = topics.filter(is_active=True)
    by_slug = {topic.slug: topic for topic in topics}
    unknown = [slug for slug in wanted if slug not in by_slug]
    if unknown:
        raise UnknownTopic(unknown, sorted(by_slug))
    return [by_slug[slug] for slug in wanted]
