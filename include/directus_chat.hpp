// directus-chat: header-only C++17 wrapper of the C API (directus_chat.h).
//
// Written by hand (not generated); it adds no behaviour, only C++ ownership and types:
// - RAII: dchat::client frees its connection, dchat::subscription unsubscribes, when
//   they go out of scope. Both are movable, not copyable.
// - Errors are exceptions: every call whose C function fails throws dchat::error with
//   the dchat_status, the Directus code (AUTH_FAILED, FORBIDDEN, ...) and the message.
//   Exceptions rather than result types because C++17 has no std::expected, and a
//   failed login, subscribe or read ends the flow the caller was in; nothing is thrown
//   from destructors, from poll timeouts, or into the library.
// - Events are copied into dchat::event values, so they may be kept, moved to another
//   thread, or outlive the callback. Each keeps a copy of the C event (shared by its
//   copies) for the item accessors (event::item_string("/user_created/first_name") and
//   friends), which read any field of any item without a JSON parser.
// - Callback mode: a std::function gets every event on the client's dispatcher thread
//   ("dchat-dispatch"), in order. An exception thrown by it is caught before it can
//   reach the C library, handed to the error hook (or, without one, written to stderr),
//   and the session goes on with the next event.
// - Poll mode: client::poll(timeout) on the host's own thread, e.g. once per frame,
//   or client::poll_many(max) with client::event_fd() in the host's own loop.
// - Never blocking the host: client(url, dchat::nowait, ...) connects in the background
//   and every *_nowait call returns at once with a request id, completed by one
//   DCHAT_EVENT_REPLY event. No destructor waits on the network: ~subscription ends the
//   subscription with dchat_unsubscribe_nowait, ~client frees with dchat_free_nowait.
//
// Threads are those of the C API (see directus_chat.h): never destroy a client from
// inside its own callback (the C library refuses, and the connection would leak).
#ifndef DIRECTUS_CHAT_HPP
#define DIRECTUS_CHAT_HPP

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "directus_chat.h"

namespace dchat {

/// A failed call: the C status, the code (the Directus code such as `AUTH_FAILED` for
/// server errors, else the status name without prefix such as `TIMEOUT`) and the
/// readable message (never a password or token).
class error : public std::runtime_error {
public:
    error(dchat_status status, std::string code, const std::string &message)
        : std::runtime_error(message), status_(status), code_(std::move(code)) {}

    /// The status the C function returned.
    dchat_status status() const noexcept { return status_; }
    /// The Directus code or the status name (`AUTH_FAILED`, `FORBIDDEN`, `TIMEOUT`, ...).
    const std::string &code() const noexcept { return code_; }

    /// The error the last failed call on this thread left (dchat_last_error_*).
    static error last(dchat_status status) {
        return error(status, read_last(dchat_last_error_code), read_last(dchat_last_error_message));
    }

private:
    static std::string read_last(dchat_status (*get)(char *, size_t, size_t *)) {
        size_t needed = 0;
        std::string text(256, '\0');
        if (get(&text[0], text.size(), &needed) == DCHAT_ERR_BUFFER_TOO_SMALL) {
            text.assign(needed, '\0');
            get(&text[0], text.size(), &needed);
        }
        text.resize(needed < text.size() ? needed : text.size());
        return text;
    }

