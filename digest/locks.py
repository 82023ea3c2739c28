"""One run at a time for jobs that must not overlap (the digest tick): two beats by
mistake, or a tick slower than the interval, would otherwise plan the same readers
twice at once.

With Redis the lock is a Redis key that expires by itself (a killed worker cannot hold
it forever); on PostgreSQL without Redis, a session advisory lock, released when the
connection closes; on SQLite nothing is needed, as its writers already take turns."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings
from django.db import connection


@contextmanager
def only_one(name: str, *, ttl: int) -> Iterator[bool]:
    """Yields True when this caller holds the lock `name` (for at most `ttl` seconds),
    False when another run holds it; never waits."""
    if settings.REDIS_URL:
        with _redis_lock(name, ttl) as held:
            yield held
    elif connection.vendor == "postgresql":
        with _advisory_lock(name) as held:
            yield held
    else:
        yield True


@contextmanager
def _redis_lock(name: str, ttl: int) -> Iterator[bool]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    lock = client.lock(f"dpd:lock:{name}", timeout=ttl)
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            try:
                lock.release()
            except redis.exceptions.LockError:
                pass  # it outlived its ttl and expired: nothing left to release
        client.close()


@contextmanager
def _advisory_lock(name: str) -> Iterator[bool]:
    key = zlib.crc32(f"dpd:{name}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
