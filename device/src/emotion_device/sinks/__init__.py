"""Event sinks: JSON lines, and MQTT with an on-disk spool and Home Assistant discovery."""

from emotion_device.sinks.base import Sink
from emotion_device.sinks.jsonl import JsonLinesSink
from emotion_device.sinks.mqtt import MqttSink

__all__ = ["JsonLinesSink", "MqttSink", "Sink"]