    dchat_status status_;
    std::string code_;
};

namespace detail {
inline void check(dchat_status status) {
    if (status != DCHAT_OK) throw error::last(status);
}
inline std::optional<std::string> opt(const char *s) { return s ? std::optional<std::string>(s) : std::nullopt; }
inline std::optional<std::string_view> view(const char *s) { return s ? std::optional<std::string_view>(s) : std::nullopt; }

/// A NUL-terminated string argument taken without a copy: a literal, a C string or a
/// std::string (the C functions need the terminator, which std::string_view lacks).
class zstring {
public:
    zstring(const char *s) noexcept : s_(s) {}
    zstring(const std::string &s) noexcept : s_(s.c_str()) {}
    const char *c_str() const noexcept { return s_; }

private:
    const char *s_;
};

/// An owned C event, freed with its last copy.
using event_ptr = std::shared_ptr<const dchat_event>;
inline event_ptr own(dchat_event *e) {
    return event_ptr(e, [](const dchat_event *p) { dchat_event_free(const_cast<dchat_event *>(p)); });
}
}  // namespace detail

/// Names of the C enums, for logs and status lines ("authenticated", "reply", ...).
inline const char *to_string(dchat_state s) noexcept {
    switch (s) {
    case DCHAT_STATE_CONNECTING: return "connecting";
    case DCHAT_STATE_CONNECTED: return "connected";
    case DCHAT_STATE_AUTHENTICATED: return "authenticated";
    case DCHAT_STATE_DISCONNECTED: return "disconnected";
    case DCHAT_STATE_CLOSED: return "closed";
    }
    return "unknown";
}
inline const char *to_string(dchat_kind k) noexcept {
    switch (k) {
    case DCHAT_EVENT_STATE: return "state";
    case DCHAT_EVENT_SUBSCRIPTION: return "subscription";
    case DCHAT_EVENT_SUBSCRIPTION_ERROR: return "subscription_error";
    case DCHAT_EVENT_REPLY: return "reply";
    case DCHAT_EVENT_ERROR: return "error";
    case DCHAT_EVENT_UNKNOWN: return "unknown";
    case DCHAT_EVENT_OUTBOX: return "outbox";
    case DCHAT_EVENT_PRESENCE: return "presence";
    case DCHAT_EVENT_TYPING: return "typing";
    case DCHAT_EVENT_UNREAD: return "unread";
    case DCHAT_EVENT_READ: return "read";
    case DCHAT_EVENT_TRANSFER: return "transfer";
    }
    return "unknown";
}
inline const char *to_string(dchat_sub_event e) noexcept {
    switch (e) {
    case DCHAT_SUB_NONE: return "none";
    case DCHAT_SUB_INIT: return "init";
    case DCHAT_SUB_CREATE: return "create";
    case DCHAT_SUB_UPDATE: return "update";
    case DCHAT_SUB_DELETE: return "delete";
    }
    return "unknown";
}
inline const char *to_string(dchat_close_cause c) noexcept {
    switch (c) {
    case DCHAT_CLOSE_NONE: return "none";
    case DCHAT_CLOSE_BY_USER: return "by_user";
    case DCHAT_CLOSE_GAVE_UP: return "gave_up";
    case DCHAT_CLOSE_AUTH_REFUSED: return "auth_refused";
    case DCHAT_CLOSE_FAILED: return "failed";
    }
    return "unknown";
}
/// The status name ("DCHAT_ERR_TIMEOUT").
inline const char *to_string(dchat_status s) noexcept { return dchat_status_name(s); }

/// A file on the server: a message's attachment (chat_message::file) or an upload's
/// result. Its contents are at client::asset_url(id); client::download fetches them.
struct file_info {
    std::string id;                   ///< what a message's file field holds
    std::optional<std::string> name;  ///< the name it was uploaded with (filename_download)
    std::optional<std::string> type;  ///< its MIME type
    std::optional<std::uint64_t> size; ///< its size in bytes
};

/// One chat message of a subscription event, read with the client's chat schema.
struct chat_message {
    std::string id;                     ///< primary key, as text
    std::string text;                   ///< the message text
    std::optional<std::string> author;  ///< the author's name, when known
    std::optional<std::string> date;    ///< creation date (ISO 8601), when known
    std::string key;                    ///< the client-made key (outbox), else the primary key
    std::optional<std::string> room;    ///< its room; none for the lobby
    std::optional<std::string> author_id; ///< the author's user id, when known
    bool own = false;                   ///< written by the logged-in user
    bool edited = false;                ///< edited since it was sent
    std::optional<std::string> updated; ///< when it was last edited (ISO 8601)
    std::optional<file_info> file;      ///< its attachment, with options::file_field set
};

/// The logged-in user (dchat_whoami).
struct user {
    std::string id;
    std::optional<std::string> first_name, last_name, email;
};

/// What the server told about itself after a login (dchat_server_info): read over REST
/// (`GET /server/info`) after each login and re-login; the session adapts to it.
struct server_info {
    std::string version;                                ///< e.g. "12.4.0"
    std::optional<std::int64_t> major, minor, patch;    ///< none when the version is no release number
    std::optional<std::chrono::milliseconds> heartbeat; ///< the server's ping period, when it pings
    bool heartbeat_disabled = false;                    ///< the server said it does not ping
    std::optional<std::string> auth_mode;               ///< "handshake", "public" or "strict", when told
    std::optional<bool> error_uids;                     ///< whether its errors carry the request's uid (12.4.0 on)
};

/// A user online in an entered room (dchat_online_user).
struct member {
    std::string user;                 ///< the user's id
    std::optional<std::string> name;  ///< first name, when readable
    bool typing = false;              ///< whether they type
};

/// An event, copied out of the library (see dchat_event_* in directus_chat.h).
struct event {
    dchat_kind kind = DCHAT_EVENT_ERROR;
    dchat_state state = DCHAT_STATE_CLOSED;    ///< for DCHAT_EVENT_STATE
    dchat_sub_event sub_event = DCHAT_SUB_NONE; ///< init, create, update, delete
    std::uint64_t subscription = 0;             ///< the subscription's id, for its events
    std::uint64_t request = 0;                  ///< the request id, for replies
    std::optional<std::string> code;            ///< error code; a reply with one has failed
    std::optional<std::string> text;            ///< reason of a state change or error message
    std::string json;                           ///< the data as JSON (`null` when none)
    std::vector<chat_message> messages;         ///< chat messages of init/create/update events (and an outbox echo)
    bool is_chat = false;                       ///< an event of a joined room, or a history page
    std::optional<std::string> room;            ///< a chat event's room; none for the lobby
    std::vector<std::string> deleted;           ///< keys of a joined room's deleted messages
    dchat_outbox_state outbox_state = DCHAT_OUTBOX_NONE; ///< for DCHAT_EVENT_OUTBOX: queued, sending, sent, ...
    std::uint64_t outbox_id = 0;                ///< the outbox entry's local id
    std::string outbox_key;                     ///< the outbox entry's key (same as its message's key)
    std::uint32_t outbox_attempts = 0;          ///< how often it was handed to the server
    bool outbox_retryable = false;              ///< for a failed entry: whether retrying may help
    std::uint32_t attempt = 0;                  ///< state events: the connection attempt in a row (0: open)
    std::optional<std::chrono::milliseconds> retry_in; ///< DISCONNECTED: the delay before the next attempt
    dchat_close_cause close_cause = DCHAT_CLOSE_NONE;  ///< CLOSED: by the user, gave up, auth refused, failed
    std::optional<std::string> user_id;         ///< PRESENCE, TYPING, READ: the user
    std::optional<std::string> user_name;       ///< PRESENCE, TYPING, READ: the user's first name
    bool flag = false;                          ///< PRESENCE: online; TYPING: typing
    std::uint64_t count = 0;                    ///< UNREAD: the room's unread count
    std::optional<std::string> last_read;       ///< READ: the key of the last message the user read
    std::uint64_t transfer_done = 0;            ///< DCHAT_EVENT_TRANSFER: bytes moved so far
    std::optional<std::uint64_t> transfer_total; ///< DCHAT_EVENT_TRANSFER: the file's size, when known

    /// Whether this is the client's final event (state CLOSED).
    bool is_closed() const noexcept { return kind == DCHAT_EVENT_STATE && state == DCHAT_STATE_CLOSED; }

    // ---- any field of any item, by JSON pointer (RFC 6901: "" is the item itself,
    // "/user_created/first_name" a nested field, "/tags/0" an array element). Absence is
    // not an error: nothing here throws. Views stay valid while this event or a copy of
    // it lives; copies may be read from several threads at once.

    /// How many items the event holds: the elements of its data when that is a list (a
    /// subscription event's items in message order, a read's rows, a delete's keys), else
    /// the data itself (a create's or update's item), none without data.
    std::size_t item_count() const noexcept { return raw_ ? dchat_event_item_count(raw_.get()) : 0; }
    /// The string at `pointer` in item `index`; none when absent or not a string.
    std::optional<std::string_view> item_string(std::size_t index, detail::zstring pointer) const noexcept {
        return raw_ ? detail::view(dchat_event_item_string(raw_.get(), index, pointer.c_str())) : std::nullopt;
    }
    /// The number at `pointer` in item `index`; none when absent or not a number.
    std::optional<double> item_number(std::size_t index, detail::zstring pointer) const noexcept {
        double v = 0;
        if (raw_ && dchat_event_item_number(raw_.get(), index, pointer.c_str(), &v)) return v;
        return std::nullopt;
    }
    /// The integer at `pointer` in item `index` (a key, a count); none when absent or not
    /// an integer that fits in 64 bits.
    std::optional<std::int64_t> item_int(std::size_t index, detail::zstring pointer) const noexcept {
        std::int64_t v = 0;
        if (raw_ && dchat_event_item_int(raw_.get(), index, pointer.c_str(), &v)) return v;
        return std::nullopt;
    }
    /// The boolean at `pointer` in item `index` (0 and 1 count: Directus on SQLite sends
    /// booleans that way); none when absent or not a boolean.
    std::optional<bool> item_bool(std::size_t index, detail::zstring pointer) const noexcept {
        bool v = false;
        if (raw_ && dchat_event_item_bool(raw_.get(), index, pointer.c_str(), &v)) return v;
        return std::nullopt;
    }
    /// Whether item `index` has a null at `pointer` (present, and null).
    bool item_is_null(std::size_t index, detail::zstring pointer) const noexcept {
        return raw_ && dchat_event_item_is_null(raw_.get(), index, pointer.c_str());
    }
    /// Whether item `index` has anything at `pointer` (null included).
    bool item_exists(std::size_t index, detail::zstring pointer) const noexcept {
        return raw_ && dchat_event_item_exists(raw_.get(), index, pointer.c_str());
    }
    /// How many elements the array at `pointer` in item `index` has (0: none there, or not an array).
    std::size_t item_array_len(std::size_t index, detail::zstring pointer) const noexcept {
        return raw_ ? dchat_event_item_array_len(raw_.get(), index, pointer.c_str()) : 0;
    }
    /// Whatever is at `pointer` in item `index`, as JSON text; none when absent.
    std::optional<std::string_view> item_json(std::size_t index, detail::zstring pointer) const noexcept {
        return raw_ ? detail::view(dchat_event_item_json(raw_.get(), index, pointer.c_str())) : std::nullopt;
    }

