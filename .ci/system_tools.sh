#!/usr/bin/env bash
# Install the system tools the tests need, with apt: as root directly, else with sudo when it
# works without a password prompt. Otherwise name what is missing and how to install it.
#
#   .ci/system_tools.sh          (make test runs it first)
#
# mosquitto (+ clients, openssl): the real broker the MQTT tests start on 127.0.0.1, with TLS.
# For the deploy tests: shellcheck and systemd (systemd-analyze). python3-numpy/-venv: the system
# Python that stands in for Raspberry Pi OS's. qemu-user-static, unzip, debian-archive-keyring:
# the emulated arm64 userland.
set -euo pipefail

readonly PROG=system_tools.sh
readonly PACKAGES=(mosquitto mosquitto-clients openssl shellcheck systemd python3-numpy python3-venv
                   qemu-user-static unzip debian-archive-keyring)

main() {
  if ! command -v dpkg >/dev/null || ! command -v apt-get >/dev/null; then
    printf '%s: not a Debian-like system; install by hand: %s\n' "$PROG" "${PACKAGES[*]}" >&2
    exit 1
  fi
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      printf '%s: the tests need these packages, and installing them needs root:\n' "$PROG" >&2
      printf '  sudo apt-get install --no-install-recommends %s\n' "${missing[*]}" >&2
      exit 1
    fi
  fi
  printf '%s: installing %s\n' "$PROG" "${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

main "$@"
