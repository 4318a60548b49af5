// A game-loop chat in C#, shaped like a Unity MonoBehaviour or a Godot node: a loop at
// about 60 Hz whose "Update" drains the client's events with Poll (never waiting) and
// sends what the player typed. Console stands in for the screen; lines typed on stdin
// stand in for the input field; /quit ends it.
//
//   mcs -r:DirectusChat.dll -out:ChatLoop.exe examples/csharp/ChatLoop.cs
//   LD_LIBRARY_PATH=target/debug mono ChatLoop.exe WS_URL EMAIL PASSWORD [--send TEXT] [--frames N]
//
// Nothing waits: Start() connects, logs in and subscribes with the calls that return at
// once; Update() sees their outcome as events (state changes, replies, the history), and
// the status line shows the connection state, the attempt and the delay before a retry.
// --send TEXT sends TEXT once the history is shown and exits when its own create event
// arrives; --frames N gives up after N frames (exit 1). At exit it prints how many frames
// ran, the frame the history was shown in, and the longest chat work (Poll + Send) of a
// frame, to show the loop never waited.
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

    private readonly ulong login;
    private long frame, historyFrame = -1;

    private ChatLoop(string url, string email, string password)
    {
        // Start(): all three return at once; Update() sees how they went.
        client = Client.ConnectNowait(url, new ClientOptions { ReconnectFirstDelayMs = 500, ReconnectMaxAttempts = -1 });
        login = client.LoginNowait(email, password);
        subscription = client.SubscribeChatNowait();

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
                // What a status line shows: "reconnecting (attempt 3) in 2.1 s", "closed: gave up".
                Console.Error.WriteLine("[state] " + e);
                if (e.State == ConnectionState.Closed) done = true;
                break;
            case EventKind.Subscription:
                if (e.Subscription != subscription) break;
                foreach (var m in e.Messages)
                {
                    Console.WriteLine(m.ToString());
                    if (e.SubEvent == SubscriptionEvent.Create && m.Text == expect) done = true;
                }
                if (e.SubEvent == SubscriptionEvent.Init && !historyShown)
                {
                    historyShown = true;
                    historyFrame = frame;
                }
                break;
            case EventKind.Reply:
                if (e.Failed && (e.Request == login || e.Request == subscription))
                {
                    Console.Error.WriteLine("could not join the chat: " + e.Code + ": " + e.Text);
                    done = true;
                }
                else if (e.Failed) Console.Error.WriteLine("[not sent] " + e.Code + ": " + e.Text);
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
        using (game.client)
        {
            while (!game.done && game.frame < maxFrames)
            {
                game.Update();
                game.frame++;
                // Sleep until the next frame is due, as a vsync'd engine would.
                double wait = game.frame * frameMs - clock.Elapsed.TotalMilliseconds;
                if (wait > 0) Thread.Sleep((int)wait);
            }
        }
        Console.Error.WriteLine("frames: {0} in {1:F1} s; history shown at frame {2}; chat work per frame: first {3:F2} ms (JIT), then at most {4:F2} ms",
            game.frame, clock.Elapsed.TotalSeconds, game.historyFrame, game.firstMs, game.slowestMs);
        return game.done ? 0 : 1;
    }
}