    /// The C event this one was copied from (a copy of its own; null for a
    /// default-made event), for calls this wrapper does not cover.
    const dchat_event *c_event() const noexcept { return raw_.get(); }

    /// Copies a C event (a callback's borrowed one, say): the copy keeps a copy of the
    /// C event for the item accessors.
    static event copy_of(const dchat_event *e) {
        dchat_event *copy = nullptr;
        detail::check(dchat_event_clone(e, &copy));
        return adopt(copy);
    }

    /// Takes over an event the caller owns (from dchat_poll, dchat_items_event, ...),
    /// which the last copy of the result frees.
    static event adopt(dchat_event *owned) {
        event ev;
        ev.raw_ = detail::own(owned);
        const dchat_event *e = owned;
        ev.kind = dchat_event_kind(e);
        ev.state = dchat_event_state(e);
        ev.sub_event = dchat_event_sub_event(e);
        ev.subscription = dchat_event_subscription(e);
        ev.request = dchat_event_request(e);
        ev.code = detail::opt(dchat_event_code(e));
        ev.text = detail::opt(dchat_event_text(e));
        ev.attempt = dchat_event_attempt(e);
        std::int64_t retry = dchat_event_retry_ms(e);
        if (retry >= 0) ev.retry_in = std::chrono::milliseconds(retry);
        ev.close_cause = dchat_event_close_cause(e);
        if (ev.kind == DCHAT_EVENT_TRANSFER) {
            std::int64_t total = -1;
            dchat_event_transfer(e, &ev.transfer_done, &total);
            if (total >= 0) ev.transfer_total = static_cast<std::uint64_t>(total);
        }
        const char *json = dchat_event_json(e);
        ev.json = json ? json : "null";
        size_t n = dchat_event_message_count(e);
        ev.messages.reserve(n);
        for (size_t i = 0; i < n; i++) {
            const char *id = dchat_event_message_id(e, i);
            const char *key = dchat_event_message_key(e, i);
            const char *text = dchat_event_message_text(e, i);
            ev.messages.push_back(chat_message{id ? id : "", text ? text : "", detail::opt(dchat_event_message_author(e, i)),
                                               detail::opt(dchat_event_message_date(e, i)), key ? key : "",
                                               detail::opt(dchat_event_message_room(e, i)), detail::opt(dchat_event_message_author_id(e, i)),
                                               dchat_event_message_own(e, i), dchat_event_message_edited(e, i),
                                               detail::opt(dchat_event_message_updated(e, i)), file_of(e, i)});
        }
        ev.is_chat = dchat_event_is_chat(e);
        ev.room = detail::opt(dchat_event_room(e));
        for (size_t i = 0; i < dchat_event_deleted_count(e); i++) ev.deleted.emplace_back(dchat_event_deleted_id(e, i));
        ev.outbox_state = dchat_event_outbox_state(e);
        ev.outbox_id = dchat_event_outbox_id(e);
        const char *outbox_key = dchat_event_outbox_key(e);
        ev.outbox_key = outbox_key ? outbox_key : "";
        ev.outbox_attempts = dchat_event_outbox_attempts(e);
        ev.outbox_retryable = dchat_event_outbox_retryable(e);
        ev.user_id = detail::opt(dchat_event_user_id(e));
        ev.user_name = detail::opt(dchat_event_user_name(e));
        ev.flag = dchat_event_flag(e);
        ev.count = dchat_event_count(e);
        ev.last_read = detail::opt(dchat_event_last_read(e));
        return ev;
    }

private:
    static std::optional<file_info> file_of(const dchat_event *e, std::size_t i) {
        const char *id = dchat_event_message_file_id(e, i);
        if (!id) return std::nullopt;
        file_info f{id, detail::opt(dchat_event_message_file_name(e, i)), detail::opt(dchat_event_message_file_type(e, i)), std::nullopt};
        std::uint64_t size = 0;
        if (dchat_event_message_file_size(e, i, &size)) f.size = size;
        return f;
    }

    detail::event_ptr raw_;
};

/// Settings of a client; each setter returns the options, to chain them. Unset values
/// keep the C library's defaults.
class options {
public:
    /// Connect timeout and timeout of every request (0 keeps the default).
    options &timeouts(std::chrono::milliseconds connect, std::chrono::milliseconds request) {
        connect_ms_ = static_cast<std::uint32_t>(connect.count());
        request_ms_ = static_cast<std::uint32_t>(request.count());
        return *this;
    }
    /// The chat collection, its text field and the dotted path to the author's name.
    options &chat_schema(std::string collection, std::string text_field, std::string author_path = "user_created.first_name") {
        collection_ = std::move(collection);
        text_field_ = std::move(text_field);
        author_path_ = std::move(author_path);
        has_schema_ = true;
        return *this;
    }
    /// Client-chosen uuid keys for chat messages (uuid-keyed collections).
    options &client_ids(bool enabled) { client_ids_ = enabled; return *this; }
    /// The other field names of the chat schema (see dchat_options_set_chat_fields): ""
    /// turns the room, edit date or client key off. The schema kit's client key is
    /// `client_key`; none is the default.
    options &chat_fields(std::string id_field, std::string date_field, std::string user_field, std::string room_field,
                         std::string updated_field, std::string client_key_field) {
        fields_ = {std::move(id_field), std::move(date_field), std::move(user_field), std::move(room_field), std::move(updated_field),
                   std::move(client_key_field)};
        has_fields_ = true;
        return *this;
    }
    /// How many of a room's newest messages its history holds (default 100).
    options &history_limit(std::uint32_t messages) { history_ = messages; return *this; }
    /// Presence timings (0 keeps one: defaults 10 s heartbeat, 25 s TTL) and whether a
    /// join of a room also enters its presence (dchat_options_set_presence).
    options &presence(std::chrono::milliseconds heartbeat, std::chrono::milliseconds ttl, bool on_join = false) {
        presence_ = {static_cast<std::uint32_t>(heartbeat.count()), static_cast<std::uint32_t>(ttl.count()), on_join};
        return *this;
    }
    /// The built-in trusted roots for wss://.
    options &tls_roots(dchat_tls_roots roots) { roots_ = roots; return *this; }
    /// Trust these CA certificates (PEM) in addition to the roots.
    options &ca_pem(std::string pem) { ca_pem_ = std::move(pem); has_ca_pem_ = true; return *this; }
    /// The server's WebSocket authentication mode.
    options &auth_mode(dchat_auth_mode mode) { auth_mode_ = mode; return *this; }
    /// How many events may wait for the host before the session stops reading.
    options &max_buffered_events(size_t events) { max_buffered_ = events; return *this; }
    /// How many bytes of events may wait for the host before the session stops reading.
    options &max_buffered_bytes(size_t bytes) { max_buffered_bytes_ = bytes; return *this; }
    /// The largest message accepted from the server, in bytes.
    options &max_message_size(size_t bytes) { max_message_ = bytes; return *this; }
    /// Sends through a durable outbox in this file (see dchat_options_set_outbox).
    options &outbox(std::string path) { outbox_ = std::move(path); has_outbox_ = true; return *this; }
    /// The reconnect policy: first delay, growth factor, longest delay, attempts in a
    /// row before giving up (0: never reconnect, dchat::forever: never give up).
    options &reconnect(std::chrono::milliseconds first_delay, double factor, std::chrono::milliseconds max_delay, std::int32_t max_attempts) {
        reconnect_ = reconnect_policy{static_cast<std::uint32_t>(first_delay.count()), factor, static_cast<std::uint32_t>(max_delay.count()), max_attempts};
        return *this;
    }
    /// The client's ping after this much silence (0 turns its own check off).
    options &heartbeat(std::chrono::milliseconds interval) { heartbeat_ = static_cast<std::uint32_t>(interval.count()); return *this; }
    /// How many requests may wait for the login or a reconnect.
    options &max_queued(size_t requests) { max_queued_ = requests; return *this; }
    /// The field of a message's attachment (a many-to-one to directus_files; the schema
    /// kit's is `file`): chat queries then ask for its name, type and size, and
    /// chat_message::file carries them. "" turns attachments off (the default).
    options &file_field(std::string field) { file_field_ = std::move(field); has_file_field_ = true; return *this; }
    /// The base URL of the server's REST API, where files go (default: the socket's URL
    /// over http(s) without its /websocket path).
    options &rest_url(std::string url) { rest_url_ = std::move(url); has_rest_url_ = true; return *this; }
    /// The presence and read receipts collections (defaults `presence`, `read_receipts`,
    /// the schema kit's).
    options &presence_collections(std::string presence, std::string receipts) {
        presence_collection_ = std::move(presence);
        receipts_collection_ = std::move(receipts);
        has_presence_collections_ = true;
        return *this;
    }
    /// Poll mode: `wake` runs each time the event queue goes from empty to non-empty, on
    /// the client's notifier thread (dchat_options_set_poll): it should only wake the
    /// host's loop. An exception it throws is written to stderr and dropped. A
    /// dchat::client installs it (make() cannot: the hook must outlive the options);
    /// callback mode ignores it.
    options &on_wake(std::function<void()> wake) { wake_ = std::move(wake); return *this; }
    /// The hook set with on_wake().
    const std::function<void()> &wake_hook() const noexcept { return wake_; }
    /// Whether the server's info is read after each login (on by default; see
    /// dchat_options_set_discovery).
    options &discovery(bool on) { discovery_ = on; return *this; }

