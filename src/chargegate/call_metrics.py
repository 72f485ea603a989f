"""OCPP messages counted, and charger CALLs timed, at a dictionary update each.

prometheus_client's labelled Counter and Histogram take a lock per update and walk the buckets in
Python: on every message a charger sends, this bookkeeping cost more than the schema validation
(bench/profile.md). These are plain numbers, updated only from the event loop, exposed under the
same names, labels and buckets at scrape time.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import math
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class CallMetrics(Collector):
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self._bounds = (*buckets, math.inf)
        # By (action, direction): 'in' from chargers, 'out' to chargers.
        self.messages: collections.Counter[tuple[str, str]] = collections.Counter()
        # By action: how many took at most each bound (not cumulative), and their sum.
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def observe(self, action: str, seconds: float) -> None:
        counts = self._counts.get(action)
        if counts is None:
            counts = self._counts[action] = [0] * len(self._bounds)
            self._sums[action] = 0.0
        counts[bisect.bisect_left(self._bounds, seconds)] += 1
        self._sums[action] += seconds

    def collect(self) -> Iterable[Metric]:
        messages = CounterMetricFamily(
            "chargegate_ocpp_messages",
            "OCPP CALLs by action; direction 'in' from chargers, 'out' to chargers",
            labels=["action", "direction"],
        )
        for (action, direction), count in list(self.messages.items()):
            messages.add_metric([action, direction], count)
        handling = HistogramMetricFamily(
            "chargegate_ocpp_call_seconds",
            "Time to handle a charger's CALL (database work included), by action",
            labels=["action"],
        )
        for action, counts in list(self._counts.items()):
            cumulative = zip(self._bounds, itertools.accumulate(counts), strict=True)
            handling.add_metric(
                [action],
                [(_go(bound), count) for bound, count in cumulative],
                sum_value=self._sums[action],
            )
        return [messages, handling]


def _go(bound: float) -> str:
    """A bucket's bound as prometheus_client writes it ("0.001", "1.0", "+Inf")."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]  # untyped upstream
    return text
