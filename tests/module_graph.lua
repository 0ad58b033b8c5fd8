-- module_graph.lua - the shape of the C core, checked on what the compiler made: who calls whom
-- (the symbols each object file of the engine defines and uses, by nm) and who includes whom
-- (the #include "..." lines of csrc/). A module is a name: foo.c and foo.h are module foo.
--
-- The rules (docs/how-it-works.md):
--   1. no circle: no module reaches itself by calls, nor by includes;
--   2. a record sink, a report output, a source, the batch filler and the mailbox never include
--      or call a thread file, the run, the pipeline or the engine;
--   3. thread files never include or call each other.
--
-- usage: lua5.4 module_graph.lua SOURCE_DIR OBJECT...   (exit 1 and the faults when one breaks)

local source_dir = assert(arg[1], "usage: module_graph.lua SOURCE_DIR OBJECT...")
local objects = {}
for i = 2, #arg do -- CMake may pass its list as one argument, joined by ';'
  for path in arg[i]:gmatch("[^;]+") do objects[#objects + 1] = path end
end

local function module_of(path)
  return (path:match("([^/]+)$"):gsub("%.c%.o$", ""):gsub("%.[ch]$", ""))
end

local function command_lines(command)
  local pipe = assert(io.popen(command))
  local lines = {}
  for line in pipe:lines() do lines[#lines + 1] = line end
  assert(pipe:close(), "failed: " .. command)
  return lines
end

local function quoted(paths)
  local out = {}
  for i, path in ipairs(paths) do out[i] = "'" .. path:gsub("'", "'\\''") .. "'" end
  return table.concat(out, " ")
end

-- edges[kind][from][to] = true
local edges = { calls = {}, includes = {} }
local function add_edge(kind, from, to)
  if from == to then return end
  edges[kind][from] = edges[kind][from] or {}
  edges[kind][from][to] = true
end

-- calls: a module uses a symbol another one defines
local definer = {}
for _, line in ipairs(command_lines("nm -o --defined-only " .. quoted(objects))) do
  local path, symbol = line:match("^(.-):%x+ [TDBRC] (%S+)$")
  if path then definer[symbol] = module_of(path) end
end
for _, line in ipairs(command_lines("nm -o -u " .. quoted(objects))) do
  local path, symbol = line:match("^(.-):%s+U (%S+)$")
  if path and definer[symbol] then add_edge("calls", module_of(path), definer[symbol]) end
end

-- includes
local sources = command_lines("ls " .. quoted({ source_dir }) .. " | grep -E '\\.[ch]$'")
assert(#sources > 0, "no C files in " .. source_dir)
for _, name in ipairs(sources) do
  local file = assert(io.open(source_dir .. "/" .. name))
  for line in file:lines() do
    local header = line:match('^#include "([^"]+)"')
    if header then add_edge("includes", module_of(name), module_of(header)) end
  end
  file:close()
end

local faults = {}

-- rule 1: a circle is a path back to where it started (depth-first, each circle told once)
for kind, graph in pairs(edges) do
  local state, stack, seen_circle = {}, {}, {}
  local function visit(node)
    state[node] = "open"
    stack[#stack + 1] = node
    local targets = {}
    for target in pairs(graph[node] or {}) do targets[#targets + 1] = target end
    table.sort(targets)
    for _, target in ipairs(targets) do
      if state[target] == "open" then
        local circle, inside = {}, false
        for _, n in ipairs(stack) do
          inside = inside or n == target
          if inside then circle[#circle + 1] = n end
        end
        circle[#circle + 1] = target
        local text = table.concat(circle, " -> ")
        if not seen_circle[text] then
          seen_circle[text] = true
          faults[#faults + 1] = ("a circle of %s: %s"):format(kind, text)
        end
      elseif not state[target] then
        visit(target)
      end
    end
    stack[#stack] = nil
    state[node] = "done"
  end
  local nodes = {}
  for node in pairs(graph) do nodes[#nodes + 1] = node end
  table.sort(nodes)
  for _, node in ipairs(nodes) do
    if not state[node] then visit(node) end
  end
end

local threads = { producer = true, parser = true, writer = true, keeper = true, exporter = true }
local house = { run = true, pipeline = true, engine = true, stages = true }
local function is_room(module) -- what must stay out of the hallway
  return module:match("^record_") or module:match("^source") or module:match("^report_output")
    or module == "ipfix_export" or module == "batch_filler" or module == "mailbox"
end

-- rules 2 and 3
for kind, graph in pairs(edges) do
  for from, targets in pairs(graph) do
    for to in pairs(targets) do
      if is_room(from) and (threads[to] or house[to]) then
        faults[#faults + 1] = ("%s %s %s: a sink, output, source or mailbox depends on the run's "
          .. "threads or the engine"):format(from, kind, to)
      end
      if threads[from] and threads[to] then
        faults[#faults + 1] = ("%s %s %s: a thread file depends on another"):format(from, kind, to)
      end
    end
  end
end

-- the checks must have seen the house, or they prove nothing
for _, needed in ipairs({ "engine", "producer", "run", "source_file", "record_jsonl" }) do
  if not edges.calls[needed] then
    faults[#faults + 1] = "no calls seen from " .. needed .. ": wrong objects given?"
  end
end

table.sort(faults)
if #faults > 0 then
  for _, fault in ipairs(faults) do io.stderr:write(fault, "\n") end
  os.exit(1)
end
local count = 0
for _, graph in pairs(edges) do
  for _, targets in pairs(graph) do
    for _ in pairs(targets) do count = count + 1 end
  end
end
print(("module graph: %d edges, no circle, rooms apart from the hallway"):format(count))
