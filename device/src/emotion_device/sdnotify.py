"""systemd's sd_notify protocol over its datagram socket, without the libsystemd dependency.

READY=1 once the first frame went through, WATCHDOG=1 from the frame loop (a stalled loop
is restarted by systemd), STATUS= for `systemctl status`, STOPPING=1 on the way out. Outside
systemd (no NOTIFY_SOCKET) every call is a cheap no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._watchdog_sec = self._watchdog_interval()
        self._last_ping = 0.0

    @staticmethod
    def _watchdog_interval() -> float | None:
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 1e6

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def notify(self, message: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(message.encode(), self._address)
        except OSError as exc:  # systemd restarting: lose one notification, never the loop
            log.debug("sd_notify failed: %s", exc)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def watchdog(self) -> None:
        """Ping at most twice per WatchdogSec, so calling it every frame costs nothing."""
        if self._socket is None:
            return
        now = time.monotonic()
        interval = self._watchdog_sec / 2 if self._watchdog_sec else 1.0
        if now - self._last_ping >= interval:
            self._last_ping = now
            self.notify("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
