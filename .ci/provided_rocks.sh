# Sourced by .ci/run and .ci/package.sh: `provided_rocks DIR`. The nasoone command's rock
# dependencies, argparse and luv, come from Debian here (lua-argparse, lua-luv), which LuaRocks
# does not see: DIR/luarocks-config.lua lists them in rocks_provided and LUAROCKS_CONFIG names
# it, so `luarocks make` and `luarocks install` use them instead of fetching them from
# luarocks.org (and building libuv). Without those packages nothing is set and LuaRocks
# installs the rocks as usual.
provided_rocks() {
  local versions=() package status version
  for package in lua-argparse lua-luv; do
    read -r status version < <(dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$package" 2>/dev/null) || true
    [ "${status:-}" = installed ] || return 0
    # Debian's 0.7.1-2 and 1.44.2-0-1 are the upstream 0.7.1 and 1.44.2
    versions+=("${version%%-*}-1")
  done
  printf 'rocks_provided = { argparse = "%s", luv = "%s" }\n' "${versions[@]}" >"$1/luarocks-config.lua"
  export LUAROCKS_CONFIG=$1/luarocks-config.lua
}
