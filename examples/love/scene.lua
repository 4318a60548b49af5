-- The "game" under the overlay: a sky gradient, a sun, two layers of hills scrolling at
-- their own speeds and a bouncing ball with its shadow, all driven by the clock, so a
-- frame that waited for the network would show as a jump.
local M = {}

local W, H = 800, 600
local sky

function M.load(width, height)
  W, H = width, height
  sky = love.graphics.newMesh({
    { 0, 0, 0, 0, 0.10, 0.14, 0.32, 1 },
    { W, 0, 1, 0, 0.10, 0.14, 0.32, 1 },
    { W, H, 1, 1, 0.95, 0.62, 0.40, 1 },
    { 0, H, 0, 1, 0.95, 0.62, 0.40, 1 },
  }, "fan", "static")
end

local function hills(t, speed, base, amplitude, wavelength, r, g, b)
  local points = { 0, H }
  local shift = t * speed
  for x = 0, W, 16 do
    local y = base - amplitude * (0.6 * math.sin((x + shift) / wavelength) + 0.4 * math.sin((x + shift) / (wavelength * 0.37)))
    points[#points + 1] = x
    points[#points + 1] = y
  end
  points[#points + 1] = W
  points[#points + 1] = H
  love.graphics.setColor(r, g, b)
  -- A hill line is not convex: triangulate it.
  for _, tri in ipairs(love.math.triangulate(points)) do love.graphics.polygon("fill", tri) end
end

function M.draw(t)
  love.graphics.setColor(1, 1, 1)
  love.graphics.draw(sky)
  love.graphics.setColor(1.0, 0.86, 0.45)
  love.graphics.circle("fill", W * 0.78, H * 0.22 + 8 * math.sin(t * 0.5), 46)
  hills(t, 30, H * 0.62, 60, 140, 0.22, 0.42, 0.30)
  hills(t, 90, H * 0.74, 40, 90, 0.16, 0.34, 0.20)
  local bx = W / 2 + 300 * math.sin(t * 0.9)
  local height = math.abs(math.sin(t * 2.5)) * 220
  love.graphics.setColor(0, 0, 0, 0.3)
  love.graphics.ellipse("fill", bx, H * 0.8, 26 - height / 20, 6)
  love.graphics.setColor(0.98, 0.55, 0.16)
  love.graphics.circle("fill", bx, H * 0.8 - 24 - height, 24)
end

return M
