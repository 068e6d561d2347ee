"""Prometheus metrics: requests, latency, time to first token, tokens and the answer queue.

Each app has its own registry, so several apps in one process (tests) do not share counters.
Requests are labelled by route template (`/api/jobs/{job_id}`), never by raw path, to keep the
number of series bounded. With `--workers N` each process reports its own figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from chatforge.serve.runner import GenerationRunner

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _RunnerCollector(Collector):
    """Reads the runner's counters at scrape time."""

    def __init__(self, runner: GenerationRunner) -> None:
        self.runner = runner

    def collect(self) -> Iterator[Any]:
        s = self.runner.stats
        queue = GaugeMetricFamily(
            "chatforge_answers_in_progress", "Answers waiting or generating", labels=["state"]
        )
        queue.add_metric(["waiting"], s.waiting)
        queue.add_metric(["running"], s.running)
        yield queue
        answers = CounterMetricFamily(
            "chatforge_answers", "Answers finished, by outcome", labels=["outcome"]
        )
        for outcome in ("completed", "cancelled", "failed", "rejected"):
            answers.add_metric([outcome], getattr(s, outcome))
        yield answers
        tokens = CounterMetricFamily("chatforge_tokens", "Tokens processed", labels=["kind"])
        tokens.add_metric(["prompt"], s.prompt_tokens)
        tokens.add_metric(["prompt_cached"], s.cached_prompt_tokens)
        tokens.add_metric(["completion"], s.completion_tokens)
        yield tokens


class Metrics:
    """The app's registry and the instruments its routes update."""

    def __init__(self, runner: GenerationRunner) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "chatforge_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "chatforge_http_request_seconds",
            "Time to the end of the response, by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_token = Histogram(
            "chatforge_time_to_first_token_seconds",
            "Time from request to the first piece of the answer",
            ["api"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_RunnerCollector(runner))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def middleware(self, app: Any) -> Callable:
        """ASGI middleware counting each request once its response has ended."""

        async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def send_status(message: dict) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                route = scope.get("route")
                path = getattr(route, "path", None) or _bucket(scope["path"])
                method = scope["method"]
                self.requests.labels(method, path, str(status)).inc()
                self.latency.labels(method, path).observe(time.perf_counter() - started)

        return wrapped


def _bucket(path: str) -> str:
    """Routes without a template (the UI, unknown paths) under a few fixed labels."""
    for prefix in ("/v1", "/api", "/docs", "/metrics", "/health", "/openapi.json"):
        if path.startswith(prefix):
            return prefix + " (unmatched)"
    return "/ (ui)"
