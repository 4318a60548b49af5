// The chat flow through the C++ wrapper (directus_chat.hpp) against a real Directus
// (scripts/test-hosts.sh starts one and exports its URL and users): login, history,
// send, the create event, a handler that throws without ending the session, poll mode,
// RAII unsubscribe, moves, the log handler, and dchat::error with the Directus code for
// a wrong password and a forbidden read; any field by JSON pointer from subscription
// events and items replies; an attachment uploaded with progress, seen by a peer with
// its metadata and downloaded byte for byte; the outbox's cancel, edit and retry with
// each message shown once; close_nowait's reply just before CLOSED. Prints
// `chat_test cpp: N passed, M failed` (`cpp` or the label given as the first argument).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "directus_chat.hpp"

using namespace std::chrono_literals;

static int passed, failed;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (cond) passed++;                                                                    \
        else {                                                                                 \
            failed++;                                                                          \
            std::cerr << __FILE__ << ":" << __LINE__ << ": FAILED " << #cond << std::endl;     \
        }                                                                                      \
    } while (0)

static std::string env(const char *name) {
    const char *v = std::getenv(name);
    if (!v) {
        std::cerr << "missing environment variable " << name << "\n";
        std::exit(2);
    }
    return v;
}

static std::string tag() {
    static std::atomic<int> n{0};
    return "cpp " + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + " #" + std::to_string(++n);
}

/// Events handed over by the dispatcher thread, for the test thread to wait on.
struct inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<dchat::event> events;

    void push(const dchat::event &ev) {
        std::lock_guard<std::mutex> lock(mu);
        events.push_back(ev);
        cv.notify_all();
    }

    /// The first event (removing it and those before it) for which `match` holds, within 15 s.
    template <class F> std::optional<dchat::event> wait(F match) {
        std::unique_lock<std::mutex> lock(mu);
        auto deadline = std::chrono::steady_clock::now() + 15s;
        for (;;) {
            while (!events.empty()) {
                dchat::event ev = std::move(events.front());
                events.pop_front();
                if (match(ev)) return ev;
            }
            if (cv.wait_until(lock, deadline) == std::cv_status::timeout && events.empty()) return std::nullopt;
        }
    }
};

static bool has_text(const dchat::event &ev, const std::string &text) {
    for (const auto &m : ev.messages)
        if (m.text == text) return true;
    return false;
}

/// Polls `c` until an event satisfies `match`, within 15 s.
template <class F> static std::optional<dchat::event> poll_for(dchat::client &c, F match) {
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
        auto ev = c.poll(200ms);
        if (ev && match(*ev)) return ev;
    }
    return std::nullopt;
}

