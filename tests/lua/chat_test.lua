-- The chat flow from LuaJIT through the C ABI alone (ffi.cdef + ffi.load), against a
-- real Directus: version check, a refused login with AUTH_FAILED, login, subscribe to
-- the chat, history, send, the own message back through dchat_poll, a blocking items
-- read, close. Poll mode only: a LuaJIT state must not be entered from another thread,
-- so library callbacks (which run on library threads) are not used from Lua.
--
--   luajit tests/lua/chat_test.lua CDEF_FILE LIBRARY
-- CDEF_FILE is the committed header preprocessed (scripts/test-lua.sh makes it);
-- the server and users come from the environment (scripts/directus.sh's variables).
-- Prints `chat_test lua: N passed, M failed`.
local ffi = require("ffi")

local cdef_file, library = arg[1], arg[2]
local f = assert(io.open(cdef_file, "r"))
ffi.cdef(f:read("*a"))
f:close()
local C = ffi.load(library)

local passed, failed = 0, 0
local function check(cond, what)
  if cond then
    passed = passed + 1
  else
    failed = failed + 1
    io.stderr:write("FAILED: " .. what .. "\n")
  end
  return cond
end

local function env(name)
  return assert(os.getenv(name), "missing environment variable " .. name)
end

local function last_error()
  local buf = ffi.new("char[512]")
  C.dchat_last_error_code(buf, 512, nil)
  local code = ffi.string(buf)
  C.dchat_last_error_message(buf, 512, nil)
  return code, ffi.string(buf)
end

local function ok(status, what)
  if status ~= C.DCHAT_OK then
    local code, msg = last_error()
    return check(false, string.format("%s: %s (%s) %s", what, ffi.string(C.dchat_status_name(status)), code, msg))
  end
  return check(true, what)
end

local function str(p)
  if p == nil then return nil end
  return ffi.string(p)
end

local function connect(url)
  local opts = ffi.new("dchat_options*[1]")
  ok(C.dchat_options_new(opts), "dchat_options_new")
  ok(C.dchat_options_set_timeouts(opts[0], 10000, 15000), "dchat_options_set_timeouts")
  local client = ffi.new("dchat_client*[1]")
  ok(C.dchat_connect(url, opts[0], client), "dchat_connect")
  C.dchat_options_free(opts[0])
  return client[0]
end

-- Polls until `match(event)` holds (the event is freed after `match` returns) or 15 s pass.
local function poll_until(client, match)
  local ev = ffi.new("dchat_event*[1]")
  local deadline = os.time() + 15
  while os.time() <= deadline do
    local st = C.dchat_poll(client, 200, ev)
    if st == C.DCHAT_OK then
      local found = match(ev[0])
      C.dchat_event_free(ev[0])
      if found then return true end
    elseif st ~= C.DCHAT_ERR_TIMEOUT then
      return false
    end
  end
  return false
end

local function messages(ev)
  local list = {}
  for i = 0, tonumber(C.dchat_event_message_count(ev)) - 1 do
    list[#list + 1] = { text = str(C.dchat_event_message_text(ev, i)), author = str(C.dchat_event_message_author(ev, i)) }
  end
  return list
end

local url = env("DIRECTUS_WS_URL")
local email, password, name = env("DCHAT_USER1_EMAIL"), env("DCHAT_USER1_PASSWORD"), env("DCHAT_USER1_NAME")
local history = env("LUA_TEST_HISTORY") -- a message the runner stored as the second user
local history_author = env("DCHAT_USER2_NAME")

-- The library and the header it was declared from agree.
local header_version = C.DCHAT_VERSION_MAJOR * 65536 + C.DCHAT_VERSION_MINOR * 256 + C.DCHAT_VERSION_PATCH
check(C.dchat_version_number() == header_version, "dchat_version_number matches the header")

-- A wrong password: DCHAT_ERR_AUTH with the Directus code.
local bad = connect(url)
check(C.dchat_login(bad, email, "not-the-password") == C.DCHAT_ERR_AUTH, "wrong password gives DCHAT_ERR_AUTH")
check(last_error() == "AUTH_FAILED", "wrong password gives AUTH_FAILED")
ok(C.dchat_free(bad), "dchat_free")

-- Log in, subscribe, see the history.
local client = connect(url)
ok(C.dchat_login(client, email, password), "dchat_login")
local sub = ffi.new("uint64_t[1]")
ok(C.dchat_subscribe_chat(client, sub), "dchat_subscribe_chat")
local saw_history = poll_until(client, function(ev)
  if C.dchat_event_kind(ev) ~= C.DCHAT_EVENT_SUBSCRIPTION or C.dchat_event_subscription(ev) ~= sub[0] then return false end
  if C.dchat_event_sub_event(ev) ~= C.DCHAT_SUB_INIT then return false end
  for _, m in ipairs(messages(ev)) do
    if m.text == history and m.author == history_author then return true end
  end
  return false
end)
check(saw_history, "the history holds the other user's message")

-- Send; the reply and the own message come back through dchat_poll.
local text = "from LuaJIT " .. tostring(os.time()) .. " " .. tostring(math.random(1, 1e9))
local req = ffi.new("uint64_t[1]")
ok(C.dchat_send(client, text, req), "dchat_send")
local got_reply, got_create = false, false
poll_until(client, function(ev)
  local kind = C.dchat_event_kind(ev)
  if kind == C.DCHAT_EVENT_REPLY and C.dchat_event_request(ev) == req[0] then
    got_reply = C.dchat_event_code(ev) == nil and str(C.dchat_event_json(ev)):find(text, 1, true) ~= nil
  elseif kind == C.DCHAT_EVENT_SUBSCRIPTION and C.dchat_event_sub_event(ev) == C.DCHAT_SUB_CREATE then
    for _, m in ipairs(messages(ev)) do
      if m.text == text and m.author == name then got_create = true end
    end
  end
  return got_reply and got_create
end)
check(got_reply, "the reply to the send")
check(got_create, "the own message as a create event")

-- A blocking request; the returned string is the caller's to free.
local json = ffi.new("char*[1]")
if ok(C.dchat_items(client, "messages", "read", '{"query":{"limit":-1,"fields":["text"]}}', json), "dchat_items read") then
  check(ffi.string(json[0]):find(text, 1, true) ~= nil, "the read finds the message")
  C.dchat_string_free(json[0])
end

-- Invalid arguments are errors, not crashes.
check(C.dchat_send(client, nil, req) == C.DCHAT_ERR_NULL_ARGUMENT, "NULL text gives DCHAT_ERR_NULL_ARGUMENT")
check(C.dchat_items(client, "messages", "read", "{not json", json) == C.DCHAT_ERR_INVALID_JSON, "bad JSON gives DCHAT_ERR_INVALID_JSON")

-- Close: the last event is CLOSED, then polling says CLOSED.
ok(C.dchat_close(client), "dchat_close")
check(poll_until(client, function(ev)
  return C.dchat_event_kind(ev) == C.DCHAT_EVENT_STATE and C.dchat_event_state(ev) == C.DCHAT_STATE_CLOSED
end), "the last event is CLOSED")
local ev = ffi.new("dchat_event*[1]")
check(C.dchat_poll(client, 0, ev) == C.DCHAT_ERR_CLOSED, "poll after CLOSED gives DCHAT_ERR_CLOSED")
ok(C.dchat_free(client), "dchat_free")

print(string.format("chat_test lua: %d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
