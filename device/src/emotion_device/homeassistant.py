"""Home Assistant MQTT discovery: sensors that appear without any YAML on the HA side.

Two read the retained state topic, so HA shows the room as soon as it subscribes: an enum
sensor for the dominant expression (its options are the model's labels plus "nobody", so HA
can chart and automate on them) and a sensor for the number of faces in view. One more per
label reads the summary topic: that label's share of the last summary's face-seconds, in
percent. All follow the available topic: "offline" (the last will) and "stopped" (a clean
exit) make them unavailable.
The MQTT sink publishes these retained on every connect and again when HA announces itself
on `<discovery_prefix>/status`, since a restarted HA may have lost them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from emotion_device import __version__
from emotion_device.events import NOBODY

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
    summary_topic: str | None = None  # the per-label share sensors read it


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
            # An empty room is the explicit value "nobody", one of the options: every HA
            # version shows it as it is (2024.3 drops `options` and would show "None" for None).
            "options": [*target.labels, NOBODY],
            "value_template": f"{{{{ value_json.{STATE_DOMINANT} }}}}",
            "icon": "mdi:emoticon-outline",
        },
        "faces": {
            "name": "Faces",
            "state_class": "measurement",
            "unit_of_measurement": "faces",
            "value_template": f"{{{{ value_json.{STATE_FACES} }}}}",
            "icon": "mdi:account-multiple",
        },
    }
    if target.summary_topic:
        for label in target.labels:  # each label's share of the last summary's face-seconds
            sensors[f"{label}_share"] = {
                "name": f"{label.capitalize()} share", "state_topic": target.summary_topic,
                "state_class": "measurement", "unit_of_measurement": "%",
                "value_template": f"{{{{ value_json.share['{label}'] }}}}", "icon": "mdi:chart-pie",
            }
    messages = []
    for key, sensor in sensors.items():
        config = {**common, **sensor, "unique_id": f"emotion-edge_{target.device_id}_{key}"}
        topic = f"{target.discovery_prefix}/sensor/{target.device_id}/{key}/config"
        messages.append((topic, json.dumps(config, separators=(",", ":")).encode("utf-8")))
    return messages
