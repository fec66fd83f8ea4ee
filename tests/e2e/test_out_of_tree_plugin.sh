#!/bin/bash
# The SDK from an installed prefix only: `cmake --install` into a temp prefix P, then
# examples/plugin-upper (copied out of the tree) is built twice against P alone — with
# pkg-config (its Makefile) and with find_package(Sluice) (its CMakeLists.txt) — each build's
# unit test runs on libsluice-testhost from P, and each built .so runs in a job through
# P/bin/sluice run --once (generator source -> upper -> file sink).
. "$(dirname "$0")/lib.sh"
: "${SL_BUILD_DIR:?run through ctest}" "${SL_SOURCE_DIR:?run through ctest}"
P=$T/prefix
cmake --install "$SL_BUILD_DIR" --prefix "$P" >"$T/install.log" 2>&1
expect "cmake --install into a temp prefix" [ $? -eq 0 ]
expect "installs the header" [ -f "$P/include/sluice/plugin.h" ]
expect "installs the mock host header" [ -f "$P/include/sluice/testhost.h" ]
expect "installs the CMake package" [ -f "$P/lib/cmake/Sluice/SluiceConfig.cmake" -a \
    -f "$P/lib/cmake/Sluice/SluiceConfigVersion.cmake" ]
expect "installs the plugins" [ -f "$P/lib/sluice/plugins/sl-source-generator.so" -a \
    -f "$P/lib/sluice/plugins/sl-sink-file.so" ]

# Only the prefix: the example is copied out of the tree, pkg-config sees only P.
cp -r "$SL_SOURCE_DIR/examples/plugin-upper" "$T/src"
rm -f "$T/src/"*.so "$T/src/test_upper"
export PKG_CONFIG_PATH="$P/lib/pkgconfig" PKG_CONFIG_LIBDIR="$P/lib/pkgconfig"
expect "pkg-config: Cflags point into the prefix" \
    [ "$(echo $(pkg-config --cflags sluice))" = "-I$P/include" ]
expect "pkg-config: plugindir is the prefix's" \
    [ "$(pkg-config --variable=plugindir sluice)" = "$P/lib/sluice/plugins" ]
expect "pkg-config: version is the ABI's (2.x)" pkg-config --atleast-version=2.0 --max-version=2.99 sluice

# A sanitizer build (SL_SANITIZE) installs an instrumented libsluice-testhost: what links it
# needs the same runtime.
SAN=
nm -D "$P/lib/libsluice-testhost.so" 2>/dev/null | grep -q __asan_init && SAN="-fsanitize=address,undefined"

# 1. pkg-config: the example's Makefile (cc $(pkg-config --cflags sluice) ...), and `make check`
#    (its unit test linked with $(pkg-config --libs sluice-testhost)).
make -s -C "$T/src" CFLAGS="-O2 -Wall -Wextra -Werror -std=c17 $SAN" sl-transform-upper.so check \
    >"$T/make.log" 2>&1
expect "pkg-config build + unit test on the mock host (make check)" [ $? -eq 0 ]
mkdir -p "$T/pc"
mv "$T/src/sl-transform-upper.so" "$T/pc/" 2>/dev/null
make -s -C "$T/src" clean >/dev/null 2>&1

# 2. find_package(Sluice 2.0) with CMAKE_PREFIX_PATH=P only.
cmake -S "$T/src" -B "$T/cm" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$SAN" >"$T/cmake.log" 2>&1 &&
    cmake --build "$T/cm" >>"$T/cmake.log" 2>&1
expect "find_package(Sluice 2.0) build" [ -f "$T/cm/sl-transform-upper.so" ]
expect "find_package used the prefix's package" \
    grep -qx "Sluice_DIR:PATH=$P/lib/cmake/Sluice" "$T/cm/CMakeCache.txt"
ctest --test-dir "$T/cm" --output-on-failure >"$T/ctest.log" 2>&1
expect "CMake build's unit test on the mock host (Sluice::testhost)" [ $? -eq 0 ]
mkdir -p "$T/cmk" && cp "$T/cm/sl-transform-upper.so" "$T/cmk/" 2>/dev/null

# The package's version rule: the same major only.
for v in 1.0 3.0; do
    mkdir -p "$T/v$v"
    printf 'cmake_minimum_required(VERSION 3.20)\nproject(v C)\nfind_package(Sluice %s REQUIRED)\n' \
        "$v" >"$T/v$v/CMakeLists.txt"
    cmake -S "$T/v$v" -B "$T/v$v/b" -DCMAKE_PREFIX_PATH="$P" >"$T/v$v.log" 2>&1
    expect "find_package(Sluice $v) is refused (ABI 2)" [ $? -ne 0 ]
done

# Each built .so in a job, through the installed binary (its plugins found relative to it).
for how in pc cmk; do
    so=$T/$how/sl-transform-upper.so
    expect "$how: exports only the descriptor" \
        bash -c "[ \"\$(nm -D --defined-only '$so' | awk '\$2 == \"T\"' | awk '{print \$3}')\" = sl_plugin_descriptor ]"
    "$P/bin/sluice" --plugin-dir "$T/$how" plugins >"$T/$how.plugins" 2>&1
    expect "$how: listed by sluice plugins" grep -qE '^transform +upper +0\.1\.0' "$T/$how.plugins"
    cat >"$T/$how.lua" <<LUA
return { tenant = "up_$how", source = { plugin = "generator", rows = 20, columns = { "string" }, null_every = 0 },
         transforms = { { plugin = "upper", columns = { "c1_string" } } },
         sink = { plugin = "file", path = "$T/out_$how", format = "csv", fsync = false } }
LUA
    "$P/bin/sluice" --plugin-dir "$T/$how" run --once "$T/$how.lua" 2>"$T/$how.log"
    expect "$how: sluice run --once exits 0" [ $? -eq 0 ]
    f=$T/out_$how/items.csv
    expect "$how: 20 rows, every string upper-cased" [ "$(grep -c ' V0' "$f" 2>/dev/null)" = 20 ]
    expect "$how: no lower-case value left" [ "$(grep -c ' v0' "$f" 2>/dev/null)" = 0 ]
done
finish
