// The C ABI of include/directus_chat.h as P/Invoke declarations: the way Unity, Godot-Mono
// and every .NET runtime load a native plugin ([DllImport("directus_chat")] finds
// libdirectus_chat.so, directus_chat.dll or libdirectus_chat.dylib).
//
// Strings cross as NUL-terminated UTF-8 byte arrays that the wrapper encodes and decodes
// itself (Utf8.cs) rather than through LPUTF8Str / PtrToStringUTF8, which some Unity API
// profiles lack. scripts/test-csharp.sh checks these declarations against the header
// (names and argument counts) and resolves every entry point in the built library.
//
// Deliberately not bound: dchat_options_set_callback, dchat_options_set_poll's wake hook
// and dchat_set_log_callback. They call managed code from library threads, which game
// engines do not expect, and Mono 6.8 then waits at exit for those threads.
using System;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DirectusChat
{
    internal static class NativeMethods
    {
        internal const string Lib = "directus_chat";

        // The header's DCHAT_VERSION_* (checked against include/directus_chat.h by the test).
        internal const uint HeaderVersionMajor = 0;
        internal const uint HeaderVersionMinor = 1;
        internal const uint HeaderVersionPatch = 0;

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint dchat_version_number();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_connect(byte[] url, IntPtr options, out ClientHandle client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_login(ClientHandle client, byte[] email, byte[] password);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_login_token(ClientHandle client, byte[] accessToken);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_login_refresh(ClientHandle client, byte[] refreshToken);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_subscribe(ClientHandle client, byte[] collection, byte[] queryJson, byte[] eventFilter, out ulong subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_subscribe_chat(ClientHandle client, out ulong subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_unsubscribe(ClientHandle client, ulong subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_send(ClientHandle client, byte[] text, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_items(ClientHandle client, byte[] collection, byte[] action, byte[] payloadJson, out IntPtr result);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_items_nowait(ClientHandle client, byte[] collection, byte[] action, byte[] payloadJson, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_poll(ClientHandle client, int timeoutMs, out IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_close(ClientHandle client);

        // Takes the raw pointer: only ClientHandle.ReleaseHandle calls it.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_free(IntPtr client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_string_free(IntPtr s);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern EventKind dchat_event_kind(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ConnectionState dchat_event_state(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern SubscriptionEvent dchat_event_sub_event(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong dchat_event_subscription(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong dchat_event_request(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_code(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_text(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_json(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr dchat_event_message_count(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_id(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_text(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_author(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_date(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_key(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_event_free(IntPtr ev);

        // The outbox (issue 14): sends written to a local file first, sent exactly once.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_outbox(IntPtr options, byte[] path);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_outbox_send(ClientHandle client, byte[] text, out ulong localId);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_outbox_create(ClientHandle client, byte[] collection, byte[] dataJson, byte[] keyField, out ulong localId);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_outbox_list(ClientHandle client, out IntPtr json);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_outbox_cancel(ClientHandle client, ulong localId);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_outbox_edit(ClientHandle client, ulong localId, byte[] patchJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_outbox_retry(ClientHandle client, ulong localId);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OutboxState dchat_event_outbox_state(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong dchat_event_outbox_id(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_outbox_key(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint dchat_event_outbox_attempts(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_outbox_retryable(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_new(out IntPtr options);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_free(IntPtr options);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_chat_schema(IntPtr options, byte[] collection, byte[] textField, byte[] authorPath);

        // C's bool is one byte.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_client_ids(IntPtr options, [MarshalAs(UnmanagedType.I1)] bool enabled);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_timeouts(IntPtr options, uint connectMs, uint requestMs);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_tls_roots(IntPtr options, uint roots);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_ca_pem(IntPtr options, byte[] pem);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_auth_mode(IntPtr options, uint mode);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_max_buffered_events(IntPtr options, UIntPtr events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_max_buffered_bytes(IntPtr options, UIntPtr bytes);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_max_message_size(IntPtr options, UIntPtr bytes);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_last_error_message(byte[] buf, UIntPtr len, out UIntPtr outLen);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_last_error_code(byte[] buf, UIntPtr len, out UIntPtr outLen);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_status_name(uint status);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_status_text(uint status);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_shutdown(uint timeoutMs);

        // ---- Calls that return at once (issue 11): each completes as one Reply event.

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_connect_nowait(byte[] url, IntPtr options, out ClientHandle client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_login_nowait(ClientHandle client, byte[] email, byte[] password, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_login_token_nowait(ClientHandle client, byte[] accessToken, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_login_refresh_nowait(ClientHandle client, byte[] refreshToken, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_subscribe_nowait(ClientHandle client, byte[] collection, byte[] queryJson, byte[] eventFilter, out ulong subscription, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_subscribe_chat_nowait(ClientHandle client, out ulong subscription, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_unsubscribe_nowait(ClientHandle client, ulong subscription, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_close_nowait(ClientHandle client, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_cancel(ClientHandle client, ulong request);

        // Takes the raw pointer: only ClientHandle.ReleaseHandle calls it.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_free_nowait(IntPtr client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_poll_many(ClientHandle client, int timeoutMs, [Out] IntPtr[] events, UIntPtr max, out UIntPtr count);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_event_fd(ClientHandle client, out int fd);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ConnectionState dchat_client_state(ClientHandle client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_reconnect_now(ClientHandle client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint dchat_event_attempt(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern long dchat_event_retry_ms(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern CloseCause dchat_event_close_cause(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_reconnect(IntPtr options, uint firstDelayMs, double factor, uint maxDelayMs, int maxAttempts);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_heartbeat(IntPtr options, uint intervalMs);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_max_queued(IntPtr options, UIntPtr requests);

        // ---- the chat API (rooms, older history, edits, who am I) and the item accessors

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_chat_fields(IntPtr options, byte[] idField, byte[] dateField, byte[] userField, byte[] roomField, byte[] updatedField, byte[] clientKeyField);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_history_limit(IntPtr options, uint messages);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_join(ClientHandle client, byte[] room, out ulong subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_join_nowait(ClientHandle client, byte[] room, out ulong subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_leave(ClientHandle client, byte[] room);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_leave_nowait(ClientHandle client, byte[] room);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_send_to(ClientHandle client, byte[] room, byte[] text, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_send_with(ClientHandle client, byte[] text, byte[] extraJson, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_load_older(ClientHandle client, byte[] room, byte[] beforeId, uint count, out IntPtr page);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_load_older_nowait(ClientHandle client, byte[] room, byte[] beforeId, uint count, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_edit_message(ClientHandle client, byte[] id, byte[] text);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_edit_message_nowait(ClientHandle client, byte[] id, byte[] text, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_delete_message(ClientHandle client, byte[] id);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_delete_message_nowait(ClientHandle client, byte[] id, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_whoami(ClientHandle client, out IntPtr user);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_whoami_nowait(ClientHandle client, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_me(ClientHandle client, out IntPtr user);

        // ---- what the server tells about itself (one item: version, heartbeat, auth_mode, ...)

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_discovery(IntPtr options, [MarshalAs(UnmanagedType.I1)] bool on);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_server_info(ClientHandle client, out IntPtr info);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_known_server_info(ClientHandle client, out IntPtr info);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_known_server_info_nowait(ClientHandle client, out ulong request);

        // ---- attachments

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_file_field(IntPtr options, byte[] field);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_rest_url(IntPtr options, byte[] url);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_upload_nowait(ClientHandle client, byte[] path, byte[] name, byte[] mime, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_upload(ClientHandle client, byte[] path, byte[] name, byte[] mime, out IntPtr fileId);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_download_nowait(ClientHandle client, byte[] fileId, byte[] destPath, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_download(ClientHandle client, byte[] fileId, byte[] destPath, out ulong bytes);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_asset_url(ClientHandle client, byte[] fileId, out IntPtr url);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_event_transfer(IntPtr ev, out ulong done, out long total);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_presence(IntPtr options, uint heartbeatMs, uint ttlMs, [MarshalAs(UnmanagedType.I1)] bool onJoin);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_options_set_presence_collections(IntPtr options, byte[] presence, byte[] receipts);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_enter(ClientHandle client, byte[] room);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_enter_nowait(ClientHandle client, byte[] room, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_exit(ClientHandle client, byte[] room);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_exit_nowait(ClientHandle client, byte[] room, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_set_typing(ClientHandle client, byte[] room, [MarshalAs(UnmanagedType.I1)] bool typing);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_mark_read(ClientHandle client, byte[] room, byte[] messageId);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_mark_read_nowait(ClientHandle client, byte[] room, byte[] messageId, out ulong request);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_unread_count(ClientHandle client, byte[] room, out ulong count);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_online_count(ClientHandle client, byte[] room, out UIntPtr count);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_online_user(ClientHandle client, byte[] room, UIntPtr index, out IntPtr user, out IntPtr name, [MarshalAs(UnmanagedType.I1)] out bool typing);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_online_json(ClientHandle client, byte[] room, out IntPtr json);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_readers_json(ClientHandle client, byte[] room, byte[] messageId, out IntPtr json);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_readers_count(ClientHandle client, byte[] room, byte[] messageId, out UIntPtr count);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_user_id(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_user_name(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_flag(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong dchat_event_count(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_last_read(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern Status dchat_items_event(ClientHandle client, byte[] collection, byte[] action, byte[] payloadJson, out IntPtr reply);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_is_chat(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_room(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_room(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_author_id(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_updated(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_message_edited(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_message_own(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr dchat_event_deleted_count(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_deleted_id(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr dchat_event_item_count(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_item_string(IntPtr ev, UIntPtr index, byte[] pointer);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_item_number(IntPtr ev, UIntPtr index, byte[] pointer, out double value);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_item_int(IntPtr ev, UIntPtr index, byte[] pointer, out long value);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_item_bool(IntPtr ev, UIntPtr index, byte[] pointer, [MarshalAs(UnmanagedType.I1)] out bool value);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_item_is_null(IntPtr ev, UIntPtr index, byte[] pointer);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_item_exists(IntPtr ev, UIntPtr index, byte[] pointer);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr dchat_event_item_array_len(IntPtr ev, UIntPtr index, byte[] pointer);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_item_json(IntPtr ev, UIntPtr index, byte[] pointer);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_file_id(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_file_name(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr dchat_event_message_file_type(IntPtr ev, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal static extern bool dchat_event_message_file_size(IntPtr ev, UIntPtr index, out ulong size);
    }

    /// <summary>
    /// Owns one dchat_client. SafeHandle gives the guarantees dchat_free needs: it runs
    /// once, never while a P/Invoke call on the same handle is in flight (the marshaller
    /// holds a reference for the call), and from the finalizer if the owner was never
    /// disposed.
    /// </summary>
    internal sealed class ClientHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        private static int released;

        /// <summary>How many handles were freed in this process (for tests of the finalizer path).</summary>
        internal static int Released
        {
            get { return System.Threading.Volatile.Read(ref released); }
        }

        // Made by the marshaller for dchat_connect's out-parameter.
        public ClientHandle() : base(true) { }

        protected override bool ReleaseHandle()
        {
            // Closes if needed without waiting on the network (requests on the wire finish
            // in the background); no library thread calls into managed code, so this is
            // safe on the finalizer thread too, and never holds a game's frame.
            NativeMethods.dchat_free_nowait(handle);
            System.Threading.Interlocked.Increment(ref released);
            return true;
        }
    }
}
