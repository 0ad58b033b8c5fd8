--- Helpers for the specs of the nasoone command (command_spec, command_tty_spec): run bin/nasoone
-- of this checkout as a process, in the foreground, in the background (to signal it) or in a
-- tmux terminal, always on the build under test: LUA_PATH_5_4 and LUA_CPATH_5_4 name this
-- checkout's lua/ and the build first (they win over LUA_PATH and LUA_CPATH, which may name
-- an installed copy), and the interpreter is the specs' own (lua_host in sanitized builds).
local helper = require("spec.helper")
local system = require("system") -- luasystem, a busted dependency: sleep and a clock

local M = {}

local function quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end
M.quote = quote

local shell_output, absolute = helper.shell_output, helper.absolute

M.root = absolute(".")
M.build = absolute(helper.build_dir)
local interpreter = helper.lua_interpreter
if interpreter:find("/", 1, true) then interpreter = absolute(interpreter) end

--- The environment and the command line that run this checkout's bin/nasoone. TZ=UTC: view
-- shows local times.
M.env = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s TZ=UTC"):format(quote(M.root .. "/lua/?.lua;;"),
  quote(M.build .. "/?.so;;"))
M.command = ("env %s %s %s"):format(M.env, quote(interpreter), quote(M.root .. "/bin/nasoone"))

--- Arguments as one shell word each.
function M.args(list)
  local words = {}
  for i, a in ipairs(list) do words[i] = quote(a) end
  return table.concat(words, " ")
end

