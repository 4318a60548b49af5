using System;
using System.Collections.Generic;
using System.Globalization;

namespace DirectusChat
{
    /// <summary>One chat message of a subscription event, read with the client's chat schema.</summary>
    public sealed class ChatMessage
    {
        /// <summary>The primary key, as text.</summary>
        public string Id { get; private set; }

        /// <summary>The message text.</summary>
        public string Text { get; private set; }

        /// <summary>The author's name, or null if unknown.</summary>
        public string Author { get; private set; }

        /// <summary>The creation date as the server wrote it (ISO 8601), or null.</summary>
        public string Date { get; private set; }

        /// <summary><see cref="Date"/> parsed, or null if absent or unreadable.</summary>
        public DateTimeOffset? Created
        {
            get
            {
                DateTimeOffset d;
                if (Date != null && DateTimeOffset.TryParse(Date, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out d)) return d;
                return null;
            }
        }

        /// <summary>Makes a message from its parts.</summary>
        public ChatMessage(string id, string text, string author, string date)
        {
            Id = id;
            Text = text;
            Author = author;
            Date = date;
        }

        /// <summary>"Author: text", as a chat window shows it.</summary>
        public override string ToString()
        {
            return (Author ?? "?") + ": " + Text;
        }
    }

    /// <summary>
    /// One event taken from the client's queue by <see cref="Client.Poll(int, int)"/>: a
    /// managed copy, so it stays valid for as long as the game keeps it.
    /// </summary>
    public sealed class ChatEvent
    {
        private static readonly ChatMessage[] NoMessages = new ChatMessage[0];

        /// <summary>What the event is about.</summary>
        public EventKind Kind { get; private set; }

        /// <summary>For <see cref="EventKind.State"/>: the new state; null for other kinds.</summary>
        public ConnectionState? State { get; private set; }

        /// <summary>For subscription events: init, create, update or delete.</summary>
        public SubscriptionEvent SubEvent { get; private set; }

        /// <summary>For subscription events and errors: the id Subscribe returned; else 0.</summary>
        public ulong Subscription { get; private set; }

        /// <summary>For replies: the id Send or ItemsNowait returned; else 0.</summary>
        public ulong Request { get; private set; }

        /// <summary>The error code of errors and failed replies (FORBIDDEN, CONNECTION, ...); null otherwise.</summary>
        public string Code { get; private set; }

        /// <summary>A readable text: why the state changed, or the error message; may be null.</summary>
        public string Text { get; private set; }

        /// <summary>The data as JSON: a subscription event's items (keys for delete), a reply's data; "null" when none.</summary>
        public string Json { get; private set; }

        /// <summary>The chat messages of an init, create or update event, oldest first.</summary>
        public IList<ChatMessage> Messages { get; private set; }

        /// <summary>For state events: which connection attempt in a row (0: a connection that is or was open; n: the n-th attempt since).</summary>
        public uint Attempt { get; private set; }

        /// <summary>For Disconnected: milliseconds before the next attempt ("reconnecting in 3 s"); null when none follows.</summary>
        public long? RetryMs { get; private set; }

        /// <summary>For the final Closed state: why (ByUser, GaveUp, AuthRefused, Failed); else None.</summary>
        public CloseCause CloseCause { get; private set; }

        /// <summary>True for a reply that carries an error code (the request failed).</summary>
        public bool Failed
        {
            get { return Code != null; }
        }

        private ChatEvent() { }

        /// <summary>Copies everything out of a native event (which the caller then frees).</summary>
        internal static ChatEvent FromNative(IntPtr ev)
        {
            var e = new ChatEvent();
            e.Kind = NativeMethods.dchat_event_kind(ev);
            if (e.Kind == EventKind.State)
            {
                e.State = NativeMethods.dchat_event_state(ev);
                e.Attempt = NativeMethods.dchat_event_attempt(ev);
                long retry = NativeMethods.dchat_event_retry_ms(ev);
                if (retry >= 0) e.RetryMs = retry;
                e.CloseCause = NativeMethods.dchat_event_close_cause(ev);
            }
            e.SubEvent = NativeMethods.dchat_event_sub_event(ev);
            e.Subscription = NativeMethods.dchat_event_subscription(ev);
            e.Request = NativeMethods.dchat_event_request(ev);
            e.Code = Utf8.Decode(NativeMethods.dchat_event_code(ev));
            e.Text = Utf8.Decode(NativeMethods.dchat_event_text(ev));
            e.Json = Utf8.Decode(NativeMethods.dchat_event_json(ev));
            int count = checked((int)NativeMethods.dchat_event_message_count(ev).ToUInt64());
            if (count == 0)
            {
                e.Messages = NoMessages;
            }
            else
            {
                var list = new ChatMessage[count];
                for (int i = 0; i < count; i++)
                {
                    var index = new UIntPtr((uint)i);
                    list[i] = new ChatMessage(
                        Utf8.Decode(NativeMethods.dchat_event_message_id(ev, index)),
                        Utf8.Decode(NativeMethods.dchat_event_message_text(ev, index)),
                        Utf8.Decode(NativeMethods.dchat_event_message_author(ev, index)),
                        Utf8.Decode(NativeMethods.dchat_event_message_date(ev, index)));
                }
                e.Messages = Array.AsReadOnly(list);
            }
            return e;
        }

        /// <summary>A one-line description for logs.</summary>
        public override string ToString()
        {
            switch (Kind)
            {
                case EventKind.State:
                    return "state " + State + (Attempt > 0 ? " attempt " + Attempt : "") + (RetryMs != null ? ", retry in " + RetryMs + " ms" : "")
                        + (CloseCause != CloseCause.None ? " " + CloseCause : "") + (Text != null ? " (" + Text + ")" : "");
                case EventKind.Subscription:
                    return "subscription " + Subscription + " " + SubEvent + ": " + Messages.Count + " messages";
                case EventKind.Reply:
                    return "reply " + Request + (Failed ? " failed: " + Code + " " + Text : " ok");
                default:
                    return Kind + (Code != null ? " " + Code : "") + (Text != null ? ": " + Text : "");
            }
        }
    }
}
