--- The terminal for the nasoone command: which streams are terminals, the terminal's size, keys
-- read one at a time (raw mode) and the terminal put back as it was, whatever happens.
--
-- Keys come from stdin, and only when stdin is the terminal of the foreground job: a background
-- job (`nasoone capture -i eth0 &`) that changed the terminal's mode or read it would be stopped
-- by SIGTTOU/SIGTTIN, and would take the shell's terminal from it. The libuv TTY handle is made
-- on stdin alone: libuv reopens the terminal and makes the descriptor non-blocking, harmless for
-- a stream we only read with libuv, but stdout and stderr stay what Lua's io library expects.
local uv = require("luv")

local M = {}

--- Whether descriptor fd (0, 1, 2) is a terminal.
function M.is_tty(fd)
  return uv.guess_handle(fd) == "tty"
end

--- Whether this process is in the foreground of its controlling terminal: /proc/self/stat's
-- process group (field 5) equals the terminal's foreground group (field 8). Linux, as nasoone.
local function in_foreground()
  local f = io.open("/proc/self/stat", "r")
  if not f then return true end
  local line = f:read("l") or ""
  f:close()
  -- the command name (field 2) is in parentheses and may hold spaces: count from its end
  local fields = {}
  for word in (line:match("%) (.*)$") or ""):gmatch("%S+") do fields[#fields + 1] = word end
  -- fields[1] is the state (field 3): the group is fields[3], the terminal's group fields[6]
  return fields[3] ~= nil and fields[3] == fields[6]
end

--- The terminal's size (columns, rows) from stdin's terminal when there is one, else from the
-- COLUMNS and LINES variables, else 80 x 24.
local function env_size()
  return math.tointeger(tonumber(os.getenv("COLUMNS") or "")) or 80,
    math.tointeger(tonumber(os.getenv("LINES") or "")) or 24
end

local Terminal = {}
Terminal.__index = Terminal

--- The foreground terminal on stdin, or nil when stdin is not one (a pipe, a file, a background
-- job). Its keys are read only after terminal:keys(fn).
function M.open()
  if not M.is_tty(0) or not in_foreground() then return nil end
  local tty, err = uv.new_tty(0, true)
  if not tty then return nil, err end
  return setmetatable({ tty = tty }, Terminal)
end

--- Columns and rows of the terminal.
function Terminal:size()
  local width, height = self.tty:get_winsize()
  if not width or width <= 0 then return env_size() end
  return width, height
end

M.env_size = env_size

--- Raw mode (each key as it is typed, no echo) and on_key(char) for each key. Ctrl-C and Ctrl-Z
-- reach on_key as "\3" and "\26": raw mode turns off the terminal's signals, so the caller
-- decides what they do (see suspend).
function Terminal:keys(on_key)
  self.on_key = on_key
  self:raw()
  self.tty:read_start(function(err, data)
    if err or not data then
      -- the terminal went away: no more keys, but the capture goes on
      pcall(self.tty.read_stop, self.tty)
      return
    end
    for i = 1, #data do on_key(data:sub(i, i)) end
  end)
end

function Terminal:raw()
  if self.closed then return end
  if self.tty:set_mode(1) then self.raw_mode = true end
end

--- Back to the mode the terminal had before raw(): libuv saved it at the first change.
function Terminal:cooked()
  if self.raw_mode then
    pcall(self.tty.set_mode, self.tty, 0)
    uv.tty_reset_mode()
    self.raw_mode = false
  end
end

--- Ctrl-Z (or SIGTSTP): give the terminal back and stop as a stopped job does; resumed() puts
-- raw mode back when the shell brings the job to the foreground again (SIGCONT).
function Terminal:suspend()
  local was_raw = self.raw_mode
  self:cooked()
  self.resume_raw = was_raw
  uv.kill(uv.os_getpid(), "sigstop")
end

function Terminal:resumed()
  if self.resume_raw and not self.closed and in_foreground() then self:raw() end
end

--- Stops reading keys, restores the terminal's mode and closes the handle. Safe to call twice.
function Terminal:close()
  if self.closed then return end
  pcall(self.tty.read_stop, self.tty)
  self:cooked()
  self.closed = true
  if not self.tty:is_closing() then self.tty:close() end
end

--- Puts back any terminal mode libuv changed: the last line of defence, after an error.
function M.reset()
  uv.tty_reset_mode()
end

return M
