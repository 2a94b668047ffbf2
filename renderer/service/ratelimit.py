"""Per-key rate limits: one token bucket per API key id, in this process.

In: a key id and the clock (`time.monotonic`). Out: None when the request may go on, else the seconds
to wait (sent as ``Retry-After`` with a 429). The service runs one process (renders go to its worker
pool), so in-memory buckets are exact; behind several service processes, limit at the proxy instead.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, rate_per_second: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_second
        self.burst = float(burst)
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}   # key id → (tokens, last refill)

    def take(self, key: str) -> float | None:
        """Spend one token; None if there was one, else the seconds until there is."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))