--- Runs `nasoone` with `args` (a list) in folder opts.dir (default: the checkout, so paths such
-- as examples/data/sample.pcap are the user's), stdin from opts.stdin (default /dev/null);
-- returns the exit status, stdout and stderr.
function M.run(args, opts)
  opts = opts or {}
  local dir = opts.dir or M.root
  local io_dir = helper.tmpdir()
  local status = shell_output(("cd %s && %s %s >%s/out 2>%s/err <%s; echo $?"):format(quote(dir),
    M.command, M.args(args), io_dir, io_dir, quote(opts.stdin and absolute(opts.stdin) or "/dev/null")))
  return tonumber(status), helper.read_file(io_dir .. "/out"), helper.read_file(io_dir .. "/err")
end

function M.sleep(seconds) system.sleep(seconds) end
function M.now() return system.gettime() end

--- Calls fn every 20 ms until it returns a true value (returned) or `timeout` seconds pass (nil).
function M.eventually(fn, timeout)
  local deadline = M.now() + (timeout or 10)
  repeat
    local value = fn()
    if value then return value end
    system.sleep(0.02)
  until M.now() > deadline
  return nil
end

--- A command started in the background: `nasoone args` in folder dir, its output in files.
-- process.pid is the command's own process (env and the shell exec it), so signals reach it.
local Process = {}
Process.__index = Process

function M.spawn(args, dir)
  local io_dir = helper.tmpdir()
  local script = io_dir .. "/run.sh"
  helper.write_file(script, ("cd %s || exit 1\n%s %s >%s/out 2>%s/err </dev/null &\necho $! >%s/pid\n"
    .. "wait $!\necho $? >%s/status.tmp && mv %s/status.tmp %s/status\n"):format(quote(dir), M.command,
    M.args(args), io_dir, io_dir, io_dir, io_dir, io_dir, io_dir))
  os.execute("sh " .. quote(script) .. " >/dev/null 2>&1 &")
  local pid = M.eventually(function()
    local f = io.open(io_dir .. "/pid")
    local text = f and f:read("l")
    if f then f:close() end
    return text and tonumber(text)
  end, 10)
  assert(pid, "the command did not start")
  return setmetatable({ pid = pid, io_dir = io_dir }, Process)
end

function Process:signal(name)
  os.execute(("kill -%s %d 2>/dev/null"):format(name, self.pid))
end

--- The exit status a script wrote in io_dir/status, once it has (nil after `timeout` seconds).
local function wait_status(io_dir, timeout)
  return M.eventually(function()
    local f = io.open(io_dir .. "/status")
    local text = f and f:read("l")
    if f then f:close() end
    return text and tonumber(text)
  end, timeout or 30)
end

--- The exit status, once the command ended (nil after `timeout` seconds).
function Process:wait(timeout) return wait_status(self.io_dir, timeout) end

--- What the command wrote so far: "" before its shell has opened the file (the pid is written
-- by the parent shell, which can run before the child's redirections).
function Process:stderr() return helper.text_of(self.io_dir .. "/err") end
function Process:stdout() return helper.text_of(self.io_dir .. "/out") end

------------------------------------------------------------------------------------------------
-- tmux: a real terminal

local Terminal = {}
Terminal.__index = Terminal

function M.has_tmux()
  return os.execute("command -v tmux >/dev/null 2>&1") == true
end

--- A new tmux session of width x height running the shell command `command`, on a server of
-- its own whose socket is in io_dir (removed with it), also when the specs run inside tmux.
local function new_session(io_dir, command, width, height)
  local socket = io_dir .. "/tmux"
  assert(os.execute(("env -u TMUX tmux -f /dev/null -S %s new-session -d -s spec -x %d -y %d %s"):format(socket,
    width, height, quote(command))), "tmux new-session failed")
  return socket
end

--- The shell command that records the terminal's `stty -g` in io_dir/NAME.
local function record_stty(io_dir, name)
  return "stty -g >" .. io_dir .. "/" .. name
end

--- The shell commands that record `$?` in io_dir/status, and `stty -g` as stty.after before it.
local function record_status(io_dir)
  return table.concat({ "echo $? >" .. io_dir .. "/status.tmp", record_stty(io_dir, "stty.after"),
    "mv " .. io_dir .. "/status.tmp " .. io_dir .. "/status" }, "; ")
end

--- `nasoone args` in a new tmux session of width x height, in folder dir. The script records
-- `stty -g` before and after the command, and its exit status, then keeps the pane open.
function M.terminal(args, dir, width, height)
  local io_dir = helper.tmpdir()
  local script = io_dir .. "/run.sh"
  helper.write_file(script, table.concat({
    "cd " .. quote(dir) .. " || exit 1",
    record_stty(io_dir, "stty.before"),
    M.command .. " " .. M.args(args),
    record_status(io_dir),
    "exec sleep 600",
  }, "\n") .. "\n")
  return setmetatable({ socket = new_session(io_dir, "sh " .. script, width, height), io_dir = io_dir }, Terminal)
end

--- An interactive bash (job control: Ctrl-Z, fg) in a new tmux session of width x height, in
-- folder dir, where `nasoone args` is typed; its `stty -g` before and after and its status are
-- recorded as M.terminal does, once Terminal:finish_job() is called (after a fg, the status is
-- the job's). The command runs from a script that execs it, so the job is the command itself.
-- Lines for the shell are typed with Terminal:command, which waits for the shell's prompt: the
-- shell adds a line to io_dir/prompts (PROMPT_COMMAND) each time it is about to show one.
function M.job_terminal(args, dir, width, height)
  local io_dir = helper.tmpdir()
  local script = io_dir .. "/job.sh"
  helper.write_file(script, ("cd %s || exit 1\nexec %s %s\n"):format(quote(dir), M.command, M.args(args)))
  local shell = ("env PS1='$ ' PROMPT_COMMAND=%s bash --norc --noprofile -i"):format(
    quote("echo >>" .. io_dir .. "/prompts"))
  local terminal = setmetatable({ io_dir = io_dir, commands = 0,
    socket = new_session(io_dir, shell, width, height) }, Terminal)
  terminal:command(record_stty(io_dir, "stty.before") .. "; sh " .. script)
  return terminal
end

--- Types `line` into the terminal, then Enter.
function Terminal:type(line)
  assert(os.execute(("tmux -S %s send-keys -t spec -l %s"):format(self.socket, quote(line))))
  self:keys("Enter")
end

--- In a job terminal: how many prompts the shell has shown.
function Terminal:prompts()
  local f = io.open(self.io_dir .. "/prompts")
  if not f then return 0 end
  local count = 0
  for _ in f:lines() do count = count + 1 end
  f:close()
  return count
end

--- In a job terminal: types `line` for the shell once it shows the prompt that follows the last
-- line typed with command() (that command ended, or its job stopped), waiting `timeout` seconds
-- at most (default 30). Typed sooner, the line would reach the job still in the foreground (the
-- nasoone command reads keys) or be echoed into its last lines.
function Terminal:command(line, timeout)
  local ready = M.eventually(function() return self:prompts() > self.commands end, timeout or 30)
  assert(ready, "no prompt from the shell for '" .. line .. "':\n" .. table.concat(self:screen(), "\n"))
  self.commands = self.commands + 1
  self:type(line)
end

--- In a job terminal: records the last job's status and `stty -g` after it, as M.terminal does,
-- once the shell is back at its prompt (the job ended).
function Terminal:finish_job()
  self:command(record_status(self.io_dir))
end

--- In a job terminal: `stty -g` now, while the shell has the terminal (nil after 10 s).
function Terminal:shell_stty()
  local path = self.io_dir .. "/stty.shell"
  os.remove(path)
  self:command(record_stty(self.io_dir, "stty.shell.tmp") .. " && mv " .. path .. ".tmp " .. path, 10)
  return M.eventually(function() return helper.exists(path) and helper.read_file(path) end, 10)
end

--- Whether the pane's terminal is in the raw mode of a program that reads keys (the nasoone
-- command's, libuv's: no lines, no echo, no signal keys), as `stty -a` on the pane's tty says;
-- the shell's line editor leaves the signal keys on, so a shell at its prompt is not taken for it.
function Terminal:raw_mode()
  local tty = shell_output(("tmux -S %s display-message -p -t spec '#{pane_tty}'"):format(self.socket)):match("%S+")
  local settings = tty and shell_output(("stty -F %s -a 2>/dev/null"):format(quote(tty))) or ""
  return settings:find("%-icanon%s") ~= nil and settings:find("%-echo%s") ~= nil
    and settings:find("%-isig%s") ~= nil
end

--- The lines on the screen now (trailing blank lines dropped).
function Terminal:screen()
  local text = shell_output(("tmux -S %s capture-pane -p -t spec"):format(self.socket))
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  while #lines > 0 and lines[#lines]:match("^%s*$") do lines[#lines] = nil end
  return lines
end

--- The screen (its lines) once accept(lines) is true, waiting up to `timeout` seconds (nil then).
-- tmux draws what a program wrote a moment after: a status file the shell wrote when the
-- command ended can be there before the command's last lines are on the screen.
function Terminal:screen_when(accept, timeout)
  return M.eventually(function()
    local lines = self:screen()
    return accept(lines) and lines
  end, timeout)
end

--- The first screen line that matches `pattern`, waiting up to `timeout` seconds for one.
function Terminal:wait_line(pattern, timeout)
  return M.eventually(function()
    for _, line in ipairs(self:screen()) do
      if line:find(pattern) then return line end
    end
  end, timeout)
end

--- Types keys as tmux names them: "p", "q", "C-c".
function Terminal:keys(...)
  for _, key in ipairs({ ... }) do
    assert(os.execute(("tmux -S %s send-keys -t spec %s"):format(self.socket, quote(key))))
  end
end

--- The command's exit status, once it ended (nil after `timeout` seconds).
function Terminal:status(timeout) return wait_status(self.io_dir, timeout) end

--- `stty -g` before and after the command (nil while it runs).
function Terminal:stty()
  local after = self.io_dir .. "/stty.after"
  return helper.read_file(self.io_dir .. "/stty.before"), helper.exists(after) and helper.read_file(after) or nil
end

function Terminal:close()
  os.execute(("tmux -S %s kill-server >/dev/null 2>&1"):format(self.socket))
end

------------------------------------------------------------------------------------------------
-- Captures and reports

--- A capture that takes seconds to read: helper.busy_capture's 256 flows, read through a BPF
-- filter of `terms` always-true comparisons (libpcap runs it on every packet, about 3 ns a
-- term here, and compiles it at once). Returns the capture's path, the filter and the rows it
-- must give (helper.busy_capture's).
function M.slow_capture(dir, packets, terms)
  local path = dir .. "/slow.pcap"
  local rows = helper.busy_capture(path, packets)
  local parts = {}
  for i = 1, terms do parts[i] = ("len != %d"):format(10000 + i) end
  return path, table.concat(parts, " and "), rows
end

--- A report's rows (header dropped), and the sum of their packets.
function M.report_rows(path)
  local rows = helper.sorted_rows(path)
  local packets = 0
  for _, row in ipairs(rows) do packets = packets + tonumber(row:match("(%d+)$")) end
  return rows, packets
end

--- Whether every row of the report at `path` is a row of `expected` (helper.busy_capture's
-- table by key) with at most its packets and the bytes of those packets: a report of a capture
-- stopped early.
function M.is_prefix_report(path, expected)
  for _, row in ipairs(helper.sorted_rows(path)) do
    local key, bytes, packets = row:match("^(.-; %d+; .-; %d+); %[UDP%]; %d+; %d+; (%d+); (%d+)$")
    local want = expected[key]
    if not want then return false, "unexpected row " .. row end
    packets, bytes = tonumber(packets), tonumber(bytes)
    if packets > want.packets or bytes * want.packets ~= want.bytes * packets then
      return false, "row " .. row .. " is not a part of " .. want.packets .. " packets"
    end
  end
  return true
end

return M
