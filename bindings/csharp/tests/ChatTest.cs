// The C# wrapper against a real Directus (scripts/test-csharp.sh starts it and sets the
// environment: DIRECTUS_WS_URL, DCHAT_USER1_*, DCHAT_USER2_*, DCHAT_FORBIDDEN_COLLECTION,
// CSHARP_TEST_HISTORY (a message the runner stored as user 2) and CSHARP_HEADER_VERSION
// (the header's DCHAT_VERSION_* as one number)).
//
// Poll mode only, as in a game: no library thread ever enters managed code, so Mono
// exits as soon as Main returns (the runner checks that it does). Prints
// `chat test: N passed, M failed`.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using DirectusChat;

internal static class ChatTest
{
    private static int passed, failed;

    private static bool Check(bool cond, string what)
    {
        if (cond) passed++;
        else
        {
            failed++;
            Console.Error.WriteLine("FAILED: " + what);
        }
        return cond;
    }

    private static string Env(string name)
    {
        string v = Environment.GetEnvironmentVariable(name);
        if (v == null) throw new InvalidOperationException("missing environment variable " + name);
        return v;
    }

    /// Runs <paramref name="body"/> and checks that it throws a DirectusChatException
    /// with this status and code.
    private static DirectusChatException ExpectError(string what, Status status, string code, Action body)
    {
        try
        {
            body();
            Check(false, what + ": no exception");
        }
        catch (DirectusChatException e)
        {
            Check(e.Status == status, what + ": status " + e.Status + ", expected " + status + " (" + e.Message + ")");
            Check(e.Code == code, what + ": code " + e.Code + ", expected " + code + " (" + e.Message + ")");
            return e;
        }
        catch (Exception e)
        {
            Check(false, what + ": " + e.GetType().Name + ": " + e.Message);
        }
        return null;
    }

    private static bool Throws<T>(string what, Action body) where T : Exception
    {
        try
        {
            body();
        }
        catch (T)
        {
            return Check(true, what);
        }
        catch (Exception e)
        {
            return Check(false, what + ": " + e.GetType().Name + ": " + e.Message);
        }
        return Check(false, what + ": no exception");
    }

    /// Polls the way a game loop does (here with a short wait instead of a frame) until
    /// <paramref name="match"/> holds for an event or the time is up.
    private static bool WaitFor(Client c, Func<ChatEvent, bool> match, int seconds = 20)
    {
        var sw = Stopwatch.StartNew();
        var events = new List<ChatEvent>();
        while (sw.Elapsed.TotalSeconds < seconds && !c.IsClosed)
        {
            events.Clear();
            c.Poll(events, 64, 100);
            foreach (var e in events)
                if (match(e)) return true;
        }
        return false;
    }

    private static bool HasMessage(ChatEvent e, ulong sub, SubscriptionEvent kind, string text, string author)
    {
        if (e.Kind != EventKind.Subscription || e.Subscription != sub || e.SubEvent != kind) return false;
        foreach (var m in e.Messages)
            if (m.Text == text && m.Author == author) return true;
        return false;
    }

