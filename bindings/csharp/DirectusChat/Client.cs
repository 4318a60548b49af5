using System;
using System.Collections.Generic;

namespace DirectusChat
{
    /// <summary>
    /// A connection to a Directus server's realtime API, in poll mode: the library queues
    /// events and the game takes them on its own thread with <see cref="Poll(int, int)"/>,
    /// typically once per frame from Update(). No library thread ever runs managed code.
    /// </summary>
    /// <remarks>
    /// <para>Calls may come from any thread; Poll and Dispose belong to the thread that owns
    /// the game loop. A game never needs to wait: <see cref="ConnectNowait"/> returns a client
    /// at once, and every request has a form that returns at once with a request id
    /// (<see cref="LoginNowait"/>, <see cref="SubscribeChatNowait"/>, <see cref="UnsubscribeNowait"/>,
    /// <see cref="Send"/>, <see cref="ItemsNowait"/>), completed by one
    /// <see cref="EventKind.Reply"/> event that <see cref="Poll(List{ChatEvent}, int, int)"/>
    /// hands out; <see cref="State"/>, <see cref="Cancel"/>, <see cref="ReconnectNow"/>,
    /// <see cref="CloseNowait"/> and Dispose return at once too. The constructor, Login,
    /// Subscribe, Unsubscribe, Items and Close are the blocking forms (for loading
    /// screens and tools).</para>
    /// <para>Dispose closes and frees the native client without waiting on the network. A
    /// client that is never disposed is freed by its finalizer (through a SafeHandle),
    /// never while another call on it runs.</para>
    /// </remarks>
    public sealed class Client : IDisposable
    {
        private readonly ClientHandle handle;
        private readonly object disposeLock = new object();
        private bool closedSeen;
        // Poll's buffer of native events, reused every frame.
        private IntPtr[] pollBuffer = new IntPtr[64];

        /// <summary>
        /// Connects to <paramref name="url"/> (ws://host:port/websocket, wss://..., or the
        /// server's http(s):// base URL). Waits until the socket is open or the connect
        /// timeout passes.
        /// </summary>
        /// <exception cref="DirectusChatException">the connection failed (Status Connection, Tls, Timeout, InvalidArgument).</exception>
        public Client(string url, ClientOptions options = null) : this(url, options, false)
        {
        }

        /// <summary>
        /// Returns a client at once (for a game's Start()): the socket opens in the
        /// background, reported by <see cref="EventKind.State"/> events (Connecting with its
        /// <see cref="ChatEvent.Attempt"/>, Connected, or Disconnected with
        /// <see cref="ChatEvent.RetryMs"/>), and a failed attempt is retried as
        /// <see cref="ClientOptions.ReconnectMaxAttempts"/> allows. Requests made meanwhile
        /// wait for the connection and the login without timing out.
        /// </summary>
        /// <exception cref="DirectusChatException">a bad URL or option (nothing network-related fails here).</exception>
        public static Client ConnectNowait(string url, ClientOptions options = null)
        {
            return new Client(url, options, true);
        }

        private Client(string url, ClientOptions options, bool nowait)
        {
            byte[] u = Utf8.Required(url, "url");
            IntPtr o = (options ?? new ClientOptions()).ToNative();
            try
            {
                ClientHandle h;
                Status st = nowait ? NativeMethods.dchat_connect_nowait(u, o, out h) : NativeMethods.dchat_connect(u, o, out h);
                if (st != Status.Ok)
                {
                    var e = DirectusChatException.FromLastError(st, "connect");
                    if (h != null) h.SetHandleAsInvalid();
                    throw e;
                }
                handle = h;
            }
            finally
            {
                NativeMethods.dchat_options_free(o);
            }
        }

        /// <summary>
        /// The connection state as of the last state event the library reported (which Poll
        /// may not have handed out yet), without waiting: for a status line drawn every
        /// frame. Closed once disposed.
        /// </summary>
        public ConnectionState State
        {
            get { return handle.IsClosed ? ConnectionState.Closed : NativeMethods.dchat_client_state(handle); }
        }

        /// <summary>True once Poll took the final Closed state: no event will come any more.</summary>
        public bool IsClosed
        {
            get { return closedSeen; }
        }

        // ---- Calls that wait for the server (connect up to the connect timeout, the rest
        // up to the request timeout): for loading screens and tools. A game loop uses the
        // *Nowait forms below.

        /// <summary>Logs in with email and password.</summary>
        /// <exception cref="DirectusChatException">refused (Status Auth, Code AUTH_FAILED), or the connection failed.</exception>
        public void Login(string email, string password)
        {
            Check(NativeMethods.dchat_login(Handle, Utf8.Required(email, "email"), Utf8.Required(password, "password")), "login");
        }

        /// <summary>Logs in with an access token (a user's static token or a JWT).</summary>
        public void LoginToken(string accessToken)
        {
            Check(NativeMethods.dchat_login_token(Handle, Utf8.Required(accessToken, "accessToken")), "login with token");
        }

        /// <summary>Logs in with a refresh token.</summary>
        public void LoginRefresh(string refreshToken)
        {
            Check(NativeMethods.dchat_login_refresh(Handle, Utf8.Required(refreshToken, "refreshToken")), "login with refresh token");
        }

