#!/usr/bin/env bash
# find_package(tv3s) as a user meets it: install a finished build to a temporary prefix,
# configure examples/ standalone against that prefix (nothing from the source tree but
# the examples themselves), build both examples, and run them on the tiny test model
# converted by the installed `tv3s`. Also checks that the installed package files name no
# path inside the source or build tree (so the prefix can be moved or packaged).
#
#   tests/install_test.sh [BUILD_DIR]      (default: build; `make test-install` runs it)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install failed"; }
if grep -rl --include='*.cmake' -e "$root" -e "$build" "$tmp/prefix"; then
  fail "the installed package files above name the source or build tree"
fi

cmake -S "$root/examples" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "configuring examples/ against the prefix failed"; }
cmake --build "$tmp/build" -j "$(nproc)" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "building examples/ against the prefix failed"; }

model="$tmp/tiny.safetensors"
"$tmp/prefix/bin/tv3s" convert "$root/tests/data/tv3s/tiny_official.pth" "$model" > /dev/null 2>&1 || fail "tv3s convert failed"
out=$("$tmp/build/segment_c" "$model" 1) || fail "segment_c failed: $out"
grep -q "^video 1 frame 0: " <<< "$out" || fail "segment_c printed no histogram for video 1:
$out"
out=$("$tmp/build/segment_nv12" "$model" 2 fp16) || fail "segment_nv12 failed: $out"
grep -q "^fp16 on cpu, carried state " <<< "$out" || fail "segment_nv12 printed no summary:
$out"
{ printf 'P6\n64 48\n255\n'; head -c $((64 * 48 * 3)) /dev/zero | tr '\0' '\200'; } > "$tmp/grey.ppm"
out=$("$tmp/build/segment_ppm" "$model" "$tmp/out" "$tmp/grey.ppm") || fail "segment_ppm failed: $out"
[ -s "$tmp/out/grey.pgm" ] || fail "segment_ppm wrote no label map"
echo "install test: ok (find_package(tv3s) from $tmp/prefix; segment_c, segment_nv12 and segment_ppm built and run)"
