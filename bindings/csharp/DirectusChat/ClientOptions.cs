using System;

namespace DirectusChat
{
    /// <summary>
    /// Settings for <see cref="Client"/>; copied when the client connects. The defaults are
    /// the library's: 10 s connect and 30 s request timeouts, bundled TLS roots, the chat
    /// schema of the Directus chat guides (messages / text / user_created.first_name).
    /// </summary>
    public sealed class ClientOptions
    {
        /// <summary>Connect timeout in milliseconds; 0 keeps the library's default.</summary>
        public uint ConnectTimeoutMs { get; set; }

        /// <summary>Timeout of every request in milliseconds; 0 keeps the library's default.</summary>
        public uint RequestTimeoutMs { get; set; }

        /// <summary>The collection of chat messages.</summary>
        public string ChatCollection { get; set; }

        /// <summary>The field holding a message's text.</summary>
        public string ChatTextField { get; set; }

        /// <summary>The dotted path to the author's name; null keeps user_created.first_name.</summary>
        public string ChatAuthorPath { get; set; }

        /// <summary>For uuid-keyed chat collections: the client picks each message's key, so a resend is stored once.</summary>
        public bool ClientIds { get; set; }

        /// <summary>Where the built-in trusted roots for wss:// come from.</summary>
        public TlsRoots TlsRoots { get; set; }

        /// <summary>CA certificates (PEM) trusted in addition to the roots, or null.</summary>
        public string CaPem { get; set; }

        /// <summary>The server's WebSocket authentication mode.</summary>
        public AuthMode AuthMode { get; set; }

        /// <summary>How many events may wait in the queue before the session stops reading the socket; 0 keeps the default (100,000).</summary>
        public ulong MaxBufferedEvents { get; set; }

        /// <summary>How many bytes of events may wait in the queue before the session stops reading the socket; 0 keeps the default (2 MiB).</summary>
        public ulong MaxBufferedBytes { get; set; }

        /// <summary>The largest message accepted from the server in bytes; 0 keeps the default (16 MiB).</summary>
        public ulong MaxMessageSize { get; set; }

        /// <summary>Delay before the first reconnect attempt in milliseconds; 0 keeps the library's policy (2 s, x1.5, 30 s, 20 attempts) unless another Reconnect* is set.</summary>
        public uint ReconnectFirstDelayMs { get; set; }

        /// <summary>How much each reconnect delay grows (at least 1.0); 0 means 1.5.</summary>
        public double ReconnectFactor { get; set; }

        /// <summary>The longest reconnect delay in milliseconds; 0 means 30000.</summary>
        public uint ReconnectMaxDelayMs { get; set; }

        /// <summary>Reconnect attempts in a row before giving up (the client then closes with <see cref="CloseCause.GaveUp"/>): 0 never reconnects, -1 tries forever; null keeps 20.</summary>
        public int? ReconnectMaxAttempts { get; set; }

        /// <summary>The client pings after this much silence (and counts a silent server as lost); 0 keeps 30000; -1 turns the check off.</summary>
        public int HeartbeatMs { get; set; }

        /// <summary>How many requests may wait for the login or a reconnect; 0 keeps the default (1024).</summary>
        public ulong MaxQueued { get; set; }

        /// <summary>The defaults.</summary>
        public ClientOptions()
        {
            ChatCollection = "messages";
            ChatTextField = "text";
            TlsRoots = TlsRoots.Bundled;
            AuthMode = AuthMode.Handshake;
        }

        /// <summary>Makes native options (poll mode, the default) that the caller frees.</summary>
        internal IntPtr ToNative()
        {
            IntPtr o;
            DirectusChatException.Check(NativeMethods.dchat_options_new(out o), "dchat_options_new");
            try
            {
                Check(NativeMethods.dchat_options_set_timeouts(o, ConnectTimeoutMs, RequestTimeoutMs), "timeouts");
                Check(NativeMethods.dchat_options_set_chat_schema(o, Utf8.Required(ChatCollection, "ChatCollection"),
                    Utf8.Required(ChatTextField, "ChatTextField"), Utf8.Encode(ChatAuthorPath, "ChatAuthorPath")), "chat schema");
                Check(NativeMethods.dchat_options_set_client_ids(o, ClientIds), "client ids");
                Check(NativeMethods.dchat_options_set_tls_roots(o, (uint)TlsRoots), "TLS roots");
                if (CaPem != null) Check(NativeMethods.dchat_options_set_ca_pem(o, Utf8.Encode(CaPem, "CaPem")), "CA PEM");
                Check(NativeMethods.dchat_options_set_auth_mode(o, (uint)AuthMode), "auth mode");
                if (MaxBufferedEvents != 0) Check(NativeMethods.dchat_options_set_max_buffered_events(o, new UIntPtr(MaxBufferedEvents)), "max buffered events");
                if (MaxBufferedBytes != 0) Check(NativeMethods.dchat_options_set_max_buffered_bytes(o, new UIntPtr(MaxBufferedBytes)), "max buffered bytes");
                if (MaxMessageSize != 0) Check(NativeMethods.dchat_options_set_max_message_size(o, new UIntPtr(MaxMessageSize)), "max message size");
                if (ReconnectFirstDelayMs != 0 || ReconnectFactor != 0 || ReconnectMaxDelayMs != 0 || ReconnectMaxAttempts != null)
                    Check(NativeMethods.dchat_options_set_reconnect(o, ReconnectFirstDelayMs != 0 ? ReconnectFirstDelayMs : 2000,
                        ReconnectFactor != 0 ? ReconnectFactor : 1.5, ReconnectMaxDelayMs != 0 ? ReconnectMaxDelayMs : 30000,
                        ReconnectMaxAttempts ?? 20), "reconnect policy");
                if (HeartbeatMs != 0) Check(NativeMethods.dchat_options_set_heartbeat(o, HeartbeatMs < 0 ? 0u : (uint)HeartbeatMs), "heartbeat");
                if (MaxQueued != 0) Check(NativeMethods.dchat_options_set_max_queued(o, new UIntPtr(MaxQueued)), "max queued");
                return o;
            }
            catch
            {
                NativeMethods.dchat_options_free(o);
                throw;
            }
        }

        private static void Check(Status st, string what)
        {
            DirectusChatException.Check(st, "option " + what);
        }
    }
}