    private static long RssKiB()
    {
        foreach (var line in File.ReadAllLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:")) return long.Parse(line.Substring(6).Trim().Split(' ')[0]);
        return -1;
    }

    // Makes a client and drops it without Dispose, in a frame of its own so that nothing
    // on the caller's stack keeps it alive.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Abandon(string url, string email, string password)
    {
        var c = new Client(url);
        c.Login(email, password);
    }

    private static int Main()
    {
        var total = Stopwatch.StartNew();
        string url = Env("DIRECTUS_WS_URL");
        string email = Env("DCHAT_USER1_EMAIL"), password = Env("DCHAT_USER1_PASSWORD"), name = Env("DCHAT_USER1_NAME");
        string token2 = Env("DCHAT_USER2_TOKEN"), name2 = Env("DCHAT_USER2_NAME");
        string forbidden = Env("DCHAT_FORBIDDEN_COLLECTION");
        string history = Env("CSHARP_TEST_HISTORY");
        uint headerVersion = uint.Parse(Env("CSHARP_HEADER_VERSION"));
        var rnd = new Random();

        // The plugin loads, has every function the bindings declare, and matches the header.
        try
        {
            Library.Verify();
            Check(true, "Library.Verify");
        }
        catch (Exception e)
        {
            Check(false, "Library.Verify: " + e);
        }
        Check(Library.VersionNumber == headerVersion, "library version " + Library.Version + " matches the header");
        Check(Library.BindingsVersionNumber == headerVersion, "the bindings' version constants match the header");

        Check(Utf8RoundTrips(), "UTF-8 strings decode at every length and alignment");

        // A wrong password: Status.Auth with the Directus code.
        using (var bad = new Client(url))
            ExpectError("wrong password", Status.Auth, "AUTH_FAILED", () => bad.Login(email, "not-the-password"));

        var options = new ClientOptions { ConnectTimeoutMs = 10000, RequestTimeoutMs = 20000 };
        var client = new Client(url, options);
        client.Login(email, password);
        ulong sub = client.SubscribeChat();
        Check(sub != 0, "SubscribeChat returns a subscription id");
        Check(WaitFor(client, e => HasMessage(e, sub, SubscriptionEvent.Init, history, name2)),
            "the history (init) holds user 2's message with the author's name");
        Check(client.State == ConnectionState.Authenticated, "State is Authenticated after login (" + client.State + ")");

        // Send non-ASCII text: UTF-8 both ways, the reply and the own create event.
        string text = "from C# héllo wörld ✓ 日本語 🎮 " + rnd.Next();
        ulong req = client.Send(text);
        bool reply = false, create = false;
        ChatMessage own = null;
        WaitFor(client, e =>
        {
            if (e.Kind == EventKind.Reply && e.Request == req) reply = !e.Failed && e.Json.Contains(text);
            if (HasMessage(e, sub, SubscriptionEvent.Create, text, name))
            {
                create = true;
                foreach (var m in e.Messages) if (m.Text == text) own = m;
            }
            return reply && create;
        });
        Check(reply, "the reply to Send carries the stored item");
        Check(create, "the own message comes back as a create event, text intact");
        Check(own != null && own.Id != null && own.Created.HasValue, "the message has an id and a creation date");

        // A blocking read: the returned string is decoded and freed.
        string json = client.Items("messages", "read", "{\"query\":{\"limit\":-1,\"fields\":[\"text\"]}}");
        Check(json != null && json.Contains(text), "Items read finds the message");

        // Non-blocking reads: every reply comes, with the message; Poll(1) takes one event
        // even when more are queued. (A blocking read after the three, then a pause, lets
        // their replies queue up; on a loaded machine it may take another round.)
        string filter = "{\"query\":{\"filter\":{\"text\":{\"_eq\":" + JsonString(text) + "}},\"fields\":[\"id\",\"text\"]}}";
        var pending = new HashSet<ulong>();
        bool repliesOk = true, boundShown = false, boundBroken = false;
        Func<ChatEvent, bool> takeReply = e =>
        {
            if (e.Kind == EventKind.Reply && pending.Remove(e.Request)) repliesOk &= !e.Failed && e.Json.Contains(text);
            return pending.Count == 0;
        };
        for (int round = 1; round <= 5 && !boundShown; round++)
        {
            for (int i = 0; i < 3; i++) pending.Add(client.ItemsNowait("messages", "read", filter));
            client.Items("messages", "read", "{\"query\":{\"limit\":1}}");
            Thread.Sleep(300 * round);
            var batch = new List<ChatEvent>();
            int first = client.Poll(batch, 1);
            boundBroken |= first > 1 || batch.Count > 1;
            int rest = client.Poll(batch);
            boundShown = first == 1 && rest >= 1;
            foreach (var e in batch) takeReply(e);
        }
        Check(boundShown && !boundBroken, "Poll(1) takes exactly one event while more are queued");
        if (pending.Count > 0) WaitFor(client, takeReply);
        Check(pending.Count == 0 && repliesOk, "ItemsNowait: every reply came, with the message");

        // Bad arguments: the library's status for bad JSON, .NET's exceptions for the rest.
        ExpectError("bad JSON", Status.InvalidJson, "INVALID_JSON", () => client.Items("messages", "read", "{not json"));
        ExpectError("unknown action", Status.InvalidArgument, "INVALID_ARGUMENT", () => client.ItemsNowait("messages", "explode", null));
        Throws<ArgumentNullException>("Send(null) throws ArgumentNullException", () => client.Send(null));
        Throws<ArgumentException>("a NUL inside a string throws ArgumentException", () => client.Send("a\0b"));

        // A subscribe the server refuses: the exception with FORBIDDEN, and the error event.
        ExpectError("forbidden subscribe", Status.Server, "FORBIDDEN", () => client.Subscribe(forbidden));
        Check(WaitFor(client, e => e.Kind == EventKind.SubscriptionError && e.Code == "FORBIDDEN"),
            "the refusal also arrives as a SubscriptionError event with FORBIDDEN");

        // A static token login (user 2): its message reaches user 1's subscription.
        string text2 = "from C# with a token " + rnd.Next();
        using (var client2 = new Client(url))
        {
            client2.LoginToken(token2);
            ulong req2 = client2.Send(text2);
            bool reply2 = false;
            WaitFor(client2, e =>
            {
                if (e.Kind == EventKind.Reply && e.Request == req2) reply2 = !e.Failed;
                return reply2;
            });
            Check(reply2, "LoginToken: the send of user 2 succeeded");
            Check(WaitFor(client, e => HasMessage(e, sub, SubscriptionEvent.Create, text2, name2)),
                "user 1 sees user 2's message with user 2's name");

            // After Unsubscribe no event of that subscription is delivered.
            client.Unsubscribe(sub);
            string text3 = "after unsubscribe " + rnd.Next();
            ulong req3 = client2.Send(text3);
            bool reply3 = false;
            WaitFor(client2, e =>
            {
                if (e.Kind == EventKind.Reply && e.Request == req3) reply3 = !e.Failed;
                return reply3;
            });
            bool leaked = WaitFor(client, e => e.Kind == EventKind.Subscription && e.Subscription == sub, 1);
            Check(reply3 && !leaked, "no event of an ended subscription after Unsubscribe");
        }

        // Close: the last event is Closed, then Poll returns nothing.
        client.Close();
        ChatEvent last = null;
        WaitFor(client, e =>
        {
            last = e;
            return false;
        }, 10);
        Check(last != null && last.Kind == EventKind.State && last.State == ConnectionState.Closed, "the last event is the Closed state");
        Check(client.IsClosed && client.State == ConnectionState.Closed, "IsClosed and State after Close");
        Check(client.Poll().Count == 0, "Poll after Closed returns no event");
        client.Dispose();
        client.Dispose();
        Check(true, "Dispose twice is fine");
        Throws<ObjectDisposedException>("calls after Dispose throw ObjectDisposedException", () => client.Send("late"));

        // A client nobody disposed is freed by its finalizer.
        int releasedBefore = ClientHandleReleased();
        Abandon(url, email, password);
        for (int i = 0; i < 3 && ClientHandleReleased() == releasedBefore; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Check(ClientHandleReleased() > releasedBefore, "the finalizer freed an abandoned client");

        LeakCheck(url, email, password, rnd);
        NowaitGameLoop(Env("DCHAT_SLOW_WS_URL"), email, password, rnd);
        GivesUp();

        Console.Error.WriteLine("chat test took {0:F1} s", total.Elapsed.TotalSeconds);
        Console.WriteLine("chat test: {0} passed, {1} failed", passed, failed);
        return failed == 0 ? 0 : 1;
    }

    private static readonly Dictionary<string, double> slowest = new Dictionary<string, double>();

    private static T Timed<T>(string name, Func<T> call)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            return call();
        }
        finally
        {
            double ms = sw.Elapsed.TotalMilliseconds, old;
            if (!slowest.TryGetValue(name, out old) || ms > old) slowest[name] = ms;
        }
    }