        /// <summary>
        /// Subscribes to the chat collection (every field plus the author's name). The newest
        /// 100 messages arrive as the subscription's first event (<see cref="SubscriptionEvent.Init"/>).
        /// </summary>
        /// <returns>The subscription id that its events carry.</returns>
        public ulong SubscribeChat()
        {
            ulong sub;
            Check(NativeMethods.dchat_subscribe_chat(Handle, out sub), "subscribe to the chat");
            return sub;
        }

        /// <summary>
        /// Subscribes to <paramref name="collection"/> with an optional query (a JSON object)
        /// and event filter ("create", "update", "delete", or null for all).
        /// A refusal throws here (Code FORBIDDEN, ...) and also arrives as a SubscriptionError event.
        /// </summary>
        /// <returns>The subscription id that its events carry.</returns>
        public ulong Subscribe(string collection, string queryJson = null, string eventFilter = null)
        {
            ulong sub;
            Check(NativeMethods.dchat_subscribe(Handle, Utf8.Required(collection, "collection"), Utf8.Encode(queryJson, "queryJson"),
                Utf8.Encode(eventFilter, "eventFilter"), out sub), "subscribe to " + collection);
            return sub;
        }

        /// <summary>Ends a subscription; Poll returns no event of it after this returns.</summary>
        public void Unsubscribe(ulong subscription)
        {
            Check(NativeMethods.dchat_unsubscribe(Handle, subscription), "unsubscribe");
        }

        /// <summary>
        /// An items request that waits for the answer: <paramref name="action"/> is "create",
        /// "read", "update" or "delete"; <paramref name="payloadJson"/> a JSON object with any
        /// of data, id, ids, query.
        /// </summary>
        /// <returns>The server's data as JSON.</returns>
        public string Items(string collection, string action, string payloadJson = null)
        {
            IntPtr result;
            Check(NativeMethods.dchat_items(Handle, Utf8.Required(collection, "collection"), Utf8.Required(action, "action"),
                Utf8.Encode(payloadJson, "payloadJson"), out result), action + " " + collection);
            try
            {
                return Utf8.Decode(result);
            }
            finally
            {
                NativeMethods.dchat_string_free(result);
            }
        }

        // ---- Calls that return at once. Each returns a request id; one Reply event with that
        // id (Poll) completes it: Failed with a Code (AUTH_FAILED, FORBIDDEN, CANCELLED, ...)
        // or not. Made before the connection or the login, a request waits for them.

        /// <summary>Logs in with email and password without waiting; returns the request id of its Reply.</summary>
        public ulong LoginNowait(string email, string password)
        {
            ulong req;
            Check(NativeMethods.dchat_login_nowait(Handle, Utf8.Required(email, "email"), Utf8.Required(password, "password"), out req), "login");
            return req;
        }

        /// <summary>Logs in with an access token without waiting; returns the request id of its Reply.</summary>
        public ulong LoginTokenNowait(string accessToken)
        {
            ulong req;
            Check(NativeMethods.dchat_login_token_nowait(Handle, Utf8.Required(accessToken, "accessToken"), out req), "login with token");
            return req;
        }

        /// <summary>Logs in with a refresh token without waiting; returns the request id of its Reply.</summary>
        public ulong LoginRefreshNowait(string refreshToken)
        {
            ulong req;
            Check(NativeMethods.dchat_login_refresh_nowait(Handle, Utf8.Required(refreshToken, "refreshToken"), out req), "login with refresh token");
            return req;
        }

        /// <summary>
        /// Subscribes to the chat without waiting. Returns the subscription id, which is also
        /// the request id of the Reply that completes the subscribe: the history (Init)
        /// arrives first, then that Reply (or a SubscriptionError and a failed Reply).
        /// </summary>
        public ulong SubscribeChatNowait()
        {
            ulong sub, req;
            Check(NativeMethods.dchat_subscribe_chat_nowait(Handle, out sub, out req), "subscribe to the chat");
            return sub;
        }

        /// <summary>Like <see cref="Subscribe"/> without waiting (see <see cref="SubscribeChatNowait"/>).</summary>
        public ulong SubscribeNowait(string collection, string queryJson = null, string eventFilter = null)
        {
            ulong sub, req;
            Check(NativeMethods.dchat_subscribe_nowait(Handle, Utf8.Required(collection, "collection"), Utf8.Encode(queryJson, "queryJson"),
                Utf8.Encode(eventFilter, "eventFilter"), out sub, out req), "subscribe to " + collection);
            return sub;
        }

        /// <summary>Ends a subscription without waiting: Poll returns no event of it after this; returns the request id of the server's confirmation.</summary>
        public ulong UnsubscribeNowait(ulong subscription)
        {
            ulong req;
            Check(NativeMethods.dchat_unsubscribe_nowait(Handle, subscription, out req), "unsubscribe");
            return req;
        }

        /// <summary>Cancels a request: its Reply comes at once with Code CANCELLED. One still waiting for the connection or login is never sent.</summary>
        public void Cancel(ulong request)
        {
            Check(NativeMethods.dchat_cancel(Handle, request), "cancel");
        }

