/*
 * The chat scenario through the C ABI, against a real Directus (scripts/test-c.sh
 * starts one and exports its URL and users). Run as `chat_test callback` or
 * `chat_test poll`: the same flow with events delivered by callback on the library's
 * dispatcher thread, or taken with dchat_poll on this thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "directus_chat.h"

static int passed, failed;
static const char *mode;

static void fail_here(const char *file, int line, const char *what, dchat_status st) {
    char msg[512] = "", code[64] = "";
    dchat_last_error_message(msg, sizeof msg, NULL);
    dchat_last_error_code(code, sizeof code, NULL);
    fprintf(stderr, "%s:%d: FAILED %s (status %s, code %s: %s)\n", file, line, what, dchat_status_name(st), code, msg);
    failed++;
    printf("chat_test %s: %d passed, %d failed\n", mode, passed, failed);
    exit(1);
}

#define CHECK(cond) do { if (cond) passed++; else fail_here(__FILE__, __LINE__, #cond, DCHAT_OK); } while (0)
#define CHECK_OK(call) do { dchat_status st_ = (call); if (st_ == DCHAT_OK) passed++; else fail_here(__FILE__, __LINE__, #call, st_); } while (0)
#define CHECK_STATUS(call, want) do { dchat_status st_ = (call); if (st_ == (want)) passed++; else fail_here(__FILE__, __LINE__, #call " == " #want, st_); } while (0)

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing environment variable %s\n", name); exit(2); }
    return v;
}

static void last_code(char *buf, size_t len) { dchat_last_error_code(buf, len, NULL); }

/* ---- an event copied out of the library, so both modes can share the checks ---- */

typedef struct {
    dchat_kind kind;
    dchat_state state;
    dchat_sub_event sub_event;
    uint64_t subscription, request;
    char *code, *json;
    size_t count;
    char **texts, **authors, **ids;
} ev_t;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static ev_t *copy_event(const dchat_event *e) {
    ev_t *c = calloc(1, sizeof *c);
    c->kind = dchat_event_kind(e);
    c->state = dchat_event_state(e);
    c->sub_event = dchat_event_sub_event(e);
    c->subscription = dchat_event_subscription(e);
    c->request = dchat_event_request(e);
    c->code = dup_or_null(dchat_event_code(e));
    c->json = dup_or_null(dchat_event_json(e));
    c->count = dchat_event_message_count(e);
    c->texts = calloc(c->count + 1, sizeof(char *));
    c->authors = calloc(c->count + 1, sizeof(char *));
    c->ids = calloc(c->count + 1, sizeof(char *));
    for (size_t i = 0; i < c->count; i++) {
        c->texts[i] = dup_or_null(dchat_event_message_text(e, i));
        c->authors[i] = dup_or_null(dchat_event_message_author(e, i));
        c->ids[i] = dup_or_null(dchat_event_message_id(e, i));
    }
    return c;
}

static void free_event(ev_t *c) {
    if (!c) return;
    for (size_t i = 0; i < c->count; i++) { free(c->texts[i]); free(c->authors[i]); free(c->ids[i]); }
    free(c->texts); free(c->authors); free(c->ids); free(c->code); free(c->json); free(c);
}

/* ---- one client under test: its handle, its delivered events, its mode ---- */

#define QCAP 4096
typedef struct {
    dchat_client *client;
    int callback_mode;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ev_t *queue[QCAP];
    size_t head, tail;
    long callbacks;          /* callbacks run so far */
    long wakes;              /* wake hook calls so far */
    int saw_main_thread;     /* a callback ran on the main thread: must stay 0 */
    int last_was_closed;
    const char *react_to;    /* a text that makes the callback call back into the library */
    dchat_status send_from_callback, close_from_callback;
    int reacted;
} tc_t;

static pthread_t main_thread;

