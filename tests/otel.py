"""An OpenTelemetry SDK for tests: global tracer and meter providers, set once per process (the API
allows one), exporting to memory. The ``otel`` fixture empties both before each test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import PLANTED_KEY


@dataclass
class Otel:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self, name_prefix: str = "") -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name.startswith(name_prefix)]

    def call_span(self) -> ReadableSpan:
        """The one span of a code-interpreter call."""
        (span,) = self.finished("chat ")
        return span

    def histograms(self) -> dict[str, list[Any]]:
        """The data points recorded since the last look, by metric name."""
        data = self.metrics.get_metrics_data()
        out: dict[str, list[Any]] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out


_STATE: Otel | None = None


def _install() -> Otel:
    global _STATE
    if _STATE is None:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _STATE = Otel(exporter, reader)
    return _STATE


@pytest.fixture
def otel() -> Iterator[Otel]:
    state = _install()
    state.spans.clear()
    state.metrics.get_metrics_data()  # delta temporality: drops what earlier tests recorded
    yield state
    state.spans.clear()


def assert_no_key(spans: list[ReadableSpan], key: str = PLANTED_KEY) -> None:
    """No attribute, event or status of *spans* holds *key*."""
    for span in spans:
        text = json.dumps(
            {
                "name": span.name,
                "attributes": dict(span.attributes or {}),
                "events": [[e.name, dict(e.attributes or {})] for e in span.events],
                "status": span.status.description,
            },
            default=str,
        )
        assert key not in text, span.name
