"""Redis pub/sub between nodes (see docs/decisions/0004-broker.md).

Wake-ups are published fire-and-forget: if Redis is down, publishing fails quietly and the
subscriber keeps reconnecting; meanwhile every node still finds its work through the database
poll. Nothing is lost, it only arrives up to one poll interval later.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, assert_never

import redis.asyncio as redis
from redis.exceptions import RedisError

from chargegate.bus import Evicted, Topic, messages
from chargegate.bus.local import LocalBus

log = logging.getLogger(__name__)


class RedisBus(LocalBus):
    def __init__(self, url: str, node_id: str) -> None:
        super().__init__()
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._node_id = node_id
        self._listener: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()

    def wake(self, *topics: Topic) -> None:
        self.wake_here(*topics)
        self._publish(messages.WAKE, messages.wake(topics, self._node_id))

    def evict(self, charge_point_id: str, epoch: int) -> None:
        self._publish(messages.EVICT, messages.evict(charge_point_id, epoch, self._node_id))

    async def send_away(self, charge_point_id: str, epoch: int) -> None:
        await super().send_away(charge_point_id, epoch)
        # Other nodes hear it as any eviction: an epoch newer than their socket's.
        self.evict(charge_point_id, epoch)

    def _publish(self, channel: str, data: str) -> None:
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
        await super().start(on_evict)
        self._listener = asyncio.create_task(self._listen(on_evict), name="bus-listener")

    async def _listen(self, on_evict: Evicted) -> None:
        backoff = 0.2
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(messages.WAKE, messages.EVICT)
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
        """One message; whatever it holds, the listener goes on to the next."""
        try:
            parsed = messages.read(message.get("channel"), message.get("data"), self._node_id)
        except messages.Malformed as exc:
            log.warning("ignored a malformed broker message", extra={"error": str(exc)})
            return
        except Exception as exc:
            # Whatever a message holds must not end the listener task: this node would get no
            # more wake-ups or evictions. A reading bug is a malformed message too.
            log.warning(
                "ignored a malformed broker message",
                extra={"error": f"unreadable: {type(exc).__name__}"},
            )
            return
        match parsed:
            case None:
                return
            case messages.Wake(topics):
                self.wake_here(*topics)
            case messages.Evict(charge_point_id, epoch):
                try:
                    await on_evict(charge_point_id, epoch)
                except Exception:
                    # One charger's eviction failing must not end every later wake-up and
                    # eviction of this node: the listener task would die with it.
                    log.exception(
                        "eviction failed; listening on",
                        extra={"charge_point_id": charge_point_id, "epoch": epoch},
                    )
            case _:
                assert_never(parsed)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await asyncio.gather(*self._publishing, return_exceptions=True)
        await self._client.aclose()
