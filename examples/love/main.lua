-- A chat overlay for a LÖVE game: an animated scene drawn every frame and, on top of it,
-- the last messages of a Directus chat (`Name: text`), an input line and the connection
-- state. Nothing waits for the server: love.load only issues the non-blocking connect,
-- login and subscribe (the first frames show "connecting"), love.update drains the
-- library's events with dchat_poll_many(c, 0, ...), and typing and Enter send with
-- dchat_send, which returns at once.
--
--   scripts/lua-cdef.sh /tmp/directus_chat.cdef
--   love examples/love [options] WS_URL EMAIL PASSWORD
--     --lib PATH          libdirectus_chat.so (default $DCHAT_LIB, else target/debug of this tree)
--     --cdef PATH         the FFI declarations (default $DCHAT_CDEF, else made with
--                         scripts/lua-cdef.sh of this tree)
--     --ca-pem FILE       trust this CA for wss:// (besides the bundled roots)
--     --send TEXT         send TEXT once the history is shown (through the same path as Enter)
--     --expect TEXT       also wait for a new message TEXT (repeatable), e.g. one typed
--     --screenshot PATH   once every expected message (the --send text included) has been
--                         drawn, save that frame as a PNG, print its chat lines to stdout, quit
--     --quit-after SECS   give up after SECS seconds (exit status 1)
-- Escape or closing the window quits.
local chat = require("chat")
local scene = require("scene")
local utf8 = require("utf8")

local W, H = 800, 600
local VISIBLE_LINES = 10
local MAX_EVENTS_PER_FRAME = 200

local cfg = { expect = {} }
local view            -- the chat (chat.lua)
local input = ""      -- the line being typed
local frame = 0
local started         -- love.timer.getTime() at the first update
local capturing = false
local font, small_font
local next_frame = 0
local slowest_update = 0 -- seconds: the longest chat work of a frame after the first

local function usage(msg)
  io.stderr:write((msg and (msg .. "\n") or "") ..
    "usage: love examples/love [--lib PATH] [--cdef PATH] [--ca-pem FILE] [--send TEXT] [--expect TEXT]...\n" ..
    "                          [--screenshot OUT.png] [--quit-after SECS] WS_URL EMAIL PASSWORD\n")
  love.event.quit(2)
end

