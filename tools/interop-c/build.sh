#!/usr/bin/env bash
# Builds tools/interop-c/build/parley-interop-c, a C (protobuf-c + OpenSSL)
# peer that checks interoperability with the Parley daemon.
#
#   tools/interop-c/build.sh          # from any working directory
#
# Steps:
#   1. install the Debian packages it needs, only those `dpkg -s` reports
#      missing (needs root; nothing is installed when all are present);
#   2. run protoc-c on the wire and health protos into build/gen/;
#   3. compile and link build/parley-interop-c.
#
# Everything generated lives in tools/interop-c/build/ (git-ignored).
# Environment: CC (default gcc), CFLAGS (extra flags appended).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="$here/build"
gen="$build/gen"

# --- 1. packages ------------------------------------------------------------
packages=(protobuf-c-compiler libprotobuf-c-dev libssl-dev pkg-config gcc)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} > 0)); then
    echo "build.sh: installing missing packages: ${missing[*]}" >&2
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
fi

# --- 2. generated C ----------------------------------------------------------
protos=(parley/wire/v1/wire.proto parley/v1/health.proto)
rm -rf "$gen"
mkdir -p "$gen"
(cd "$repo" && protoc-c --proto_path=Protos --c_out="$gen" "${protos[@]}")

# --- 3. compile --------------------------------------------------------------
cc="${CC:-gcc}"
# shellcheck disable=SC2207
pkg_cflags=($(pkg-config --cflags libprotobuf-c openssl))
# shellcheck disable=SC2207
pkg_libs=($(pkg-config --libs libprotobuf-c openssl))
# shellcheck disable=SC2206
extra=(${CFLAGS:-})

"$cc" -std=c11 -O2 -g -Wall -Wextra -Werror=implicit-function-declaration \
    "${pkg_cflags[@]}" -I"$gen" "${extra[@]}" \
    -o "$build/parley-interop-c" \
    "$here/parley_interop.c" \
    "$gen/parley/wire/v1/wire.pb-c.c" \
    "$gen/parley/v1/health.pb-c.c" \
    "${pkg_libs[@]}"

echo "built $build/parley-interop-c"