    private static void Timed(string name, Action call)
    {
        Timed(name, () =>
        {
            call();
            return 0;
        });
    }

    /// A game's Start() and Update() with the calls that return at once, through a proxy
    /// that delays every chunk by 1 s (DCHAT_SLOW_WS_URL, started by the runner): each
    /// answer takes 2 s or more, while no call may take a quarter of a second. Bounds this
    /// far from the delay are about waiting, not speed; the slowest of each call is printed.
    private static void NowaitGameLoop(string slowUrl, string email, string password, Random rnd)
    {
        slowest.Clear();
        var options = new ClientOptions { ReconnectFirstDelayMs = 200, ReconnectMaxAttempts = -1, HeartbeatMs = 60000, MaxQueued = 64 };
        var client = Timed("ConnectNowait", () => Client.ConnectNowait(slowUrl, options));
        ulong login = Timed("LoginNowait", () => client.LoginNowait(email, password));
        ulong sub = Timed("SubscribeChatNowait", () => client.SubscribeChatNowait());
        string text = "nowait from C# " + rnd.Next();
        ulong send = Timed("Send", () => client.Send(text));
        ulong read = Timed("ItemsNowait", () => client.ItemsNowait("messages", "read", "{\"query\":{\"limit\":1}}"));
        Timed("Cancel", () => client.Cancel(read));
        Check(Timed("State", () => client.State) != ConnectionState.Authenticated, "not authenticated yet right after ConnectNowait");
        bool loginOk = false, init = false, subOk = false, sendOk = false, own = false, cancelled = false, unsubOk = false;
        ulong unsub = 0, close = 0;
        ChatEvent closed = null, previous = null;
        bool closeReplyLast = false;
        var events = new List<ChatEvent>();
        var clock = Stopwatch.StartNew();
        long frames = 0;
        while (closed == null && clock.Elapsed.TotalSeconds < 60)
        {
            // Update(): one frame's chat work.
            events.Clear();
            Timed("Poll", () => client.Poll(events, 100));
            foreach (var e in events)
            {
                if (e.Kind == EventKind.State && e.State == ConnectionState.Closed)
                {
                    closed = e;
                    // The close is a nowait call too: its reply is the event just before Closed.
                    closeReplyLast = previous != null && previous.Kind == EventKind.Reply && previous.Request == close && !previous.Failed;
                }
                previous = e;
                if (e.Kind == EventKind.Subscription && e.Subscription == sub)
                {
                    init |= e.SubEvent == SubscriptionEvent.Init;
                    foreach (var m in e.Messages) own |= m.Text == text;
                }
                if (e.Kind != EventKind.Reply) continue;
                if (e.Request == login) loginOk = !e.Failed;
                else if (e.Request == sub) subOk = !e.Failed && init;
                else if (e.Request == send) sendOk = !e.Failed;
                else if (e.Request == read) cancelled = e.Code == "CANCELLED";
                else if (e.Request == unsub) unsubOk = !e.Failed;
            }
            Timed("State", () => client.State);
            if (unsub == 0 && subOk && sendOk && own) unsub = Timed("UnsubscribeNowait", () => client.UnsubscribeNowait(sub));
            if (unsubOk)
            {
                close = Timed("CloseNowait", () => client.CloseNowait());
                unsubOk = false;
                unsub = ulong.MaxValue;
            }
            frames++;
            Thread.Sleep(16);
        }
        Check(loginOk && init && subOk && sendOk && own, "logged in, history, subscribe reply, send reply, own message (through the slow server)");
        Check(cancelled, "the cancelled read replied CANCELLED");
        Check(unsub == ulong.MaxValue, "the unsubscribe replied");
        Check(closed != null && closed.CloseCause == CloseCause.ByUser, "closed by the user: " + closed);
        Check(close != 0 && closeReplyLast, "CloseNowait's reply (request " + close + "), then Closed");
        Check(client.CloseNowait() == 0, "CloseNowait on a closed client: no request");
        Check(client.Poll().Count == 0 && client.State == ConnectionState.Closed, "nothing after Closed");
        // Dispose in the middle of things: a client with a read on the wire.
        var other = Client.ConnectNowait(slowUrl, options);
        other.LoginNowait(email, password);
        Thread.Sleep(300);
        Timed("Dispose", () => other.Dispose());
        Timed("Dispose", () => client.Dispose());
        Console.Error.WriteLine("nowait game loop: {0} frames in {1:F1} s through a server 2 s away; slowest call of each kind:", frames, clock.Elapsed.TotalSeconds);
        double worst = 0;
        foreach (var kv in slowest)
        {
            Console.Error.WriteLine("  {0,-22} {1,8:F2} ms", kv.Key, kv.Value);
            worst = Math.Max(worst, kv.Value);
        }
        Check(worst < 250, "no call waited for the server (slowest " + worst.ToString("F1") + " ms)");
    }

