#!/usr/bin/env bash
# Installs troupe from a build dir into a scratch prefix and builds the
# counter example against it from outside the tree, with find_package(troupe)
# and with pkg-config; every binary must run and print the right numbers.
BUILD=${1:?usage: sdk_consumer.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: sdk_consumer.sh BUILD_DIR SOURCE_DIR}
. "$SRC/tests/integration/lib.sh"
EX="$SRC/examples/counter/counter.c"
want=$'after 5 ticks: 5\nafter a crash and a restart: 0'

cmake --install "$BUILD" --prefix "$T/prefix" >/dev/null
LIBDIR=$(ls -d "$T"/prefix/lib* | head -1)
check() { out=$("$@" 2>/dev/null); [ "$out" = "$want" ] || die "$* printed: $out"; }

# find_package
cmake -S "$SRC/tests/sdk" -B "$T/cm" -DCMAKE_PREFIX_PATH="$T/prefix" -DEXAMPLE="$EX" >/dev/null
cmake --build "$T/cm" >/dev/null
LD_LIBRARY_PATH="$LIBDIR" check "$T/cm/consumer_shared"
check "$T/cm/consumer_static"

# pkg-config
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 -o "$T/pc_shared" "$EX" $(pkg-config --cflags --libs troupe)
LD_LIBRARY_PATH="$LIBDIR" check "$T/pc_shared"
# shellcheck disable=SC2046
cc -std=c11 -o "$T/pc_static" "$EX" $(pkg-config --cflags troupe) "$LIBDIR/libtroupe.a" \
  $(pkg-config --static --libs-only-l troupe | sed 's/-ltroupe//')
check "$T/pc_static"
echo "sdk_consumer: ok"
