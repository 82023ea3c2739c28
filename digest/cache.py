"""The embedded rate-limit cache (no Redis): Django's database cache, with increments
that cannot lose a count.

django-ratelimit counts with `cache.add()` then `cache.incr()`. The database cache's
`incr` is a read followed by a write, so two requests at once could both read 3 and
both write 4, letting extra emails through. Here the read and the write run in one
transaction holding the row's lock: PostgreSQL locks the row (SELECT ... FOR UPDATE),
SQLite the whole database (this project opens SQLite transactions IMMEDIATE)."""

from __future__ import annotations

from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction


class AtomicDatabaseCache(DatabaseCache):
    def incr(self, key, delta=1, version=None):
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        with transaction.atomic(using=db):
            if connection.features.has_select_for_update:
                cache_key = self.make_and_validate_key(key, version=version)
                table = connection.ops.quote_name(self.cache_model_class._meta.db_table)
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT cache_key FROM {table} WHERE cache_key = %s FOR UPDATE", [cache_key])
            return super().incr(key, delta, version)
