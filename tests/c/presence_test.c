/*
 * Presence, typing and read receipts from C against a real Directus (scripts/test-c.sh
 * starts one and exports its URL and users): Ada enters a room Kevin is in and he sees
 * her online, typing (which expires by itself), her messages raise his unread count,
 * his read marker drops it to 0 and Ada sees who read her message; her exit is seen at
 * once. Poll mode, both users on this thread, every value read through accessors.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "directus_chat.h"

static int passed, failed;

static void fail_here(int line, const char *what) {
    char msg[512] = "", code[64] = "";
    dchat_last_error_message(msg, sizeof msg, NULL);
    dchat_last_error_code(code, sizeof code, NULL);
    fprintf(stderr, "presence_test.c:%d: FAILED %s (last error %s: %s)\n", line, what, code, msg);
    failed++;
    printf("chat_test presence: %d passed, %d failed\n", passed, failed);
    exit(1);
}

#define CHECK(cond) do { if (cond) passed++; else fail_here(__LINE__, #cond); } while (0)
#define CHECK_OK(call) CHECK((call) == DCHAT_OK)
#define STREQ(a, b) ((a) != NULL && (b) != NULL && strcmp((a), (b)) == 0)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing environment variable %s\n", name); exit(2); }
    return v;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static dchat_client *connect_as(const char *email, const char *password) {
    dchat_options *o = NULL;
    CHECK_OK(dchat_options_new(&o));
    CHECK_OK(dchat_options_set_timeouts(o, 10000, 15000));
    CHECK_OK(dchat_options_set_chat_fields(o, NULL, NULL, NULL, NULL, NULL, "client_key"));
    /* The default timings, set explicitly: a heartbeat every 10 s, offline after 25 s. */
    CHECK_OK(dchat_options_set_presence(o, 10000, 25000, false));
    CHECK(dchat_options_set_presence(o, 5000, 4000, false) == DCHAT_ERR_INVALID_ARGUMENT);
    CHECK_OK(dchat_options_set_presence_collections(o, NULL, NULL));
    dchat_client *c = NULL;
    CHECK_OK(dchat_connect(env("DIRECTUS_WS_URL"), o, &c));
    CHECK_OK(dchat_options_free(o));
    CHECK_OK(dchat_login(c, email, password));
    return c;
}

typedef struct {
    dchat_kind kind;
    const char *user; /* NULL: any */
    int flag;         /* -1: any */
    long long count;  /* -1: any (unread events) */
    const char *last_read;
} want;

static bool matches(const dchat_event *e, const want *w, const char *room) {
    if (dchat_event_kind(e) != w->kind) return false;
    if (!STREQ(dchat_event_room(e), room)) return false;
    if (w->user && !STREQ(dchat_event_user_id(e), w->user)) return false;
    if (w->flag >= 0 && dchat_event_flag(e) != (w->flag == 1)) return false;
    if (w->count >= 0 && dchat_event_count(e) != (uint64_t)w->count) return false;
    if (w->last_read && !STREQ(dchat_event_last_read(e), w->last_read)) return false;
    return true;
}

/* Polls `c` until an event matching `w` arrives (returned, to be freed), failing after
 * `limit` seconds. */
static dchat_event *wait_for(dchat_client *c, const char *room, want w, double limit, const char *what) {
    double start = now_s();
    for (;;) {
        dchat_event *e = NULL;
        dchat_status st = dchat_poll(c, 200, &e);
        if (st == DCHAT_OK) {
            if (matches(e, &w, room)) return e;
            dchat_event_free(e);
        } else if (st != DCHAT_ERR_TIMEOUT) {
            fail_here(__LINE__, what);
        }
        if (now_s() - start > limit) { fprintf(stderr, "no event within %.0f s: %s\n", limit, what); fail_here(__LINE__, what); }
    }
}