/// The calls that return at once, through a proxy that delays every chunk by 1 s
/// (scripts/test-hosts.sh starts it): nothing here may wait that long, while every
/// answer takes at least 2 s. Bounds this far from the delay are about waiting, not speed.
static void nowait_through_a_slow_server(const std::string &slow_url, const std::string &email, const std::string &password) {
    using clock = std::chrono::steady_clock;
    const auto quick = 300ms;
    auto timed = [](auto f) {
        auto t0 = clock::now();
        f();
        return clock::now() - t0;
    };
    const auto opts = dchat::options().timeouts(10s, 20s).reconnect(200ms, 1.5, 1000ms, dchat::forever).heartbeat(60s).max_queued(64);
    // The poll queue's wake hook, as a host's loop would use it to wake up.
    std::atomic<int> wakes{0};
    std::optional<dchat::client> c;
    CHECK(timed([&] { c.emplace(slow_url, dchat::nowait, dchat::options(opts).on_wake([&] { wakes++; })); }) < quick);
    std::uint64_t login = 0, read = 0;
    std::optional<dchat::subscription> sub;
    CHECK(timed([&] {
              login = c->login_nowait(email, password);
              sub.emplace(c->subscribe_chat_nowait());
              read = c->items_nowait("messages", "read", std::string("{\"query\":{\"limit\":1}}"));
              c->cancel(read);
          }) < quick);
    CHECK(c->state() == DCHAT_STATE_CONNECTING || c->state() == DCHAT_STATE_CONNECTED);
    bool logged_in = false, init = false, subscribed = false, cancelled = false, connected = false, slow_poll = false;
    auto deadline = clock::now() + 40s;
    while (!subscribed && clock::now() < deadline) {
        std::vector<dchat::event> evs;
        if (timed([&] { evs = c->poll_many(16); }) >= quick) slow_poll = true;
        for (const auto &ev : evs) {
            if (ev.kind == DCHAT_EVENT_STATE && ev.state == DCHAT_STATE_CONNECTED) connected = true;
            if (ev.kind == DCHAT_EVENT_REPLY && ev.request == login) logged_in = !ev.code;
            if (ev.kind == DCHAT_EVENT_REPLY && ev.request == read) cancelled = ev.code && *ev.code == "CANCELLED";
            if (ev.kind == DCHAT_EVENT_SUBSCRIPTION && ev.subscription == sub->id() && ev.sub_event == DCHAT_SUB_INIT) init = true;
            if (ev.kind == DCHAT_EVENT_REPLY && ev.request == sub->id()) subscribed = init && !ev.code;
        }
        std::this_thread::sleep_for(16ms);
    }
    CHECK(connected && logged_in && init && subscribed && cancelled);
    CHECK(wakes > 0);
    CHECK(!slow_poll);
    CHECK(c->state() == DCHAT_STATE_AUTHENTICATED);
    CHECK(std::string(dchat::to_string(c->state())) == "authenticated");
    CHECK(std::string(dchat::to_string(DCHAT_EVENT_REPLY)) == "reply" && std::string(dchat::to_string(DCHAT_SUB_INIT)) == "init");
    CHECK(std::string(dchat::to_string(DCHAT_CLOSE_GAVE_UP)) == "gave_up" && std::string(dchat::to_string(DCHAT_ERR_TIMEOUT)) == "DCHAT_ERR_TIMEOUT");
    // ~subscription unsubscribes without waiting for the server's confirmation (2 s away).
    CHECK(timed([&] { sub.reset(); }) < quick);
    // A read on the wire, then the client goes out of scope: ~client does not wait either.
    c->items_nowait("messages", "read", std::string("{\"query\":{\"limit\":1}}"));
    CHECK(timed([&] { c.reset(); }) < quick);

    // The normal end in poll mode: close_nowait, events until CLOSED, then empty polls.
    // The close is a nowait call like the others: its reply is the event just before CLOSED.
    dchat::client d(slow_url, dchat::nowait, opts);
    const std::uint64_t close_id = d.close_nowait();
    CHECK(close_id != 0);
    std::optional<dchat::event> last, before_last;
    deadline = clock::now() + 20s;
    while (!d.ended() && clock::now() < deadline)
        if (auto ev = d.poll(100ms)) {
            before_last = std::move(last);
            last = std::move(ev);
        }
    CHECK(d.ended() && last && last->is_closed() && last->close_cause == DCHAT_CLOSE_BY_USER);
    CHECK(before_last && before_last->kind == DCHAT_EVENT_REPLY && before_last->request == close_id && !before_last->code);
    CHECK(!d.poll(0ms).has_value());
    CHECK(d.close_nowait() == 0);
}

