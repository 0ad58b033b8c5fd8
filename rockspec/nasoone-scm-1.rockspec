rockspec_format = "3.0"
package = "nasoone"
version = "scm-1"
source = {
  url = "git+file:///nasoone",   -- `luarocks make` builds the checkout it runs in
}
description = {
  summary = "Per-connection traffic reports from libpcap captures, for Lua 5.4",
  detailed = [[
    A multithreaded C core reads packets with libpcap (a capture file or a live interface),
    decodes them and keeps a report of every connection (source/destination address and port,
    protocols, first/last time, bytes, packets), rewritten atomically every few seconds.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  PCAP = { header = "pcap/pcap.h" },
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
    NASOONE_TESTS = "OFF",
  },
}
