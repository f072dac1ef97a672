"""Print the device's runtime dependencies pinned to the lowest series each one declares
(`numpy>=1.24` -> `numpy==1.24.*`), as pip constraints for `make test-min-versions`.

    python3 .ci/lowest_requirements.py device/pyproject.toml > constraints.txt
"""

from __future__ import annotations

import re
import sys
import tomllib

FLOOR = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:\[[^]]*\])?\s*>=\s*([0-9][0-9.]*)")


def lowest(requirement: str) -> str | None:
    spec, _, marker = requirement.partition(";")
    match = FLOOR.match(spec)
    if not match:
        return None
    name, version = match.groups()
    return f"{name}=={version}.*" + (f"; {marker.strip()}" if marker else "")


def main(path: str) -> int:
    with open(path, "rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    pins = [lowest(r) for r in dependencies]
    unpinned = [r for r, pin in zip(dependencies, pins, strict=True) if pin is None]
    if unpinned:
        print(f"no lower bound to test in: {', '.join(unpinned)}", file=sys.stderr)
        return 1
    print("\n".join(p for p in pins if p))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
