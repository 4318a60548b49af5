namespace DirectusChat
{
    /// <summary>The result of a library call (dchat_status); values match the C header.</summary>
    public enum Status
    {
        /// <summary>Success.</summary>
        Ok = 0,
        /// <summary>A required argument was null.</summary>
        NullArgument = 1,
        /// <summary>A string argument was not valid UTF-8.</summary>
        InvalidUtf8 = 2,
        /// <summary>A JSON argument did not parse.</summary>
        InvalidJson = 3,
        /// <summary>An argument was unacceptable (bad URL, unknown action, ...).</summary>
        InvalidArgument = 4,
        /// <summary>The connection failed or was lost before the answer came.</summary>
        Connection = 5,
        /// <summary>No answer within the timeout.</summary>
        Timeout = 6,
        /// <summary>The server refused the request; <see cref="DirectusChatException.Code"/> says why (FORBIDDEN, ...).</summary>
        Server = 7,
        /// <summary>The server refused the credentials (AUTH_FAILED, TOKEN_EXPIRED, ...).</summary>
        Auth = 8,
        /// <summary>The client is closed.</summary>
        Closed = 9,
        /// <summary>Not allowed from inside a callback (the wrapper uses none).</summary>
        InCallback = 10,
        /// <summary>The call does not fit the client's event mode.</summary>
        WrongMode = 11,
        /// <summary>TLS could not be set up (bad CA PEM, no trusted roots).</summary>
        Tls = 12,
        /// <summary>Too many requests are waiting for the connection.</summary>
        QueueFull = 13,
        /// <summary>The server sent something the library cannot read.</summary>
        Protocol = 14,
        /// <summary>An internal error was caught at the boundary.</summary>
        Panic = 15,
        /// <summary>A buffer was too small (handled inside the wrapper).</summary>
        BufferTooSmall = 16,
        /// <summary>The system refused a resource: a thread, a file descriptor, memory.</summary>
        Resource = 17,
        /// <summary>The request was cancelled (<see cref="Client.Cancel"/>) before its outcome was known.</summary>
        Cancelled = 18,
        /// <summary>The outbox file cannot be used (OUTBOX_LOCKED, OUTBOX_CORRUPT, OUTBOX_FOREIGN, ...).</summary>
        Outbox = 19,
    }

    /// <summary>Why a client closed for good, on its final Closed state event (dchat_close_cause).</summary>
    public enum CloseCause
    {
        /// <summary>Not a Closed state event.</summary>
        None = 0,
        /// <summary>The game closed it (Close, CloseNowait, Dispose).</summary>
        ByUser = 1,
        /// <summary>The connection was lost (or never opened) and the reconnect attempts are spent.</summary>
        GaveUp = 2,
        /// <summary>The server refused the credentials and nothing else was left to present.</summary>
        AuthRefused = 3,
        /// <summary>The session could not run (TLS could not be set up, an internal error).</summary>
        Failed = 4,
    }

    /// <summary>What an event is about (dchat_kind).</summary>
    public enum EventKind
    {
        /// <summary>The connection changed state: <see cref="ChatEvent.State"/>, <see cref="ChatEvent.Text"/>.</summary>
        State = 0,
        /// <summary>A subscription event: history (init), create, update or delete.</summary>
        Subscription = 1,
        /// <summary>The server refused or ended a subscription.</summary>
        SubscriptionError = 2,
        /// <summary>The outcome of a call that returned a request id (<see cref="Client.Send"/>, <see cref="Client.ItemsNowait"/>, the *Nowait calls).</summary>
        Reply = 3,
        /// <summary>An error not tied to a request (expired token, undecodable frame, ...).</summary>
        Error = 4,
        /// <summary>A message of a type the library does not know; <see cref="ChatEvent.Json"/> holds it.</summary>
        Unknown = 5,
        /// <summary>An outbox entry changed state (dchat_event_outbox_*).</summary>
        Outbox = 6,
        /// <summary>A user came online or went offline in an entered room (dchat_event_user_id, dchat_event_flag).</summary>
        Presence = 7,
        /// <summary>A user started or stopped typing in an entered room (dchat_event_flag).</summary>
        Typing = 8,
        /// <summary>The unread count of an entered room changed (dchat_event_count).</summary>
        Unread = 9,
        /// <summary>A user's read marker moved (dchat_event_last_read).</summary>
        Read = 10,
        /// <summary>Progress of an upload or download; the reply with the same request id follows.</summary>
        Transfer = 11,
    }

    /// <summary>Where an outbox entry stands (dchat_outbox_state).</summary>
    public enum OutboxState
    {
        /// <summary>Not an outbox event.</summary>
        None = 0,
        /// <summary>In the outbox, waiting for its turn: the local echo.</summary>
        Queued = 1,
        /// <summary>Handed to the server.</summary>
        Sending = 2,
        /// <summary>Stored by the server, once.</summary>
        Sent = 3,
        /// <summary>Refused; the code says why.</summary>
        Failed = 4,
        /// <summary>Cancelled before it went out.</summary>
        Cancelled = 5,
    }

    /// <summary>Connection states (dchat_state).</summary>
    public enum ConnectionState
    {
        /// <summary>Opening the WebSocket.</summary>
        Connecting = 0,
        /// <summary>Open, not authenticated.</summary>
        Connected = 1,
        /// <summary>Authenticated.</summary>
        Authenticated = 2,
        /// <summary>The connection was lost; the library reconnects.</summary>
        Disconnected = 3,
        /// <summary>Closed for good: the last event of a client.</summary>
        Closed = 4,
    }

    /// <summary>The event of a subscription event (dchat_sub_event).</summary>
    public enum SubscriptionEvent
    {
        /// <summary>Not a subscription event.</summary>
        None = 0,
        /// <summary>The history, first event of a subscription.</summary>
        Init = 1,
        /// <summary>Items were created.</summary>
        Create = 2,
        /// <summary>Items were updated.</summary>
        Update = 3,
        /// <summary>Items were deleted; <see cref="ChatEvent.Json"/> holds their keys.</summary>
        Delete = 4,
    }

    /// <summary>Where the trusted roots for wss:// come from (dchat_tls_roots).</summary>
    public enum TlsRoots
    {
        /// <summary>The Mozilla roots built into the library (the default).</summary>
        Bundled = 0,
        /// <summary>The operating system's trust store.</summary>
        System = 1,
        /// <summary>Only the CAs of <see cref="ClientOptions.CaPem"/>.</summary>
        None = 2,
    }

    /// <summary>The server's WebSocket authentication mode (dchat_auth_mode).</summary>
    public enum AuthMode
    {
        /// <summary>Requests wait until a login succeeded (the server's default).</summary>
        Handshake = 0,
        /// <summary>Requests made before the first login are sent at once with public
        /// permissions; once a user logs in, requests wait for every (re-)login.</summary>
        Public = 1,
        /// <summary>The upgrade needs a token: reconnects carry a current one of the user.</summary>
        Strict = 2,
    }
}
