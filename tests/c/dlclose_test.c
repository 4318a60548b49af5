/*
 * dchat_shutdown, then dlclose, twice, against a real Directus (scripts/test-c.sh
 * starts one and exports its URL and users; runs this plain, under AddressSanitizer
 * and under valgrind). Usage: dlclose_test PATH_TO_LIBDIRECTUS_CHAT_SO [LABEL].
 *
 * Each round, on a thread of its own (so that no thread-local of the library outlives
 * the round and pins it in memory): dlopen the library, set a log callback, chat with a
 * callback-mode client (login, subscribe, send, its own create event) and a poll-mode
 * client with a wake hook, check that dchat_shutdown from inside the event callback,
 * the wake hook and the log callback is DCHAT_ERR_IN_CALLBACK, call dchat_shutdown with
 * both clients open, check that each got DCHAT_STATE_CLOSED last and that no thread of
 * the library is left, free the clients, dlclose, and check that the library was really
 * unloaded. The second round loads it afresh and chats again: a thread left running in
 * unloaded code would crash the process.
 *
 * The program is not linked with the library: it uses the header for the types and
 * takes every function from dlsym. Prints `chat_test LABEL: N passed, M failed`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "directus_chat.h"

/* Under AddressSanitizer, leaks are checked before the first dlclose, while the library
 * is loaded: memory its statics still point to is no leak then, and every frame can be
 * named. After the unload, what only those statics pointed to (parking_lot's table of
 * parked threads, made once per load) looks lost, to a later check and to the one at
 * exit, which the run turns off (ASAN_OPTIONS=leak_check_at_exit=0); the valgrind run
 * checks the leaks of both rounds, with that one allocation suppressed. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define NO_LEAKS() (__lsan_do_recoverable_leak_check() == 0)
#else
#define NO_LEAKS() 1
#endif

static int passed, failed;
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;

#define CHECK(cond) check((cond), __FILE__, __LINE__, #cond)

static void check(int ok, const char *file, int line, const char *what) {
    pthread_mutex_lock(&count_mu);
    if (ok) passed++;
    else { failed++; fprintf(stderr, "%s:%d: FAILED %s\n", file, line, what); }
    pthread_mutex_unlock(&count_mu);
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing environment variable %s\n", name); exit(2); }
    return v;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the library's functions, from dlsym ---- */

#define API(X) \
    X(dchat_options_new) X(dchat_options_free) X(dchat_options_set_callback) X(dchat_options_set_poll) \
    X(dchat_connect) X(dchat_login) X(dchat_login_token) X(dchat_subscribe_chat) X(dchat_send) \
    X(dchat_poll) X(dchat_free) X(dchat_event_free) X(dchat_event_kind) X(dchat_event_state) \
    X(dchat_event_sub_event) X(dchat_event_message_count) X(dchat_event_message_text) \
    X(dchat_set_log_callback) X(dchat_shutdown) X(dchat_last_error_message) X(dchat_status_name)

typedef struct {
#define FIELD(name) __typeof__(&name) name;
    API(FIELD)
#undef FIELD
} api_t;

static api_t L; /* the functions of the round's copy of the library */

static int load(void *lib) {
#define LOAD(name) \
    if (!(L.name = (__typeof__(L.name))dlsym(lib, #name))) { fprintf(stderr, "dlsym %s: %s\n", #name, dlerror()); return 0; }
    API(LOAD)
#undef LOAD
    return 1;
}

/* Fails the check with the library's reason. */
static void check_ok(dchat_status st, const char *what) {
    if (st != DCHAT_OK) {
        char msg[512] = "";
        L.dchat_last_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "FAILED %s: %s %s\n", what, L.dchat_status_name(st), msg);
    }
    CHECK(st == DCHAT_OK);
}

/* Threads of this process whose name starts with "dchat-"; `report`: name them. */
static int library_threads(int report) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[300], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(name, sizeof name, f) && strncmp(name, "dchat-", 6) == 0) {
            n++;
            if (report) fprintf(stderr, "library thread still running: %s", name);
        }
        fclose(f);
    }
    if (d) closedir(d);
    return n;
}

/* ---- what the callbacks see ---- */

typedef struct {
    pthread_mutex_t mu;
    const char *text;           /* the message this round sends */
    int saw_own;                /* its create event arrived */
    int events, closed, after_closed;
    int shutdown_in_event;      /* what dchat_shutdown returned in the event callback */
    int shutdown_in_wake;       /* ... in the wake hook */
    int shutdown_in_log;        /* ... in the log callback */
    int wakes, logs;
} seen_t;