    /// Makes the C options (the caller frees them with dchat_options_free).
    dchat_options *make() const {
        dchat_options *o = nullptr;
        detail::check(dchat_options_new(&o));
        std::unique_ptr<dchat_options, dchat_status (*)(dchat_options *)> guard(o, dchat_options_free);
        if (connect_ms_ || request_ms_) detail::check(dchat_options_set_timeouts(o, connect_ms_, request_ms_));
        if (has_schema_) detail::check(dchat_options_set_chat_schema(o, collection_.c_str(), text_field_.c_str(), author_path_.c_str()));
        if (client_ids_) detail::check(dchat_options_set_client_ids(o, *client_ids_));
        if (has_fields_)
            detail::check(dchat_options_set_chat_fields(o, fields_[0].c_str(), fields_[1].c_str(), fields_[2].c_str(), fields_[3].c_str(),
                                                        fields_[4].c_str(), fields_[5].c_str()));
        if (history_) detail::check(dchat_options_set_history_limit(o, history_));
        if (roots_) detail::check(dchat_options_set_tls_roots(o, *roots_));
        if (has_ca_pem_) detail::check(dchat_options_set_ca_pem(o, ca_pem_.c_str()));
        if (auth_mode_) detail::check(dchat_options_set_auth_mode(o, *auth_mode_));
        if (max_buffered_) detail::check(dchat_options_set_max_buffered_events(o, *max_buffered_));
        if (max_buffered_bytes_) detail::check(dchat_options_set_max_buffered_bytes(o, *max_buffered_bytes_));
        if (max_message_) detail::check(dchat_options_set_max_message_size(o, *max_message_));
        if (has_outbox_) detail::check(dchat_options_set_outbox(o, outbox_.c_str()));
        if (reconnect_)
            detail::check(dchat_options_set_reconnect(o, reconnect_->first_ms, reconnect_->factor, reconnect_->max_ms, reconnect_->attempts));
        if (heartbeat_) detail::check(dchat_options_set_heartbeat(o, *heartbeat_));
        if (max_queued_) detail::check(dchat_options_set_max_queued(o, *max_queued_));
        if (presence_) detail::check(dchat_options_set_presence(o, presence_->heartbeat_ms, presence_->ttl_ms, presence_->on_join));
        if (has_presence_collections_)
            detail::check(dchat_options_set_presence_collections(o, presence_collection_.c_str(), receipts_collection_.c_str()));
        if (has_file_field_) detail::check(dchat_options_set_file_field(o, file_field_.c_str()));
        if (has_rest_url_) detail::check(dchat_options_set_rest_url(o, rest_url_.c_str()));
        if (discovery_) detail::check(dchat_options_set_discovery(o, *discovery_));
        return guard.release();
    }

private:
    // Plain members rather than std::optional<std::string>: GCC 12 under ASan reports
    // a false maybe-uninitialized on copies of the latter.
    std::uint32_t connect_ms_ = 0, request_ms_ = 0;
    bool has_schema_ = false, has_ca_pem_ = false, has_outbox_ = false, has_fields_ = false;
    bool has_file_field_ = false, has_rest_url_ = false, has_presence_collections_ = false;
    std::string file_field_, rest_url_, presence_collection_, receipts_collection_;
    std::function<void()> wake_;
    std::array<std::string, 6> fields_;
    std::uint32_t history_ = 0;
    struct presence_timings {
        std::uint32_t heartbeat_ms, ttl_ms;
        bool on_join;
    };
    std::optional<presence_timings> presence_;
    std::string collection_, text_field_, author_path_, ca_pem_, outbox_;
    std::optional<bool> client_ids_, discovery_;
    std::optional<dchat_tls_roots> roots_;
    std::optional<dchat_auth_mode> auth_mode_;
    std::optional<size_t> max_buffered_, max_buffered_bytes_, max_message_, max_queued_;
    struct reconnect_policy {
        std::uint32_t first_ms;
        double factor;
        std::uint32_t max_ms;
        std::int32_t attempts;
    };
    std::optional<reconnect_policy> reconnect_;
    std::optional<std::uint32_t> heartbeat_;
};

/// For options::reconnect: never give up.
inline constexpr std::int32_t forever = -1;

/// Tag of the client constructors that return at once (dchat_connect_nowait).
struct nowait_t {
    explicit nowait_t() = default;
};
/// `dchat::client c(url, dchat::nowait);`
inline constexpr nowait_t nowait{};

/// Called with each event in callback mode, on the client's dispatcher thread.
using event_handler = std::function<void(const event &)>;
/// Called when an event handler threw, on the same thread, with the exception and the
/// event it was handling.
using callback_error_handler = std::function<void(std::exception_ptr, const event &)>;

namespace detail {
/// What a client owns: the C handle and, in callback mode, the handlers the
/// dispatcher thread calls through `user_data`. Kept at a fixed address (in a
/// shared_ptr) so the client can move.
struct core {
    dchat_client *handle = nullptr;
    event_handler on_event;
    callback_error_handler on_error;
    std::function<void()> on_wake;  // poll mode (options::on_wake)
    bool ended = false;  // poll mode: the final CLOSED event was taken

