"""Sign-in back-off, kept in this process's memory.

A placeholder with the shape the server's shared limiter has (`signin_wait`, `signin_failed`,
`signin_ok`), so the web UI can slow down key guessing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

FREE_TRIES = 3
FIRST_WAIT = 1.0
LONGEST_WAIT = 300.0


class Limiter:
    """After a few wrong keys from one client, each further wrong key doubles its wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}

    def signin_wait(self, client: str) -> float:
        """Seconds `client` must still wait before its next sign-in try; 0 if none."""
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
        if count < FREE_TRIES:
            return 0.0
        wait = min(LONGEST_WAIT, FIRST_WAIT * 2 ** (count - FREE_TRIES))
        return max(0.0, last + wait - self._clock())

    def signin_failed(self, client: str) -> None:
        with self._lock:
            count, _ = self._failures.get(client, (0, 0.0))
            self._failures[client] = (count + 1, self._clock())

    def signin_ok(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
