"""Event sinks. JSON lines now; MQTT joins as one more module."""

from emotion_device.sinks.base import Sink
from emotion_device.sinks.jsonl import JsonLinesSink

__all__ = ["JsonLinesSink", "Sink"]
