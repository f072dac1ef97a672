import os
import socket

from emotion_device.sdnotify import SystemdNotifier


def _listen(tmp_path):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2)
    return server, path


def test_messages_reach_the_notify_socket(tmp_path, monkeypatch):
    server, path = _listen(tmp_path)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = SystemdNotifier(path)
    notifier.ready("1 face")
    notifier.watchdog()
    notifier.watchdog()  # within WatchdogSec/2 of the last ping: not sent again
    notifier.status("12.0 fps")
    notifier.stopping()
    received = [server.recv(256).decode() for _ in range(4)]
    assert received == ["READY=1\nSTATUS=1 face", "WATCHDOG=1", "STATUS=12.0 fps", "STOPPING=1"]


def test_without_systemd_every_call_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SystemdNotifier()
    assert not notifier.enabled
    notifier.ready()
    notifier.watchdog()


def test_a_vanished_socket_does_not_raise(tmp_path):
    server, path = _listen(tmp_path)
    notifier = SystemdNotifier(path)
    server.close()
    os.unlink(path)
    notifier.ready()
