#!/usr/bin/env bash
# Deploy emotion-edge to a Raspberry Pi over ssh, from a checkout: `make deploy PI=user@host`.
#
#   1. builds the device wheel (into dist/)
#   2. copies the wheel, models/*.tflite + *.json, the unit, the config (config.example.toml or
#      --config FILE) and install.sh to a temporary folder on the Pi
#   3. runs install.sh there with sudo (the service is installed and enabled, not yet started)
#   4. runs `emotion-device doctor` there and prints its table; starts the service if it passes
set -euo pipefail

readonly PROG=deploy.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
readonly HERE REPO

target=${PI:-}
python=${PYTHON:-python3}
dist=${DIST:-$REPO/dist}
remote_root=""
config=$REPO/device/config.example.toml
install_args=()
camera=""
start=1
local_tmp=""
remote_tmp=""

usage() {
  cat <<EOF
usage: $PROG [options] user@host

Builds the device wheel, copies it with the models, the unit, a config and install.sh to
the Pi, installs with sudo, runs \`emotion-device doctor\` there (as root, with the service
stopped), and starts the service if every check passes. The Pi needs ssh access and sudo (Raspberry Pi OS's first user
has both).

options:
  --config FILE the first config of the Pi, installed as /etc/emotion-edge/config.toml only
                where none exists yet (default: device/config.example.toml)
  --no-apt      pass --no-apt to install.sh (the apt packages are already there)
  --camera NAME one more camera on that Pi: the template unit emotion-device@NAME.service with
                /etc/emotion-edge/NAME.toml (install.sh --camera; --config is its first config)
  --no-start    install and check, but leave the service stopped
  --root DIR    install under DIR on the target instead of / (tests, staging); nothing is
                started there
  -h, --help    this help

environment:
  PI            the target, instead of the argument
  SSH, SCP      the ssh and scp commands, with options (default: ssh, scp), e.g.
                SSH="ssh -p 2222 -i ~/.ssh/pi" SCP="scp -P 2222 -i ~/.ssh/pi"
  PYTHON        the Python that builds the wheel (default: python3; needs pip)
  DIST          where the wheel is kept (default: dist/)
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

parse_args() {
  while (($#)); do
    case $1 in
      --no-apt) install_args+=(--no-apt) ;;
      --camera) camera=${2:?--camera needs a name}; install_args+=(--camera "$camera"); shift ;;
      --no-start) start=0 ;;
      --config) config=${2:?--config needs a file}; shift ;;
      --root) remote_root=${2:?--root needs a folder}; shift ;;
      -h|--help) usage; exit 0 ;;
      -*) die "unknown option '$1' (see --help)" ;;
      *) target=$1 ;;
    esac
    shift
  done
  [[ -n $target ]] || die "no target: $PROG user@host (or make deploy PI=user@host)"
  [[ -f $config ]] || die "config $config not found"
  read -r -a ssh_cmd <<<"${SSH:-ssh}"
  read -r -a scp_cmd <<<"${SCP:-scp}"
  # A terminal lets sudo on the Pi ask for a password if it needs one.
  if [[ -t 0 ]]; then
    ssh_cmd+=(-t)
  fi
  if [[ -n $camera ]]; then
    service=emotion-device@$camera.service unit_name=emotion-device@.service config_name=$camera.toml
  else
    service=emotion-device.service unit_name=emotion-device.service config_name=config.toml
  fi
  readonly target python dist remote_root config start ssh_cmd scp_cmd camera service unit_name config_name
}

# Run a command on the target; each argument is quoted for the remote shell.
remote() {
  "${ssh_cmd[@]}" "$target" "$(printf '%q ' "$@")"
}

cleanup() {
  if [[ -n $remote_tmp ]]; then
    "${ssh_cmd[@]}" "$target" "rm -rf $(printf '%q' "$remote_tmp")" || true
  fi
  if [[ -n $local_tmp ]]; then
    rm -rf "$local_tmp"
  fi
}

# A clean copy of device/ is built, so stale files in device/build never reach the wheel.
build_wheel() {
  "$python" -m pip --version >/dev/null 2>&1 || die "$python has no pip; set PYTHON to a Python with pip"
  say "building the device wheel with $python"
  mkdir -p "$local_tmp/src" "$local_tmp/stage/models"
  tar -C "$REPO/device" --exclude=build --exclude='*.egg-info' --exclude=__pycache__ -cf - . \
    | tar -C "$local_tmp/src" -xf -
  "$python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --wheel-dir "$local_tmp/stage" "$local_tmp/src" || die "building the wheel failed (see above)"
  local wheels=("$local_tmp"/stage/emotion_device-*.whl)
  [[ -f ${wheels[0]} ]] || die "pip wheel did not produce an emotion_device wheel"
  wheel=${wheels[0]}
  mkdir -p "$dist"
  cp "$wheel" "$dist/"
  say "built $dist/$(basename "$wheel")"
}

stage_files() {
  local found=0 file
  for file in "$REPO"/models/*.tflite "$REPO"/models/*.json; do
    [[ -f $file ]] || continue
    cp "$file" "$local_tmp/stage/models/"
    found=1
  done
  ((found)) || die "no models in $REPO/models"
  # The template unit too, so the installed install.sh can add cameras (--camera NAME) later.
  cp "$HERE/install.sh" "$REPO/systemd/emotion-device.service" "$REPO/systemd/emotion-device@.service" \
    "$local_tmp/stage/"
  cp "$config" "$local_tmp/stage/config.toml"
}

copy_to_target() {
  say "copying to $target"
  remote_tmp=$(remote mktemp -d -t emotion-edge-deploy.XXXXXX) || die "cannot reach $target with: ${ssh_cmd[*]}"
  remote_tmp=${remote_tmp%$'\r'}
  [[ $remote_tmp == /* ]] || die "unexpected answer from mktemp on $target: '$remote_tmp'"
  "${scp_cmd[@]}" -q -r "$local_tmp"/stage/* "$target:$remote_tmp/" || die "copying to $target failed"
}

install_on_target() {
  # ${a[@]+...}: an empty array under set -u, also in macOS's bash 3.2
  local args=(${install_args[@]+"${install_args[@]}"} --no-start --wheel "$remote_tmp/$(basename "$wheel")"
              --models "$remote_tmp/models" --unit "$remote_tmp/$unit_name"
              --config "$remote_tmp/config.toml")
  if [[ -n $remote_root ]]; then
    args+=(--root "$remote_root")
  fi
  say "installing on $target"
  remote sudo bash "$remote_tmp/install.sh" "${args[@]}" || die "install.sh failed on $target (see above)"
}

# Doctor on the Pi, as root, while the service is stopped (it would hold the camera). The service
# reads its credentials from /run/credentials/emotion-device.service/, which exists only while it
# runs, so doctor gets a copy of the config that reads them where LoadCredential takes them from,
# /etc/emotion-edge/<name>. $1 is the install root ("" for /), $2 the config's file name, $3 the
# service.
# shellcheck disable=SC2016  # expanded by the remote bash, not here; one line for the remote shell
readonly DOCTOR_SCRIPT='set -eu; etc="$1/etc/emotion-edge"; config="$etc/$2"; '\
'creds=/run/credentials/$3/; if grep -q "$creds" "$config"; then '\
'config=$(mktemp); trap "rm -f \"$config\"" EXIT; sed "s#$creds#$etc/#g" "$etc/$2" >"$config"; fi; '\
'EMOTION_EDGE_MODELS="$1/opt/emotion-edge/models" "$1/opt/emotion-edge/venv/bin/emotion-device" doctor --config "$config"'

doctor_on_target() {
  say "emotion-device doctor on $target:"
  remote sudo bash -c "$DOCTOR_SCRIPT" doctor "${remote_root%/}" "$config_name" "$service"
}

start_on_target() {
  if [[ -n $remote_root ]] || ((!start)); then
    say "installed; the service was not started"
    return
  fi
  say "starting $service on $target (waits for the first frame)"
  remote sudo systemctl restart "$service" \
    || die "the service did not start; on the Pi: journalctl -u ${service%.service}"
  say "running. Follow it with: ssh $target journalctl -u ${service%.service} -f"
}

main() {
  parse_args "$@"
  local_tmp=$(mktemp -d)
  trap cleanup EXIT
  build_wheel
  stage_files
  copy_to_target
  install_on_target
  if ! doctor_on_target; then
    die "doctor reports a failing check; the service is installed and enabled but stopped. Fix it, then on the Pi: sudo systemctl start ${service%.service}"
  fi
  start_on_target
}

main "$@"