static bool is_reply(dchat_client *c, uint64_t req) {
    double start = now_s();
    while (now_s() - start < 15) {
        dchat_event *e = NULL;
        if (dchat_poll(c, 200, &e) != DCHAT_OK) continue;
        bool hit = dchat_event_kind(e) == DCHAT_EVENT_REPLY && dchat_event_request(e) == req;
        bool ok = hit && dchat_event_code(e) == NULL;
        dchat_event_free(e);
        if (hit) return ok;
    }
    return false;
}

static void send_to(dchat_client *c, const char *room, const char *text, char *id_out, size_t len) {
    char extra[256];
    snprintf(extra, sizeof extra, "{\"room\":\"%s\"}", room);
    uint64_t req = 0;
    CHECK_OK(dchat_send_with(c, text, extra, &req));
    double start = now_s();
    for (;;) {
        dchat_event *e = NULL;
        if (dchat_poll(c, 200, &e) == DCHAT_OK) {
            if (dchat_event_kind(e) == DCHAT_EVENT_REPLY && dchat_event_request(e) == req) {
                int64_t id = 0;
                CHECK(dchat_event_code(e) == NULL && dchat_event_item_int(e, 0, "/id", &id));
                snprintf(id_out, len, "%lld", (long long)id);
                dchat_event_free(e);
                return;
            }
            dchat_event_free(e);
        }
        if (now_s() - start > 15) fail_here(__LINE__, "send reply");
    }
}