    ~core() {
        // Does not wait on the network: waits only for a callback in progress, after
        // which none runs; requests on the wire finish in the background.
        if (handle) dchat_free_nowait(handle);
    }

    static void report(const callback_error_handler &hook, std::exception_ptr ex, const event &ev) noexcept {
        try {
            if (hook) {
                hook(ex, ev);
                return;
            }
            std::rethrow_exception(ex);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "directus_chat: an event handler threw: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "directus_chat: an event handler threw a non-std exception\n");
        }
    }

    // The wake trampoline: nothing may unwind into the C library either.
    static void wake(void *user_data) noexcept {
        try {
            static_cast<core *>(user_data)->on_wake();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "directus_chat: a wake hook threw: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "directus_chat: a wake hook threw a non-std exception\n");
        }
    }

    // The trampoline: nothing may unwind into the C library.
    static void dispatch(void *user_data, const dchat_event *e) noexcept {
        auto *self = static_cast<core *>(user_data);
        event ev;
        try {
            ev = event::copy_of(e);
            self->on_event(ev);
        } catch (...) {
            report(self->on_error, std::current_exception(), ev);
        }
    }
};
}  // namespace detail

class client;

/// A live subscription; unsubscribes when destroyed (or by unsubscribe()). Does
/// nothing once its client is gone.
class subscription {
public:
    subscription() = default;
    subscription(subscription &&other) noexcept : core_(std::move(other.core_)), id_(std::exchange(other.id_, 0)) {}
    subscription &operator=(subscription &&other) noexcept {
        if (this != &other) {
            reset();
            core_ = std::move(other.core_);
            id_ = std::exchange(other.id_, 0);
        }
        return *this;
    }
    subscription(const subscription &) = delete;
    subscription &operator=(const subscription &) = delete;
    ~subscription() { reset(); }

    /// The id its events carry (event::subscription); 0 once ended.
    std::uint64_t id() const noexcept { return id_; }

    /// Ends it now and waits for the server's confirmation; no event of it is
    /// delivered after this returns. Throws on failure.
    void unsubscribe() {
        auto core = core_.lock();
        std::uint64_t id = std::exchange(id_, 0);
        core_.reset();
        if (core && id) detail::check(dchat_unsubscribe(core->handle, id));
    }

    /// Ends it without waiting; no event of it is delivered after this returns. Returns
    /// the request id of the confirmation's DCHAT_EVENT_REPLY (0 if it had ended).
    std::uint64_t unsubscribe_nowait() {
        auto core = core_.lock();
        std::uint64_t id = std::exchange(id_, 0), request = 0;
        core_.reset();
        if (core && id) detail::check(dchat_unsubscribe_nowait(core->handle, id, &request));
        return request;
    }

private:
    friend class client;
    subscription(std::weak_ptr<detail::core> core, std::uint64_t id) : core_(std::move(core)), id_(id) {}

    // Destructors neither throw nor wait on the network: the unsubscribe goes out in
    // the background, and a failed one (closed client) leaves nothing to clean up here.
    void reset() noexcept {
        auto core = core_.lock();
        if (core && id_) dchat_unsubscribe_nowait(core->handle, id_, nullptr);
        core_.reset();
        id_ = 0;
    }

    std::weak_ptr<detail::core> core_;
    std::uint64_t id_ = 0;
};

/// A connection to a Directus server (dchat_client). Movable; frees the connection when
/// destroyed without waiting on the network (waiting only for a callback in progress).
/// Every method may be called from any thread, the event handler included.
class client {
public:
    /// Poll mode: take events with poll(). Waits until the socket is open.
    explicit client(const std::string &url, const options &opts = options()) : core_(std::make_shared<detail::core>()) {
        connect(url, opts, false, false);
    }

    /// Poll mode, returning at once: the socket opens in the background, reported by
    /// state events, and retried as the reconnect policy allows (dchat_connect_nowait).
    client(const std::string &url, nowait_t, const options &opts = options()) : core_(std::make_shared<detail::core>()) {
        connect(url, opts, false, true);
    }

    /// Callback mode, returning at once (see the callback constructor and nowait_t).
    client(const std::string &url, nowait_t, event_handler on_event, const options &opts = options(), callback_error_handler on_error = {})
        : core_(std::make_shared<detail::core>()) {
        if (!on_event) throw error(DCHAT_ERR_NULL_ARGUMENT, "NULL_ARGUMENT", "the event handler is empty");
        core_->on_event = std::move(on_event);
        core_->on_error = std::move(on_error);
        connect(url, opts, true, true);
    }

    /// Callback mode: `on_event` gets every event on the dispatcher thread; if it
    /// throws, `on_error` (or stderr) gets the exception and the session goes on.
    client(const std::string &url, event_handler on_event, const options &opts = options(), callback_error_handler on_error = {})
        : core_(std::make_shared<detail::core>()) {
        if (!on_event) throw error(DCHAT_ERR_NULL_ARGUMENT, "NULL_ARGUMENT", "the event handler is empty");
        core_->on_event = std::move(on_event);
        core_->on_error = std::move(on_error);
        connect(url, opts, true, false);
    }

    client(client &&) noexcept = default;
    client &operator=(client &&) noexcept = default;
    client(const client &) = delete;
    client &operator=(const client &) = delete;
    ~client() = default;

    /// Logs in with email and password; throws dchat::error (code AUTH_FAILED, ...).
    void login(const std::string &email, const std::string &password) {
        detail::check(dchat_login(handle(), email.c_str(), password.c_str()));
    }
    /// Logs in with an access token (static token or JWT).
    void login_token(const std::string &access_token) { detail::check(dchat_login_token(handle(), access_token.c_str())); }
    /// Logs in with a refresh token.
    void login_refresh(const std::string &refresh_token) { detail::check(dchat_login_refresh(handle(), refresh_token.c_str())); }

    /// Subscribes to the chat collection (the newest 100 messages as history, first).
    subscription subscribe_chat() {
        std::uint64_t id = 0;
        detail::check(dchat_subscribe_chat(handle(), &id));
        return subscription(core_, id);
    }
    /// Subscribes to any collection, with an optional query (JSON text) and event filter.
    subscription subscribe(const std::string &collection, const std::optional<std::string> &query_json = std::nullopt,
                           const std::optional<std::string> &event_filter = std::nullopt) {
        std::uint64_t id = 0;
        detail::check(dchat_subscribe(handle(), collection.c_str(), query_json ? query_json->c_str() : nullptr,
                                      event_filter ? event_filter->c_str() : nullptr, &id));
        return subscription(core_, id);
    }

    /// Sends a chat message without waiting; the outcome arrives as a DCHAT_EVENT_REPLY
    /// event with the returned request id.
    std::uint64_t send(const std::string &text) {
        std::uint64_t id = 0;
        detail::check(dchat_send(handle(), text.c_str(), &id));
        return id;
    }