static void on_event(void *user_data, const dchat_event *ev) {
    seen_t *s = user_data;
    dchat_status in = DCHAT_OK;
    int first = 0;
    pthread_mutex_lock(&s->mu);
    first = s->events++ == 0;
    if (s->closed) s->after_closed++;
    pthread_mutex_unlock(&s->mu);
    if (first) in = L.dchat_shutdown(1000);
    int own = 0, closed = 0;
    if (L.dchat_event_kind(ev) == DCHAT_EVENT_SUBSCRIPTION && L.dchat_event_sub_event(ev) == DCHAT_SUB_CREATE) {
        for (size_t i = 0; i < L.dchat_event_message_count(ev); i++) {
            const char *t = L.dchat_event_message_text(ev, i);
            if (t && strcmp(t, s->text) == 0) own = 1;
        }
    }
    closed = L.dchat_event_kind(ev) == DCHAT_EVENT_STATE && L.dchat_event_state(ev) == DCHAT_STATE_CLOSED;
    pthread_mutex_lock(&s->mu);
    if (first) s->shutdown_in_event = (int)in;
    if (own) s->saw_own = 1;
    if (closed) s->closed++;
    pthread_mutex_unlock(&s->mu);
}

static void on_wake(void *user_data) {
    seen_t *s = user_data;
    pthread_mutex_lock(&s->mu);
    int first = s->wakes++ == 0;
    pthread_mutex_unlock(&s->mu);
    if (first) {
        dchat_status st = L.dchat_shutdown(1000);
        pthread_mutex_lock(&s->mu);
        s->shutdown_in_wake = (int)st;
        pthread_mutex_unlock(&s->mu);
    }
}

/* Set once dchat_shutdown returned: a record after it restarts the log thread, and the
 * test says which one. */
static atomic_int after_shutdown;

static void on_log(void *user_data, dchat_log_level level, const char *target, const char *message) {
    (void)level;
    if (atomic_load(&after_shutdown)) fprintf(stderr, "a record after the shutdown: %s: %s\n", target, message);
    seen_t *s = user_data;
    pthread_mutex_lock(&s->mu);
    int first = s->logs++ == 0;
    pthread_mutex_unlock(&s->mu);
    if (first) {
        dchat_status st = L.dchat_shutdown(1000);
        pthread_mutex_lock(&s->mu);
        s->shutdown_in_log = (int)st;
        pthread_mutex_unlock(&s->mu);
    }
}