int main(int argc, char **argv) {
    // The summary line's name: `cpp`, or e.g. `asan` for the sanitizer build.
    const std::string label = argc > 1 ? argv[1] : "cpp";
    const std::string url = env("DIRECTUS_WS_URL");
    const std::string email = env("DCHAT_USER1_EMAIL"), password = env("DCHAT_USER1_PASSWORD"), name1 = env("DCHAT_USER1_NAME");
    const std::string token2 = env("DCHAT_USER2_TOKEN"), name2 = env("DCHAT_USER2_NAME");
    const std::string presence = env("DCHAT_PRESENCE_COLLECTION"), receipts = env("DCHAT_RECEIPTS_COLLECTION");
    const auto opts = dchat::options()
                          .timeouts(10s, 15s)
                          .file_field("file")
                          .rest_url(env("DIRECTUS_URL"))
                          .presence_collections(presence, receipts);

    // Log handler: records arrive, one that throws is swallowed.
    std::mutex log_mu;
    std::string logged;
    std::atomic<int> log_calls{0};
    dchat::set_log_handler(
        [&](dchat_log_level, const std::string &target, const std::string &message) {
            {
                std::lock_guard<std::mutex> lock(log_mu);
                logged += target + ": " + message + "\n";
            }
            if (++log_calls == 1) throw std::runtime_error("a log handler that throws");
        },
        DCHAT_LOG_DEBUG);

    // A wrong password: dchat::error with the status and the Directus code.
    try {
        dchat::client bad(url, opts);
        bad.login(email, "not-the-password");
        CHECK(!"login with a wrong password succeeded");
    } catch (const dchat::error &e) {
        CHECK(e.status() == DCHAT_ERR_AUTH);
        CHECK(e.code() == "AUTH_FAILED");
        CHECK(std::string(e.what()).find("not-the-password") == std::string::npos);
    }

    // Ada, in poll mode, writes a message before Kevin joins: it is in his history.
    dchat::client ada(url, opts);
    ada.login_token(token2);
    const std::string history = tag();
    std::string stored = ada.items("messages", "create", "{\"data\":{\"text\":\"" + history + "\"}}");
    CHECK(stored.find(history) != std::string::npos);

    // Kevin, in callback mode, with a handler that throws on one message.
    inbox kevin_events;
    std::atomic<int> hook_calls{0};
    std::string hook_what;
    const std::string poison = tag() + " throw";
    dchat::client kevin(
        url,
        [&](const dchat::event &ev) {
            if (ev.kind == DCHAT_EVENT_SUBSCRIPTION && has_text(ev, poison)) throw std::runtime_error("boom in user code");
            kevin_events.push(ev);
        },
        opts,
        [&](std::exception_ptr ex, const dchat::event &ev) {
            try {
                std::rethrow_exception(ex);
            } catch (const std::exception &e) {
                hook_what = e.what();
            }
            if (has_text(ev, poison)) hook_calls++;
        });
    kevin.login(email, password);
    dchat::subscription kevin_sub = kevin.subscribe_chat();
    CHECK(kevin_sub.id() != 0);
    auto init = kevin_events.wait([&](const dchat::event &ev) { return ev.kind == DCHAT_EVENT_SUBSCRIPTION && ev.subscription == kevin_sub.id(); });
    CHECK(init && init->sub_event == DCHAT_SUB_INIT);
    CHECK(init && has_text(*init, history));
    bool author_ok = false;
    if (init)
        for (const auto &m : init->messages)
            if (m.text == history) author_ok = m.author == name2 && m.date && !m.id.empty();
    CHECK(author_ok);

    // Ada subscribes too, in poll mode.
    dchat::subscription ada_sub = ada.subscribe_chat();
    auto ada_init = poll_for(ada, [&](const dchat::event &ev) { return ev.subscription == ada_sub.id() && ev.sub_event == DCHAT_SUB_INIT; });
    CHECK(ada_init.has_value());

    // Kevin sends: the reply, his create event, Ada's create event.
    const std::string hello = tag();
    std::uint64_t req = kevin.send(hello);
    CHECK(req != 0);
    auto reply = kevin_events.wait([&](const dchat::event &ev) { return ev.kind == DCHAT_EVENT_REPLY && ev.request == req; });
    CHECK(reply && !reply->code && reply->json.find(hello) != std::string::npos);
    auto created = kevin_events.wait([&](const dchat::event &ev) { return ev.sub_event == DCHAT_SUB_CREATE && has_text(ev, hello); });
    CHECK(created && created->messages.at(0).author == name1);

    // Any field by JSON pointer, from the create event (copied in the callback, read here
    // on another thread): a nested string, the key as a number, a null, what is missing.
    if (created) {
        const dchat::event &ev = *created;
        const std::string key = ev.messages.at(0).id;
        CHECK(ev.item_count() == 1 && ev.item_string(0, "/text") == hello);
        CHECK(ev.item_string(0, "/user_created/first_name") == name1);
        if (env("DCHAT_KEY_TYPE") == "integer") {
            CHECK(ev.item_int(0, "/id") && std::to_string(*ev.item_int(0, "/id")) == key);
            CHECK(ev.item_number(0, "/id") && static_cast<std::int64_t>(*ev.item_number(0, "/id")) == *ev.item_int(0, "/id"));
        } else {
            CHECK(ev.item_string(0, "/id") == key && !ev.item_int(0, "/id"));
        }
        CHECK(ev.item_json(0, "/id") && !ev.item_json(0, "/id")->empty());
        CHECK(ev.item_exists(0, "/date_updated") && ev.item_is_null(0, "/date_updated"));
        CHECK(!ev.item_exists(0, "/no/such/field") && !ev.item_is_null(0, "/no/such/field"));
        CHECK(!ev.item_string(0, "/no/such/field") && !ev.item_number(0, "/text") && !ev.item_bool(0, "/text"));
        CHECK(!ev.item_string(1, "/text") && ev.item_array_len(0, "/text") == 0);
        CHECK(ev.item_json(0, "/user_created") && ev.item_json(0, "/user_created")->front() == '{');
        const std::string pointer = "/user_created/first_name";
        dchat::event copy = ev;
        CHECK(copy.item_string(0, pointer) == name1 && copy.c_event() == ev.c_event());
        // An items reply, read the same way.
        const dchat::event rows = kevin.items_event(
            "messages", "read", "{\"query\":{\"filter\":{\"text\":{\"_eq\":\"" + hello + "\"}},\"fields\":[\"id\",\"text\",\"user_created.first_name\",\"date_updated\"]}}");
        CHECK(rows.kind == DCHAT_EVENT_REPLY && rows.item_count() == 1);
        CHECK(rows.item_string(0, "/text") == hello && rows.item_string(0, "/user_created/first_name") == name1);
        CHECK(rows.item_is_null(0, "/date_updated") && !rows.item_exists(0, "/room"));
        CHECK(rows.item_json(0, "/id") == ev.item_json(0, "/id"));
    }
    auto ada_created = poll_for(ada, [&](const dchat::event &ev) { return ev.sub_event == DCHAT_SUB_CREATE && has_text(ev, hello); });
    CHECK(ada_created.has_value());

    // A handler that throws: the hook gets it, the session goes on.
    kevin.send(poison);
    const std::string after = tag();
    kevin.send(after);
    auto after_ev = kevin_events.wait([&](const dchat::event &ev) { return ev.sub_event == DCHAT_SUB_CREATE && has_text(ev, after); });
    CHECK(after_ev.has_value());
    CHECK(hook_calls == 1);
    CHECK(hook_what == "boom in user code");
    // Blocking calls still work after the throw.
    CHECK(kevin.items("messages", "read", "{\"query\":{\"limit\":1}}").front() == '[');

    // Errors of requests: a forbidden collection.
    try {
        kevin.items("secrets", "read");
        CHECK(!"reading secrets succeeded");
    } catch (const dchat::error &e) {
        CHECK(e.status() == DCHAT_ERR_SERVER);
        CHECK(e.code() == "FORBIDDEN");
    }

    // The chat API: who am I, a room, sending there, an edit, another user's message,
    // a deletion, older history.
    const dchat::user me = kevin.whoami();
    CHECK(me.first_name == name1 && !me.id.empty());
    // What the server tells about itself, read after the login.
    const std::optional<dchat::server_info> info = kevin.known_server_info();
    CHECK(info && !info->version.empty() && info->major && *info->major >= 10);
    CHECK(info && info->auth_mode == std::string("handshake") && info->heartbeat && !info->heartbeat_disabled && info->error_uids);
    CHECK(kevin.server_info() && kevin.server_info()->version == info->version);
    CHECK(kevin.me() && kevin.me()->id == me.id);
    const std::string room = env("DCHAT_ROOM");
    dchat::subscription kevin_room = kevin.join(room);
    dchat::subscription ada_room = ada.join(room);
    CHECK(ada.me().has_value());
    const std::string in_room = tag() + " in the room";
    kevin.send_to(room, in_room);
    auto mine = kevin_events.wait([&](const dchat::event &ev) { return ev.sub_event == DCHAT_SUB_CREATE && ev.is_chat && has_text(ev, in_room); });
    CHECK(mine && mine->room == room && mine->messages.at(0).own && mine->messages.at(0).room == room);
    CHECK(mine && mine->messages.at(0).author_id == me.id && !mine->messages.at(0).edited);
    const std::string id = mine ? mine->messages.at(0).id : "";
    kevin.edit_message(id, in_room + " (changed)");
    auto edited = poll_for(ada, [&](const dchat::event &ev) { return ev.sub_event == DCHAT_SUB_UPDATE && ev.subscription == ada_room.id(); });
    CHECK(edited && edited->room == room && edited->messages.at(0).edited && !edited->messages.at(0).own && edited->messages.at(0).updated);
    const std::string hers = tag() + " hers";
    ada.send_with(hers, "{\"room\":\"" + room + "\"}");
    auto her_ev = kevin_events.wait([&](const dchat::event &ev) { return ev.sub_event == DCHAT_SUB_CREATE && ev.is_chat && has_text(ev, hers); });
    CHECK(her_ev && !her_ev->messages.at(0).own);
    try {
        kevin.edit_message(her_ev ? her_ev->messages.at(0).id : "0", "not yours");
        CHECK(!"editing another user's message succeeded");
    } catch (const dchat::error &e) {
        CHECK(e.code() == "FORBIDDEN");
    }
    kevin.delete_message(id);
    auto deleted = poll_for(ada, [&](const dchat::event &ev) { return ev.sub_event == DCHAT_SUB_DELETE && ev.subscription == ada_room.id(); });
    CHECK(deleted && deleted->deleted.size() == 1 && deleted->deleted.at(0) == id && deleted->room == room);
    const auto older = kevin.load_older(room, std::nullopt, 10);
    for (const auto &m : older) CHECK(m.room == room && m.id != id);
    kevin.leave(room);
    ada_room.unsubscribe();

    // Presence: Kevin enters the room's presence (his unread count arrives), Ada enters
    // and is seen online, typing, and gone after her exit.
    kevin.enter(room);
    auto unread_ev = kevin_events.wait([&](const dchat::event &ev) { return ev.kind == DCHAT_EVENT_UNREAD && ev.room == room; });
    CHECK(unread_ev && kevin.unread(room) == unread_ev->count);
    // His presence row, read through the collection the options named: a boolean (0 on SQLite).
    const dchat::event row = kevin.items_event(presence, "read", "{\"query\":{\"filter\":{\"user\":{\"_eq\":\"" + me.id + "\"}}}}");
    CHECK(row.item_count() >= 1 && row.item_bool(0, "/typing") == false && row.item_string(0, "/room") == room);
    ada.enter(room);
    auto online_ev = kevin_events.wait([&](const dchat::event &ev) { return ev.kind == DCHAT_EVENT_PRESENCE && ev.flag && ev.user_name == name2; });
    CHECK(online_ev && online_ev->room == room && online_ev->user_id);
    bool listed = false;
    for (const auto &m : kevin.online(room)) listed = listed || m.name == name2;
    CHECK(listed);
    ada.set_typing(room, true);
    auto typing_ev = kevin_events.wait([&](const dchat::event &ev) { return ev.kind == DCHAT_EVENT_TYPING && ev.flag && ev.user_name == name2; });
    CHECK(typing_ev.has_value() && std::string(dchat::to_string(DCHAT_EVENT_TYPING)) == "typing");
    ada.set_typing(room, false);
    ada.exit(room);
    auto gone_ev = kevin_events.wait([&](const dchat::event &ev) { return ev.kind == DCHAT_EVENT_PRESENCE && !ev.flag && ev.user_name == name2; });
    CHECK(gone_ev.has_value());
    kevin.exit(room);
    CHECK(!kevin.unread(room) && kevin.online(room).empty());
    // Presence collections that are not there: entering is refused by the server.
    {
        dchat::client elsewhere(url, dchat::options(opts).timeouts(10s, 5s).presence_collections("no_presence", "no_receipts"));
        elsewhere.login_token(token2);
        try {
            elsewhere.enter(room);
            CHECK(!"entered a presence collection that does not exist");
        } catch (const dchat::error &e) {
            // (INVALID_COLLECTION from Directus before 12.3.)
            CHECK(e.code() == "FORBIDDEN" || e.code() == "INVALID_COLLECTION");
        }
    }

    // Attachments: Ada uploads a file in poll mode with progress and sends it in a
    // message; Kevin sees the message with the file's metadata, downloads it, and the
    // bytes are the same.
    {
        const std::string stem = "/tmp/dchat-cpp-" + label + "-" + std::to_string(::getpid());
        std::string bytes(300 * 1024, '\0');
        std::uint32_t x = 12345;
        for (auto &b : bytes) b = static_cast<char>((x = x * 1103515245u + 12345u) >> 24);
        std::ofstream(stem + ".bin", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        const std::uint64_t up = ada.upload_nowait(stem + ".bin", std::string("cpp-test.bin"), std::string("application/octet-stream"));
        std::uint64_t last = 0, progress = 0;
        bool growing = true, total_ok = true;
        auto stored_file = poll_for(ada, [&](const dchat::event &ev) {
            if (ev.kind == DCHAT_EVENT_TRANSFER && ev.request == up) {
                progress++;
                growing = growing && ev.transfer_done >= last;
                total_ok = total_ok && ev.transfer_total == bytes.size();
                last = ev.transfer_done;
            }
            return ev.kind == DCHAT_EVENT_REPLY && ev.request == up;
        });
        CHECK(stored_file && !stored_file->code);
        CHECK(progress >= 2 && growing && total_ok && last == bytes.size());
        const std::string file_id = stored_file ? std::string(stored_file->item_string(0, "/id").value_or("")) : "";
        CHECK(!file_id.empty() && stored_file->item_string(0, "/filename_download") == "cpp-test.bin");
        const std::string with_file = tag() + " with a file";
        ada.send_with(with_file, "{\"file\":\"" + file_id + "\"}");
        auto got = kevin_events.wait([&](const dchat::event &ev) { return ev.sub_event == DCHAT_SUB_CREATE && has_text(ev, with_file); });
        const auto file = got ? got->messages.at(0).file : std::nullopt;
        CHECK(file && file->id == file_id && file->name == "cpp-test.bin" && file->type == "application/octet-stream");
        CHECK(file && file->size == bytes.size());
        CHECK(got && got->item_string(0, "/file/filename_download") == "cpp-test.bin");
        CHECK(file && kevin.asset_url(*file).find("/assets/" + file_id) != std::string::npos);
        CHECK(file && kevin.download(file->id, stem + ".down") == bytes.size());
        std::ifstream in(stem + ".down", std::ios::binary);
        const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(back == bytes);
        // A message without a file has none.
        CHECK(created && !created->messages.at(0).file);
        std::remove((stem + ".bin").c_str());
        std::remove((stem + ".down").c_str());
    }

    // RAII: Ada's subscription ends with its scope; no event of it arrives afterwards.
    std::uint64_t old_id = ada_sub.id();
    { dchat::subscription gone = std::move(ada_sub); }
    CHECK(ada_sub.id() == 0);
    // (Events queued in poll mode before the unsubscribe are still handed out; what
    // must not come is an event of a message sent after it.)
    const std::string late = tag();
    kevin.send(late);
    bool leaked = false;
    auto until = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < until) {
        auto ev = ada.poll(100ms);
        if (ev && ev->subscription == old_id && has_text(*ev, late)) leaked = true;
    }
    CHECK(!leaked);

    // Moves: the moved-to client works, the moved-from one says so.
    dchat::client moved = std::move(ada);
    CHECK(moved.items("messages", "read", "{\"query\":{\"limit\":1}}").front() == '[');
    try {
        ada.handle();
        CHECK(!"a moved-from client has a handle");
    } catch (const dchat::error &e) {
        CHECK(e.status() == DCHAT_ERR_NULL_ARGUMENT);
    }

    // Closing: the last event is CLOSED; polling after it is the normal end, not an error.
    moved.close();
    auto closed = poll_for(moved, [](const dchat::event &ev) { return ev.is_closed(); });
    CHECK(closed.has_value() && closed->close_cause == DCHAT_CLOSE_BY_USER);
    CHECK(moved.ended());
    try {
        CHECK(!moved.poll(0ms).has_value());
        CHECK(moved.poll_many(8).empty());
        CHECK(moved.ended());
    } catch (const dchat::error &e) {
        CHECK(!"poll after CLOSED threw");
    }
    try {
        kevin.poll(0ms);
        CHECK(!"poll in callback mode succeeded");
    } catch (const dchat::error &e) {
        CHECK(e.status() == DCHAT_ERR_WRONG_MODE);
    }

    // The outbox: local echoes, then sent, keyed alike; the file is locked for a second client.
    {
        const std::string path = "/tmp/dchat-cpp-outbox-" + label + "-" + std::to_string(::getpid()) + ".db";
        std::remove(path.c_str());
        dchat::client sender(url, dchat::options().timeouts(10s, 15s).outbox(path));
        try {
            dchat::client second(url, dchat::options().outbox(path));
            CHECK(!"a second client opened a locked outbox");
        } catch (const dchat::error &e) {
            CHECK(e.status() == DCHAT_ERR_OUTBOX);
            CHECK(e.code() == "OUTBOX_LOCKED");
        }
        // Queued before the login: the first goes to the session (where it waits for the
        // login), the others wait their turn, so one can be cancelled and one edited.
        const std::string text = tag() + " outbox", edited_text = text + " (edited)";
        std::uint64_t ids[3];
        for (auto &id : ids) id = sender.outbox_send(text);
        CHECK(ids[0] < ids[1] && ids[1] < ids[2]);
        sender.outbox_cancel(ids[1]);
        sender.outbox_edit(ids[2], "{\"text\":\"" + edited_text + "\"}");
        try {
            sender.outbox_edit(ids[2], "{\"client_key\":\"another key\"}");
            CHECK(!"an edit changed an entry's key");
        } catch (const dchat::error &e) {
            CHECK(e.status() == DCHAT_ERR_INVALID_ARGUMENT);
        }
        const std::string queued_list = sender.outbox_list();
        CHECK(queued_list.find(edited_text) != std::string::npos && queued_list.find("\"local_id\":" + std::to_string(ids[1])) == std::string::npos);
        dchat::subscription seen = sender.subscribe_chat_nowait();
        sender.login_token(token2);
        // The sender's view, one line per message key: the local echo makes it, the
        // server's create event for the same key confirms it (never a second line).
        struct line {
            std::string text;
            bool stored = false, sent = false;
        };
        std::map<std::string, line> view;
        std::map<std::uint64_t, std::string> key_of;
        int sent = 0, stored = 0, cancelled = 0, shown_twice = 0, echo_mismatch = 0;
        for (int spins = 0; (sent < 2 || stored < 2) && spins < 300; spins++) {
            auto ev = sender.poll(100ms);
            if (!ev) continue;
            if (ev->kind == DCHAT_EVENT_OUTBOX) {
                if (ev->messages.size() != 1 || ev->messages[0].key != ev->outbox_key) echo_mismatch++;
                key_of[ev->outbox_id] = ev->outbox_key;
                if (ev->outbox_state == DCHAT_OUTBOX_QUEUED) view[ev->outbox_key].text = ev->messages.at(0).text;
                if (ev->outbox_state == DCHAT_OUTBOX_CANCELLED) {
                    cancelled += ev->outbox_id == ids[1];
                    view.erase(ev->outbox_key);
                }
                if (ev->outbox_state == DCHAT_OUTBOX_SENT) {
                    sent++;
                    view[ev->outbox_key].sent = true;
                    CHECK(ev->json.find(ev->outbox_key) != std::string::npos);
                }
            } else if (ev->kind == DCHAT_EVENT_SUBSCRIPTION && ev->subscription == seen.id() &&
                       (ev->sub_event == DCHAT_SUB_CREATE || ev->sub_event == DCHAT_SUB_INIT)) {
                // (One stored before the subscription's history was read is in it.)
                for (const auto &m : ev->messages) {
                    if (m.text.compare(0, text.size(), text) != 0) continue;
                    auto it = view.find(m.key);
                    if (it == view.end() || it->second.stored) {
                        shown_twice++;
                    } else {
                        it->second.stored = true;
                        stored++;
                    }
                }
            }
        }
        CHECK(sent == 2 && stored == 2 && cancelled == 1 && shown_twice == 0 && echo_mismatch == 0);
        CHECK(view.size() == 2 && view[key_of[ids[0]]].text == text && view[key_of[ids[2]]].text == edited_text);
        for (const auto &l : view) CHECK(l.second.stored && l.second.sent);
        CHECK(sender.outbox_list() == "[]");

        // A refused entry (chat users may not write there) fails; retried, it is queued
        // again and fails again; then it is cancelled.
        const std::uint64_t refused = sender.outbox_create(env("DCHAT_FORBIDDEN_COLLECTION"), "{}", "value");
        int failures = 0, requeued = 0, gone = 0;
        for (int spins = 0; gone == 0 && spins < 600; spins++) {
            auto ev = sender.poll(100ms);
            if (!ev || ev->kind != DCHAT_EVENT_OUTBOX || ev->outbox_id != refused) continue;
            if (ev->outbox_state == DCHAT_OUTBOX_FAILED) {
                CHECK(ev->code == std::string("FORBIDDEN") && ev->outbox_retryable);
                if (++failures == 1) sender.outbox_retry(refused);
                else sender.outbox_cancel(refused);
            }
            if (ev->outbox_state == DCHAT_OUTBOX_QUEUED && failures == 1) requeued++;
            if (ev->outbox_state == DCHAT_OUTBOX_CANCELLED) gone++;
        }
        CHECK(failures == 2 && requeued == 1 && gone == 1);
        CHECK(sender.outbox_list() == "[]");
        sender.close();
        std::remove(path.c_str());
    }
    nowait_through_a_slow_server(env("DCHAT_SLOW_WS_URL"), email, password);

    // The log handler saw the session, never a secret, and survived its own throw.
    std::this_thread::sleep_for(300ms);
    dchat::set_log_handler(nullptr);
    {
        std::lock_guard<std::mutex> lock(log_mu);
        CHECK(log_calls > 1);
        CHECK(logged.find("authenticated") != std::string::npos);
        CHECK(logged.find(password) == std::string::npos);
        CHECK(logged.find(token2) == std::string::npos);
    }

    std::cout << "chat_test " << label << ": " << passed << " passed, " << failed << " failed" << std::endl;
    return failed != 0;
}