    /// Queues a chat message in the outbox (written to its file before this returns);
    /// returns its local id. Its states arrive as DCHAT_EVENT_OUTBOX events.
    std::uint64_t outbox_send(const std::string &text) {
        std::uint64_t id = 0;
        detail::check(dchat_outbox_send(handle(), text.c_str(), &id));
        return id;
    }
    /// Queues the create of one item (JSON object) through the outbox; its key goes in `key_field`.
    std::uint64_t outbox_create(const std::string &collection, const std::string &data_json, const std::string &key_field = "id") {
        std::uint64_t id = 0;
        detail::check(dchat_outbox_create(handle(), collection.c_str(), data_json.c_str(), key_field.c_str(), &id));
        return id;
    }
    /// The entries not yet over, oldest first, as a JSON array.
    std::string outbox_list() {
        char *out = nullptr;
        detail::check(dchat_outbox_list(handle(), &out));
        std::unique_ptr<char, dchat_status (*)(char *)> guard(out, dchat_string_free);
        return std::string(out);
    }
    /// Cancels an entry that never went out (or failed).
    void outbox_cancel(std::uint64_t local_id) { detail::check(dchat_outbox_cancel(handle(), local_id)); }
    /// Edits an entry that never went out (or failed): `patch_json` holds the fields to change.
    void outbox_edit(std::uint64_t local_id, const std::string &patch_json) {
        detail::check(dchat_outbox_edit(handle(), local_id, patch_json.c_str()));
    }
    /// Puts a failed entry back in the queue.
    void outbox_retry(std::uint64_t local_id) { detail::check(dchat_outbox_retry(handle(), local_id)); }

    /// An items request (`create`, `read`, `update`, `delete`); returns the server's data as JSON.
    std::string items(const std::string &collection, const std::string &action, const std::optional<std::string> &payload_json = std::nullopt) {
        char *out = nullptr;
        detail::check(dchat_items(handle(), collection.c_str(), action.c_str(), payload_json ? payload_json->c_str() : nullptr, &out));
        std::unique_ptr<char, dchat_status (*)(char *)> guard(out, dchat_string_free);
        return std::string(out);
    }

    /// Like items(), with the answer as an event (a DCHAT_EVENT_REPLY): read its rows
    /// with the item accessors (event::item_count, event::item_string, ...) instead of
    /// parsing its JSON.
    event items_event(const std::string &collection, const std::string &action, const std::optional<std::string> &payload_json = std::nullopt) {
        dchat_event *e = nullptr;
        detail::check(dchat_items_event(handle(), collection.c_str(), action.c_str(), payload_json ? payload_json->c_str() : nullptr, &e));
        return event::adopt(e);
    }

    // ---- the chat API

    /// Joins a room (none: the lobby) and waits for its history, the subscription's
    /// first event. Its events are chat events (event::is_chat, event::room).
    subscription join(const std::optional<std::string> &room = std::nullopt) {
        std::uint64_t id = 0;
        detail::check(dchat_join(handle(), room ? room->c_str() : nullptr, &id));
        return subscription(core_, id);
    }
    /// Leaves a room (none: the lobby): ends every subscription joined to it.
    void leave(const std::optional<std::string> &room = std::nullopt) { detail::check(dchat_leave(handle(), room ? room->c_str() : nullptr)); }

    /// Sends a chat message to a room without waiting; the outcome is a reply event.
    std::uint64_t send_to(const std::optional<std::string> &room, const std::string &text) {
        std::uint64_t id = 0;
        detail::check(dchat_send_to(handle(), room ? room->c_str() : nullptr, text.c_str(), &id));
        return id;
    }
    /// Sends a chat message with extra fields (a JSON object) without waiting.
    std::uint64_t send_with(const std::string &text, const std::string &extra_json) {
        std::uint64_t id = 0;
        detail::check(dchat_send_with(handle(), text.c_str(), extra_json.c_str(), &id));
        return id;
    }

    // ---- attachments

    /// Uploads the file at `path` without waiting; progress arrives as transfer events
    /// (event::transfer), the stored file as a reply event whose item is the file.
    std::uint64_t upload_nowait(const std::string &path, const std::optional<std::string> &name = std::nullopt,
                                const std::optional<std::string> &mime = std::nullopt) {
        std::uint64_t id = 0;
        detail::check(dchat_upload_nowait(handle(), path.c_str(), name ? name->c_str() : nullptr, mime ? mime->c_str() : nullptr, &id));
        return id;
    }
    /// Uploads the file at `path` and returns the stored file's id.
    std::string upload(const std::string &path, const std::optional<std::string> &name = std::nullopt,
                       const std::optional<std::string> &mime = std::nullopt) {
        char *out = nullptr;
        detail::check(dchat_upload(handle(), path.c_str(), name ? name->c_str() : nullptr, mime ? mime->c_str() : nullptr, &out));
        std::unique_ptr<char, dchat_status (*)(char *)> guard(out, dchat_string_free);
        return std::string(out);
    }
    /// Downloads a file's contents into `dest` without waiting (progress and outcome as for uploads).
    std::uint64_t download_nowait(const std::string &file_id, const std::string &dest) {
        std::uint64_t id = 0;
        detail::check(dchat_download_nowait(handle(), file_id.c_str(), dest.c_str(), &id));
        return id;
    }
    /// Downloads a file's contents into `dest`; returns the number of bytes.
    std::uint64_t download(const std::string &file_id, const std::string &dest) {
        std::uint64_t n = 0;
        detail::check(dchat_download(handle(), file_id.c_str(), dest.c_str(), &n));
        return n;
    }
    /// The URL of a file's contents.
    std::string asset_url(const std::string &file_id) {
        char *out = nullptr;
        detail::check(dchat_asset_url(handle(), file_id.c_str(), &out));
        std::unique_ptr<char, dchat_status (*)(char *)> guard(out, dchat_string_free);
        return std::string(out);
    }
    /// The URL of a file's contents (a message's attachment, say).
    std::string asset_url(const file_info &file) { return asset_url(file.id); }

    /// Up to `count` messages of a room older than `before` (a shown message's id; none:
    /// the oldest shown), oldest first; empty at the beginning of the room.
    std::vector<chat_message> load_older(const std::optional<std::string> &room, const std::optional<std::string> &before = std::nullopt,
                                         std::uint32_t count = 50) {
        dchat_event *e = nullptr;
        detail::check(dchat_load_older(handle(), room ? room->c_str() : nullptr, before ? before->c_str() : nullptr, count, &e));
        return event::adopt(e).messages;
    }

    /// Changes the text of one's own message (dchat::error with code FORBIDDEN for another's).
    void edit_message(const std::string &id, const std::string &text) { detail::check(dchat_edit_message(handle(), id.c_str(), text.c_str())); }
    /// Deletes one's own message.
    void delete_message(const std::string &id) { detail::check(dchat_delete_message(handle(), id.c_str())); }

