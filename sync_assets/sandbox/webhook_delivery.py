"""Webhook deliveries of the RDV Service Public sandbox, as the API makes them.

From the API notes: `POST target_url` with `Content-Type: application/json; charset=utf-8` and
`X-Lapin-Signature` = HMAC-SHA256 hex of the body with the endpoint's secret; body
`{"data": <blueprint>, "meta": {"model", "event", "webhook_reason", "timestamp"}}`; sent
asynchronously, retried on a non-2xx answer or a timeout (RDV Service Public tries 20 times over
days; here the delays are short), in no guaranteed order.

For tests, deliveries can be dropped, duplicated or held back and sent in shuffled order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import random
import threading
import time
from dataclasses import dataclass, field

import httpx

from sync_assets.sandbox.rdvsp_world import PARIS, Change, RdvspWorld, WebhookEndpoint

SUBSCRIPTION_OF_MODEL = {
    "Rdv": "rdv",
    "User": "user",
    "UserProfile": "user_profile",
    "Organisation": "organisation",
    "Motif": "motif",
    "Lieu": "lieu",
    "Agent": "agent",
    "AgentRole": "agent_role",
    "Absence": "absence",
    "PlageOuverture": "plage_ouverture",
}


@dataclass
class Delivery:
    target_url: str
    body: bytes
    signature: str
    attempts: int = 0


@dataclass
class DeliveryStats:
    sent: int = 0  # deliveries answered 2xx
    attempts: int = 0
    failed_attempts: int = 0
    abandoned: int = 0  # every attempt failed
    dropped: int = 0  # dropped on purpose
    answers: dict[int, int] = field(default_factory=dict)


class WebhookDeliverer:
    def __init__(
        self,
        world: RdvspWorld,
        *,
        workers: int = 4,
        retry_delays: tuple[float, ...] = (0.1, 0.3, 1, 2, 4),
        timeout_s: float = 10.0,
        seed: int = 1,
    ):
        self.world, self.retry_delays, self.timeout_s = world, retry_delays, timeout_s
        self.drop_rate = 0.0
        self.duplicate_rate = 0.0
        self.hold_back = 0  # when > 0, deliveries wait until that many are held, then go out shuffled
        self.stats = DeliveryStats()
        self._rng = random.Random(seed)
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._held: list[Delivery] = []
        self._pending = 0
        self._stopped = False
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._client = httpx.Client(timeout=timeout_s)
        self._threads = [
            threading.Thread(target=self._work, daemon=True, name=f"webhook-delivery-{n}") for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # --- what triggers deliveries -------------------------------------------------------

    def on_change(self, change: Change) -> None:
        subscription = SUBSCRIPTION_OF_MODEL.get(change.model)
        for endpoint in list(self.world.webhook_endpoints.values()):
            if endpoint.organisation_id in change.organisation_ids and subscription in endpoint.subscriptions:
                self.enqueue(endpoint, change)

    def on_replay(self, endpoint: WebhookEndpoint, changes: list[Change]) -> None:
        for change in changes:
            self.enqueue(endpoint, change)

    def enqueue(self, endpoint: WebhookEndpoint, change: Change) -> None:
        body = json.dumps(
            {
                "data": change.payload,
                "meta": {
                    "model": change.model,
                    "event": change.event,
                    "webhook_reason": change.webhook_reason,
                    # Rails serialises times in JSON as ISO 8601 with milliseconds.
                    "timestamp": change.occurred_at.astimezone(PARIS).isoformat(timespec="milliseconds"),
                },
            },
            ensure_ascii=False,
        ).encode()
        signature = hmac.new(endpoint.secret.encode(), body, hashlib.sha256).hexdigest()
        copies = 2 if self._rng.random() < self.duplicate_rate else 1
        with self._lock:
            if self._rng.random() < self.drop_rate:
                self.stats.dropped += 1
                return
            for _ in range(copies):
                self._pending += 1
                delivery = Delivery(endpoint.target_url, body, signature)
                if self.hold_back:
                    self._held.append(delivery)
                else:
                    self._queue.put(delivery)
            if self.hold_back and len(self._held) >= self.hold_back:
                self._release_held()

    def release(self) -> None:
        """Send what is held back now (shuffled)."""
        with self._lock:
            self._release_held()

    def _release_held(self) -> None:
        self._rng.shuffle(self._held)
        for delivery in self._held:
            self._queue.put(delivery)
        self._held = []

    # --- sending ------------------------------------------------------------------------

    def _work(self) -> None:
        while (delivery := self._queue.get()) is not None and not self._stopped:
            delivery.attempts += 1
            try:
                response = self._client.post(
                    delivery.target_url,
                    content=delivery.body,
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "X-Lapin-Signature": delivery.signature,
                    },
                )
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            with self._lock:
                self.stats.attempts += 1
                self.stats.answers[status] = self.stats.answers.get(status, 0) + 1
            if 200 <= status < 300:
                self._done(sent=True)
            elif delivery.attempts <= len(self.retry_delays):
                with self._lock:
                    self.stats.failed_attempts += 1
                threading.Timer(self.retry_delays[delivery.attempts - 1], self._queue.put, [delivery]).start()
            else:
                self._done(sent=False)

    def _done(self, sent: bool) -> None:
        with self._lock:
            if sent:
                self.stats.sent += 1
            else:
                self.stats.abandoned += 1
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until every delivery was answered 2xx or abandoned."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stop(self) -> None:
        self._stopped = True  # deliveries still queued, or waiting to be retried, are dropped
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 1)
        self._client.close()
