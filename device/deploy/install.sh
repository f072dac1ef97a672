#!/usr/bin/env bash
# Install or upgrade emotion-edge on a Raspberry Pi (Raspberry Pi OS Bookworm or Trixie), as root.
#
#   sudo ./install.sh                       # everything found beside this script
#   sudo ./install.sh --uninstall [--purge]
#
# Steps, each skipped when there is nothing to do, so running it again changes nothing:
#   1. apt: python3-picamera2 python3-opencv python3-numpy python3-venv mosquitto-clients
#   2. /opt/emotion-edge/venv, a venv with --system-site-packages (picamera2 and numpy from apt)
#   3. the device wheel into it, numpy pinned to the system's version; ai-edge-litert, or
#      tflite-runtime on Python 3.11 where ai-edge-litert cannot be installed
#   4. the models to /opt/emotion-edge/models, and this script to /opt/emotion-edge/install.sh
#      (for --uninstall later)
#   5. /etc/emotion-edge/config.toml and an empty mqtt-password, only where none exist
#   6. the unit to /etc/systemd/system; daemon-reload, enable, start (restart after an upgrade)
set -euo pipefail

readonly PROG=install.sh
readonly UNIT_NAME=emotion-device.service
readonly APT_PACKAGES=(python3-picamera2 python3-opencv python3-numpy python3-venv mosquitto-clients)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly REPO=$HERE/../..  # when run from a checkout: device/deploy/install.sh

root=${DESTDIR:-/}
wheel=""
models=""
unit=""
config=""
python=/usr/bin/python3
use_apt=1
use_systemctl=1
start=1
action=install
purge=0
changed=0  # set when an upgrade replaced code, models or the unit: the service restarts

usage() {
  cat <<EOF
usage: $PROG [options]
       $PROG --uninstall [--purge] [--root DIR] [--no-systemctl]

Installs the emotion-edge device daemon as the systemd service $UNIT_NAME.
Run it on the Pi as root. Every input is looked for beside this script, then in the
checkout this script belongs to.

options:
  --wheel FILE      the emotion_device-*.whl to install (default: the one beside this script,
                    or in the checkout's dist/)
  --models DIR      folder with <name>.tflite and <name>.json (default: ./models)
  --unit FILE       the unit file (default: ./$UNIT_NAME)
  --config FILE     installed as /etc/emotion-edge/config.toml if that does not exist yet
                    (default: ./config.example.toml)
  --python FILE     system Python the venv is built on (default: $python)
  --root DIR        install under DIR instead of / (tests, images); also \$DESTDIR.
                    Needs --no-apt; systemctl only enables the unit there (systemctl --root)
  --no-apt          do not install apt packages (they must be there already)
  --no-systemctl    do not call systemctl at all
  --no-start        enable the service but leave it stopped (stops a running one)
  --uninstall       remove the service, the venv and the models (on the Pi, the installed
                    copy does it: /opt/emotion-edge/$PROG --uninstall); keeps /etc/emotion-edge
                    and the service's data and logs
  --purge           with --uninstall: also remove /etc/emotion-edge,
                    /var/lib/emotion-edge and /var/log/emotion-edge
  -h, --help        this help

The MQTT password goes into /etc/emotion-edge/mqtt-password (mode 0600); the service reads it as
the credential /run/credentials/$UNIT_NAME/mqtt-password.
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

parse_args() {
  while (($#)); do
    case $1 in
      --wheel) wheel=${2:?--wheel needs a file}; shift ;;
      --models) models=${2:?--models needs a folder}; shift ;;
      --unit) unit=${2:?--unit needs a file}; shift ;;
      --config) config=${2:?--config needs a file}; shift ;;
      --python) python=${2:?--python needs a file}; shift ;;
      --root) root=${2:?--root needs a folder}; shift ;;
      --no-apt) use_apt=0 ;;
      --no-systemctl) use_systemctl=0 ;;
      --no-start) start=0 ;;
      --uninstall) action=uninstall ;;
      --purge) purge=1 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
  done
  if ((purge)) && [[ $action != uninstall ]]; then
    die "--purge only goes with --uninstall"
  fi
  root=${root%/}
  readonly root venv_dir=$root/opt/emotion-edge/venv models_dir=$root/opt/emotion-edge/models
  readonly etc_dir=$root/etc/emotion-edge unit_path=$root/etc/systemd/system/$UNIT_NAME
}

# An input named on the command line, or the first candidate that exists.
find_input() {
  local what=$1 given=$2
  shift 2
  if [[ -n $given ]]; then
    [[ -e $given ]] || die "$what $given does not exist"
    printf '%s\n' "$given"
    return
  fi
  local candidate
  for candidate in "$@"; do
    if [[ -e $candidate ]]; then
      printf '%s\n' "$candidate"
      return
    fi
  done
  die "no $what given and none found (looked for: $*)"
}

