rockspec_format = "3.0"
package = "nasoone"
version = "scm-1"
-- `luarocks make rockspec/nasoone-scm-1.rockspec` builds the checkout it runs in; releases are
-- source rocks made from nasoone-VERSION-1.rockspec (see the README, "Releases").
source = {
  url = "git+file:///nasoone",
}
description = {
  summary = "Per-connection traffic reports from libpcap captures, for Lua 5.4",
  detailed = [[
    A multithreaded C core reads packets with libpcap (a capture file or a live interface),
    decodes them and keeps a report of every connection (source/destination address and port,
    protocols, first/last time, bytes, packets), rewritten atomically every few seconds.
  ]],
  license = "MIT",
  labels = { "network", "pcap", "capture" },
}
-- eventfd, O_TMPFILE and qsort_r: Linux (glibc or musl)
supported_platforms = { "linux" }
-- The nasoone command (bin/nasoone) also needs argparse >= 0.7 and luv >= 1.30; the module needs
-- neither, so they are not dependencies: installing the module builds no libuv and fetches
-- nothing else. The command says what to install when one is missing (`luarocks install
-- argparse luv`, with the same --tree, or Debian's lua-argparse and lua-luv).
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  PCAP = { header = "pcap/pcap.h", library = "pcap" },
  -- the IPFIX export's encoder (Debian libfixbuf-dev); CMake finds it with pkg-config
  FIXBUF = { header = "fixbuf/public.h", library = "fixbuf" },
  -- compressed captures (Debian zlib1g-dev, libzstd-dev, liblz4-dev); CMake finds them with pkg-config
  ZLIB = { header = "zlib.h", library = "z" },
  ZSTD = { header = "zstd.h", library = "zstd" },
  LZ4 = { header = "lz4frame.h", library = "lz4" },
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_C_FLAGS = "$(CFLAGS)",
    CMAKE_SHARED_MODULE_CREATE_C_FLAGS = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    PCAP_INCDIR = "$(PCAP_INCDIR)",
    PCAP_LIBDIR = "$(PCAP_LIBDIR)",
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
    NASOONE_TESTS = "OFF",
  },
  -- CMake installs the module; LuaRocks installs the command and its Lua modules (it wraps
  -- bin/nasoone in a script that sets the search paths of this tree)
  install = {
    bin = { nasoone = "bin/nasoone" },
    lua = {
      ["nasoone.cli"] = "lua/nasoone/cli.lua",
      ["nasoone.cli.capture"] = "lua/nasoone/cli/capture.lua",
      ["nasoone.cli.loop"] = "lua/nasoone/cli/loop.lua",
      ["nasoone.cli.term"] = "lua/nasoone/cli/term.lua",
      ["nasoone.cli.view"] = "lua/nasoone/cli/view.lua",
      -- LuaCATS annotations, not a module: lua-language-server's workspace.library names the
      -- folder (TREE/share/lua/5.4/nasoone/types)
      ["nasoone.types.nasoone"] = "types/nasoone.lua",
    },
  },
}
