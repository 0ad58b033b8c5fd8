--- The LuaCATS annotations (types/nasoone.lua, for lua-language-server) against the module they
-- describe: every function of nasoone, every method of a capture, of a filter and of a report
-- has an annotation, and every annotated one exists; the fields of the values the module hands
-- out (stats, rows, records, reports, totals, devices) are the annotated ones; the annotated
-- options are options the module takes; error codes are the annotated ones.
local helper = require("spec.helper")
local nasoone = require("nasoone")

local META = "types/nasoone.lua"
local SAMPLE = "examples/data/sample.pcap"

------------------------------------------------------------------------------------------------
-- Reading the annotations

--- The classes of a LuaCATS file: name -> { parent =, fields = { name -> { type =, optional = } },
-- functions = { name -> true } }, and its aliases: name -> { string values }. A class's
-- functions are the `function VAR.name` / `function VAR:name` of the `local VAR = {}` that
-- follows its `---@class` block.
local function read_annotations(path)
  local classes, aliases = {}, {}
  local variables = {}
  local class, alias
  for line in io.lines(path) do
    local name, parent = line:match("^%-%-%-@class%s+([%w_.]+)%s*:?%s*([%w_.]*)")
    if name then
      class = { name = name, parent = parent ~= "" and parent or nil, fields = {}, functions = {} }
      classes[name] = class
      alias = nil
    end
    local field, optional, type = line:match("^%-%-%-@field%s+([%w_]+)(%??)%s+(%S+)")
    if not field then
      field, optional, type = line:match('^%-%-%-@field%s+%["([%w_]+)"%](%??)%s+(%S+)')
    end
    if field and class then
      class.fields[field] = { type = type, optional = optional == "?" }
    end
    local variable = line:match("^local%s+([%w_]+)%s*=%s*{}")
    if variable and class then variables[variable] = class end
    local owner, method = line:match("^function%s+([%w_]+)[.:]([%w_]+)%s*%(")
    if owner then
      assert(variables[owner], META .. ": " .. line .. ": no class for " .. owner)
      variables[owner].functions[method] = true
    end
    local alias_name, rest = line:match("^%-%-%-@alias%s+([%w_.]+)%s*(.*)$")
    if alias_name then
      alias = {}
      aliases[alias_name] = alias
      for value in rest:gmatch('"([^"]*)"') do alias[#alias + 1] = value end
    elseif alias and line:match("^%-%-%-|") then
      alias[#alias + 1] = line:match('^%-%-%-|%s*"([^"]*)"')
    elseif not line:match("^%-%-%-") then
      alias = nil
    end
    if line:match("%S") and not line:match("^%-%-%-") and not variable then class = nil end
  end
  return classes, aliases
end

local classes, aliases = read_annotations(META)

--- The fields of a class with its parents'.
local function fields_of(name)
  local class = assert(classes[name], "no class " .. name .. " in " .. META)
  local fields = {}
  if class.parent then
    for k, v in pairs(fields_of(class.parent)) do fields[k] = v end
  end
  for k, v in pairs(class.fields) do fields[k] = v end
  return fields
end

local function sorted(set)
  local list = {}
  for k in pairs(set) do list[#list + 1] = k end
  table.sort(list)
  return list
end

--- Fails with what is in one set and not the other: `real` (what the module has) against
-- `annotated` (what types/nasoone.lua says), both sets of names.
local function same_names(what, real, annotated)
  local missing, extra = {}, {}
  for name in pairs(real) do
    if not annotated[name] then missing[#missing + 1] = name end
  end
  for name in pairs(annotated) do
    if not real[name] then extra[#extra + 1] = name end
  end
  table.sort(missing)
  table.sort(extra)
  local problems = {}
  if #missing > 0 then
    problems[#problems + 1] = ("%s: not annotated in %s: %s"):format(what, META, table.concat(missing, ", "))
  end
  if #extra > 0 then
    problems[#problems + 1] = ("%s: annotated in %s but not in the module: %s"):format(what, META,
      table.concat(extra, ", "))
  end
  if #problems > 0 then error(table.concat(problems, "\n"), 2) end
end

--- The names of the functions in table t (metamethods left out: LuaCATS has no annotation for
-- __gc or __close; __len and __tostring are the operators the classes say).
local function function_names(t)
  local names = {}
  for k, v in pairs(t) do
    if type(v) == "function" and not k:match("^__") then names[k] = true end
  end
  return names
end

--- Checks that `value` has the fields of class `class_name` and no other: every key is an
-- annotated field, every field not marked optional is there; fields whose type is a class
-- (or an array of one) are checked the same way, all the way down.
local function check_value(where, value, class_name)
  local fields = fields_of(class_name)
  for key, v in pairs(value) do
    local field = fields[key]
    if not field then
      error(("%s: field '%s' is not annotated in class %s of %s"):format(where, key, class_name, META), 0)
    end
    local element = field.type:match("^(nasoone%.[%w_.]+)%[%]$")
    local nested = field.type:match("^(nasoone%.[%w_.]+)$")
    if nested and classes[nested] and type(v) == "table" then
      check_value(where .. "." .. key, v, nested)
    elseif element and classes[element] then
      for i, item in ipairs(v) do check_value(("%s.%s[%d]"):format(where, key, i), item, element) end
    end
  end
  for key, field in pairs(fields) do
    if not field.optional and value[key] == nil then
      error(("%s: class %s of %s annotates field '%s', which the module does not give"):format(where,
        class_name, META, key), 0)
    end
  end
end

------------------------------------------------------------------------------------------------
-- What the module hands out

--- One capture of the sample with an on_flows callback and a JSON-lines export: its stats, a
-- report in tables, the records, and what a lazy report is (its methods, fields and totals).
local function sample_run()
  local dir = helper.tmpdir()
  local run = { records = {} }
  local cap = nasoone.new()
  assert(cap:set_capture_file(SAMPLE))
  assert(cap:add_export("jsonl", dir .. "/flows.jsonl"))
  assert(cap:on_flows(function(records)
    for _, r in ipairs(records) do run.records[#run.records + 1] = r end
  end))
  assert(cap:on_report(function(report) run.table = report end))
  assert(cap:start())
  assert(cap:wait())
  run.stats = assert(cap:stop())
  cap:close()

  local lazy = nasoone.new()
  assert(lazy:set_capture_file(SAMPLE))
  assert(lazy:on_report(function(report)
    local mt = getmetatable(report)
    local index = mt.__index
    local methods = index
    if type(index) == "function" then
      -- the report's __index is a C closure over its methods table
      for i = 1, math.huge do
        local name, upvalue = debug.getupvalue(index, i)
        if name == nil then break end
        if type(upvalue) == "table" then methods = upvalue break end
      end
    end
    run.report_methods = function_names(methods)
    run.final = report.final
    run.totals = report:totals()
    run.row = report[1]
    run.length = #report
  end, { rows = "lazy" }))
  assert(lazy:start())
  assert(lazy:wait())
  assert(lazy:stop())
  lazy:close()
  return run
end

describe("types/nasoone.lua, the LuaCATS annotations", function()
  local run
  setup(function() run = sample_run() end)
  teardown(helper.cleanup)

  it("is a meta file for require('nasoone') that loads as Lua", function()
    assert.equals("---@meta nasoone", helper.read_file(META):match("^[^\n]*"))
    assert.is_function(loadfile(META))
    assert.equals("table", type(dofile(META)))
  end)

  it("annotates every function and field of nasoone, and nothing else", function()
    local functions, fields = {}, {}
    for k, v in pairs(nasoone) do
      if type(v) == "function" then functions[k] = true else fields[k] = true end
    end
    same_names("nasoone's functions", functions, classes["nasoone"].functions)
    same_names("nasoone's fields", fields, classes["nasoone"].fields)
  end)

  it("annotates every method of a capture, and nothing else", function()
    local cap = nasoone.new()
    local methods = getmetatable(cap).__index
    cap:close()
    assert.is_table(methods)
    same_names("the capture's methods", function_names(methods), classes["nasoone.Capture"].functions)
    assert.same({}, classes["nasoone.Capture"].fields)
  end)

  it("annotates every method and field of a filter, and nothing else", function()
    local f = nasoone.filter():tcp_only()
    assert.equals(nasoone.Filter, getmetatable(f))
    same_names("the filter's methods", function_names(nasoone.Filter), classes["nasoone.Filter"].functions)
    local fields = {}
    for k in pairs(f) do fields[k] = true end
    same_names("the filter's fields", fields, classes["nasoone.Filter"].fields)
  end)

  it("annotates every method of a report (rows = 'lazy'), and its fields", function()
    same_names("the report's methods", run.report_methods, classes["nasoone.Report"].functions)
    assert.equals(true, run.final)
    assert.equals(8, run.length)
    assert.is_table(classes["nasoone.Report"].fields.final)
    check_value("report:totals()", run.totals, "nasoone.Totals")
    check_value("report[1]", run.row, "nasoone.Row")
  end)

  it("annotates the fields of stats, report tables, rows and records", function()
    check_value("stop()", run.stats, "nasoone.Stats")
    assert.equals(2, #run.stats.exports)   -- the JSON lines, then on_flows
    check_value("on_report's report", run.table, "nasoone.ReportTable")
    assert.equals(8, #run.table.rows)
    assert.equals(8, #run.records)
    for i, record in ipairs(run.records) do check_value(("records[%d]"):format(i), record, "nasoone.Record") end
  end)

  it("annotates the fields of nasoone.devices()", function()
    local devices = nasoone.devices(true)
    if not devices or #devices == 0 then return pending("libpcap lists no device here") end
    for i, device in ipairs(devices) do check_value(("devices()[%d]"):format(i), device, "nasoone.Device") end
  end)

  describe("annotates options the module takes", function()
    local dir
    before_each(function() dir = helper.tmpdir() end)

    -- each options class, and a call that gives it to the module
    local calls = {
      ["nasoone.DeviceOptions"] = function(cap, options) return cap:set_capture_device("nasoone-none0", options) end,
      ["nasoone.OutputOptions"] = function(cap, options) return cap:set_output(dir .. "/r.csv", options) end,
      ["nasoone.FlowLimits"] = function(cap, options) return cap:set_flow_limits(options) end,
      ["nasoone.JsonlExportOptions"] = function(cap, options)
        return cap:add_export("jsonl", dir .. "/f-%H.jsonl", options)
      end,
      ["nasoone.IpfixExportOptions"] = function(cap, options)
        return cap:add_export("ipfix", "file:" .. dir .. "/f.ipfix", options)
      end,
      ["nasoone.OnReportOptions"] = function(cap, options) return cap:on_report(function() end, options) end,
    }
    --- A value of an annotated type: the first string of a union, else one of the type.
    local function sample_value(type_text)
      local literal = type_text:match('^"([^"]*)"')
      if literal then return literal end
      local values = aliases[type_text]
      if values then return values[1] end
      if type_text == "boolean" then return true end
      return 1
    end
    for class_name, call in pairs(calls) do
      it(class_name, function()
        local names = sorted(fields_of(class_name))
        assert.is_true(#names > 0)
        for _, name in ipairs(names) do
          local cap = nasoone.new()
          local ok, err = pcall(call, cap, { [name] = sample_value(fields_of(class_name)[name].type) })
          cap:close()
          -- a value out of range may raise; an option the module does not know raises so
          assert(ok or not tostring(err):find("unknown", 1, true),
            ("%s.%s: the module does not take it: %s"):format(class_name, name, tostring(err)))
        end
        -- and the check would see an option the module does not know
        local cap = nasoone.new()
        local ok, err = pcall(call, cap, { not_an_option = 1 })
        cap:close()
        assert.is_false(ok)
        assert.matches("unknown .*option 'not_an_option'", err)
      end)
    end
  end)

  it("annotates the error codes, the codes failures return among them", function()
    assert.same({ "wrong_state", "not_found", "permission_denied", "not_a_capture", "unsupported_link", "exists",
      "invalid_path", "bad_filter", "no_such_device", "interface_down", "no_space", "io_error", "out_of_memory",
      "error", "report_not_written", "invalid_argument", "unreachable" }, aliases["nasoone.ErrorCode"])
    local codes = {}
    for _, code in ipairs(aliases["nasoone.ErrorCode"]) do codes[code] = true end
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/exists.csv", "x\n")
    local failures = {
      wrong_state = function(cap) return cap:start() end,
      not_found = function(cap) return cap:set_capture_file(dir .. "/missing.pcap") end,
      not_a_capture = function(cap) return cap:set_capture_file(dir .. "/exists.csv") end,
      exists = function(cap) return cap:set_output(dir .. "/exists.csv") end,
      invalid_path = function(cap) return cap:set_output("") end,
      bad_filter = function(cap)
        assert(cap:set_capture_file(SAMPLE))
        return cap:set_raw_filter("tcp and")
      end,
      no_such_device = function(cap) return cap:set_capture_device("nasoone-none0") end,
    }
    for expected, fail in pairs(failures) do
      local cap = nasoone.new()
      local ok, message, code = fail(cap)
      cap:close()
      assert.is_nil(ok, expected)
      assert.matches("^nasoone: ", message)
      assert.equals(expected, code)
      assert.is_true(codes[code], code)
    end
  end)

  it("would fail for a method added to the module without an annotation", function()
    local cap = nasoone.new()
    local methods = getmetatable(cap).__index
    cap:close()
    methods.not_annotated = function() end
    local ok, err = pcall(same_names, "the capture's methods", function_names(methods),
      classes["nasoone.Capture"].functions)
    methods.not_annotated = nil
    assert.is_false(ok)
    assert.matches("the capture's methods: not annotated in types/nasoone.lua: not_annotated", err, 1, true)
    local extra = {}
    for k in pairs(classes["nasoone.Capture"].functions) do extra[k] = true end
    extra.gone = true
    ok, err = pcall(same_names, "the capture's methods", function_names(methods), extra)
    assert.is_false(ok)
    assert.matches("annotated in types/nasoone.lua but not in the module: gone", err, 1, true)
  end)
end)
