/*
 * The log callback (dchat_set_log_callback) against a real Directus: records arrive
 * during a session on the "dchat-log" thread, the level filter holds, the callback may
 * call back into the library (a blocking read, replacing itself), removing it stops the
 * records, and no record holds the password or the token. Prints
 * `chat_test log: N passed, M failed`.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directus_chat.h"

static int passed, failed;

#define CHECK(cond) do { if (cond) passed++; else { failed++; fprintf(stderr, "%s:%d: FAILED %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_OK(call) do { dchat_status st_ = (call); if (st_ == DCHAT_OK) passed++; else { char m_[512] = ""; dchat_last_error_message(m_, sizeof m_, NULL); failed++; fprintf(stderr, "%s:%d: FAILED %s: %s %s\n", __FILE__, __LINE__, #call, dchat_status_name(st_), m_); } } while (0)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing environment variable %s\n", name); exit(2); }
    return v;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct {
    pthread_mutex_t mu;
    size_t records;
    char *all;                   /* every target and message, concatenated */
    size_t len;
    int max_level;               /* the most verbose level seen */
    int wrong_thread;            /* a record came on a thread not named dchat-log */
    int main_thread;             /* a record came on the main thread */
    dchat_client *client;        /* a client for the callback to call back into */
    int reentered;               /* the callback's blocking read and self-replacement ran */
    dchat_status reentry_read, reentry_set;
} logs_t;

static pthread_t main_tid;

static void on_log(void *user_data, dchat_log_level level, const char *target, const char *message) {
    logs_t *l = user_data;
    char name[32] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    pthread_mutex_lock(&l->mu);
    l->records++;
    size_t add = strlen(target) + strlen(message) + 3;
    l->all = realloc(l->all, l->len + add + 1);
    l->len += (size_t)snprintf(l->all + l->len, add + 1, "%s: %s\n", target, message);
    if ((int)level > l->max_level) l->max_level = (int)level;
    if (strcmp(name, "dchat-log") != 0) l->wrong_thread = 1;
    if (pthread_equal(pthread_self(), main_tid)) l->main_thread = 1;
    int reenter = l->client && !l->reentered && strstr(message, "authenticated") != NULL;
    if (reenter) l->reentered = 1;
    dchat_client *c = l->client;
    pthread_mutex_unlock(&l->mu);
    if (reenter) {
        /* Back into the library from the log thread: a blocking request, then
         * replacing the log callback with itself (must not wait for itself). */
        char *json = NULL;
        l->reentry_read = dchat_items(c, "messages", "read", "{\"query\":{\"limit\":1}}", &json);
        dchat_string_free(json);
        l->reentry_set = dchat_set_log_callback(on_log, DCHAT_LOG_DEBUG, l);
    }
}

static size_t records(logs_t *l) {
    pthread_mutex_lock(&l->mu);
    size_t n = l->records;
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* Waits up to 10 s until a record contains `text`. */
static int wait_for_text(logs_t *l, const char *text) {
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&l->mu);
        int found = l->all && strstr(l->all, text) != NULL;
        pthread_mutex_unlock(&l->mu);
        if (found) return 1;
        sleep_ms(50);
    }
    return 0;
}

static dchat_client *connect_poll(const char *url) {
    dchat_client *c = NULL;
    CHECK_OK(dchat_connect(url, NULL, &c));
    return c;
}

int main(int argc, char **argv) {
    /* The summary line's name: `log`, or e.g. `logasan` for the sanitizer build. */
    const char *label = argc > 1 ? argv[1] : "log";
    main_tid = pthread_self();
    const char *url = env("DIRECTUS_WS_URL");
    const char *email = env("DCHAT_USER1_EMAIL");
    const char *password = env("DCHAT_USER1_PASSWORD");
    const char *token = env("DCHAT_USER1_TOKEN");

    logs_t l = {0};
    pthread_mutex_init(&l.mu, NULL);

    /* At WARN, a normal session (connect, login) logs nothing more verbose. */
    CHECK_OK(dchat_set_log_callback(on_log, DCHAT_LOG_WARN, &l));
    dchat_client *c = connect_poll(url);
    CHECK_OK(dchat_login(c, email, password));
    sleep_ms(300);
    CHECK(l.max_level <= DCHAT_LOG_WARN);
    dchat_free(c);

    /* At DEBUG: connect, password login, token login, subscribe, send, a refused login. */
    CHECK_OK(dchat_set_log_callback(on_log, DCHAT_LOG_DEBUG, &l));
    c = connect_poll(url);
    pthread_mutex_lock(&l.mu);
    l.client = c;
    pthread_mutex_unlock(&l.mu);
    CHECK_OK(dchat_login(c, email, password));
    CHECK(wait_for_text(&l, "authenticated"));
    CHECK_OK(dchat_login_token(c, token));
    uint64_t sub = 0, req = 0;
    CHECK_OK(dchat_subscribe_chat(c, &sub));
    CHECK_OK(dchat_send(c, "a message while logging", &req));
    /* The reply to the send, taken by poll. */
    for (int i = 0; i < 100; i++) {
        dchat_event *e = NULL;
        if (dchat_poll(c, 100, &e) != DCHAT_OK) continue;
        int done = dchat_event_kind(e) == DCHAT_EVENT_REPLY && dchat_event_request(e) == req;
        if (done) CHECK(dchat_event_code(e) == NULL);
        dchat_event_free(e);
        if (done) break;
    }
    dchat_client *bad = connect_poll(url);
    CHECK(dchat_login(bad, email, "not-the-password") == DCHAT_ERR_AUTH);
    dchat_free(bad);
    CHECK(wait_for_text(&l, "connected to ws://127.0.0.1"));
    CHECK(l.reentered);
    CHECK(l.reentry_read == DCHAT_OK);
    CHECK(l.reentry_set == DCHAT_OK);
    pthread_mutex_lock(&l.mu);
    l.client = NULL;
    pthread_mutex_unlock(&l.mu);
    dchat_free(c);

    /* Removing it: no record after the call returned, though sessions go on. */
    CHECK_OK(dchat_set_log_callback(NULL, DCHAT_LOG_OFF, NULL));
    size_t before = records(&l);
    c = connect_poll(url);
    CHECK_OK(dchat_login(c, email, password));
    dchat_free(c);
    sleep_ms(300);
    CHECK(records(&l) == before);

    pthread_mutex_lock(&l.mu);
    CHECK(l.records >= 3);
    CHECK(!l.wrong_thread);
    CHECK(!l.main_thread);
    CHECK(l.max_level == DCHAT_LOG_INFO || l.max_level == DCHAT_LOG_DEBUG);
    CHECK(strstr(l.all, password) == NULL);
    CHECK(strstr(l.all, token) == NULL);
    CHECK(strstr(l.all, "not-the-password") == NULL);
    if (failed) fprintf(stderr, "records:\n%s", l.all);
    free(l.all);
    pthread_mutex_unlock(&l.mu);

    printf("chat_test %s: %d passed, %d failed\n", label, passed, failed);
    return failed != 0;
}
