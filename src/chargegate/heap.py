"""The garbage collector's settings for a long-running server.

CPython's default thresholds suit short scripts. A server holding a thousand chargers has some
400,000 tracked objects, and under load its full collections came every 13 to 28 seconds, each
stopping the event loop for every charger and API client at once: they were most of the tail of
the latency (bench/profile.md, sixth fix)."""

from __future__ import annotations

import gc

# Young collections after 7,000 net allocations rather than 700: objects of requests still in
# flight when one runs are promoted, so ten times fewer runs promote ten times fewer of them.
YOUNG_THRESHOLD = 7_000
MIDDLE_THRESHOLD = 10
# A full collection after 20 middle ones rather than 10: garbage that reaches the oldest
# generation (cycles of closed connections) is rare, and each full pass scans everything.
FULL_THRESHOLD = 20


def settle() -> None:
    """Once the server has started: what startup created (modules, classes, schemas, the ORM's
    mappings) lives as long as the process, so full collections stop scanning it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, FULL_THRESHOLD)
