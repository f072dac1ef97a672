"""Keeps a live source (camera, stream) alive: a failure is reopened with exponential backoff.

The daemon's loop never blocks for long here: while the source waits for its next attempt,
`read()` returns None after a short sleep, so the loop still answers signals and pings the
systemd watchdog, and the failure shows in status and stats.
"""

from __future__ import annotations

import logging
import time

from emotion_device.sources.base import Frame, FrameSource

log = logging.getLogger(__name__)


class ResilientSource:
    live = True

    def __init__(self, source: FrameSource, max_delay: float = 30.0, min_delay: float = 0.5,
                 clock=time.monotonic, sleep=time.sleep) -> None:
        self.source = source
        self.name = source.name
        self.max_delay, self.min_delay = max_delay, min_delay
        self.failures = 0  # failures seen over the whole run
        self.down_since: float | None = None
        self._delay = min_delay
        self._retry_at = 0.0
        self._clock, self._sleep = clock, sleep

    @property
    def healthy(self) -> bool:
        return self.down_since is None

    def _fail(self, reason: str) -> None:
        now = self._clock()
        if self.down_since is None:
            self.down_since = now
            self._delay = self.min_delay
        else:
            self._delay = min(self.max_delay, self._delay * 2)
        self.failures += 1
        self._retry_at = now + self._delay
        log.warning("source %s failed (%s); retrying in %.1f s", self.name, reason, self._delay)

    def read(self) -> Frame | None:
        if self.down_since is not None:
            wait = self._retry_at - self._clock()
            if wait > 0:
                self._sleep(min(wait, 0.25))
                return None
            try:
                self.source.reopen()
            except Exception as exc:
                self._fail(f"reopen: {exc}")
                return None
        try:
            frame = self.source.read()
        except Exception as exc:
            self._fail(str(exc))
            return None
        if frame is None:
            self._fail("no frame")
            return None
        if self.down_since is not None:
            log.info("source %s is back after %.1f s", self.name, self._clock() - self.down_since)
            self.down_since = None
        return frame

    def reopen(self) -> None:
        self.source.reopen()

    def close(self) -> None:
        self.source.close()
