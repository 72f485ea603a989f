"""Redis pub/sub between nodes (see docs/decisions/0004-broker.md).

Wake-ups are published fire-and-forget: if Redis is down, publishing fails quietly and the
subscriber keeps reconnecting; meanwhile every node still finds its work through the database
poll. Nothing is lost, it only arrives up to one poll interval later.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from chargegate.bus import Evicted, Topic
from chargegate.bus.local import LocalBus

log = logging.getLogger(__name__)

WAKE = "chargegate:wake"
EVICT = "chargegate:evict"


class RedisBus(LocalBus):
    def __init__(self, url: str, node_id: str) -> None:
        super().__init__()
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._node_id = node_id
        self._listener: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()

    def wake(self, *topics: Topic) -> None:
        self.wake_here(*topics)
        self._publish(WAKE, {"topics": [str(topic) for topic in topics]})

    def evict(self, charge_point_id: str, epoch: int) -> None:
        self._publish(EVICT, {"charge_point_id": charge_point_id, "epoch": epoch})

    def _publish(self, channel: str, message: dict[str, Any]) -> None:
        data = json.dumps({**message, "node": self._node_id})
        task = asyncio.create_task(self._send(channel, data))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _send(self, channel: str, data: str) -> None:
        try:
            await self._client.publish(channel, data)
        except (RedisError, OSError) as exc:
            log.warning(
                "broker publish failed; relying on the database poll", extra={"error": str(exc)}
            )

    async def start(self, on_evict: Evicted) -> None:
        self._listener = asyncio.create_task(self._listen(on_evict), name="bus-listener")

    async def _listen(self, on_evict: Evicted) -> None:
        backoff = 0.2
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(WAKE, EVICT)
                    backoff = 0.2
                    # A wake-up may have been missed while we were not subscribed.
                    self.wake_here(*Topic)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._on_message(message, on_evict)
            except (RedisError, OSError) as exc:
                log.warning("broker connection lost; retrying", extra={"error": str(exc)})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _on_message(self, message: dict[str, Any], on_evict: Evicted) -> None:
        try:
            body = json.loads(message["data"])
        except (ValueError, TypeError):
            return
        if body.get("node") == self._node_id:
            return
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if channel == WAKE:
            self.wake_here(
                *(Topic(t) for t in body.get("topics", []) if t in Topic._value2member_map_)
            )
        elif channel == EVICT:
            await on_evict(str(body["charge_point_id"]), int(body["epoch"]))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await asyncio.gather(*self._publishing, return_exceptions=True)
        await self._client.aclose()
