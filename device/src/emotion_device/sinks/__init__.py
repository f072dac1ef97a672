"""Event sinks: JSON lines, and MQTT with an on-disk spool and Home Assistant discovery."""

from emotion_device.sinks.base import Sink
from emotion_device.sinks.jsonl import JsonLinesSink
from emotion_device.sinks.mqtt import MqttConfig, MqttSink, resolve_password

__all__ = ["JsonLinesSink", "MqttConfig", "MqttSink", "Sink", "resolve_password"]