local function parse_args(args)
  local positional = {}
  local i = 1
  while i <= #args do
    local a, v = args[i], args[i + 1]
    if a == "--lib" and v then cfg.lib = v; i = i + 1
    elseif a == "--cdef" and v then cfg.cdef = v; i = i + 1
    elseif a == "--ca-pem" and v then cfg.ca_pem = v; i = i + 1
    elseif a == "--send" and v then cfg.send = v; cfg.expect[#cfg.expect + 1] = v; i = i + 1
    elseif a == "--expect" and v then cfg.expect[#cfg.expect + 1] = v; i = i + 1
    elseif a == "--screenshot" and v then cfg.screenshot = v; i = i + 1
    elseif a == "--quit-after" and v then cfg.quit_after = tonumber(v); i = i + 1
    elseif a:sub(1, 2) == "--" then return false, "unknown option " .. a
    else positional[#positional + 1] = a end
    i = i + 1
  end
  if #positional ~= 3 then return false, "need WS_URL EMAIL PASSWORD" end
  cfg.url, cfg.email, cfg.password = positional[1], positional[2], positional[3]
  if cfg.screenshot and #cfg.expect == 0 then return false, "--screenshot waits for a message: give --send or --expect" end
  return true
end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return love.filesystem.getWorkingDirectory() .. "/" .. path
end

-- This game's folder in the source tree, to find the library and scripts/lua-cdef.sh.
local function tree_root()
  return absolute(love.filesystem.getSource()) .. "/../.."
end

-- Returns the cdef path and whether it is a temporary file made here.
local function find_cdef()
  local path = cfg.cdef or os.getenv("DCHAT_CDEF")
  if path then return absolute(path), false end
  path = os.tmpname()
  local ok = os.execute(string.format("'%s/scripts/lua-cdef.sh' '%s'", tree_root(), path))
  if ok ~= 0 and ok ~= true then error("no --cdef given and scripts/lua-cdef.sh failed") end
  return path, true
end

local function load_font(size)
  -- DejaVu covers far more scripts than LÖVE's built-in font; use it when installed.
  local f = io.open("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "rb")
  if not f then return love.graphics.newFont(size) end
  local data = love.filesystem.newFileData(f:read("*a"), "DejaVuSans.ttf")
  f:close()
  return love.graphics.newFont(data, size)
end

function love.load(args)
  io.stdout:setvbuf("line")
  local ok, err = parse_args(args)
  if not ok then return usage(err) end
  font, small_font = load_font(16), load_font(13)
  love.keyboard.setKeyRepeat(true)
  scene.load(W, H)

  local cdef, temporary = find_cdef()
  local version = chat.load_library(cdef, absolute(cfg.lib or os.getenv("DCHAT_LIB") or (tree_root() .. "/target/debug/libdirectus_chat.so")))
  if temporary then os.remove(cdef) end
  io.stderr:write("directus-chat " .. version .. "\n")
  view = chat.new({ url = cfg.url, email = cfg.email, password = cfg.password, ca_pem = cfg.ca_pem })
  -- Only issues the requests; their outcomes arrive in love.update.
  local t0 = love.timer.getTime()
  local joined = view:join()
  io.stderr:write(string.format("join took %.2f ms\n", (love.timer.getTime() - t0) * 1000))
  if not joined and cfg.screenshot then love.event.quit(1) end
end

local function all_expected_seen()
  for _, text in ipairs(cfg.expect) do
    if not view.created[text] then return false end
  end
  return #cfg.expect > 0
end

function love.update()
  frame = frame + 1
  started = started or love.timer.getTime()
  if cfg.quit_after and love.timer.getTime() - started > cfg.quit_after then
    io.stderr:write(string.format("gave up after %d s (frame %d): state %s, notice '%s'\n", cfg.quit_after, frame, view.state, view.notice))
    love.event.quit(1)
    return
  end
  local shown_before = view.history_shown
  local t0 = love.timer.getTime()
  view:update(MAX_EVENTS_PER_FRAME)
  local spent = love.timer.getTime() - t0
  if frame > 1 and spent > slowest_update then slowest_update = spent end
  if view.failed and cfg.screenshot then
    io.stderr:write("joining failed: " .. view.notice .. "\n")
    love.event.quit(1)
    return
  end
  if view.history_shown and not shown_before then
    io.stderr:write("history shown at frame " .. frame .. "\n")
    if cfg.send then
      view:send(cfg.send)
      cfg.send = nil
    end
  end
end

function love.textinput(t)
  input = input .. t
end

function love.keypressed(key)
  if key == "escape" then
    love.event.quit(0)
  elseif key == "backspace" then
    local last = utf8.offset(input, -1)
    if last then input = input:sub(1, last - 1) end
  elseif key == "return" or key == "kpenter" then
    if #input > 0 and view:send(input) then input = "" end
  end
end

local function state_color()
  if view.failed or view.closed or view.state:find("^disconnected") then return 0.94, 0.35, 0.31 end
  if view.online then return 0.35, 0.86, 0.47 end
  return 0.94, 0.78, 0.31
end

-- Draws the overlay and returns the chat lines it drew.
local function draw_overlay(t)
  local skip = font:getHeight() + 2
  local panel_w, panel_h = 540, (VISIBLE_LINES + 2) * skip + 24
  local panel_y = H - panel_h - 10
  love.graphics.setColor(0, 0, 0, 0.6)
  love.graphics.rectangle("fill", 10, 10, W - 20, skip + 12, 6, 6)
  love.graphics.rectangle("fill", 10, panel_y, panel_w, panel_h, 6, 6)

  love.graphics.setFont(font)
  love.graphics.setColor(state_color())
  love.graphics.print("chat: " .. view.state, 20, 16)
  love.graphics.setFont(small_font)
  love.graphics.setColor(0.6, 0.6, 0.65)
  love.graphics.printf(string.format("frame %d  %d fps", frame, love.timer.getFPS()), W - 220, 18, 200, "right")

  love.graphics.setFont(font)
  local drawn = {}
  local first = math.max(1, #view.messages - VISIBLE_LINES + 1)
  local y = panel_y + 8
  love.graphics.setColor(0.93, 0.93, 0.93)
  love.graphics.setScissor(10, panel_y, panel_w - 10, panel_h) -- long lines end at the panel
  for i = first, #view.messages do
    local line = view.messages[i].line
    love.graphics.print(line, 20, y)
    drawn[#drawn + 1] = line
    y = y + skip
  end
  y = panel_y + 8 + VISIBLE_LINES * skip
  love.graphics.setColor(0.94, 0.35, 0.31)
  love.graphics.print(view.notice, 20, y)
  love.graphics.setColor(0.47, 0.82, 0.94)
  local cursor = (math.floor(t * 2) % 2 == 0) and "_" or ""
  love.graphics.print("> " .. input .. cursor, 20, y + skip + 4)
  love.graphics.setScissor()
  return drawn
end

function love.draw()
  local t = love.timer.getTime()
  scene.draw(t)
  if not view then return end
  local drawn = draw_overlay(t)

  -- The test's frame: every expected message is on screen in this very frame.
  if cfg.screenshot and not capturing and all_expected_seen() then
    capturing = true
    love.graphics.captureScreenshot(function(image)
      local png = image:encode("png"):getString()
      local f = assert(io.open(cfg.screenshot, "wb"))
      f:write(png)
      f:close()
      for _, line in ipairs(drawn) do io.stdout:write(line, "\n") end
      io.stdout:flush()
      io.stderr:write(string.format("screenshot of frame %d saved to %s; slowest chat work of a frame %.2f ms\n", frame, cfg.screenshot,
        slowest_update * 1000))
      love.event.quit(0)
    end)
  end

  -- About 60 frames a second even where vsync does not hold the loop back (Xvfb).
  local now = love.timer.getTime()
  if next_frame > now then love.timer.sleep(next_frame - now) end
  next_frame = math.max(next_frame, now) + 1 / 60
end

function love.quit()
  if view then view:close() end
  return false
end