    /// A closed port and one reconnect attempt: the states a status line shows, then Closed with GaveUp.
    private static void GivesUp()
    {
        var options = new ClientOptions { ReconnectFirstDelayMs = 100, ReconnectFactor = 1.0, ReconnectMaxDelayMs = 100, ReconnectMaxAttempts = 1 };
        using (var c = Client.ConnectNowait("ws://127.0.0.1:9/websocket", options))
        {
            var states = new List<ChatEvent>();
            WaitFor(c, e =>
            {
                if (e.Kind == EventKind.State) states.Add(e);
                return e.Kind == EventKind.State && e.State == ConnectionState.Closed;
            }, 10);
            var shown = new StringBuilder();
            foreach (var e in states) shown.Append(e).Append("; ");
            Check(states.Count == 5, "connecting, disconnected, connecting, disconnected, closed: " + shown);
            if (states.Count == 5)
            {
                Check(states[1].RetryMs != null && states[2].Attempt == 1 && states[3].RetryMs == null, "attempt and retry delay: " + shown);
                Check(states[4].CloseCause == CloseCause.GaveUp, "closed because it gave up: " + shown);
            }
        }
    }

    /// The wrapper's own strlen reads words; check it at every offset and length around
    /// a word, with multi-byte characters, against the managed decoder.
    private static bool Utf8RoundTrips()
    {
        IntPtr mem = System.Runtime.InteropServices.Marshal.AllocHGlobal(128);
        try
        {
            for (int offset = 0; offset < 8; offset++)
                for (int len = 0; len < 40; len++)
                {
                    var sb = new StringBuilder();
                    while (Encoding.UTF8.GetByteCount(sb.ToString()) < len) sb.Append(len % 3 == 0 ? "é" : "a");
                    string s = sb.ToString();
                    byte[] bytes = Utf8.Encode(s, "s");
                    System.Runtime.InteropServices.Marshal.Copy(bytes, 0, mem + offset, bytes.Length);
                    // Garbage after the NUL must not be read as part of the string.
                    System.Runtime.InteropServices.Marshal.WriteByte(mem + offset + bytes.Length, 0x41);
                    if (Utf8.Decode(mem + offset) != s) return false;
                }
        }
        finally
        {
            System.Runtime.InteropServices.Marshal.FreeHGlobal(mem);
        }
        return true;
    }

