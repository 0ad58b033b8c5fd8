-- luacheck settings: `luacheck .` from the repository root.
std = "lua54"
max_line_length = 120
files["examples/data/make_sample.lua"] = { max_line_length = false }
exclude_files = { "build*/**" }
files["spec/**/*_spec.lua"] = { std = "+busted" }