static void push(tc_t *t, ev_t *e) {
    pthread_mutex_lock(&t->mu);
    t->queue[t->tail++ % QCAP] = e;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void on_event(void *user_data, const dchat_event *e) {
    tc_t *t = user_data;
    if (pthread_equal(pthread_self(), main_thread)) t->saw_main_thread = 1;
    ev_t *c = copy_event(e);
    if (t->react_to && !t->reacted && c->kind == DCHAT_EVENT_SUBSCRIPTION && c->sub_event == DCHAT_SUB_CREATE) {
        for (size_t i = 0; i < c->count; i++) {
            if (c->texts[i] && strcmp(c->texts[i], t->react_to) == 0) {
                uint64_t req;
                t->send_from_callback = dchat_send(t->client, "sent from inside a callback", &req);
                t->close_from_callback = dchat_close(t->client);
                t->reacted = 1;
            }
        }
    }
    pthread_mutex_lock(&t->mu);
    t->callbacks++;
    t->last_was_closed = c->kind == DCHAT_EVENT_STATE && c->state == DCHAT_STATE_CLOSED;
    pthread_mutex_unlock(&t->mu);
    push(t, c);
}

static void on_wake(void *user_data) {
    tc_t *t = user_data;
    pthread_mutex_lock(&t->mu);
    t->wakes++;
    pthread_mutex_unlock(&t->mu);
}

/* The next event within `ms`, or NULL. */
static ev_t *next_event(tc_t *t, int ms) {
    if (!t->callback_mode) {
        dchat_event *e = NULL;
        dchat_status st = dchat_poll(t->client, ms, &e);
        if (st == DCHAT_ERR_TIMEOUT || st == DCHAT_ERR_CLOSED) return NULL;
        if (st != DCHAT_OK) fail_here(__FILE__, __LINE__, "dchat_poll", st);
        ev_t *c = copy_event(e);
        dchat_event_free(e);
        return c;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&t->mu);
    while (t->head == t->tail) {
        if (pthread_cond_timedwait(&t->cv, &t->mu, &deadline) != 0) break;
    }
    ev_t *e = t->head != t->tail ? t->queue[t->head++ % QCAP] : NULL;
    pthread_mutex_unlock(&t->mu);
    return e;
}

/* The next event of `kind` (and, for subscription events, of `sub`), skipping others. */
static ev_t *wait_for(tc_t *t, dchat_kind kind, uint64_t sub, const char *must_contain) {
    for (;;) {
        ev_t *e = next_event(t, 15000);
        if (!e) { fprintf(stderr, "timed out waiting for event kind %d\n", kind); return NULL; }
        int match = e->kind == kind && (sub == 0 || e->subscription == sub) &&
                    (!must_contain || (e->json && strstr(e->json, must_contain)));
        if (match) return e;
        free_event(e);
    }
}

static void connect_client(tc_t *t, const char *url) {
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->callback_mode = strcmp(mode, "callback") == 0;
    dchat_options *o = NULL;
    CHECK_OK(dchat_options_new(&o));
    CHECK_OK(dchat_options_set_timeouts(o, 10000, 15000));
    if (t->callback_mode) CHECK_OK(dchat_options_set_callback(o, on_event, t));
    else CHECK_OK(dchat_options_set_poll(o, on_wake, t));
    CHECK_OK(dchat_connect(url, o, &t->client));
    CHECK_OK(dchat_options_free(o));
}

/* Sends `text` and waits for its reply event; returns the stored id as a number. */
static long send_and_confirm(tc_t *t, const char *text) {
    uint64_t req = 0;
    CHECK_OK(dchat_send(t->client, text, &req));
    CHECK(req != 0);
    for (;;) {
        ev_t *e = wait_for(t, DCHAT_EVENT_REPLY, 0, NULL);
        CHECK(e != NULL);
        if (e->request != req) { free_event(e); continue; }
        CHECK(e->code == NULL);
        CHECK(strstr(e->json, text) != NULL);
        const char *id = strstr(e->json, "\"id\":");
        CHECK(id != NULL);
        long n = strtol(id + 5, NULL, 10);
        free_event(e);
        return n;
    }
}

static int count_with_prefix(ev_t *e, const char *prefix, const char **texts_out, const char **authors_out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < e->count; i++) {
        if (e->texts[i] && strncmp(e->texts[i], prefix, strlen(prefix)) == 0) {
            if (n < max) { texts_out[n] = e->texts[i]; authors_out[n] = e->authors[i]; }
            n++;
        }
    }
    return (int)n;
}

