--- The documentation, checked: every code block of README.md and docs/*.md marked to run is run
-- on the build under test, and the links between the pages resolve (docs/testing.md, "Runnable
-- documentation", says how blocks are marked).
--
--   <!-- run -->            before a ```lua, ```sh or ```console block: run it, in a new folder
--                           holding a copy of examples/; it must exit 0. In a console block each
--                           "$ " line is a command, and the lines up to the next one its exact
--                           standard output.
--   <!-- run needs=A,B -->  the same, pending unless each command A, B is installed (udp:PORT:
--                           unless that UDP port is free).
--   <!-- output -->         before a ```text block right after a run block: that block's exact
--                           standard output.
--
-- Blocks run with this checkout's bin/nasoone as `nasoone` and the suite's interpreter as
-- `lua5.4` first on PATH, and LUA_PATH_5_4 / LUA_CPATH_5_4 naming lua/ and the build first (they
-- win over LUA_PATH and LUA_CPATH, which may name an installed copy); TZ=UTC.
local helper = require("spec.helper")

local root = helper.absolute(".")
local build = helper.absolute(helper.build_dir)

local function quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

local function shell(command)
  return helper.shell_output(command)
end

--- The pages: README.md, CHANGELOG.md and docs/*.md, as paths from the checkout.
local function pages()
  local list = { "README.md", "CHANGELOG.md" }
  for path in shell("ls docs/*.md 2>/dev/null"):gmatch("[^\n]+") do list[#list + 1] = path end
  return list
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  return lines
end

--- The fenced blocks of a page, each { lang, line (of its opening fence), body (lines),
-- run (the marker's text after "run", or nil), output_of (the run block it shows) }, and the
-- page's text outside fences (for links and headings). Raises on a marker that is not right
-- before a block it can apply to.
local function parse(path)
  local lines = read_lines(path)
  local blocks, prose = {}, {}
  local marker
  local i = 1
  while i <= #lines do
    local line = lines[i]
    local indent, lang = line:match("^(%s*)```+%s*([%w_+-]*)%s*$")
    if indent then
      local body = {}
      local j = i + 1
      while j <= #lines and not lines[j]:match("^%s*```+%s*$") do
        body[#body + 1] = lines[j]:sub(#indent + 1)
        j = j + 1
      end
      assert(j <= #lines, ("%s:%d: a code block that is never closed"):format(path, i))
      local block = { path = path, lang = lang, line = i, body = body }
      if marker then
        if marker.kind == "run" then
          assert(lang == "lua" or lang == "sh" or lang == "console", ("%s:%d: <!-- run --> before a "
            .. "'%s' block: only lua, sh and console blocks run"):format(path, marker.line, lang))
          block.run = marker.options
        else
          local previous = blocks[#blocks]
          assert(previous and previous.run and previous.lang ~= "console", ("%s:%d: <!-- output --> "
            .. "must follow a lua or sh block marked to run"):format(path, marker.line))
          assert(not previous.output, ("%s:%d: a second output block"):format(path, marker.line))
          previous.output = body
        end
      end
      blocks[#blocks + 1] = block
      marker = nil
      i = j + 1
    else
      local comment = line:match("^%s*<!%-%-%s*(.-)%s*%-%->%s*$")
      if comment and (comment == "run" or comment:match("^run%s") or comment == "output") then
        if marker then error(("%s:%d: a marker not followed by a block"):format(path, marker.line)) end
        marker = { kind = comment == "output" and "output" or "run", line = i,
                   options = comment:match("^run%s*(.*)$") }
      else
        if marker then
          error(("%s:%d: <!-- %s --> must be on the line right before its block"):format(path,
            marker.line, marker.kind))
        end
        prose[#prose + 1] = line
      end
      i = i + 1
    end
  end
  assert(not marker, ("%s: a marker at the end of the page"):format(path))
  return blocks, prose
end

------------------------------------------------------------------------------------------------
-- Running blocks

--- The folder of `nasoone` and `lua5.4` as the blocks find them: this checkout's command and
-- the suite's interpreter (lua_host in sanitized builds).
local tools
local function tools_dir()
  if tools then return tools end
  local interpreter = helper.lua_interpreter
  if interpreter:find("/", 1, true) then
    interpreter = helper.absolute(interpreter)
  else
    interpreter = shell("command -v " .. quote(interpreter)):gsub("\n$", "")
    assert(interpreter ~= "", helper.lua_interpreter .. " is not on PATH")
  end
  tools = helper.tmpdir()
  helper.write_file(tools .. "/lua5.4", ("#!/bin/sh\nexec %s \"$@\"\n"):format(quote(interpreter)))
  helper.write_file(tools .. "/nasoone", ("#!/bin/sh\nexec %s %s \"$@\"\n"):format(quote(interpreter),
    quote(root .. "/bin/nasoone")))
  assert(os.execute(("chmod 755 %s/lua5.4 %s/nasoone"):format(quote(tools), quote(tools))))
  return tools
end

local function environment()
  return ("PATH=%s:\"$PATH\" LUA_PATH_5_4=%s LUA_CPATH_5_4=%s TZ=UTC"):format(quote(tools_dir()),
    quote(root .. "/lua/?.lua;;"), quote(build .. "/?.so;;"))
end

--- Why a block cannot run here (a missing command, a busy port), or nil.
local function missing(options)
  local needs = options and options:match("needs=(%S+)")
  if not needs then return nil end
  for need in needs:gmatch("[^,]+") do
    local port = need:match("^udp:(%d+)$")
    if port then
      if shell("ss -Huan"):find(":" .. port .. "%s") then return "UDP port " .. port .. " is in use" end
    elseif not os.execute("command -v " .. quote(need) .. " >/dev/null 2>&1") then
      return need .. " is not installed"
    end
  end
  return nil
end

--- A console block as { { command =, output = } }: "$ " starts a command (a line ending in a
-- backslash goes on to the next), the lines after it are its output.
local function session(body)
  local steps = {}
  local i = 1
  while i <= #body do
    local command = body[i]:match("^%$ (.*)$")
    assert(command, "a console block starts with a '$ ' command line: " .. body[i])
    while command:match("\\$") and i < #body do
      i = i + 1
      command = command .. "\n" .. body[i]
    end
    local output = {}
    i = i + 1
    while i <= #body and not body[i]:match("^%$ ") do
      output[#output + 1] = body[i]
      i = i + 1
    end
    steps[#steps + 1] = { command = command, output = output }
  end
  return steps
end

local function text(lines)
  return #lines == 0 and "" or table.concat(lines, "\n") .. "\n"
end

--- Runs `script` (a file in dir) with `runner` in its own process group, which is killed after
-- (a background process a failed block left behind dies with it). Returns the exit status and
-- the stderr text; stdout goes to out_path.
local function run_in(dir, runner, script, out_path)
  local err_path = out_path .. ".err"
  local status = shell(("cd %s && env %s setsid %s %s >%s 2>%s </dev/null & pid=$!; wait $pid; "
    .. "status=$?; kill -TERM -- -$pid 2>/dev/null; echo $status"):format(quote(dir), environment(),
    runner, quote(script), quote(out_path), quote(err_path)))
  return tonumber(status), helper.read_file(err_path)
end

local function run_block(block)
  local dir = helper.tmpdir()
  local io_dir = helper.tmpdir()
  assert(os.execute(("cp -R %s %s/examples"):format(quote(root .. "/examples"), quote(dir))))
  local where = ("%s:%d"):format(block.path, block.line)
  if block.lang == "console" then
    local steps = session(block.body)
    local script = { "set -e" }
    for n, step in ipairs(steps) do
      script[#script + 1] = ("{\n%s\n} >%s/%d.out"):format(step.command, quote(io_dir), n)
    end
    helper.write_file(io_dir .. "/session.sh", table.concat(script, "\n") .. "\n")
    local status, err = run_in(dir, "timeout 120 bash", io_dir .. "/session.sh", io_dir .. "/all.out")
    assert.are.equal(0, status, ("%s: the session failed (exit %s): %s"):format(where, status, err))
    for n, step in ipairs(steps) do
      assert.are.equal(text(step.output), helper.read_file(("%s/%d.out"):format(io_dir, n)),
        ("%s: the output of $ %s"):format(where, step.command))
    end
    return
  end
  -- run by its name in the folder: Lua's messages name it "example.lua", as the pages show
  local script, runner
  if block.lang == "lua" then
    script, runner = "example.lua", "timeout 120 lua5.4"
  else
    script, runner = "example.sh", "timeout 120 bash -e"
  end
  helper.write_file(dir .. "/" .. script, text(block.body))
  local status, err = run_in(dir, runner, script, io_dir .. "/out")
  assert.are.equal(0, status, ("%s: exit %s: %s"):format(where, status, err))
  if block.output then
    assert.are.equal(text(block.output), helper.read_file(io_dir .. "/out"),
      where .. ": the output the page shows")
  end
end

------------------------------------------------------------------------------------------------
-- Links

--- GitHub's anchor of a heading: lower case, punctuation but '-' and '_' removed, spaces to '-'.
local function slug(heading)
  return (heading:lower():gsub("[^%w%s_-]", ""):gsub("%s", "-"))
end

local function anchors(prose)
  local set, seen = {}, {}
  for _, line in ipairs(prose) do
    local heading = line:match("^#+%s+(.-)%s*#*%s*$")
    if heading then
      local base = slug(heading)
      local name = seen[base] and (base .. "-" .. seen[base]) or base
      seen[base] = (seen[base] or 0) + 1
      set[name] = true
    end
  end
  return set
end

--- `path` from folder `dir`, ".." and "." resolved (both relative to the checkout).
local function resolve(dir, path)
  local parts = {}
  for part in ((dir == "" and "" or dir .. "/") .. path):gmatch("[^/]+") do
    if part == ".." then
      assert(#parts > 0, "a link out of the checkout: " .. path)
      parts[#parts] = nil
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return table.concat(parts, "/")
end

local function links(prose)
  local found = {}
  for _, line in ipairs(prose) do
    -- inline code is not a link
    for target in line:gsub("`[^`]*`", ""):gmatch("%]%(([^)%s]+)%)") do found[#found + 1] = target end
  end
  return found
end

------------------------------------------------------------------------------------------------

describe("documentation", function()
  local parsed = {}
  for _, page in ipairs(pages()) do
    local blocks, prose = parse(page)
    parsed[page] = { blocks = blocks, prose = prose }
  end

  lazy_teardown(function() helper.cleanup() end)

  describe("code blocks", function()
    for _, page in ipairs(pages()) do
      for _, block in ipairs(parsed[page].blocks) do
        if block.run then
          it(("%s:%d runs (%s)"):format(page, block.line, block.lang), function()
            local why = missing(block.run)
            if why then
              pending(why)
              return
            end
            run_block(block)
          end)
        end
      end
    end

    it("are marked in the README and in docs/", function()
      local count = {}
      for page, p in pairs(parsed) do
        for _, block in ipairs(p.blocks) do
          if block.run then count[page] = (count[page] or 0) + 1 end
        end
      end
      assert.is_true((count["README.md"] or 0) >= 3, "README.md: runnable blocks")
      for _, page in ipairs({ "docs/api.md", "docs/command.md", "docs/flows.md", "docs/embedding.md" }) do
        assert.is_true((count[page] or 0) >= 1, page .. " has no runnable block")
      end
    end)
  end)

  describe("links", function()
    it("resolve: every relative link names a file of the checkout, and a heading of it", function()
      local headings = {}
      local function anchors_of(path)
        if not headings[path] then
          local _, prose = parse(path)
          headings[path] = anchors(prose)
        end
        return headings[path]
      end
      local broken = {}
      for _, page in ipairs(pages()) do
        local dir = page:match("^(.*)/[^/]*$") or ""
        for _, target in ipairs(links(parsed[page].prose)) do
          if not target:match("^%a[%w+.-]*:") then -- not https:, mailto:...
            local path, fragment = target:match("^([^#]*)#?(.*)$")
            local file = path == "" and page or resolve(dir, path)
            if not helper.exists(root .. "/" .. file) then
              broken[#broken + 1] = ("%s: %s (no %s)"):format(page, target, file)
            elseif fragment ~= "" then
              if not file:match("%.md$") then
                broken[#broken + 1] = ("%s: %s (an anchor in a file that is not markdown)"):format(page, target)
              elseif not anchors_of(file)[fragment] then
                broken[#broken + 1] = ("%s: %s (no heading #%s in %s)"):format(page, target, fragment, file)
              end
            end
          end
        end
      end
      assert.are.same({}, broken)
    end)

    it("reach every page of docs/ from the README", function()
      local linked = {}
      for _, target in ipairs(links(parsed["README.md"].prose)) do
        linked[(target:match("^([^#]*)"))] = true
      end
      local unlinked = {}
      for _, page in ipairs(pages()) do
        if page:match("^docs/") and not linked[page] then unlinked[#unlinked + 1] = page end
      end
      assert.are.same({}, unlinked)
    end)
  end)

  describe("the README and CI", function()
    local ci = helper.read_file(".ci/run")
    local readme = helper.read_file("README.md")

    it("holds the test command .ci/run runs, verbatim", function()
      local commands = {}
      for line in ci:gmatch("[^\n]+") do
        local command = line:match("^%s*(cmake %-S %. %-B build .*ctest %-%-output%-on%-failure%))%s*$")
        if command then commands[#commands + 1] = command end
      end
      assert.is_true(#commands > 0, ".ci/run: no test command found")
      for _, command in ipairs(commands) do
        assert.is_truthy(readme:find("\n" .. command .. "\n", 1, true), "README.md lacks: " .. command)
      end
    end)

    it("installs, over its apt-get lines, the packages .ci/run installs", function()
      local function packages(words, set)
        for word in words:gmatch("%S+") do
          if word == "&&" or word:match("^[>|;]") then break end
          if not word:match("^%-") and word ~= "\\" then set[word] = true end
        end
        return set
      end
      local ci_list = ci:match("apt%-get install (.-)>/dev/null")
      assert.is_truthy(ci_list, ".ci/run: no apt-get install line")
      local wanted = packages(ci_list:gsub("\\\n", " "), {})
      local listed = {}
      for _, block in ipairs(parsed["README.md"].blocks) do
        if block.lang == "sh" then
          for _, line in ipairs(block.body) do
            for rest in line:gmatch("apt%-get install (.*)") do packages(rest, listed) end
          end
        end
      end
      local function sorted(set)
        local list = {}
        for name in pairs(set) do list[#list + 1] = name end
        table.sort(list)
        return list
      end
      assert.are.same(sorted(wanted), sorted(listed))
    end)
  end)

  it("speaks of versions, not of issue numbers", function()
    for _, page in ipairs(pages()) do
      local number = helper.read_file(page):match("[Ii]ssues? #?%d+")
      assert.is_nil(number, page .. ": " .. tostring(number))
    end
  end)
end)
