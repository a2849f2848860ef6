"""Prometheus metrics, as the contract offers them: to anyone on the metrics port
(``AFTERCARE_METRICS_PORT``, served by ``aftercare serve``), or on the API port with a token. The
counts and latencies are by route template, so neither carries ids."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusController

from aftercare.auth.access import Access


class MetricsController(PrometheusController):
    """``GET /metrics`` on the API port: signed-in callers only (the scrape port has no token)."""

    opt = {"access": Access.SIGNED_IN}
    include_in_schema = False
