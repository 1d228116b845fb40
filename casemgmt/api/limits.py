"""Rate limits: requests per token, and failed authentications per client address, kept in Redis.

Counters live in Redis, so every gunicorn worker and every API process behind a load balancer
counts together. The `limits` library keeps them (a moving window: N requests in any second, not
per calendar second). A caller over a limit gets `429` problem+json with `Retry-After`.

- Every request counts against its bearer token (a digest of it, never the token itself), or its
  client address when it carries none: `CASEMGMT_RATE_LIMIT`.
- Every `401` counts against the client address: `CASEMGMT_AUTH_FAILURE_LIMIT`. Over it, a
  request from that address whose token fails is answered `429` instead of `401`, until the
  window has passed: guessing tokens slows to that rate. A valid token is never refused for
  the failures of others behind the same address (a proxy, an office's NAT).

When Redis cannot be reached, the limits are not enforced (the request goes on, and one line per
ten seconds says so): an outage of derived state must not refuse every caller.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import limits
import redis
from flask import current_app, g, request
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from casemgmt.api.errors import problem

if TYPE_CHECKING:
    from flask import Flask, Response
    from limits import RateLimitItem

    from casemgmt.settings import Settings

EXTENSION: Final = "casemgmt.limits"
# How long the limiter waits for Redis before letting the request through uncounted.
REDIS_TIMEOUT_SECONDS: Final = 0.5
_WARN_EVERY_SECONDS: Final = 10.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exceeded:
    """A limit the caller is over, and the seconds until it lets them through again."""

    limit: RateLimitItem
    retry_after: int


class RateLimits:
    """The API's limits on one Redis, shared by every process that uses the same key prefix."""

    def __init__(
        self,
        redis_url: str,
        key_prefix: str,
        *,
        per_caller: str | None,
        auth_failures: str | None,
    ) -> None:
        client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._client = client
        storage = RedisStorage(
            "redis://",  # unused: the connection pool is given
            connection_pool=client.connection_pool,
            key_prefix=f"{{{key_prefix}:ratelimit}}",
            wrap_exceptions=True,
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self.per_caller = limits.parse_many(per_caller) if per_caller else []
        self.auth_failures = limits.parse_many(auth_failures) if auth_failures else []
        self._warned_at = -math.inf
        self._warn_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, redis_url: str) -> RateLimits:
        """The limits `settings` set, counted in the Redis at `redis_url` (the container's)."""
        return cls(
            redis_url,
            settings.redis_key_prefix,
            per_caller=settings.rate_limit,
            auth_failures=settings.auth_failure_limit,
        )

    def close(self) -> None:
        self._client.close()

    def count_request(self, caller: str) -> Exceeded | None:
        """Counts one request of `caller`; the limit it went over, if any."""
        return self._hit(self.per_caller, "caller", caller)

    def count_auth_failure(self, address: str) -> Exceeded | None:
        """Counts one failed authentication from `address`; the limit it went over, if any."""
        return self._hit(self.auth_failures, "auth-failure", address)

    def _hit(self, items: list[RateLimitItem], kind: str, who: str) -> Exceeded | None:
        try:
            for limit in items:
                if not self.limiter.hit(limit, kind, who):
                    return self._exceeded(limit, kind, who)
        except StorageError as error:
            self._unenforced(error)
        return None

    def _exceeded(self, limit: RateLimitItem, kind: str, who: str) -> Exceeded:
        reset_at = self.limiter.get_window_stats(limit, kind, who).reset_time
        return Exceeded(limit, max(1, math.ceil(reset_at - time.time())))

    def _unenforced(self, error: StorageError) -> None:
        with self._warn_lock:
            now = time.monotonic()
            if now - self._warned_at < _WARN_EVERY_SECONDS:
                return
            self._warned_at = now
        cause = error.storage_error
        log.warning(
            "rate limits not enforced: Redis is unreachable (%s: %s)",
            type(cause).__name__,
            str(cause).strip().splitlines()[0] if str(cause).strip() else "",
        )


def caller_key() -> str:
    """Who the request counts against: a digest of its bearer token, else its client address."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return "address:" + client_address()


def client_address() -> str:
    return request.remote_addr or "unknown"


def _too_many(exceeded: Exceeded, detail: str) -> Response:
    return problem(
        429,
        "too-many-requests",
        f"{detail} ({exceeded.limit}); try again in {exceeded.retry_after} seconds",
        headers={"Retry-After": str(exceeded.retry_after)},
        correlation_id=g.get("correlation_id"),
    )


def _rate_limits() -> RateLimits:
    limiter: RateLimits = current_app.extensions[EXTENSION]
    return limiter


def _enforce() -> Response | None:
    exceeded = _rate_limits().count_request(caller_key())
    if exceeded is not None:
        return _too_many(exceeded, "too many requests")
    return None


def _count_failure(response: Response) -> Response:
    if response.status_code != 401:
        return response
    exceeded = _rate_limits().count_auth_failure(client_address())
    if exceeded is None:
        return response
    return _too_many(exceeded, "too many failed authentications from this address")


def register_rate_limits(app: Flask, limiter: RateLimits) -> None:
    """Counts before the view, and failures after it; register it after every hook that
    decorates a response (headers, correlation id), since a 401 may be turned into a 429 here."""
    app.extensions[EXTENSION] = limiter
    app.before_request(_enforce)
    app.after_request(_count_failure)
