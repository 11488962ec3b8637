"""Running the same work in many threads at once, for the race and fault tests."""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def in_threads(work, items: list) -> list:
    """Runs ``work(item)`` for every item in its own thread, all released at once by a
    barrier; each thread has (and closes) its own database connection."""
    barrier = threading.Barrier(len(items))

    def run(item):
        try:
            barrier.wait(timeout=30)
            return work(item)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(run, items))
