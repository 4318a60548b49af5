-- The chat side of the overlay: the library through LuaJIT's FFI (declarations made from
-- the committed header by scripts/lua-cdef.sh), and a view of the chat that the game
-- draws: the messages by id in arrival order, the connection state, the last notice.
--
-- Poll mode only: library callbacks run on library threads, which a Lua state must never
-- be entered from. Events are taken with dchat_poll_many(c, 0, ...) from love.update. No
-- call here waits for the server: joining issues dchat_connect_nowait, dchat_login_nowait
-- and dchat_subscribe_chat_nowait, and their outcomes arrive as events, like everything else.
local ffi = require("ffi")

local M = {}

local C -- the loaded library

--- Declares the API from `cdef_path` and loads the library at `lib_path` (both absolute:
--- love.filesystem cannot reach outside the game, and a library cannot be loaded from
--- inside a .love zip).
function M.load_library(cdef_path, lib_path)
  local f = assert(io.open(cdef_path, "r"), "cannot read the FFI declarations at " .. cdef_path)
  ffi.cdef(f:read("*a"))
  f:close()
  C = ffi.load(lib_path)
  local header = C.DCHAT_VERSION_MAJOR * 65536 + C.DCHAT_VERSION_MINOR * 256 + C.DCHAT_VERSION_PATCH
  if math.floor(C.dchat_version_number() / 256) ~= math.floor(header / 256) then
    error(string.format("library %s does not match the header it was declared from", ffi.string(C.dchat_version())))
  end
  return ffi.string(C.dchat_version())
end

local function last_error()
  local buf = ffi.new("char[512]")
  C.dchat_last_error_code(buf, 512, nil)
  local code = ffi.string(buf)
  C.dchat_last_error_message(buf, 512, nil)
  return code, ffi.string(buf)
end

local function str(p)
  if p == nil then return nil end
  return ffi.string(p)
end

local Chat = {}
Chat.__index = Chat

--- A chat view; nothing connects until `join`.
function M.new(opts)
  return setmetatable({
    opts = opts,
    client = nil,
    messages = {},          -- { id = "12", line = "Ada: hi" }, oldest first
    state = "starting",     -- a word for the status line
    online = false,
    failed = false,
    closed = false,
    notice = "",            -- the last error or refused send
    history_shown = false,
    created = {},           -- text -> true for every create event seen (tests wait on these)
    evs = ffi.new("dchat_event*[?]", 64),
    count = ffi.new("size_t[1]"),
    id_out = ffi.new("uint64_t[1]"),
    req_out = ffi.new("uint64_t[1]"),
  }, Chat)
end

function Chat:fail(what)
  local code, msg = last_error()
  self.failed = true
  self.state = "failed"
  self.notice = string.format("%s failed (%s): %s", what, code, msg)
  io.stderr:write(self.notice .. "\n")
  return false
end

--- Starts joining the chat: connects, logs in and subscribes, all without waiting (the
--- game calls this from love.load; the first frames show "connecting"). A failed attempt
--- to connect is retried (first after 1 s, then backing off to 5 s, for ever); a refused
--- login or subscribe comes back as a reply event. Returns false only for bad arguments.
function Chat:join()
  local o = self.opts
  local opts = ffi.new("dchat_options*[1]")
  if C.dchat_options_new(opts) ~= C.DCHAT_OK then return self:fail("options") end
  C.dchat_options_set_timeouts(opts[0], 10000, 20000) -- poll mode is the default
  C.dchat_options_set_reconnect(opts[0], 1000, 1.5, 5000, -1)
  if o.ca_pem then
    local f = io.open(o.ca_pem, "r")
    local pem = f and f:read("*a")
    if f then f:close() end
    if not pem or C.dchat_options_set_ca_pem(opts[0], pem) ~= C.DCHAT_OK then
      C.dchat_options_free(opts[0])
      return self:fail("CA PEM")
    end
  end
  local client = ffi.new("dchat_client*[1]")
  local st = C.dchat_connect_nowait(o.url, opts[0], client)
  C.dchat_options_free(opts[0])
  if st ~= C.DCHAT_OK then return self:fail("connect") end
  self.client = client[0]
  self.state = "connecting"
  if C.dchat_login_nowait(self.client, o.email, o.password, self.id_out) ~= C.DCHAT_OK then return self:fail("login") end
  self.login_request = self.id_out[0]
  if C.dchat_subscribe_chat_nowait(self.client, self.id_out, self.req_out) ~= C.DCHAT_OK then return self:fail("subscribe") end
  self.subscription = self.id_out[0] -- also the request id of the subscribe's reply
  return true
end

local STATES -- filled on first use (needs the loaded library)

local function state_word(s)
  STATES = STATES or {
    [tonumber(C.DCHAT_STATE_CONNECTING)] = "connecting",
    [tonumber(C.DCHAT_STATE_CONNECTED)] = "connected, logging in",
    [tonumber(C.DCHAT_STATE_AUTHENTICATED)] = "online",
    [tonumber(C.DCHAT_STATE_DISCONNECTED)] = "disconnected, reconnecting",
    [tonumber(C.DCHAT_STATE_CLOSED)] = "closed",
  }
  return STATES[tonumber(s)] or "?"
