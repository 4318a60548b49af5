/*
 * The chat API from C against a real Directus (scripts/test-c.sh starts one and exports
 * its URL and users): who am I, what the server tells about itself, rooms, sends with extra fields, edits and deletions as
 * chat events, FORBIDDEN on another user's message, older history, and every field read
 * through the library's accessors. It includes no JSON header and links no JSON library
 * (scripts/test-c.sh checks the binary's libraries): the C user never parses JSON.
 * Poll mode, both users on this thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directus_chat.h"

static int passed, failed;

static void fail_here(int line, const char *what) {
    char msg[512] = "", code[64] = "";
    dchat_last_error_message(msg, sizeof msg, NULL);
    dchat_last_error_code(code, sizeof code, NULL);
    fprintf(stderr, "chat_api_test.c:%d: FAILED %s (last error %s: %s)\n", line, what, code, msg);
    failed++;
    printf("chat_test api: %d passed, %d failed\n", passed, failed);
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

static dchat_client *connect_as(const char *email, const char *password, uint32_t history) {
    dchat_options *o = NULL;
    CHECK_OK(dchat_options_new(&o));
    CHECK_OK(dchat_options_set_timeouts(o, 10000, 15000));
    /* The schema kit's names: the defaults plus its client key. */
    CHECK_OK(dchat_options_set_chat_fields(o, "id", "date_created", "user_created", "room", "date_updated", "client_key"));
    CHECK(dchat_options_set_chat_fields(o, "", NULL, NULL, NULL, NULL, NULL) == DCHAT_ERR_INVALID_ARGUMENT);
    CHECK_OK(dchat_options_set_history_limit(o, history));
    dchat_client *c = NULL;
    CHECK_OK(dchat_connect(env("DIRECTUS_WS_URL"), o, &c));
    CHECK_OK(dchat_options_free(o));
    CHECK_OK(dchat_login(c, email, password));
    return c;
}

typedef bool (*want_fn)(const dchat_event *e, const void *arg);

/* Polls `c` until an event `want` accepts (returned, to be freed) or 15 s pass. */
static dchat_event *wait_event(dchat_client *c, want_fn want, const void *arg, const char *what) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        dchat_event *e = NULL;
        dchat_status st = dchat_poll(c, 500, &e);
        if (st == DCHAT_OK) {
            if (want(e, arg)) return e;
            dchat_event_free(e);
        } else if (st != DCHAT_ERR_TIMEOUT) {
            fail_here(__LINE__, what);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 15) { fprintf(stderr, "no event: %s\n", what); fail_here(__LINE__, what); }
    }
}

typedef struct { uint64_t sub; dchat_sub_event kind; const char *text; } sub_want;

/* A chat event of subscription `sub` of kind `kind` that has a message with `text` (or
 * any delete event of it when `text` is NULL). */
static bool is_sub_event(const dchat_event *e, const void *arg) {
    const sub_want *w = arg;
    if (dchat_event_kind(e) != DCHAT_EVENT_SUBSCRIPTION || dchat_event_subscription(e) != w->sub || dchat_event_sub_event(e) != w->kind)
        return false;
    if (!w->text) return true;
    for (size_t i = 0; i < dchat_event_message_count(e); i++)
        if (STREQ(dchat_event_message_text(e, i), w->text)) return true;
    return false;
}

static bool is_reply(const dchat_event *e, const void *arg) {
    return dchat_event_kind(e) == DCHAT_EVENT_REPLY && dchat_event_request(e) == *(const uint64_t *)arg;
}

static size_t index_of(const dchat_event *e, const char *text) {
    for (size_t i = 0; i < dchat_event_message_count(e); i++)
        if (STREQ(dchat_event_message_text(e, i), text)) return i;
    fail_here(__LINE__, "message in event");
    return 0;
}

/* Sends through the reply path and returns the stored message's key (read with the item
 * accessors). */