find_wheel() {
  local found=()
  if [[ -n $wheel ]]; then
    [[ -f $wheel ]] || die "wheel $wheel does not exist"
    return
  fi
  shopt -s nullglob
  found=("$HERE"/emotion_device-*.whl)
  if ((${#found[@]} == 0)); then
    found=("$REPO"/dist/emotion_device-*.whl)
  fi
  shopt -u nullglob
  ((${#found[@]} == 1)) || die "expected one emotion_device-*.whl beside $PROG or in dist/, found ${#found[@]}; use --wheel FILE"
  wheel=${found[0]}
}

check_inputs() {
  find_wheel
  models=$(find_input "models folder" "$models" "$HERE/models" "$REPO/models")
  unit=$(find_input "unit file" "$unit" "$HERE/$UNIT_NAME" "$REPO/systemd/$UNIT_NAME")
  config=$(find_input "example config" "$config" "$HERE/config.example.toml" "$REPO/device/config.example.toml")
  compgen -G "$models/*.tflite" >/dev/null || die "no .tflite model in $models"
}

check_privileges() {
  if [[ $root == "" && $EUID -ne 0 ]]; then
    die "run as root (sudo $0 ...), or use --root DIR for a test install"
  fi
  if ((use_systemctl)) && ! command -v systemctl >/dev/null; then
    die "systemctl not found: this needs a systemd system (or pass --no-systemctl)"
  fi
}

# --- 1. apt ---------------------------------------------------------------------------------

install_apt_packages() {
  ((use_apt)) || { say "skipping apt (--no-apt)"; return; }
  command -v apt-get >/dev/null || die "apt-get not found: install ${APT_PACKAGES[*]} yourself and pass --no-apt"
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    say "apt packages already installed"
    return
  fi
  say "installing apt packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get could not install ${missing[*]} (python3-picamera2 comes from the Raspberry Pi OS archive)"
}

check_python() {
  [[ -x $python ]] || die "$python not found: install python3 (apt install python3)"
  "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 13)))' \
    || die "$python is Python $("$python" -c 'import platform; print(platform.python_version())'); emotion-edge needs 3.11 to 3.13"
  "$python" -c 'import venv, ensurepip' 2>/dev/null \
    || die "$python has no venv module: apt install python3-venv"
  numpy_version=$("$python" -c 'import numpy; print(numpy.__version__)' 2>/dev/null) \
    || die "$python cannot import numpy: apt install python3-numpy"
  readonly numpy_version
}

python_minor() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }

# --- 2. venv ----------------------------------------------------------------------------------

# Kept while it sees the system's packages and was made for the system's Python version (an OS
# upgrade from Bookworm's 3.11 to Trixie's 3.13 leaves a venv whose packages no longer load).
ensure_venv() {
  local minor
  minor=$(python_minor "$python")
  if [[ -x $venv_dir/bin/python && -d $venv_dir/lib/python$minor/site-packages ]] \
     && grep -qx 'include-system-site-packages = true' "$venv_dir/pyvenv.cfg" 2>/dev/null; then
    say "venv $venv_dir is up to date"
    return
  fi
  say "creating venv $venv_dir (Python $minor, with the system's site-packages)"
  mkdir -p "$(dirname "$venv_dir")"
  "$python" -m venv --clear --system-site-packages "$venv_dir"
  changed=1
}

# --- 3. the wheel -----------------------------------------------------------------------------

pip_install() {
  "$venv_dir/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
    --constraint "$constraints" "$@"
}

# The wheel's requirements except ai-edge-litert, for the tflite-runtime fallback.
requirements_without_litert() {
  "$venv_dir/bin/python" - <<'PY'
import re
from importlib.metadata import requires

for req in requires("emotion-device") or []:
    name = re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0].lower().replace("_", "-")
    if name != "ai-edge-litert" and "extra ==" not in req:
        print(req)
PY
}

install_wheel() {
  local marker=$venv_dir/.emotion-device-wheel stamp
  stamp="$(sha256sum "$wheel" | cut -d' ' -f1)  $(basename "$wheel")"
  if [[ -f $marker && $(<"$marker") == "$stamp" ]] \
     && "$venv_dir/bin/python" -c 'import emotion_device' 2>/dev/null; then
    say "$(basename "$wheel") is already installed"
    return
  fi
  constraints=$(mktemp)
  trap 'rm -f "$constraints"' EXIT
  printf 'numpy==%s\n' "$numpy_version" >"$constraints"
  say "installing $(basename "$wheel") with numpy $numpy_version (the system's)"
  if ! pip_install "$wheel"; then
    [[ $(python_minor "$venv_dir/bin/python") == 3.11 ]] \
      || die "pip could not install $(basename "$wheel") and its dependencies (see above)"
    say "ai-edge-litert could not be installed; falling back to tflite-runtime (Python 3.11)"
    pip_install --no-deps --force-reinstall "$wheel"
    local requirements=()
    mapfile -t requirements < <(requirements_without_litert)
    pip_install "${requirements[@]}" tflite-runtime \
      || die "pip could not install tflite-runtime either (see above)"
  fi
  # Same version, new build (a redeploy during development): replace the package's own files.
  pip_install --no-deps --force-reinstall --quiet "$wheel"
  "$venv_dir/bin/python" -c 'import cv2, numpy, emotion_device' \
    || die "the venv cannot import cv2, numpy and emotion_device after installing"
  printf '%s\n' "$stamp" >"$marker"
  changed=1
}

# --- 4. and 5. files --------------------------------------------------------------------------

# Copy SRC to DEST with MODE unless DEST already has the same content.
install_file() {
  local src=$1 dest=$2 mode=$3
  if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
    return 1
  fi
  install -D -m "$mode" "$src" "$dest"
  say "installed $dest"
}

install_models() {
  local file copied=0
  for file in "$models"/*.tflite "$models"/*.json; do
    [[ -f $file ]] || continue
    if install_file "$file" "$models_dir/$(basename "$file")" 0644; then
      copied=1
    fi
  done
  if ((copied)); then
    changed=1
  else
    say "models in $models_dir are up to date"
  fi
  install_file "$HERE/$PROG" "$root/opt/emotion-edge/$PROG" 0755 || true
}

install_config() {
  install -d -m 0755 "$etc_dir"
  if [[ -e $etc_dir/config.toml ]]; then
    say "keeping the existing $etc_dir/config.toml"
  else
    install -m 0644 "$config" "$etc_dir/config.toml"
    say "installed $etc_dir/config.toml from $(basename "$config"); edit it, then: systemctl restart emotion-device"
  fi
  if [[ ! -e $etc_dir/mqtt-password ]]; then
    install -m 0600 /dev/null "$etc_dir/mqtt-password"
    say "created an empty $etc_dir/mqtt-password (mode 0600) for the MQTT password"
  fi
  # The models where the unit's Environment= points the service, as check-config needs them.
  EMOTION_EDGE_MODELS="$models_dir" "$venv_dir/bin/emotion-device" check-config "$etc_dir/config.toml" \
    || die "$etc_dir/config.toml is not valid for this version (see above); fix it and run $PROG again"
}

# --- 6. systemd -------------------------------------------------------------------------------

install_unit() {
  if install_file "$unit" "$unit_path" 0644; then
    changed=1
  else
    say "$unit_path is up to date"
  fi
  if ((!use_systemctl)); then
    say "skipping systemctl (--no-systemctl)"
  elif [[ $root != "" ]]; then
    systemctl --root="$root" --quiet enable "$UNIT_NAME"
  else
    systemctl daemon-reload
    systemctl --quiet enable "$UNIT_NAME"
    if ((!start)); then
      systemctl stop "$UNIT_NAME"
      say "$UNIT_NAME is enabled and stopped (--no-start)"
    elif systemctl --quiet is-active "$UNIT_NAME"; then
      if ((changed)); then
        say "restarting $UNIT_NAME"
        systemctl restart "$UNIT_NAME"
      fi
    else
      say "starting $UNIT_NAME (waits for the first frame)"
      systemctl start "$UNIT_NAME" || die "$UNIT_NAME did not start; see: journalctl -u emotion-device"
    fi
  fi
}

do_install() {
  check_privileges
  if [[ $root != "" ]] && ((use_apt)); then
    die "--root installs into a folder and cannot run apt; add --no-apt"
  fi
  check_inputs
  install_apt_packages
  check_python
  ensure_venv
  install_wheel
  install_models
  install_config
  install_unit
  say "done: emotion-device $("$venv_dir/bin/emotion-device" --version | cut -d' ' -f2) in $venv_dir"
}

do_uninstall() {
  check_privileges
  if ((use_systemctl)); then
    if [[ $root != "" ]]; then
      systemctl --root="$root" --quiet disable "$UNIT_NAME" 2>/dev/null || true
    elif [[ -e $unit_path ]]; then
      systemctl --quiet disable --now "$UNIT_NAME" || true
    fi
  fi
  rm -f "$unit_path"
  if ((use_systemctl)) && [[ $root == "" ]]; then
    systemctl daemon-reload
  fi
  rm -rf "$venv_dir" "$models_dir" "$root/opt/emotion-edge/$PROG"
  rmdir "$root/opt/emotion-edge" 2>/dev/null || true
  if ((purge)); then
    # DynamicUser keeps the real directories under private/ and links them from /var/lib, /var/log.
    rm -rf "$etc_dir" "$root/var/lib/emotion-edge" "$root/var/lib/private/emotion-edge" \
      "$root/var/log/emotion-edge" "$root/var/log/private/emotion-edge"
    say "removed emotion-edge, its configuration, data and logs"
  else
    say "removed emotion-edge; kept $etc_dir and the service's data and logs (--purge removes them)"
  fi
}

main() {
  parse_args "$@"
  umask 022  # the venv and the models must be readable by the service's dynamic user
  if [[ $action == uninstall ]]; then
    do_uninstall
  else
    do_install
  fi
}

main "$@"
