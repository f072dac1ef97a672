"""Say a recurring failure once: the first time, again only after a quiet minute, and say
when it works again. A full disk fails every write for minutes, sometimes letting one
through; the log should get one line for that, not one per frame."""

from __future__ import annotations

import logging
import math
import time

REPEAT_AFTER = 60.0  # seconds before the same failure is logged again


class Outage:
    def __init__(self, log: logging.Logger, repeat_after: float = REPEAT_AFTER) -> None:
        self.log = log
        self.repeat_after = repeat_after
        self.failing = False
        self._message: str | None = None
        self._logged_at = -math.inf
        self._say_recovery = False

    def failed(self, message: str, detail: str = "") -> None:
        """Log `message` (+ `detail`) unless it was just said; a new message is always said."""
        self.failing = True
        now = time.monotonic()
        if message != self._message or now - self._logged_at >= self.repeat_after:
            self.log.error("%s%s", message, detail)
            self._message, self._logged_at = message, now
            self._say_recovery = True
        else:
            self.log.debug("%s (again)", message)

    def ok(self, recovery: str) -> None:
        """Call after a success: logs `recovery` once after a failure that was logged."""
        if not self.failing:
            return
        self.failing = False
        if self._say_recovery:
            self.log.info(recovery)
            self._say_recovery = False