static void send_and_read(dchat_client *c, const char *room, const char *text, char *id_out, size_t len) {
    char extra[256];
    snprintf(extra, sizeof extra, "{\"room\":\"%s\"}", room);
    uint64_t req = 0;
    CHECK_OK(dchat_send_with(c, text, extra, &req));
    dchat_event *r = wait_event(c, is_reply, &req, "send reply");
    CHECK(dchat_event_code(r) == NULL);
    CHECK(dchat_event_item_count(r) == 1);
    CHECK(STREQ(dchat_event_item_string(r, 0, "/text"), text));
    CHECK(STREQ(dchat_event_item_string(r, 0, "/room"), room));
    const char *key = dchat_event_item_string(r, 0, "/client_key");
    CHECK(key != NULL && strlen(key) == 36); /* the client made the key */
    int64_t id = 0;
    CHECK(dchat_event_item_int(r, 0, "/id", &id) && id > 0);
    double idf = 0;
    CHECK(dchat_event_item_number(r, 0, "/id", &idf) && (int64_t)idf == id);
    CHECK(dchat_event_item_is_null(r, 0, "/date_updated"));
    snprintf(id_out, len, "%lld", (long long)id);
    CHECK_OK(dchat_event_free(r));
}

int main(void) {
    const char *kevin_id = env("DCHAT_USER1_ID"), *ada_id = env("DCHAT_USER2_ID");
    char room[96];
    snprintf(room, sizeof room, "c-api-%ld-%ld", (long)time(NULL), (long)clock());

    dchat_client *kevin = connect_as(env("DCHAT_USER1_EMAIL"), env("DCHAT_USER1_PASSWORD"), 100);
    dchat_client *ada = connect_as(env("DCHAT_USER2_EMAIL"), env("DCHAT_USER2_PASSWORD"), 3);

    /* Who am I: not known before the chat API is used, then one item, the user. */
    dchat_event *me = NULL;
    CHECK_OK(dchat_me(kevin, &me));
    CHECK(dchat_event_item_count(me) == 0);
    dchat_event_free(me);
    CHECK_OK(dchat_whoami(kevin, &me));
    CHECK(dchat_event_item_count(me) == 1);
    CHECK(STREQ(dchat_event_item_string(me, 0, "/id"), kevin_id));
    CHECK(STREQ(dchat_event_item_string(me, 0, "/first_name"), env("DCHAT_USER1_NAME")));
    CHECK(STREQ(dchat_event_item_string(me, 0, "/email"), env("DCHAT_USER1_EMAIL")));
    CHECK(dchat_event_item_exists(me, 0, "/last_name"));
    dchat_event_free(me);
    CHECK_OK(dchat_me(kevin, &me));
    CHECK(STREQ(dchat_event_item_string(me, 0, "/id"), kevin_id));
    dchat_event_free(me);
    uint64_t who = 0;
    CHECK_OK(dchat_whoami_nowait(kevin, &who));
    me = wait_event(kevin, is_reply, &who, "who am I reply");
    CHECK(dchat_event_code(me) == NULL && dchat_event_item_count(me) == 1);
    CHECK(STREQ(dchat_event_item_string(me, 0, "/id"), kevin_id) && dchat_event_item_is_null(me, 0, "/last_name"));
    dchat_event_free(me);

    /* What the server tells about itself (GET /server/info after the login), one item. */
    dchat_event *info = NULL;
    CHECK_OK(dchat_known_server_info(kevin, &info));
    CHECK(dchat_event_item_count(info) == 1);
    const char *version = getenv("DIRECTUS_VERSION");
    CHECK(version ? STREQ(dchat_event_item_string(info, 0, "/version"), version) : dchat_event_item_string(info, 0, "/version") != NULL);
    int64_t major = 0, minor = 0;
    CHECK(dchat_event_item_int(info, 0, "/major", &major) && dchat_event_item_int(info, 0, "/minor", &minor) && major >= 10);
    double heartbeat = 0;
    CHECK(dchat_event_item_number(info, 0, "/heartbeat", &heartbeat) && heartbeat > 0);
    CHECK(STREQ(dchat_event_item_string(info, 0, "/auth_mode"), "handshake"));
    bool uids = false;
    CHECK(dchat_event_item_bool(info, 0, "/error_uids", &uids) && uids == (major > 12 || (major == 12 && minor >= 4)));
    dchat_event_free(info);
    CHECK_OK(dchat_server_info(kevin, &info));
    CHECK(dchat_event_item_count(info) == 1);
    dchat_event_free(info);
    uint64_t asked = 0;
    CHECK_OK(dchat_known_server_info_nowait(kevin, &asked));
    info = wait_event(kevin, is_reply, &asked, "server info reply");
    CHECK(dchat_event_code(info) == NULL && dchat_event_item_count(info) == 1);
    CHECK(dchat_event_item_string(info, 0, "/version") != NULL);
    dchat_event_free(info);

    /* A room, made through the items call, read back without parsing JSON. */
    char payload[256];
    snprintf(payload, sizeof payload, "{\"data\":{\"id\":\"%s\",\"name\":\"C room\"}}", room);
    dchat_event *made = NULL;
    CHECK_OK(dchat_items_event(kevin, "rooms", "create", payload, &made));
    CHECK(dchat_event_kind(made) == DCHAT_EVENT_REPLY && !dchat_event_is_chat(made));
    CHECK(STREQ(dchat_event_item_string(made, 0, "/id"), room));
    CHECK(STREQ(dchat_event_item_string(made, 0, "/name"), "C room"));
    CHECK(dchat_event_item_string(made, 0, "/missing") == NULL);
    dchat_event_free(made);

    /* Kevin writes 6 messages before Ada joins; her history holds the newest 3. */
    char ids[6][32];
    char texts[6][32];
    for (int i = 0; i < 6; i++) {
        snprintf(texts[i], sizeof texts[i], "early %d", i);
        send_and_read(kevin, room, texts[i], ids[i], sizeof ids[i]);
    }
    uint64_t kevin_sub = 0, ada_sub = 0;
    CHECK_OK(dchat_join(kevin, room, &kevin_sub));
    CHECK_OK(dchat_join(ada, room, &ada_sub));

    sub_want init = {ada_sub, DCHAT_SUB_INIT, NULL};
    dchat_event *hist = wait_event(ada, is_sub_event, &init, "ada's history");
    CHECK(dchat_event_is_chat(hist) && STREQ(dchat_event_room(hist), room));
    CHECK(dchat_event_message_count(hist) == 3 && dchat_event_item_count(hist) == 3);
    for (size_t i = 0; i < 3; i++) {
        /* Oldest first, item i is message i. */
        CHECK(STREQ(dchat_event_message_text(hist, i), texts[3 + i]));
        CHECK(STREQ(dchat_event_item_string(hist, i, "/text"), texts[3 + i]));
        CHECK(STREQ(dchat_event_message_id(hist, i), ids[3 + i]));
        CHECK(STREQ(dchat_event_message_author(hist, i), env("DCHAT_USER1_NAME")));
        CHECK(STREQ(dchat_event_message_author_id(hist, i), kevin_id));
        CHECK(STREQ(dchat_event_message_room(hist, i), room));
        CHECK(!dchat_event_message_own(hist, i) && !dchat_event_message_edited(hist, i));
        CHECK(dchat_event_message_updated(hist, i) == NULL && dchat_event_message_date(hist, i) != NULL);
    }
    CHECK(dchat_event_message_text(hist, 3) == NULL);
    dchat_event_free(hist);

    /* Older history: pages of 2 before the oldest shown, oldest first, then the end. */
    dchat_event *page = NULL;
    CHECK_OK(dchat_load_older(ada, room, NULL, 2, &page));
    CHECK(dchat_event_kind(page) == DCHAT_EVENT_REPLY && dchat_event_is_chat(page) && STREQ(dchat_event_room(page), room));
    CHECK(dchat_event_message_count(page) == 2);
    CHECK(STREQ(dchat_event_message_text(page, 0), texts[1]) && STREQ(dchat_event_message_text(page, 1), texts[2]));
    CHECK(STREQ(dchat_event_item_string(page, 1, "/user_created/first_name"), env("DCHAT_USER1_NAME")));
    dchat_event_free(page);
    uint64_t page_req = 0;
    CHECK_OK(dchat_load_older_nowait(ada, room, NULL, 2, &page_req));
    page = wait_event(ada, is_reply, &page_req, "page reply");
    CHECK(dchat_event_is_chat(page) && dchat_event_message_count(page) == 1);
    CHECK(STREQ(dchat_event_message_id(page, 0), ids[0]));
    dchat_event_free(page);
    CHECK_OK(dchat_load_older(ada, room, NULL, 2, &page));
    CHECK(dchat_event_message_count(page) == 0); /* the beginning of the room */
    dchat_event_free(page);
    CHECK_OK(dchat_load_older(ada, room, ids[4], 1, &page)); /* before a given message */
    CHECK(STREQ(dchat_event_message_id(page, 0), ids[3]));
    dchat_event_free(page);
    CHECK(dchat_load_older(ada, room, "999999999", 1, &page) == DCHAT_ERR_INVALID_ARGUMENT);

    /* A new message reaches Ada as a chat event; every field through the accessors. */
    char live_id[32];
    send_and_read(kevin, room, "live one", live_id, sizeof live_id);
    sub_want created = {ada_sub, DCHAT_SUB_CREATE, "live one"};
    dchat_event *ev = wait_event(ada, is_sub_event, &created, "create at ada");
    size_t i = index_of(ev, "live one");
    CHECK(STREQ(dchat_event_room(ev), room));
    CHECK(STREQ(dchat_event_message_id(ev, i), live_id));
    CHECK(STREQ(dchat_event_message_author(ev, i), env("DCHAT_USER1_NAME")));
    CHECK(STREQ(dchat_event_message_author_id(ev, i), kevin_id));
    CHECK(STREQ(dchat_event_message_room(ev, i), room));
    CHECK(!dchat_event_message_own(ev, i) && !dchat_event_message_edited(ev, i));
    int64_t n = 0;
    CHECK(dchat_event_item_int(ev, i, "/id", &n) && n == atoll(live_id));
    CHECK(STREQ(dchat_event_item_string(ev, i, "/user_created/id"), kevin_id));
    CHECK(dchat_event_item_string(ev, i, "/user_created/first_name") == dchat_event_item_string(ev, i, "/user_created/first_name"));
    const char *user_json = dchat_event_item_json(ev, i, "/user_created");
    CHECK(user_json && strstr(user_json, "\"first_name\"") && strstr(user_json, kevin_id));
    CHECK(dchat_event_item_is_null(ev, i, "/date_updated") && dchat_event_item_is_null(ev, i, "/file"));
    CHECK(!dchat_event_item_exists(ev, i, "/nope") && dchat_event_item_exists(ev, i, "/date_created"));
    bool b = true;
    CHECK(!dchat_event_item_bool(ev, i, "/text", &b) && b); /* not a boolean: nothing written */
    dchat_event_free(ev);
    /* Kevin's own event says it is his. */
    sub_want own = {kevin_sub, DCHAT_SUB_CREATE, "live one"};
    ev = wait_event(kevin, is_sub_event, &own, "create at kevin");
    CHECK(dchat_event_message_own(ev, index_of(ev, "live one")));
    dchat_event_free(ev);

    /* An edit reaches Ada as an edited message. */
    CHECK_OK(dchat_edit_message(kevin, live_id, "live one, edited"));
    sub_want edited = {ada_sub, DCHAT_SUB_UPDATE, "live one, edited"};
    ev = wait_event(ada, is_sub_event, &edited, "update at ada");
    i = index_of(ev, "live one, edited");
    CHECK(dchat_event_message_edited(ev, i) && dchat_event_message_updated(ev, i) != NULL);
    CHECK(STREQ(dchat_event_item_string(ev, i, "/date_updated"), dchat_event_message_updated(ev, i)));
    dchat_event_free(ev);

    /* Ada's message: Kevin may neither edit nor delete it. */
    char hers[32];
    send_and_read(ada, room, "ada's own", hers, sizeof hers);
    char code[64] = "";
    CHECK(dchat_edit_message(kevin, hers, "not yours") == DCHAT_ERR_SERVER);
    dchat_last_error_code(code, sizeof code, NULL);
    CHECK(strcmp(code, "FORBIDDEN") == 0);
    CHECK(dchat_delete_message(kevin, hers) == DCHAT_ERR_SERVER);
    dchat_last_error_code(code, sizeof code, NULL);
    CHECK(strcmp(code, "FORBIDDEN") == 0);
    uint64_t req = 0;
    CHECK_OK(dchat_edit_message_nowait(ada, hers, "ada's own, edited", &req));
    ev = wait_event(ada, is_reply, &req, "ada's edit");
    CHECK(dchat_event_code(ev) == NULL && STREQ(dchat_event_item_string(ev, 0, "/text"), "ada's own, edited"));
    dchat_event_free(ev);

    /* A deletion reaches Ada naming the message, in her room. */
    CHECK_OK(dchat_delete_message(kevin, live_id));
    sub_want deleted = {ada_sub, DCHAT_SUB_DELETE, NULL};
    ev = wait_event(ada, is_sub_event, &deleted, "delete at ada");
    CHECK(dchat_event_is_chat(ev) && STREQ(dchat_event_room(ev), room));
    CHECK(dchat_event_deleted_count(ev) == 1 && STREQ(dchat_event_deleted_id(ev, 0), live_id));
    CHECK(dchat_event_deleted_id(ev, 1) == NULL && dchat_event_message_count(ev) == 0);
    dchat_event_free(ev);
    CHECK_OK(dchat_delete_message_nowait(ada, hers, &req));
    ev = wait_event(ada, is_reply, &req, "ada's delete");
    CHECK(dchat_event_code(ev) == NULL);
    dchat_event_free(ev);

    /* A boolean from SQLite (0/1) and from PostgreSQL (true/false) reads the same. */
    char presence[256];
    snprintf(presence, sizeof presence, "{\"data\":{\"id\":\"%s:%s\",\"room\":\"%s\",\"typing\":true}}", ada_id, room, room);
    CHECK_OK(dchat_items_event(ada, "presence", "create", presence, &ev));
    b = false;
    CHECK(dchat_event_item_bool(ev, 0, "/typing", &b) && b);
    CHECK(STREQ(dchat_event_item_string(ev, 0, "/user"), ada_id));
    dchat_event_free(ev);

    /* Leaving, NULL handling. */
    CHECK_OK(dchat_leave(ada, room));
    CHECK_OK(dchat_leave_nowait(kevin, room));
    CHECK(dchat_event_room(NULL) == NULL && !dchat_event_is_chat(NULL) && dchat_event_item_count(NULL) == 0);
    CHECK(dchat_join(NULL, room, &req) == DCHAT_ERR_NULL_ARGUMENT);
    CHECK(dchat_send_with(kevin, "x", "[1]", &req) == DCHAT_ERR_INVALID_JSON);
    CHECK(dchat_send_with(kevin, "x", "{bad", &req) == DCHAT_ERR_INVALID_JSON);

    CHECK_OK(dchat_free(ada));
    CHECK_OK(dchat_free(kevin));
    printf("chat_test api: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
