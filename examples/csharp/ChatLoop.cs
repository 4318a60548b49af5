// A game-loop chat in C#, shaped like a Unity MonoBehaviour or a Godot node: a loop at
// about 60 Hz whose "Update" drains the client's events with Poll (never waiting) and
// sends what the player typed. Console stands in for the screen; lines typed on stdin
// stand in for the input field; /quit ends it.
//
//   mcs -r:DirectusChat.dll -out:ChatLoop.exe examples/csharp/ChatLoop.cs
//   LD_LIBRARY_PATH=target/debug mono ChatLoop.exe WS_URL EMAIL PASSWORD [--send TEXT] [--frames N]
//
// --send TEXT sends TEXT once the history is shown and exits when its own create event
// arrives; --frames N gives up after N frames (exit 1). At exit it prints how many frames
// ran and the longest chat work (Poll + Send) of a frame, to show the loop never waited.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using DirectusChat;

internal sealed class ChatLoop
{
    private readonly Client client;
    private readonly ulong subscription;
    private readonly List<ChatEvent> events = new List<ChatEvent>(); // reused every frame
    private readonly ConcurrentQueue<string> typed = new ConcurrentQueue<string>();
    private string pendingSend, expect;
    private bool historyShown, done;
    private double firstMs = -1, slowestMs;

    private ChatLoop(string url, string email, string password)
    {
        // Start(): these three wait for the server today. Once the library has
        // dchat_connect_nowait / dchat_login_nowait / dchat_subscribe_nowait (issue 11),
        // they return at once and Update() sees their outcome as events.
        client = new Client(url);
        client.Login(email, password);
        subscription = client.SubscribeChat();

        // Stdin is read on a thread of our own, as an engine's input system would;
        // the loop only takes what it queued.
        var reader = new Thread(() =>
        {
            string line;
            while ((line = Console.ReadLine()) != null) typed.Enqueue(line);
        });
        reader.IsBackground = true;
        reader.Start();
    }

    // One frame's chat work: everything queued, at most 100 events so a flood cannot
    // stretch a frame.
    private void Update()
    {
        var sw = Stopwatch.StartNew();
        events.Clear();
        client.Poll(events, 100);
        foreach (var e in events) Show(e);
        string line;
        while (typed.TryDequeue(out line))
        {
            if (line == "/quit") done = true;
            else if (line.Length > 0) client.Send(line);
        }
        if (historyShown && pendingSend != null)
        {
            client.Send(pendingSend);
            expect = pendingSend;
            pendingSend = null;
        }
        // The first frame pays for JIT compilation; the others show the steady state.
        if (firstMs < 0) firstMs = sw.Elapsed.TotalMilliseconds;
        else slowestMs = Math.Max(slowestMs, sw.Elapsed.TotalMilliseconds);
    }

    private void Show(ChatEvent e)
    {
        switch (e.Kind)
        {
            case EventKind.State:
                Console.Error.WriteLine("[state] " + e.State + (e.Text != null ? ": " + e.Text : ""));
                if (e.State == ConnectionState.Closed) done = true;
                break;
            case EventKind.Subscription:
                if (e.Subscription != subscription) break;
                foreach (var m in e.Messages)
                {
                    Console.WriteLine(m.ToString());
                    if (e.SubEvent == SubscriptionEvent.Create && m.Text == expect) done = true;
                }
                if (e.SubEvent == SubscriptionEvent.Init) historyShown = true;
                break;
            case EventKind.Reply:
                if (e.Failed) Console.Error.WriteLine("[not sent] " + e.Code + ": " + e.Text);
                break;
            case EventKind.Error:
            case EventKind.SubscriptionError:
                Console.Error.WriteLine("[error] " + e.Code + ": " + e.Text);
                break;
        }
    }

    private static int Main(string[] args)
    {
        var positional = new List<string>();
        string send = null;
        long maxFrames = long.MaxValue;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--send" && i + 1 < args.Length) send = args[++i];
            else if (args[i] == "--frames" && i + 1 < args.Length) maxFrames = long.Parse(args[++i]);
            else positional.Add(args[i]);
        }
        if (positional.Count != 3)
        {
            Console.Error.WriteLine("usage: ChatLoop.exe WS_URL EMAIL PASSWORD [--send TEXT] [--frames N]");
            return 2;
        }

        Library.Verify();
        ChatLoop game;
        try
        {
            game = new ChatLoop(positional[0], positional[1], positional[2]);
        }
        catch (DirectusChatException e)
        {
            Console.Error.WriteLine("could not join the chat: " + e.Code + ": " + e.Message);
            return 1;
        }
        game.pendingSend = send;

        const double frameMs = 1000.0 / 60;
        var clock = Stopwatch.StartNew();
        long frame = 0;
        using (game.client)
        {
            while (!game.done && frame < maxFrames)
            {
                game.Update();
                frame++;
                // Sleep until the next frame is due, as a vsync'd engine would.
                double wait = frame * frameMs - clock.Elapsed.TotalMilliseconds;
                if (wait > 0) Thread.Sleep((int)wait);
            }
        }
        Console.Error.WriteLine("frames: {0} in {1:F1} s; chat work per frame: first {2:F2} ms (JIT), then at most {3:F2} ms",
            frame, clock.Elapsed.TotalSeconds, game.firstMs, game.slowestMs);
        return game.done ? 0 : 1;
    }
}
