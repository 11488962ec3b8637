"""The Redis cache backend (vaxbook.redis_cache): Django's, reusing one redis-py client per
connection pool instead of building one per call. Values, counters and expiry behave as
Django's do, also from many threads at once (gthread workers share the client)."""

import threading

from django.core.cache import cache, caches

from vaxbook.redis_cache import RedisCache


def test_the_configured_cache_reuses_one_client():
    backend = caches["default"]
    assert isinstance(backend, RedisCache)
    assert backend._cache.get_client() is backend._cache.get_client(write=True)


THREADS = 8


def test_values_and_counters_from_many_threads():
    threads = THREADS
    cache.delete("redis-cache-test:count")
    cache.add("redis-cache-test:count", 0, timeout=30)
    errors = []

    def work(n):
        try:
            for i in range(25):
                cache.set(f"redis-cache-test:{n}", {"n": n, "i": i}, timeout=30)
                assert cache.get(f"redis-cache-test:{n}") == {"n": n, "i": i}
                cache.incr("redis-cache-test:count")
        except Exception as exc:  # reported below, from the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert cache.get("redis-cache-test:count") == threads * 25
    assert not cache.add("redis-cache-test:count", 5)  # exists already
    cache.delete_many([f"redis-cache-test:{n}" for n in range(threads)])
    assert cache.get_many([f"redis-cache-test:{n}" for n in range(threads)]) == {}