/* Waits for a subscription event of `sub_event` whose messages include `text`. */
static void expect_message(tc_t *t, uint64_t sub, dchat_sub_event sub_event, const char *text, const char *author) {
    for (;;) {
        ev_t *e = wait_for(t, DCHAT_EVENT_SUBSCRIPTION, sub, NULL);
        CHECK(e != NULL);
        for (size_t i = 0; i < e->count; i++) {
            if (strcmp(e->texts[i], text) == 0) {
                CHECK(e->sub_event == sub_event);
                if (author) CHECK(e->authors[i] && strcmp(e->authors[i], author) == 0);
                free_event(e);
                return;
            }
        }
        free_event(e);
    }
}

static void drain_to_closed(tc_t *t) {
    if (t->callback_mode) {
        /* dchat_close returned: every callback has run, the last one saw CLOSED. */
        pthread_mutex_lock(&t->mu);
        int closed = t->last_was_closed;
        pthread_mutex_unlock(&t->mu);
        CHECK(closed);
        ev_t *e;
        while ((e = next_event(t, 0)) != NULL) free_event(e);
        return;
    }
    int saw_closed = 0;
    for (;;) {
        dchat_event *e = NULL;
        dchat_status st = dchat_poll(t->client, 5000, &e);
        if (st == DCHAT_ERR_CLOSED) break;
        CHECK_OK(st);
        if (dchat_event_kind(e) == DCHAT_EVENT_STATE && dchat_event_state(e) == DCHAT_STATE_CLOSED) saw_closed = 1;
        dchat_event_free(e);
    }
    CHECK(saw_closed);
    dchat_event *none = (dchat_event *)0x1;
    CHECK_STATUS(dchat_poll(t->client, 0, &none), DCHAT_ERR_CLOSED);
    CHECK(none == (dchat_event *)0x1);
}

