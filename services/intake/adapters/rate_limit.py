"""Per-client limits for the public channels (the web form, Open311 creation), with the `limits` library.

The client is the connection's peer address; behind a reverse proxy, uvicorn takes it from
X-Forwarded-For when the proxy is listed in FORWARDED_ALLOW_IPS. Counts are kept per replica (in memory),
so N replicas admit up to N times the limit; `limits` can keep them in Redis instead if that matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimited(Exception):
    def __init__(self, retry_after: int, limit: str) -> None:
        super().__init__(f"too many requests from this client (at most {limit}); retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class ClientLimits:
    spec: str  # e.g. "20/minute;200/hour"
    items: list[RateLimitItem] = field(init=False)
    limiter: MovingWindowRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.items = parse_many(self.spec)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, request: Request, channel: str) -> None:
        """Count one request of this client on this channel, or raise RateLimited."""
        client = request.client.host if request.client else "unknown"
        for item in self.items:
            if not self.limiter.hit(item, channel, client):
                reset, _ = self.limiter.get_window_stats(item, channel, client)
                retry = max(1, int(reset - _now()))
                raise RateLimited(retry, str(item))


def _now() -> float:
    import time

    return time.time()
