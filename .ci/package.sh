#!/usr/bin/env bash
# .ci/package.sh - what a packager and an embedder rely on, checked from the committed tree:
#   1. luacheck and clang-format keep the Lua and C style the repository declares
#   2. luarocks lint of both rockspecs; the release's source rock made with `luarocks pack`
#      (from `git archive` of HEAD), installed with `luarocks install` from no rock server at all
#      (the module depends on nothing but Lua), loads and reports; its command runs, and says
#      what to install when argparse is missing
#   3. `cmake --install` into the configured prefix, and with `--prefix` into another folder;
#      from each, examples/embed/host.c built with nothing but `pkg-config --cflags --libs
#      nasoone` (PKG_CONFIG_PATH), run on the shipped capture: its report must equal
#      examples/data/sample.expected.csv; the Lua module and its annotations installed there too
# Run by .ci/run after the test suite; needs lua-check, clang-format-14, luarocks, pkg-config.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
expected=$(tail -n +2 examples/data/sample.expected.csv | sort)

echo "== style: luacheck, clang-format"
luacheck -q .
clang-format-14 --dry-run -Werror csrc/*.[ch] csrc/include/*.h tests/*.[ch] bench/*.c fuzz/*.c \
  examples/embed/*.c
echo "style: clean"

echo "== rockspecs: lint, source rock"
version=$(sed -n 's/^project(nasoone VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
release=rockspec/nasoone-$version-1.rockspec
[ -f "$release" ] || { echo "no $release for the version in CMakeLists.txt ($version)" >&2; exit 1; }
luarocks --lua-version 5.4 lint rockspec/nasoone-scm-1.rockspec
luarocks --lua-version 5.4 lint "$release"
git archive --prefix="nasoone-$version/" -o "$work/nasoone-$version.tar.gz" HEAD
# pack fetches source.url: point it at the archive just made (the rock carries the archive)
sed "s|url = \"nasoone-$version.tar.gz\"|url = \"file://$work/nasoone-$version.tar.gz\"|" \
  "$release" >"$work/nasoone-$version-1.rockspec"
(cd "$work" && luarocks --lua-version 5.4 pack "nasoone-$version-1.rockspec" >/dev/null)
rock=$work/nasoone-$version-1.src.rock
rm "$work/nasoone-$version.tar.gz"
# a module-only user's install: the only rock server is an empty folder, so a dependency other
# than Lua (the command's argparse or luv) would fail it
mkdir "$work/no-rocks"
luarocks --lua-version 5.4 install --only-server "$work/no-rocks" --tree "$work/tree" "$rock" >/dev/null
# the rock carries the command (bin/nasoone and its modules), and the annotations
[ -f "$work/tree/share/lua/5.4/nasoone/types/nasoone.lua" ]
# argparse and luv from Debian (lua-argparse, lua-luv), as a user who installed them
(cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "$work/tree/bin/nasoone" --version) | grep "^nasoone $version " >/dev/null
# without argparse (no search path but the tree's), the command says what to install: exit 1
status=0
missing=$(cd / && env -u LUA_PATH -u LUA_CPATH LUA_PATH_5_4="$work/tree/share/lua/5.4/?.lua" \
  LUA_CPATH_5_4="$work/tree/lib/lua/5.4/?.so" "$work/tree/bin/nasoone" --version 2>&1) || status=$?
want="nasoone: the nasoone command needs argparse (the nasoone module does not): apt-get install lua-argparse, or luarocks install argparse (with the same --tree as nasoone)"
[ "$status" = 1 ] && [ "$missing" = "$want" ] || { echo "without argparse: $status: $missing" >&2; exit 1; }
got=$(lua5.4 -e "package.path = '$work/tree/share/lua/5.4/?.lua'
                 package.cpath = '$work/tree/lib/lua/5.4/?.so'
                 local nasoone = require('nasoone')
                 assert(nasoone.version == '$version', nasoone.version)
                 local cap = nasoone.new()
                 assert(cap:set_capture_file('examples/data/sample.pcap'))
                 local rows
                 cap:on_report(function(r) rows = r.rows end)
                 assert(cap:start()) assert(cap:wait()) assert(cap:stop())
                 for _, r in ipairs(rows) do print(r.source_ip .. '; ' .. r.packets) end" | sort)
[ "$(echo "$got" | wc -l)" = "$(echo "$expected" | wc -l)" ] || { echo "source rock: $got" >&2; exit 1; }
echo "source rock: $(basename "$rock") packs, installs, loads and reports"

echo "== cmake --install, and a C host built from pkg-config alone"
# configured for one prefix, installed there and (`--prefix`, the README's command) elsewhere:
# nasoone.pc finds its folders from where it is, not from the prefix configured
cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DNASOONE_TESTS=OFF \
  -DCMAKE_INSTALL_PREFIX="$work/configured" >/dev/null
cmake --build "$work/build" -j "$(nproc)" >/dev/null
cmake --install "$work/build" >/dev/null
cmake --install "$work/build" --prefix "$work/prefix" >/dev/null
if grep -q "$work/configured" "$work/prefix/lib/pkgconfig/nasoone.pc"; then
  echo "nasoone.pc installed with --prefix names the configured prefix" >&2
  exit 1
fi
for prefix in "$work/configured" "$work/prefix"; do
  rm -f "$work/host"
  (cd "$work" && PKG_CONFIG_PATH=$prefix/lib/pkgconfig cc -std=c11 -Wall -Wextra -Werror \
    "$root/examples/embed/host.c" $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs nasoone) \
    -o host)
  # from another folder, with no Lua search path: everything comes from the binary
  got=$(cd "$work" && LUA_PATH= LUA_CPATH= ./host "$root/examples/embed/capture.lua" \
    "$root/examples/data/sample.pcap" 2>/dev/null | sort)
  if [ "$got" != "$expected" ]; then
    diff <(echo "$expected") <(echo "$got") >&2 || true
    echo "embedded host built from $prefix: report differs" >&2
    exit 1
  fi
  # the Lua module where Lua looks under the prefix, and the annotations beside it
  lua5.4 -e "package.path = '$prefix/share/lua/5.4/?.lua'
             package.cpath = '$prefix/lib/lua/5.4/?.so'
             assert(require('nasoone').version == '$version')" >/dev/null
  [ -f "$prefix/share/lua/5.4/nasoone/types/nasoone.lua" ]
done
echo "embedded host: built from pkg-config nasoone (configured prefix and --prefix), report equals the expected one"
