"""Home Assistant MQTT discovery: two sensors that appear without any YAML on the HA side.

The sensors read the retained state topic, so HA shows the room as soon as it subscribes:
an enum sensor for the dominant expression (its options are the model's labels, so HA can
chart and automate on them) and a sensor for the number of faces in view. Both follow the
available topic: "offline" (the last will) and "stopped" (a clean exit) make them unavailable.
The MQTT sink publishes these retained on every connect and again when HA announces itself
on `<discovery_prefix>/status`, since a restarted HA may have lost them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from emotion_device import __version__

# The keys of the state payload that the sensors read (written by the daemon's RoomState).
STATE_FACES = "faces"
STATE_DOMINANT = "dominant"


@dataclass(frozen=True)
class DiscoveryTarget:
    """What the discovery messages describe: one device and where its topics are."""

    device_id: str
    state_topic: str
    available_topic: str
    labels: Sequence[str]
    model: str = "emotion-edge"
    expire_after: int | None = None
    discovery_prefix: str = "homeassistant"


def status_topic(discovery_prefix: str) -> str:
    """Where HA announces "online" after it starts."""
    return f"{discovery_prefix}/status"


def discovery_messages(target: DiscoveryTarget) -> list[tuple[str, bytes]]:
    """(topic, payload) of each sensor's config message; publish them retained."""
    device = {
        "identifiers": [f"emotion-edge_{target.device_id}"],
        "name": f"emotion-edge {target.device_id}",
        "manufacturer": "emotion-edge",
        "model": target.model,
        "sw_version": __version__,
    }
    common: dict[str, object] = {
        "state_topic": target.state_topic,
        "availability_topic": target.available_topic,
        # The available topic also carries "stopped"; HA only knows two values.
        "availability_template": "{{ 'online' if value == 'online' else 'offline' }}",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }
    if target.expire_after:
        common["expire_after"] = target.expire_after
    sensors: dict[str, dict[str, object]] = {
        "emotion": {
            "name": "Emotion",
            "device_class": "enum",
            "options": list(target.labels),
            # "None" is HA's payload for an unknown state: nobody in view.
            "value_template": f"{{{{ value_json.{STATE_DOMINANT} if value_json.{STATE_DOMINANT} "
                              f"else 'None' }}}}",
            "icon": "mdi:emoticon-outline",
        },
        "faces": {
            "name": "Faces",
            "state_class": "measurement",
            "value_template": f"{{{{ value_json.{STATE_FACES} }}}}",
            "icon": "mdi:account-multiple",
        },
    }
    messages = []
    for key, sensor in sensors.items():
        config = {**sensor, "unique_id": f"emotion-edge_{target.device_id}_{key}", **common}
        topic = f"{target.discovery_prefix}/sensor/{target.device_id}/{key}/config"
        messages.append((topic, json.dumps(config, separators=(",", ":")).encode("utf-8")))
    return messages