end

function Chat:upsert(ev, i)
  local id = str(C.dchat_event_message_id(ev, i))
  local line = (str(C.dchat_event_message_author(ev, i)) or "?") .. ": " .. str(C.dchat_event_message_text(ev, i))
  for _, m in ipairs(self.messages) do
    if id and m.id == id then
      m.line = line
      return
    end
  end
  self.messages[#self.messages + 1] = { id = id, line = line }
  if #self.messages > 200 then table.remove(self.messages, 1) end
end

-- A delete event's JSON lists the deleted keys (numbers or uuids).
function Chat:remove_deleted(json)
  local gone = {}
  for key in json:gmatch('[^%[%],"%s]+') do gone[key] = true end
  for i = #self.messages, 1, -1 do
    if gone[self.messages[i].id] then table.remove(self.messages, i) end
  end
end

function Chat:apply(ev)
  local kind = C.dchat_event_kind(ev)
  if kind == C.DCHAT_EVENT_STATE then
    local s = C.dchat_event_state(ev)
    self.state = state_word(s)
    self.online = s == C.DCHAT_STATE_AUTHENTICATED
    local attempt, retry = tonumber(C.dchat_event_attempt(ev)), tonumber(C.dchat_event_retry_ms(ev))
    if s == C.DCHAT_STATE_CONNECTING and attempt > 0 then
      self.state = string.format("connecting (attempt %d)", attempt)
    elseif s == C.DCHAT_STATE_DISCONNECTED then
      self.state = retry >= 0 and string.format("disconnected, retrying in %.1f s", retry / 1000) or "disconnected"
      self.notice = "disconnected: " .. (str(C.dchat_event_text(ev)) or "")
    elseif s == C.DCHAT_STATE_CLOSED and C.dchat_event_close_cause(ev) == C.DCHAT_CLOSE_GAVE_UP then
      self.state = "closed: gave up reconnecting"
      self.failed = true
    elseif self.online then
      self.notice = ""
    end
  elseif kind == C.DCHAT_EVENT_SUBSCRIPTION and C.dchat_event_subscription(ev) == self.subscription then
    local sub = C.dchat_event_sub_event(ev)
    if sub == C.DCHAT_SUB_DELETE then
      self:remove_deleted(str(C.dchat_event_json(ev)))
    else
      if sub == C.DCHAT_SUB_INIT then self.messages = {} end -- the history replaces what is shown
      for i = 0, tonumber(C.dchat_event_message_count(ev)) - 1 do
        self:upsert(ev, i)
        if sub == C.DCHAT_SUB_CREATE then self.created[str(C.dchat_event_message_text(ev, i))] = true end
      end
      if sub == C.DCHAT_SUB_INIT then self.history_shown = true end
    end
  elseif kind == C.DCHAT_EVENT_REPLY then
    local request, code = C.dchat_event_request(ev), str(C.dchat_event_code(ev))
    if code and (request == self.login_request or request == self.subscription) then
      -- Joining failed (AUTH_FAILED, FORBIDDEN, ...): the overlay says so, the game goes on.
      self.failed = true
      self.state = "failed"
      self.notice = string.format("%s failed (%s): %s", request == self.login_request and "login" or "subscribe", code,
        str(C.dchat_event_text(ev)) or "")
      io.stderr:write(self.notice .. "\n")
    elseif code then
      self.notice = "not sent: " .. (str(C.dchat_event_text(ev)) or "")
    end
  elseif kind == C.DCHAT_EVENT_ERROR or kind == C.DCHAT_EVENT_SUBSCRIPTION_ERROR then
    self.notice = str(C.dchat_event_text(ev)) or "error"
  end
end

--- One frame's chat work: takes queued events without waiting, at most `max` so a flood
--- cannot stretch a frame (the rest wait for the next one). Returns how many it took.
function Chat:update(max)
  if not self.client or self.closed then return 0 end
  local n = 0
  while n < max do
    local st = C.dchat_poll_many(self.client, 0, self.evs, math.min(64, max - n), self.count)
    if st == C.DCHAT_ERR_CLOSED then
      self.closed = true
      break
    end
    if st ~= C.DCHAT_OK then
      self:fail("poll")
      break
    end
    local got = tonumber(self.count[0])
    for i = 0, got - 1 do
      self:apply(self.evs[i])
      C.dchat_event_free(self.evs[i])
    end
    n = n + got
    if got == 0 then break end
  end
  return n
end

--- Sends a line without waiting (dchat_send returns at once; a refusal comes back as
--- a reply event with a code).
function Chat:send(text)
  if not self.client then return false end
  if C.dchat_send(self.client, text, self.id_out) ~= C.DCHAT_OK then
    local _, msg = last_error()
    self.notice = "send failed: " .. msg
    return false
  end
  return true
end

--- Closes and frees the client without waiting (requests on the wire finish in the
--- background), so quitting never holds the last frame.
function Chat:close()
  if self.client then
    C.dchat_free_nowait(self.client)
    self.client = nil
  end
end

return M
