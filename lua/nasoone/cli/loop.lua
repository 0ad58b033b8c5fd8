--- One run of the luv event loop, as capture and view --follow make it: the run ends once, on
-- run:finish(why), which closes the handles it was given (the loop then returns) and calls
-- on_finish(why) for the rest; callbacks wrapped by run:guard(fn) end the run when they raise,
-- and keep the error (run.internal) to be reported after the terminal is given back, instead
-- of luv printing it and exiting with the terminal raw.
local M = {}

--- Closes each handle of `list` that is not closing already.
function M.close(list)
  for _, handle in ipairs(list) do
    if not handle:is_closing() then handle:close() end
  end
end

--- The exit status after the signals that stop a run: 128 + the signal's number.
M.SIGNAL_EXIT = { sigint = 130, sighup = 129, sigterm = 143 }

local Run = {}
Run.__index = Run

--- A run; on_finish(why) (optional) runs once, after the handles are closed.
function M.new(on_finish)
  return setmetatable({ handles = {}, on_finish = on_finish }, Run)
end

--- Registers `handle` to be closed by finish; returns it.
function Run:add(handle)
  self.handles[#self.handles + 1] = handle
  return handle
end

--- Ends the run (the first call only): run.reason = why.
function Run:finish(why)
  if self.reason then return end
  self.reason = why
  M.close(self.handles)
  if self.on_finish then self.on_finish(why) end
end

--- SIGINT, SIGTERM and SIGHUP end the run (reason: "sigint"...); the handles go in `list`
-- (default: the run's, closed at finish) and are returned.
function Run:stop_on_signals(uv, list)
  list = list or self.handles
  for name in pairs(M.SIGNAL_EXIT) do
    local signal = uv.new_signal()
    list[#list + 1] = signal
    signal:start(name, self:guard(function() self:finish(name) end))
  end
  return list
end

--- fn, made to end the run when it raises (the first error is kept in run.internal).
function Run:guard(fn)
  return function(...)
    local ok, e = xpcall(fn, debug.traceback, ...)
    if not ok then
      self.internal = self.internal or e
      self:finish("error")
    end
  end
end

return M