    /// Enters a room's presence (dchat_enter): who is online and typing, read markers and
    /// the unread count arrive as PRESENCE, TYPING, READ and UNREAD events.
    void enter(const std::string &room) { detail::check(dchat_enter(handle(), room.c_str())); }
    /// Like enter() without blocking; returns the request id of its reply event.
    std::uint64_t enter_nowait(const std::string &room) {
        std::uint64_t id = 0;
        detail::check(dchat_enter_nowait(handle(), room.c_str(), &id));
        return id;
    }
    /// Exits a room's presence (deletes one's row: others see it at once).
    void exit(const std::string &room) { detail::check(dchat_exit(handle(), room.c_str())); }
    /// Like exit() without blocking; returns the request id of its reply event.
    std::uint64_t exit_nowait(const std::string &room) {
        std::uint64_t id = 0;
        detail::check(dchat_exit_nowait(handle(), room.c_str(), &id));
        return id;
    }
    /// Says whether the user types in an entered room (call it on every keystroke; never blocks).
    void set_typing(const std::string &room, bool typing) { detail::check(dchat_set_typing(handle(), room.c_str(), typing)); }
    /// Moves one's read marker in an entered room to message `id`.
    void mark_read(const std::string &room, const std::string &id) { detail::check(dchat_mark_read(handle(), room.c_str(), id.c_str())); }
    /// Like mark_read() without blocking; returns the request id of its reply event.
    std::uint64_t mark_read_nowait(const std::string &room, const std::string &id) {
        std::uint64_t req = 0;
        detail::check(dchat_mark_read_nowait(handle(), room.c_str(), id.c_str(), &req));
        return req;
    }
    /// The unread count of an entered room; none when not in it or not counted yet.
    std::optional<std::uint64_t> unread(const std::string &room) {
        std::uint64_t n = 0;
        if (dchat_unread_count(handle(), room.c_str(), &n) != DCHAT_OK) return std::nullopt;
        return n;
    }
    /// Who is online in an entered room (empty when not in it).
    std::vector<member> online(const std::string &room) {
        std::vector<member> out;
        std::size_t n = 0;
        if (dchat_online_count(handle(), room.c_str(), &n) != DCHAT_OK) return out;
        for (std::size_t i = 0; i < n; i++) {
            char *user_id = nullptr, *name = nullptr;
            bool typing = false;
            if (dchat_online_user(handle(), room.c_str(), i, &user_id, &name, &typing) != DCHAT_OK) break;
            out.push_back(member{user_id, detail::opt(name), typing});
            dchat_string_free(user_id);
            dchat_string_free(name);
        }
        return out;
    }
    /// Who has read message `id` in an entered room, as JSON (dchat_readers_json).
    std::string readers_json(const std::string &room, const std::string &id) {
        char *out = nullptr;
        detail::check(dchat_readers_json(handle(), room.c_str(), id.c_str(), &out));
        std::string text = out ? out : "[]";
        dchat_string_free(out);
        return text;
    }

    /// Asks the server who the logged-in user is.
    user whoami() {
        dchat_event *e = nullptr;
        detail::check(dchat_whoami(handle(), &e));
        return to_user(e).value_or(user{});
    }
    /// The logged-in user as far as known, without waiting.
    std::optional<user> me() {
        dchat_event *e = nullptr;
        detail::check(dchat_me(handle(), &e));
        return to_user(e);
    }

    /// What the server told about itself after the last login it could be read for,
    /// without waiting; none before, or when its REST API cannot be reached.
    std::optional<dchat::server_info> server_info() {
        dchat_event *e = nullptr;
        detail::check(dchat_server_info(handle(), &e));
        return to_server_info(e);
    }
    /// Like server_info(), after waiting (at most the request timeout) for the read
    /// that follows the last login.
    std::optional<dchat::server_info> known_server_info() {
        dchat_event *e = nullptr;
        detail::check(dchat_known_server_info(handle(), &e));
        return to_server_info(e);
    }
    /// Like known_server_info() without blocking; returns the request id of its reply
    /// event, whose `json` is the info (`{"version", "major", ..., "heartbeat",
    /// "auth_mode", "error_uids"}`) or `null`.
    std::uint64_t known_server_info_nowait() {
        std::uint64_t req = 0;
        detail::check(dchat_known_server_info_nowait(handle(), &req));
        return req;
    }

    /// Poll mode: the next event within `timeout` (0: do not wait; negative: forever),
    /// or nothing: when none came, and once the final CLOSED event was taken (then
    /// ended() is true; the normal end is not an error). Throws dchat::error
    /// (DCHAT_ERR_WRONG_MODE) in callback mode.
    std::optional<event> poll(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
        dchat_event *e = nullptr;
        dchat_status st = dchat_poll(handle(), detail_ms(timeout), &e);
        if (st == DCHAT_ERR_TIMEOUT) return std::nullopt;
        if (st == DCHAT_ERR_CLOSED) {
            core_->ended = true;
            return std::nullopt;
        }
        detail::check(st);
        event ev = event::adopt(e);
        if (ev.is_closed()) core_->ended = true;
        return ev;
    }

    /// Poll mode: up to `max` events, in order, waiting up to `timeout` for the first
    /// (0: not at all, as a frame does); empty when none came or after the end.
    std::vector<event> poll_many(std::size_t max, std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
        std::vector<event> out;
        if (max == 0) return out;
        std::vector<dchat_event *> raw(max, nullptr);
        std::size_t n = 0;
        dchat_status st = dchat_poll_many(handle(), detail_ms(timeout), raw.data(), max, &n);
        if (st == DCHAT_ERR_CLOSED) {
            core_->ended = true;
            return out;
        }
        detail::check(st);
        // Frees the events not yet taken over if a copy throws, so none leaks.
        struct untaken {
            std::vector<dchat_event *> &events;
            ~untaken() {
                for (dchat_event *e : events) dchat_event_free(e);
            }
        } rest{raw};
        out.reserve(n);
        for (std::size_t i = 0; i < n; i++) {
            out.push_back(event::adopt(std::exchange(raw[i], nullptr)));
            if (out.back().is_closed()) core_->ended = true;
        }
        return out;
    }

    /// Poll mode: whether the final CLOSED event has been taken (nothing more will come).
    bool ended() const { return core_ && core_->ended; }

    /// Poll mode: a descriptor readable while events are queued (dchat_event_fd).
    int event_fd() const {
        int fd = -1;
        detail::check(dchat_event_fd(handle(), &fd));
        return fd;
    }

    // ---- calls that return at once; each completes as one DCHAT_EVENT_REPLY with the returned id