    private static int ClientHandleReleased()
    {
        return ClientHandle.Released;
    }

    /// Reads a 256 KB message many times, blocking (a string from the library each time)
    /// and non-blocking (an event each time): if either were not freed, the process would
    /// grow by 10 MB or more (measured: 19 MB for strings, 40 MB for events with 100 KB x
    /// 200). Warms up first so the managed heap has its working size.
    private static void LeakCheck(string url, string email, string password, Random rnd)
    {
        using (var c = new Client(url))
        {
            c.Login(email, password);
            string big = new string('x', 256 * 1024) + rnd.Next();
            string created = c.Items("messages", "create", "{\"data\":{\"text\":\"" + big + "\"}}");
            string id = created.Substring(created.IndexOf("\"id\":") + 5).Split(',', '}')[0].Trim();
            string payload = "{\"id\":" + id + "}";
            const int warmup = 10, rounds = 40;
            var events = new List<ChatEvent>();
            var sw = Stopwatch.StartNew();
            long rss0 = 0;
            for (int i = 0; i < warmup + rounds; i++)
            {
                if (i == warmup)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    rss0 = RssKiB();
                }
                string one = c.Items("messages", "read", payload);
                if (one.Length < big.Length) throw new InvalidOperationException("short read");
                c.ItemsNowait("messages", "read", payload);
                events.Clear();
                c.Poll(events);
            }
            WaitFor(c, e => false, 1); // the last replies
            GC.Collect();
            GC.WaitForPendingFinalizers();
            long grown = RssKiB() - rss0;
            c.Items("messages", "delete", payload); // keep the chat's history small for the next run
            // A leak of either kind would be at least rounds * 256 KB = 10 MB.
            Console.Error.WriteLine("leak check: RSS grew by {0} KiB over {1} blocking and {1} non-blocking 256 KB reads ({2:F1} s)",
                grown, rounds, sw.Elapsed.TotalSeconds);
            Check(grown < 5 * 1024, "no leak: RSS grew by " + grown + " KiB over " + rounds + " rounds of 2 x 256 KB");
        }
    }

    private static string JsonString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char ch in s)
        {
            if (ch == '"' || ch == '\\') sb.Append('\\').Append(ch);
            else if (ch < 0x20) sb.AppendFormat("\\u{0:x4}", (int)ch);
            else sb.Append(ch);
        }
        return sb.Append('"').ToString();
    }
}
