"""Where the metrics live, and how a scrape gathers them.

Request metrics are kept in ``REQUEST_REGISTRY`` (not prometheus-client's global one, which
also holds the process and platform collectors that multiprocess mode cannot serve). A scrape
builds a fresh registry each time:

* one process (``make run``, the tests, the benchmark): ``REQUEST_REGISTRY`` as it is;
* ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn's several workers): prometheus-client then keeps
  every worker's counters in files in that directory, and ``MultiProcessCollector`` adds them
  up, so whichever worker answers the scrape reports them all. The directory must be emptied
  before gunicorn starts (old files would be counted again). A worker that gunicorn replaces
  leaves its files, and its counts stay in the sums, as a counter's must; there are no live
  gauges, so no ``child_exit`` hook (``mark_process_dead``) is needed;

and in both, the figures computed at scrape time from the database and Redis
(``vaxbook.metrics.collectors``), which are the same whichever process answers.
"""

import os

from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

# No ``*_created`` series beside every counter and histogram: twice the series for nothing
# the alerts use.
disable_created_metrics()

REQUEST_REGISTRY = CollectorRegistry(auto_describe=True)


def multiprocess_dir() -> str | None:
    """The directory prometheus-client keeps the workers' counters in: it reads either spelling
    (the upper-case one first); the settings refuse one set to anything but a directory."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory is None:
        directory = os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112 - its old name
    return directory or None


def exposition(accept: str = "") -> tuple[bytes, str]:
    """The text a scrape answers and its content type: Prometheus' text format, or
    OpenMetrics when the scraper's ``Accept`` header asks for it (as Prometheus does)."""
    from vaxbook.metrics.collectors import OperatorsCollector

    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_dir()
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(REQUEST_REGISTRY)
    registry.register(OperatorsCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