static int locked_int(seen_t *s, int *field) {
    pthread_mutex_lock(&s->mu);
    int v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* ---- one round ---- */

typedef struct {
    const char *lib_path;
    int round;
} round_t;

static void *run_round(void *arg) {
    round_t *r = arg;
    const char *url = env("DIRECTUS_WS_URL");
    void *lib = dlopen(r->lib_path, RTLD_NOW | RTLD_LOCAL);
    CHECK(lib != NULL);
    if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return NULL; }
    if (!load(lib)) { CHECK(0); return NULL; }

    char text[128];
    snprintf(text, sizeof text, "dlclose test %d round %d", (int)getpid(), r->round);
    seen_t cb = {.mu = PTHREAD_MUTEX_INITIALIZER, .text = text};
    seen_t poll = {.mu = PTHREAD_MUTEX_INITIALIZER, .text = text};
    seen_t logs = {.mu = PTHREAD_MUTEX_INITIALIZER};

    atomic_store(&after_shutdown, 0);
    check_ok(L.dchat_set_log_callback(on_log, DCHAT_LOG_INFO, &logs), "set log callback");

    /* Callback mode: login, subscribe, send, see the own message arrive. */
    dchat_options *o = NULL;
    dchat_client *a = NULL, *b = NULL;
    check_ok(L.dchat_options_new(&o), "options");
    check_ok(L.dchat_options_set_callback(o, on_event, &cb), "set callback");
    check_ok(L.dchat_connect(url, o, &a), "connect (callback mode)");
    L.dchat_options_free(o);
    if (!a) return lib;
    check_ok(L.dchat_login(a, env("DCHAT_USER1_EMAIL"), env("DCHAT_USER1_PASSWORD")), "login");
    uint64_t sub = 0, req = 0;
    check_ok(L.dchat_subscribe_chat(a, &sub), "subscribe");

    /* Poll mode with a wake hook, subscribed too. */
    check_ok(L.dchat_options_new(&o), "options");
    check_ok(L.dchat_options_set_poll(o, on_wake, &poll), "set poll");
    check_ok(L.dchat_connect(url, o, &b), "connect (poll mode)");
    L.dchat_options_free(o);
    if (!b) return lib;
    check_ok(L.dchat_login_token(b, env("DCHAT_USER2_TOKEN")), "login with token");
    uint64_t sub_b = 0;
    check_ok(L.dchat_subscribe_chat(b, &sub_b), "subscribe (poll)");

    check_ok(L.dchat_send(a, text, &req), "send");
    for (int i = 0; i < 300 && !locked_int(&cb, &cb.saw_own); i++) sleep_ms(50);
    CHECK(locked_int(&cb, &cb.saw_own));
    for (int i = 0; i < 300 && !poll.saw_own; i++) {
        dchat_event *ev = NULL;
        if (L.dchat_poll(b, 50, &ev) != DCHAT_OK) continue;
        if (L.dchat_event_kind(ev) == DCHAT_EVENT_SUBSCRIPTION && L.dchat_event_sub_event(ev) == DCHAT_SUB_CREATE) {
            for (size_t j = 0; j < L.dchat_event_message_count(ev); j++) {
                const char *t = L.dchat_event_message_text(ev, j);
                if (t && strcmp(t, text) == 0) poll.saw_own = 1;
            }
        }
        L.dchat_event_free(ev);
    }
    CHECK(poll.saw_own);
    for (int i = 0; i < 100 && !locked_int(&logs, &logs.logs); i++) sleep_ms(50);
    CHECK(locked_int(&logs, &logs.logs) > 0);

    /* A shutdown from inside a library thread would wait for itself. */
    CHECK(locked_int(&cb, &cb.shutdown_in_event) == DCHAT_ERR_IN_CALLBACK);
    CHECK(locked_int(&poll, &poll.shutdown_in_wake) == DCHAT_ERR_IN_CALLBACK);
    CHECK(locked_int(&logs, &logs.shutdown_in_log) == DCHAT_ERR_IN_CALLBACK);

    /* The shutdown, with both clients open and the log callback set. */
    CHECK(library_threads(0) > 0);
    check_ok(L.dchat_shutdown(20000), "dchat_shutdown");
    atomic_store(&after_shutdown, 1);
    CHECK(library_threads(1) == 0);
    /* The callback client's last callback was CLOSED, once, and nothing came after it. */
    CHECK(cb.closed == 1 && cb.after_closed == 0);
    /* The poll client: events up to CLOSED, then DCHAT_ERR_CLOSED. */
    int last_closed = 0;
    dchat_status st;
    dchat_event *ev = NULL;
    while ((st = L.dchat_poll(b, 0, &ev)) == DCHAT_OK) {
        last_closed = L.dchat_event_kind(ev) == DCHAT_EVENT_STATE && L.dchat_event_state(ev) == DCHAT_STATE_CLOSED;
        L.dchat_event_free(ev);
    }
    CHECK(st == DCHAT_ERR_CLOSED && last_closed);
    /* Their handles stay valid; freeing them starts nothing. */
    CHECK(L.dchat_send(a, "after shutdown", &req) == DCHAT_ERR_CLOSED);
    check_ok(L.dchat_free(a), "free a");
    check_ok(L.dchat_free(b), "free b");
    CHECK(library_threads(1) == 0);
    /* The log callback outlives a shutdown (the thread restarts with the next record);
     * removing it releases the last of the library's memory before the unload. */
    check_ok(L.dchat_set_log_callback(NULL, DCHAT_LOG_OFF, NULL), "remove the log callback");
    CHECK(library_threads(1) == 0);
    return lib;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s LIBRARY [LABEL]\n", argv[0]); return 2; }
    const char *label = argc > 2 ? argv[2] : "dlclose";
    for (int round = 1; round <= 2; round++) {
        round_t r = {argv[1], round};
        pthread_t t;
        void *lib = NULL;
        pthread_create(&t, NULL, run_round, &r);
        pthread_join(t, &lib);
        if (!lib) break;
        if (round == 1) CHECK(NO_LEAKS());
        CHECK(dlclose(lib) == 0);
        /* Really gone: nothing pinned it (no thread, no thread-local destructor left). */
        void *still = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
        CHECK(still == NULL);
        if (still) dlclose(still);
        memset(&L, 0, sizeof L);
    }
    printf("chat_test %s: %d passed, %d failed\n", label, passed, failed);
    return failed != 0;
}