    /// Logs in without waiting (dchat_login_nowait).
    std::uint64_t login_nowait(const std::string &email, const std::string &password) {
        std::uint64_t id = 0;
        detail::check(dchat_login_nowait(handle(), email.c_str(), password.c_str(), &id));
        return id;
    }
    /// Logs in with an access token without waiting.
    std::uint64_t login_token_nowait(const std::string &access_token) {
        std::uint64_t id = 0;
        detail::check(dchat_login_token_nowait(handle(), access_token.c_str(), &id));
        return id;
    }
    /// Logs in with a refresh token without waiting.
    std::uint64_t login_refresh_nowait(const std::string &refresh_token) {
        std::uint64_t id = 0;
        detail::check(dchat_login_refresh_nowait(handle(), refresh_token.c_str(), &id));
        return id;
    }
    /// Subscribes to the chat without waiting; the reply's request id is the
    /// subscription's id(), and the history (init) comes before it.
    subscription subscribe_chat_nowait() {
        std::uint64_t id = 0;
        detail::check(dchat_subscribe_chat_nowait(handle(), &id, nullptr));
        return subscription(core_, id);
    }
    /// Subscribes to any collection without waiting (see subscribe_chat_nowait).
    subscription subscribe_nowait(const std::string &collection, const std::optional<std::string> &query_json = std::nullopt,
                                  const std::optional<std::string> &event_filter = std::nullopt) {
        std::uint64_t id = 0;
        detail::check(dchat_subscribe_nowait(handle(), collection.c_str(), query_json ? query_json->c_str() : nullptr,
                                             event_filter ? event_filter->c_str() : nullptr, &id, nullptr));
        return subscription(core_, id);
    }
    /// An items request without waiting (dchat_items_nowait).
    std::uint64_t items_nowait(const std::string &collection, const std::string &action, const std::optional<std::string> &payload_json = std::nullopt) {
        std::uint64_t id = 0;
        detail::check(dchat_items_nowait(handle(), collection.c_str(), action.c_str(), payload_json ? payload_json->c_str() : nullptr, &id));
        return id;
    }
    /// Cancels a request: its reply comes at once with the code CANCELLED.
    void cancel(std::uint64_t request) { detail::check(dchat_cancel(handle(), request)); }
    /// Asks to close and returns at once. Returns the request id of the DCHAT_EVENT_REPLY
    /// that completes the close, just before the final CLOSED event (close_cause
    /// DCHAT_CLOSE_BY_USER); 0 if the client had already closed (no reply follows).
    std::uint64_t close_nowait() {
        std::uint64_t id = 0;
        detail::check(dchat_close_nowait(handle(), &id));
        return id;
    }
    /// Skips the wait before the next reconnect attempt.
    void reconnect_now() { detail::check(dchat_reconnect_now(handle())); }
    /// The connection state as of the last state event the session reported.
    dchat_state state() const { return dchat_client_state(handle()); }

    /// Closes the connection and waits for it: pending requests fail, the last event is
    /// state CLOSED. In callback mode, returns after the last callback returned.
    void close() { detail::check(dchat_close(handle())); }

    /// The C handle, for calls this wrapper does not cover. Owned by the client.
    dchat_client *handle() const {
        if (!core_) throw error(DCHAT_ERR_NULL_ARGUMENT, "NULL_ARGUMENT", "this client was moved from");
        return core_->handle;
    }

private:
    static std::optional<dchat::server_info> to_server_info(dchat_event *e) {
        std::unique_ptr<dchat_event, dchat_status (*)(dchat_event *)> guard(e, dchat_event_free);
        if (dchat_event_item_count(e) == 0) return std::nullopt;
        dchat::server_info info;
        const char *version = dchat_event_item_string(e, 0, "/version");
        info.version = version ? version : "";
        std::int64_t n = 0;
        if (dchat_event_item_int(e, 0, "/major", &n)) info.major = n;
        if (dchat_event_item_int(e, 0, "/minor", &n)) info.minor = n;
        if (dchat_event_item_int(e, 0, "/patch", &n)) info.patch = n;
        double seconds = 0;
        bool flag = false;
        // A number first: the boolean accessor would take a period of 1 s for `true`.
        if (dchat_event_item_number(e, 0, "/heartbeat", &seconds)) {
            info.heartbeat = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
        } else if (dchat_event_item_bool(e, 0, "/heartbeat", &flag) && !flag) {
            info.heartbeat_disabled = true;
        }
        info.auth_mode = detail::opt(dchat_event_item_string(e, 0, "/auth_mode"));
        if (dchat_event_item_bool(e, 0, "/error_uids", &flag)) info.error_uids = flag;
        return info;
    }

    static std::optional<user> to_user(dchat_event *e) {
        std::unique_ptr<dchat_event, dchat_status (*)(dchat_event *)> guard(e, dchat_event_free);
        if (dchat_event_item_count(e) == 0) return std::nullopt;
        const char *id = dchat_event_item_string(e, 0, "/id");
        return user{id ? id : "", detail::opt(dchat_event_item_string(e, 0, "/first_name")),
                    detail::opt(dchat_event_item_string(e, 0, "/last_name")), detail::opt(dchat_event_item_string(e, 0, "/email"))};
    }

    void connect(const std::string &url, const options &opts, bool callback_mode, bool nowait) {
        std::unique_ptr<dchat_options, dchat_status (*)(dchat_options *)> o(opts.make(), dchat_options_free);
        if (callback_mode) {
            detail::check(dchat_options_set_callback(o.get(), &detail::core::dispatch, core_.get()));
        } else if (opts.wake_hook()) {
            core_->on_wake = opts.wake_hook();
            detail::check(dchat_options_set_poll(o.get(), &detail::core::wake, core_.get()));
        }
        detail::check((nowait ? dchat_connect_nowait : dchat_connect)(url.c_str(), o.get(), &core_->handle));
    }

    static std::int32_t detail_ms(std::chrono::milliseconds timeout) {
        return timeout.count() < 0 ? -1 : static_cast<std::int32_t>(timeout.count() > INT32_MAX ? INT32_MAX : timeout.count());
    }

    std::shared_ptr<detail::core> core_;
};

/// Receives the library's log records (see dchat_set_log_callback): level, target
/// (module) and message, on the library's log thread ("dchat-log"). Never a secret.
using log_handler = std::function<void(dchat_log_level, const std::string &target, const std::string &message)>;

namespace detail {
struct log_slot {
    std::mutex mu;
    std::shared_ptr<log_handler> handler;

    // Never destroyed: the log thread may still call in while the program exits.
    static log_slot &get() {
        static log_slot *slot = new log_slot;
        return *slot;
    }

    static void trampoline(void *, dchat_log_level level, const char *target, const char *message) noexcept {
        std::shared_ptr<log_handler> h;
        {
            std::lock_guard<std::mutex> lock(get().mu);
            h = get().handler;
        }
        if (!h) return;
        try {
            (*h)(level, target, message);
        } catch (...) {
            // A log handler that throws loses that record, nothing else.
        }
    }
};
}  // namespace detail

/// Sets (or, with an empty handler or DCHAT_LOG_OFF, removes) the process-wide log
/// handler. An exception thrown by the handler is swallowed: logging never stops the
/// session. The handler may call back into the library.
inline void set_log_handler(log_handler handler, dchat_log_level level = DCHAT_LOG_INFO) {
    auto &slot = detail::log_slot::get();
    bool on = handler && level != DCHAT_LOG_OFF;
    {
        std::lock_guard<std::mutex> lock(slot.mu);
        slot.handler = on ? std::make_shared<log_handler>(std::move(handler)) : nullptr;
    }
    detail::check(dchat_set_log_callback(on ? &detail::log_slot::trampoline : nullptr, on ? level : DCHAT_LOG_OFF, nullptr));
}

/// The library's version text ("0.1.0").
inline std::string version() { return dchat_version(); }

}  // namespace dchat

#endif  // DIRECTUS_CHAT_HPP