static void misuse_checks(tc_t *t) {
    uint64_t sentinel = 777;
    char *json = (char *)0x1;
    CHECK_STATUS(dchat_send(NULL, "x", &sentinel), DCHAT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(dchat_send(t->client, NULL, &sentinel), DCHAT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(dchat_send(t->client, "x", NULL), DCHAT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(dchat_send(t->client, "\xff\xfe", &sentinel), DCHAT_ERR_INVALID_UTF8);
    char msg[256];
    size_t n = 0;
    CHECK_OK(dchat_last_error_message(msg, sizeof msg, &n));
    CHECK(n > 0 && strstr(msg, "UTF-8") != NULL);
    CHECK_STATUS(dchat_items(t->client, "messages", "read", "{not json", &json), DCHAT_ERR_INVALID_JSON);
    CHECK_STATUS(dchat_items(t->client, "messages", "explode", NULL, &json), DCHAT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(dchat_subscribe(t->client, "messages", "[1]", NULL, &sentinel), DCHAT_ERR_INVALID_JSON);
    CHECK_STATUS(dchat_subscribe(t->client, "messages", NULL, "sometimes", &sentinel), DCHAT_ERR_INVALID_ARGUMENT);
    CHECK(sentinel == 777);
    CHECK(json == (char *)0x1);
    /* Too small a buffer: the needed size comes back, nothing is cut silently. */
    char tiny[4];
    CHECK_STATUS(dchat_last_error_message(tiny, sizeof tiny, &n), DCHAT_ERR_BUFFER_TOO_SMALL);
    CHECK(n > sizeof tiny);
    if (t->callback_mode) {
        dchat_event *e = NULL;
        CHECK_STATUS(dchat_poll(t->client, 0, &e), DCHAT_ERR_WRONG_MODE);
        CHECK(e == NULL);
    }
    CHECK_STATUS(dchat_free(NULL), DCHAT_OK);
    CHECK_STATUS(dchat_event_free(NULL), DCHAT_OK);
    CHECK_STATUS(dchat_string_free(NULL), DCHAT_OK);
    CHECK(dchat_event_kind(NULL) == DCHAT_EVENT_ERROR);
    CHECK(dchat_event_json(NULL) == NULL);
}

int main(int argc, char **argv) {
    mode = argc > 1 ? argv[1] : "callback";
    if (strcmp(mode, "callback") != 0 && strcmp(mode, "poll") != 0) { fprintf(stderr, "usage: chat_test callback|poll\n"); return 2; }
    main_thread = pthread_self();
    const char *url = env("DIRECTUS_WS_URL");
    const char *coll = env("DCHAT_COLLECTION");
    char marker[64];
    snprintf(marker, sizeof marker, "c-%s-%ld-%d", mode, (long)time(NULL), (int)getpid());

    CHECK(dchat_version_number() == ((DCHAT_VERSION_MAJOR << 16) | (DCHAT_VERSION_MINOR << 8) | DCHAT_VERSION_PATCH));
    CHECK(strlen(dchat_version()) > 0);

    /* A wrong password is refused with AUTH_FAILED. */
    tc_t bad;
    connect_client(&bad, url);
    CHECK_STATUS(dchat_login(bad.client, env("DCHAT_USER1_EMAIL"), "wrong-password"), DCHAT_ERR_AUTH);
    char code[64];
    last_code(code, sizeof code);
    CHECK(strcmp(code, "AUTH_FAILED") == 0);
    CHECK_OK(dchat_close(bad.client)); /* the server hung up already: closing is still fine */
    drain_to_closed(&bad);
    CHECK_OK(dchat_free(bad.client));

    tc_t kevin, ada;
    connect_client(&kevin, url);
    connect_client(&ada, url);
    CHECK_OK(dchat_login(kevin.client, env("DCHAT_USER1_EMAIL"), env("DCHAT_USER1_PASSWORD")));
    CHECK_OK(dchat_login_token(ada.client, env("DCHAT_USER2_TOKEN")));
    misuse_checks(&kevin);

    /* History: three messages before anyone subscribes. */
    char h[3][128];
    long ids[3];
    for (int i = 0; i < 3; i++) {
        snprintf(h[i], sizeof h[i], "%s history %d", marker, i + 1);
        ids[i] = send_and_confirm(&kevin, h[i]);
    }

    uint64_t ks = 0, as = 0;
    CHECK_OK(dchat_subscribe_chat(kevin.client, &ks));
    char query[256];
    snprintf(query, sizeof query, "{\"fields\":[\"*\",\"user_created.first_name\"],\"sort\":\"date_created\",\"limit\":-1}");
    CHECK_OK(dchat_subscribe(ada.client, coll, query, NULL, &as));
    CHECK(ks != 0 && as != 0);
    tc_t *both[2] = {&kevin, &ada};
    uint64_t subs[2] = {ks, as};
    for (int c = 0; c < 2; c++) {
        ev_t *init = wait_for(both[c], DCHAT_EVENT_SUBSCRIPTION, subs[c], NULL);
        CHECK(init && init->sub_event == DCHAT_SUB_INIT);
        const char *texts[3], *authors[3];
        CHECK(count_with_prefix(init, marker, texts, authors, 3) == 3);
        for (int i = 0; i < 3; i++) {
            CHECK(strcmp(texts[i], h[i]) == 0);
            CHECK(authors[i] && strcmp(authors[i], env("DCHAT_USER1_NAME")) == 0);
        }
        free_event(init);
    }

    /* Ada's message reaches both with her name; Kevin's callback reacts to one text. */
    char hello[128];
    snprintf(hello, sizeof hello, "%s hello from Ada", marker);
    send_and_confirm(&ada, hello);
    expect_message(&kevin, ks, DCHAT_SUB_CREATE, hello, env("DCHAT_USER2_NAME"));
    expect_message(&ada, as, DCHAT_SUB_CREATE, hello, env("DCHAT_USER2_NAME"));

    /* Update and delete through the generic item calls. */
    char payload[256], edited[160];
    char *json = NULL;
    snprintf(edited, sizeof edited, "%s (edited)", h[0]);
    snprintf(payload, sizeof payload, "{\"id\":%ld,\"data\":{\"text\":\"%s\"}}", ids[0], edited);
    CHECK_OK(dchat_items(kevin.client, coll, "update", payload, &json));
    CHECK(json && strstr(json, "(edited)"));
    CHECK_OK(dchat_string_free(json));
    expect_message(&kevin, ks, DCHAT_SUB_UPDATE, edited, NULL);
    expect_message(&ada, as, DCHAT_SUB_UPDATE, edited, NULL);
    snprintf(payload, sizeof payload, "{\"id\":%ld}", ids[1]);
    CHECK_OK(dchat_items(kevin.client, coll, "delete", payload, &json));
    CHECK_OK(dchat_string_free(json));
    char idtext[32];
    snprintf(idtext, sizeof idtext, "%ld", ids[1]);
    for (int c = 0; c < 2; c++) {
        ev_t *del;
        for (;;) {
            del = wait_for(both[c], DCHAT_EVENT_SUBSCRIPTION, subs[c], NULL);
            CHECK(del != NULL);
            if (del->sub_event == DCHAT_SUB_DELETE && strstr(del->json, idtext)) break;
            free_event(del);
        }
        CHECK(del->count == 0);
        free_event(del);
    }

    /* A forbidden collection fails that request; the session lives on. */
    json = (char *)0x1;
    CHECK_STATUS(dchat_items(ada.client, env("DCHAT_FORBIDDEN_COLLECTION"), "read", NULL, &json), DCHAT_ERR_SERVER);
    last_code(code, sizeof code);
    CHECK(strcmp(code, "FORBIDDEN") == 0);
    CHECK(json == (char *)0x1);
    CHECK_OK(dchat_items(ada.client, coll, "read", "{\"query\":{\"limit\":1}}", &json));
    CHECK(json && json[0] == '[');
    CHECK_OK(dchat_string_free(json));

    /* After unsubscribe Ada hears nothing; Kevin still does. */
    CHECK_OK(dchat_unsubscribe(ada.client, as));
    char after[128];
    snprintf(after, sizeof after, "%s after unsubscribe", marker);
    if (kevin.callback_mode) kevin.react_to = after;
    send_and_confirm(&kevin, after);
    expect_message(&kevin, ks, DCHAT_SUB_CREATE, after, env("DCHAT_USER1_NAME"));
    sleep_ms(1500);
    ev_t *e;
    while ((e = next_event(&ada, 0)) != NULL) {
        CHECK(e->kind != DCHAT_EVENT_SUBSCRIPTION);
        free_event(e);
    }

    if (kevin.callback_mode) {
        /* The callback called back into the library: send works, closing itself does not. */
        CHECK(kevin.reacted);
        CHECK(kevin.send_from_callback == DCHAT_OK);
        CHECK(kevin.close_from_callback == DCHAT_ERR_IN_CALLBACK);
        expect_message(&kevin, ks, DCHAT_SUB_CREATE, "sent from inside a callback", env("DCHAT_USER1_NAME"));
        CHECK(!kevin.saw_main_thread && !ada.saw_main_thread);
    } else {
        CHECK(kevin.wakes > 0 && ada.wakes > 0);
    }

    /* Closing: the last event is CLOSED; closing again is fine; calls after it fail. */
    for (int c = 0; c < 2; c++) {
        CHECK_OK(dchat_close(both[c]->client));
        CHECK_OK(dchat_close(both[c]->client));
        drain_to_closed(both[c]);
        uint64_t req = 55;
        CHECK_STATUS(dchat_send(both[c]->client, "too late", &req), DCHAT_ERR_CLOSED);
        CHECK(req == 55);
        long before = both[c]->callbacks;
        CHECK_OK(dchat_free(both[c]->client));
        sleep_ms(200);
        CHECK(both[c]->callbacks == before);
        pthread_mutex_destroy(&both[c]->mu);
        pthread_cond_destroy(&both[c]->cv);
    }
    printf("chat_test %s: %d passed, %d failed\n", mode, passed, failed);
    return failed ? 1 : 0;
}