        /// <summary>Skips the wait before the next reconnect attempt (a "retry now" button).</summary>
        public void ReconnectNow()
        {
            Status st = NativeMethods.dchat_reconnect_now(Handle);
            if (st != Status.Closed) Check(st, "reconnect now");
        }

        /// <summary>
        /// Asks to close and returns at once. Returns the request id of the
        /// <see cref="EventKind.Reply"/> event that completes the close, just before the final
        /// Closed state event (CloseCause ByUser); 0 if the client had already closed (no
        /// reply follows then).
        /// </summary>
        public ulong CloseNowait()
        {
            ulong request;
            Check(NativeMethods.dchat_close_nowait(Handle, out request), "close");
            return request;
        }

        /// <summary>
        /// Sends a chat message without waiting. Its outcome arrives through Poll as a
        /// <see cref="EventKind.Reply"/> event with the returned request id (the stored item
        /// as JSON, or an error code). Before login the message waits for it.
        /// </summary>
        public ulong Send(string text)
        {
            ulong req;
            Check(NativeMethods.dchat_send(Handle, Utf8.Required(text, "text"), out req), "send");
            return req;
        }

        /// <summary>Like <see cref="Items"/> without waiting: the answer is a Reply event with the returned id.</summary>
        public ulong ItemsNowait(string collection, string action, string payloadJson = null)
        {
            ulong req;
            Check(NativeMethods.dchat_items_nowait(Handle, Utf8.Required(collection, "collection"), Utf8.Required(action, "action"),
                Utf8.Encode(payloadJson, "payloadJson"), out req), action + " " + collection);
            return req;
        }

        /// <summary>
        /// Takes up to <paramref name="maxEvents"/> queued events, in order, and appends them
        /// to <paramref name="into"/> (reuse one list per frame to spare the garbage
        /// collector). Waits up to <paramref name="waitMs"/> for the first event (0: not at
        /// all, as a game loop does; -1: for ever). Returns how many were added; 0 also
        /// once the client is closed (<see cref="IsClosed"/>).
        /// </summary>
        public int Poll(List<ChatEvent> into, int maxEvents = int.MaxValue, int waitMs = 0)
        {
            if (into == null) throw new ArgumentNullException("into");
            if (maxEvents < 0) throw new ArgumentOutOfRangeException("maxEvents");
            if (closedSeen) return 0;
            ClientHandle h = Handle;
            int n = 0;
            // One native call takes a batch (dchat_poll_many): a frame costs one or two calls.
            while (n < maxEvents)
            {
                int want = Math.Min(maxEvents - n, pollBuffer.Length);
                UIntPtr got;
                Status st = NativeMethods.dchat_poll_many(h, n == 0 ? waitMs : 0, pollBuffer, new UIntPtr((uint)want), out got);
                if (st == Status.Closed)
                {
                    closedSeen = true;
                    break;
                }
                Check(st, "poll");
                int count = (int)got.ToUInt32();
                for (int i = 0; i < count; i++)
                {
                    IntPtr ev = pollBuffer[i];
                    pollBuffer[i] = IntPtr.Zero;
                    ChatEvent e;
                    try
                    {
                        e = ChatEvent.FromNative(ev);
                    }
                    finally
                    {
                        NativeMethods.dchat_event_free(ev);
                    }
                    // The last event of every client; polling again would only say Closed.
                    if (e.Kind == EventKind.State && e.State == ConnectionState.Closed) closedSeen = true;
                    into.Add(e);
                }
                n += count;
                if (count < want || closedSeen) break;
            }
            return n;
        }

        /// <summary>Like <see cref="Poll(List{ChatEvent}, int, int)"/>, returning a new list.</summary>
        public List<ChatEvent> Poll(int maxEvents = int.MaxValue, int waitMs = 0)
        {
            var list = new List<ChatEvent>();
            Poll(list, maxEvents, waitMs);
            return list;
        }

        /// <summary>
        /// Closes the connection: requests on the wire may finish (up to 5 s), pending ones
        /// fail, and the last event Poll returns is the Closed state. Closing twice is fine.
        /// </summary>
        public void Close()
        {
            Check(NativeMethods.dchat_close(Handle), "close");
        }

        /// <summary>
        /// Closes (if needed) and frees the native client without waiting on the network
        /// (requests on the wire get up to 5 s to finish in the background; their outcomes
        /// are dropped), so OnDestroy never holds a frame. Safe to call more than once.
        /// </summary>
        public void Dispose()
        {
            lock (disposeLock)
            {
                if (handle.IsClosed) return;
                // Close first so that a blocking call on another thread returns (Closed) and
                // the SafeHandle can free the client right away instead of after that call.
                ulong ignored;
                NativeMethods.dchat_close_nowait(handle, out ignored);
                handle.Dispose();
            }
        }

        private ClientHandle Handle
        {
            get
            {
                if (handle.IsClosed) throw new ObjectDisposedException("DirectusChat.Client");
                return handle;
            }
        }

        private static void Check(Status status, string what)
        {
            DirectusChatException.Check(status, what);
        }
    }
}