int main(void) {
    const char *kevin_id = env("DCHAT_USER1_ID"), *ada_id = env("DCHAT_USER2_ID");
    dchat_client *kevin = connect_as(env("DCHAT_USER1_EMAIL"), env("DCHAT_USER1_PASSWORD"));
    dchat_client *ada = connect_as(env("DCHAT_USER2_EMAIL"), env("DCHAT_USER2_PASSWORD"));

    char room[96], payload[256];
    snprintf(room, sizeof room, "c-presence-%ld", (long)getpid());
    snprintf(payload, sizeof payload, "{\"data\":{\"id\":\"%s\",\"name\":\"C presence\"}}", room);
    char *made = NULL;
    CHECK_OK(dchat_items(kevin, "rooms", "create", payload, &made));
    CHECK_OK(dchat_string_free(made));

    /* Not in the room yet: errors, not guesses. */
    uint64_t n64 = 99;
    size_t n = 99;
    CHECK(dchat_unread_count(kevin, room, &n64) == DCHAT_ERR_INVALID_ARGUMENT && n64 == 99);
    CHECK(dchat_online_count(kevin, room, &n) == DCHAT_ERR_INVALID_ARGUMENT && n == 99);
    CHECK(dchat_set_typing(kevin, room, true) == DCHAT_ERR_INVALID_ARGUMENT);
    CHECK(dchat_set_typing(kevin, NULL, true) == DCHAT_ERR_NULL_ARGUMENT);
    CHECK(dchat_enter(NULL, room) == DCHAT_ERR_NULL_ARGUMENT);

    /* Kevin enters (blocking), Ada without blocking: her outcome is a reply event. */
    CHECK_OK(dchat_enter(kevin, room));
    dchat_event *e = wait_for(kevin, room, (want){DCHAT_EVENT_UNREAD, NULL, -1, 0, NULL}, 15, "Kevin's first unread count");
    dchat_event_free(e);
    double t = now_s();
    uint64_t req = 0;
    CHECK_OK(dchat_enter_nowait(ada, room, &req));
    CHECK(is_reply(ada, req));
    e = wait_for(kevin, room, (want){DCHAT_EVENT_PRESENCE, ada_id, 1, -1, NULL}, 5, "Ada online");
    CHECK(STREQ(dchat_event_user_name(e), env("DCHAT_USER2_NAME")));
    dchat_event_free(e);
    double appeared = now_s() - t;
    CHECK_OK(dchat_online_count(kevin, room, &n));
    CHECK(n == 2);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        char *user = NULL, *name = NULL;
        bool typing = true;
        CHECK_OK(dchat_online_user(kevin, room, i, &user, &name, &typing));
        if (STREQ(user, ada_id)) found = !typing && STREQ(name, env("DCHAT_USER2_NAME"));
        dchat_string_free(user);
        dchat_string_free(name);
    }
    CHECK(found);
    char *user = NULL;
    CHECK(dchat_online_user(kevin, room, 5, &user, NULL, NULL) == DCHAT_ERR_INVALID_ARGUMENT && user == NULL);
    char *json = NULL;
    CHECK_OK(dchat_online_json(kevin, room, &json));
    CHECK(strstr(json, ada_id) != NULL && strstr(json, kevin_id) != NULL);
    dchat_string_free(json);

    /* One keystroke: Kevin sees Ada typing, and it ends by itself. */
    t = now_s();
    CHECK_OK(dchat_set_typing(ada, room, true));
    e = wait_for(kevin, room, (want){DCHAT_EVENT_TYPING, ada_id, 1, -1, NULL}, 5, "Ada typing");
    dchat_event_free(e);
    double typing_shown = now_s() - t;
    e = wait_for(kevin, room, (want){DCHAT_EVENT_TYPING, ada_id, 0, -1, NULL}, 10, "Ada's typing expires");
    dchat_event_free(e);
    double typing_expired = now_s() - t;
    CHECK(typing_expired > 4.0);

    /* Ada's messages raise Kevin's unread count; his marker drops it; Ada sees it. */
    char first[32], second[32];
    send_to(ada, room, "presence one", first, sizeof first);
    e = wait_for(kevin, room, (want){DCHAT_EVENT_UNREAD, NULL, -1, 1, NULL}, 10, "unread 1");
    dchat_event_free(e);
    send_to(ada, room, "presence two", second, sizeof second);
    e = wait_for(kevin, room, (want){DCHAT_EVENT_UNREAD, NULL, -1, 2, NULL}, 10, "unread 2");
    dchat_event_free(e);
    CHECK_OK(dchat_unread_count(kevin, room, &n64));
    CHECK(n64 == 2);
    CHECK_OK(dchat_mark_read(kevin, room, second));
    e = wait_for(kevin, room, (want){DCHAT_EVENT_UNREAD, NULL, -1, 0, NULL}, 10, "unread 0");
    dchat_event_free(e);
    e = wait_for(ada, room, (want){DCHAT_EVENT_READ, kevin_id, -1, -1, second}, 10, "Ada sees Kevin's marker");
    dchat_event_free(e);
    CHECK_OK(dchat_readers_count(ada, room, second, &n));
    CHECK(n == 1);
    CHECK_OK(dchat_readers_json(ada, room, second, &json));
    CHECK(strstr(json, kevin_id) != NULL);
    dchat_string_free(json);
    /* The nowait form: an older marker counts the newer message again. */
    CHECK_OK(dchat_mark_read_nowait(kevin, room, first, &req));
    e = wait_for(kevin, room, (want){DCHAT_EVENT_UNREAD, NULL, -1, 1, NULL}, 10, "unread 1 again");
    dchat_event_free(e);
    CHECK(dchat_mark_read(kevin, "nowhere", first) == DCHAT_ERR_INVALID_ARGUMENT);

    /* A clean exit is seen at once. */
    t = now_s();
    CHECK_OK(dchat_exit(ada, room));
    e = wait_for(kevin, room, (want){DCHAT_EVENT_PRESENCE, ada_id, 0, -1, NULL}, 5, "Ada offline");
    dchat_event_free(e);
    double gone = now_s() - t;
    CHECK_OK(dchat_online_count(kevin, room, &n));
    CHECK(n == 1);
    CHECK_OK(dchat_exit_nowait(kevin, room, &req));
    CHECK(is_reply(kevin, req));
    CHECK(dchat_online_count(kevin, room, &n) == DCHAT_ERR_INVALID_ARGUMENT);

    fprintf(stderr, "presence from C: online after %.2f s, typing shown after %.2f s and expired after %.2f s, offline %.2f s after an exit\n",
            appeared, typing_shown, typing_expired, gone);
    CHECK_OK(dchat_free(ada));
    CHECK_OK(dchat_free(kevin));
    printf("chat_test presence: %d passed, %d failed\n", passed, failed);
    return 0;
}
