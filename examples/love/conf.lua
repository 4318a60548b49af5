-- LÖVE settings of the chat overlay example.
function love.conf(t)
  t.identity = "directus-chat-overlay"
  t.version = "11.4"
  t.window.title = "directus-chat love overlay"
  t.window.width = 800
  t.window.height = 600
  t.window.vsync = 1
  -- No sound in a chat overlay; without these OpenAL probes ALSA and complains on
  -- machines without audio (CI, Xvfb).
  t.modules.audio = false
  t.modules.sound = false
  t.modules.joystick = false
  t.modules.physics = false
  t.modules.video = false
end
