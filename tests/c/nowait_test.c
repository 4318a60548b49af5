/*
 * Never block the host (issue 11): a game loop at 60 frames a second, in poll mode,
 * goes through connect, login, subscribe, send, unsubscribe and close with the
 * non-blocking calls only, against a real Directus (scripts/test-c.sh starts one and
 * exports its URL and users):
 *   - slow: every chunk between client and server is delayed by 2 s (a TCP proxy,
 *     tests/support/delay_proxy.py, $DCHAT_DELAY_PROXY);
 *   - unreachable: the client starts against a closed port; 3 s later the (slow) proxy
 *     starts there and "retry now" (dchat_reconnect_now) skips the wait;
 *   - gave up: a closed port with a policy of 2 attempts ends in CLOSED with
 *     DCHAT_CLOSE_GAVE_UP, and the login waiting for it fails with CONNECTION.
 * The close is a nowait call like the others: dchat_close_nowait returns a request id,
 * whose REPLY is the event just before the final CLOSED (after which nothing comes); on
 * a client that has closed it returns 0.
 * Every library call is timed. A call that took longer than 1 ms fails the test, unless
 * the thread was preempted during it without ever waiting (an involuntary context
 * switch and no voluntary one, from getrusage(RUSAGE_THREAD)): a loaded machine may
 * take the CPU away, but a call that waits on the network or a lock always switches
 * voluntarily. Prints max and p99 per call, and `chat_test nowait: N passed, M failed`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "directus_chat.h"

extern char **environ;

#define LIMIT_US 1000.0
#define FRAME_US 16667.0
#define DELAY_S "2"

static int passed, failed;

static void report(void) { printf("chat_test nowait: %d passed, %d failed\n", passed, failed); }

#define CHECK(cond, ...) do { if (cond) passed++; else { failed++; fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define REQUIRE(cond, ...) do { CHECK(cond, __VA_ARGS__); if (!(cond)) { report(); exit(1); } } while (0)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing environment variable %s\n", name); exit(2); }
    return v;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- timing every call ---- */

enum {
    T_CONNECT, T_LOGIN, T_SUBSCRIBE, T_SEND, T_ITEMS, T_CANCEL, T_UNSUBSCRIBE, T_CLOSE, T_RECONNECT,
    T_POLL_MANY, T_EVENT_READ, T_EVENT_FREE, T_STATE, T_FREE, T_FREE_NOWAIT, T_COUNT
};

typedef struct {
    const char *name;
    double *us;
    size_t n, cap;
    long preempted; /* over the limit without sleeping (preempted, or CPU time): excused */
    long paged;     /* over the limit while the kernel read pages from disk (a major fault): excused */
    long waited;    /* over the limit otherwise: the call blocked */
} stat_t;

static stat_t stats[T_COUNT] = {
    {"dchat_connect_nowait", 0, 0, 0, 0, 0, 0}, {"dchat_login_nowait", 0, 0, 0, 0, 0, 0},
    {"dchat_subscribe_chat_nowait", 0, 0, 0, 0, 0, 0}, {"dchat_send", 0, 0, 0, 0, 0, 0},
    {"dchat_items_nowait", 0, 0, 0, 0, 0, 0}, {"dchat_cancel", 0, 0, 0, 0, 0, 0},
    {"dchat_unsubscribe_nowait", 0, 0, 0, 0, 0, 0}, {"dchat_close_nowait", 0, 0, 0, 0, 0, 0},
    {"dchat_reconnect_now", 0, 0, 0, 0, 0, 0}, {"dchat_poll_many", 0, 0, 0, 0, 0, 0},
    {"dchat_event_* (one event)", 0, 0, 0, 0, 0, 0}, {"dchat_event_free", 0, 0, 0, 0, 0, 0},
    {"dchat_client_state", 0, 0, 0, 0, 0, 0}, {"dchat_free (after CLOSED)", 0, 0, 0, 0, 0, 0},
    {"dchat_free_nowait (connected)", 0, 0, 0, 0, 0, 0},
};

typedef struct {
    double t;
    long voluntary, involuntary, major_faults;
} mark_t;

static mark_t mark(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    mark_t m = {now_us(), ru.ru_nvcsw, ru.ru_nivcsw, ru.ru_majflt};
    return m;
}

static void record(int which, mark_t before) {
    double t = now_us();
    mark_t after = mark();
    stat_t *s = &stats[which];
    double us = t - before.t;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->us = realloc(s->us, s->cap * sizeof *s->us);
    }
    s->us[s->n++] = us;
    if (us > LIMIT_US) {
        /* A call blocks only by sleeping, which the kernel counts as a voluntary switch.
         * Without one it ran or was kept off the CPU: by the guest's scheduler (an
         * involuntary switch) or by the hypervisor (no switch at all, as seen on 2-vCPU
         * CI machines): preempted, never waited. */
        int preempted = after.voluntary == before.voluntary;
        /* A major page fault blocks the thread while the kernel reads code or data from
         * disk (a loaded machine evicts the library's pages): the OS waited, not a lock
         * or a socket of the library. */
        int paged = !preempted && after.major_faults > before.major_faults;
        if (preempted) s->preempted++;
        else if (paged) s->paged++;
        else s->waited++;
        fprintf(stderr, "  %s took %.0f us (%s; %ld voluntary, %ld involuntary switches, %ld major faults)\n", s->name, us,
                preempted ? "preempted, never waited" : paged ? "paged in from disk" : "WAITED", after.voluntary - before.voluntary,
                after.involuntary - before.involuntary, after.major_faults - before.major_faults);
    }
}

#define TIMED(which, lhs, call) do { mark_t m0_ = mark(); lhs = (call); record((which), m0_); } while (0)

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void print_stats(const char *scenario) {
    printf("%s: per call (limit %.0f us)\n", scenario, LIMIT_US);
    for (int i = 0; i < T_COUNT; i++) {
        stat_t *s = &stats[i];
        if (s->n == 0) continue;
        qsort(s->us, s->n, sizeof *s->us, cmp_double);
        size_t p99 = (size_t)((s->n - 1) * 0.99);
        printf("  %-28s %6zu calls  max %8.1f us  p99 %7.1f us  over the limit: %ld preempted, %ld paged in, %ld waited\n", s->name,
               s->n, s->us[s->n - 1], s->us[p99], s->preempted, s->paged, s->waited);
        CHECK(s->waited == 0, "%s: %s waited longer than %.0f us %ld times", scenario, s->name, LIMIT_US, s->waited);
        free(s->us);
        s->us = NULL;
        s->n = s->cap = 0;
        s->preempted = s->paged = s->waited = 0;
    }
}

/* ---- the proxy ---- */

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        perror("free port");
        exit(2);
    }
    close(s);
    return ntohs(a.sin_port);
}

static int port_open(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

static pid_t start_proxy(int port) {
    char listen[16], pid[16], upstream[128];
    snprintf(listen, sizeof listen, "%d", port);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    const char *url = env("DIRECTUS_URL"); /* http://127.0.0.1:PORT */
    const char *hostport = strstr(url, "://");
    snprintf(upstream, sizeof upstream, "%s", hostport ? hostport + 3 : url);
    upstream[strcspn(upstream, "/")] = '\0';
    char *argv[] = {"python3", (char *)env("DCHAT_DELAY_PROXY"), "--listen", listen, "--upstream", upstream, "--delay", DELAY_S,
                    "--watch-pid", pid, NULL};
    pid_t child;
    if (posix_spawnp(&child, "python3", NULL, NULL, argv, environ) != 0) {
        perror("spawning the delay proxy");
        exit(2);
    }
    return child;
}

static void stop_proxy(pid_t pid) {
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* ---- one chat run, driven by the frame loop ---- */

typedef struct {
    dchat_client *c;
    char text[128];
    uint64_t login_req, sub, sub_req, send_req, unsub_req, read_req, close_req;
    int login_ok, init_seen, sub_ok, send_ok, own_seen, unsub_ok;
    int close_replied, after_close_reply, closed_after_reply;
    int cancelled, after_unsub, read_replied;
    int closed, state_events, connecting_attempt_max, disconnects, retry_ms_ok;
    dchat_close_cause cause;
    char failure[256];
    char closed_text[256];
} flow_t;

static void failure(flow_t *f, const char *what, const dchat_event *ev) {
    if (!f->failure[0])
        snprintf(f->failure, sizeof f->failure, "%s: %s %s", what, dchat_event_code(ev) ? dchat_event_code(ev) : "",
                 dchat_event_text(ev) ? dchat_event_text(ev) : "");
}

static void apply(flow_t *f, const dchat_event *ev) {
    mark_t m0 = mark();
    dchat_kind kind = dchat_event_kind(ev);
    const char *code = dchat_event_code(ev);
    uint64_t req = dchat_event_request(ev), sub = dchat_event_subscription(ev);
    dchat_state state = dchat_event_state(ev);
    uint32_t attempt = dchat_event_attempt(ev);
    int64_t retry = dchat_event_retry_ms(ev);
    dchat_close_cause cause = dchat_event_close_cause(ev);
    size_t count = dchat_event_message_count(ev);
    dchat_sub_event sub_event = dchat_event_sub_event(ev);
    record(T_EVENT_READ, m0);
    /* Nothing but the final CLOSED may follow the close's reply. */
    if (f->close_replied && !(kind == DCHAT_EVENT_STATE && state == DCHAT_STATE_CLOSED)) f->after_close_reply++;
    if (getenv("NOWAIT_TRACE"))
        fprintf(stderr, "  [%.1f] kind %d state %d sub %llu/%d req %llu code %s text %s count %zu\n", now_us() / 1e6, kind, state,
                (unsigned long long)sub, sub_event, (unsigned long long)req, code ? code : "-",
                dchat_event_text(ev) ? dchat_event_text(ev) : "-", count);
    switch (kind) {
    case DCHAT_EVENT_STATE:
        f->state_events++;
        if (state == DCHAT_STATE_CONNECTING && (int)attempt > f->connecting_attempt_max) f->connecting_attempt_max = (int)attempt;
        if (state == DCHAT_STATE_DISCONNECTED) {
            f->disconnects++;
            f->retry_ms_ok += retry >= 0;
        }
        if (state == DCHAT_STATE_CLOSED) {
            f->closed = 1;
            f->closed_after_reply = f->close_replied && f->after_close_reply == 0;
            f->cause = cause;
            snprintf(f->closed_text, sizeof f->closed_text, "%s", dchat_event_text(ev) ? dchat_event_text(ev) : "");
        }
        break;
    case DCHAT_EVENT_SUBSCRIPTION:
        if (f->unsub_req && sub == f->sub) f->after_unsub++;
        if (sub != f->sub) break;
        if (sub_event == DCHAT_SUB_INIT) f->init_seen = 1;
        /* Sent with the subscribe, the message may be stored before the init is read:
         * then it is in the history, else a create event (the gap-free join). */
        for (size_t i = 0; i < count; i++)
            if (strcmp(dchat_event_message_text(ev, i), f->text) == 0) f->own_seen = 1;
        break;
    case DCHAT_EVENT_REPLY:
        if (req == f->login_req) {
            if (code) failure(f, "login", ev);
            f->login_ok = !code;
        } else if (req == f->sub_req) {
            if (code) failure(f, "subscribe", ev);
            f->sub_ok = !code && f->init_seen; /* the init comes before the reply */
        } else if (req == f->send_req) {
            if (code) failure(f, "send", ev);
            f->send_ok = !code;
        } else if (req == f->unsub_req) {
            if (code) failure(f, "unsubscribe", ev);
            f->unsub_ok = !code;
        } else if (req == f->read_req) {
            f->read_replied = 1;
            f->cancelled = code && strcmp(code, "CANCELLED") == 0;
        } else if (f->close_req && req == f->close_req) {
            if (code) failure(f, "close", ev);
            f->close_replied = !code;
        }
        break;
    case DCHAT_EVENT_SUBSCRIPTION_ERROR:
    case DCHAT_EVENT_ERROR:
        failure(f, "error event", ev);
        break;
    default:
        break;
    }
}

typedef enum { SLOW, UNREACHABLE } scenario;

/* Runs the chat in a 60 fps loop; returns the number of frames. */
static long run(scenario sc, const char *name) {
    int port = free_port();
    pid_t proxy = 0;
    if (sc == SLOW) {
        proxy = start_proxy(port);
        for (int i = 0; i < 100 && !port_open(port); i++) usleep(50000);
        REQUIRE(port_open(port), "%s: the delay proxy did not start", name);
    }
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/websocket", port);

    dchat_options *o;
    dchat_options_new(&o);
    /* Poll mode (the default); retry quickly and forever. */
    REQUIRE(dchat_options_set_reconnect(o, 500, 1.5, 2000, -1) == DCHAT_OK, "reconnect option");

    flow_t f;
    memset(&f, 0, sizeof f);
    snprintf(f.text, sizeof f.text, "%s run %d at %.0f", name, (int)getpid(), now_us());
    dchat_status st;
    long frame = 0, proxy_frame = -1, retry_frame = -1;
    int unsub_issued = 0, close_issued = 0, poll_closed = 0;
    double start = now_us();
    const long max_frames = 60 * 90;
    dchat_event *evs[64];
    for (; frame < max_frames && !poll_closed; frame++) {
        double frame_start = now_us();
        if (frame == 0) {
            TIMED(T_CONNECT, st, dchat_connect_nowait(url, o, &f.c));
            REQUIRE(st == DCHAT_OK, "%s: dchat_connect_nowait returned %s", name, dchat_status_name(st));
            dchat_options_free(o);
            /* Everything is asked for at once; it all waits for the connection and the login. */
            TIMED(T_LOGIN, st, dchat_login_nowait(f.c, env("DCHAT_USER1_EMAIL"), env("DCHAT_USER1_PASSWORD"), &f.login_req));
            CHECK(st == DCHAT_OK, "login_nowait");
            TIMED(T_SUBSCRIBE, st, dchat_subscribe_chat_nowait(f.c, &f.sub, &f.sub_req));
            CHECK(st == DCHAT_OK && f.sub == f.sub_req, "subscribe_chat_nowait: the reply carries the subscription id");
            TIMED(T_SEND, st, dchat_send(f.c, f.text, &f.send_req));
            CHECK(st == DCHAT_OK, "send");
            if (sc == UNREACHABLE) {
                TIMED(T_ITEMS, st, dchat_items_nowait(f.c, "messages", "read", "{\"query\":{\"limit\":1}}", &f.read_req));
                CHECK(st == DCHAT_OK, "items_nowait");
            }
        }
        if (sc == UNREACHABLE && frame == 30) TIMED(T_CANCEL, st, dchat_cancel(f.c, f.read_req));
        if (sc == UNREACHABLE && proxy_frame < 0 && frame >= 180 && f.disconnects >= 2) {
            proxy = start_proxy(port);
            proxy_frame = frame;
        }
        /* Python takes a moment to listen; then skip the rest of the backoff. */
        if (proxy_frame >= 0 && retry_frame < 0 && port_open(port)) {
            TIMED(T_RECONNECT, st, dchat_reconnect_now(f.c));
            CHECK(st == DCHAT_OK, "reconnect_now");
            retry_frame = frame;
        }

        /* The frame's chat work: at most 64 events, never waiting. */
        size_t n = 0;
        TIMED(T_POLL_MANY, st, dchat_poll_many(f.c, 0, evs, 64, &n));
        if (st == DCHAT_ERR_CLOSED) poll_closed = 1;
        else CHECK(st == DCHAT_OK, "poll_many: %s", dchat_status_name(st));
        for (size_t i = 0; i < n; i++) {
            apply(&f, evs[i]);
            TIMED(T_EVENT_FREE, st, dchat_event_free(evs[i]));
        }
        dchat_state state;
        TIMED(T_STATE, state, dchat_client_state(f.c));
        (void)state;

        if (!unsub_issued && f.sub_ok && f.send_ok && f.own_seen) {
            TIMED(T_UNSUBSCRIBE, st, dchat_unsubscribe_nowait(f.c, f.sub, &f.unsub_req));
            CHECK(st == DCHAT_OK && f.unsub_req != f.sub, "unsubscribe_nowait: a new request id");
            unsub_issued = 1;
        }
        if (!close_issued && f.unsub_ok) {
            TIMED(T_CLOSE, st, dchat_close_nowait(f.c, &f.close_req));
            CHECK(st == DCHAT_OK && f.close_req != 0, "close_nowait: a request id");
            close_issued = 1;
        }
        if (f.failure[0] && !close_issued) {
            fprintf(stderr, "%s: %s\n", name, f.failure);
            dchat_close_nowait(f.c, NULL);
            close_issued = 1;
        }
        double spent = now_us() - frame_start;
        if (spent < FRAME_US) usleep((useconds_t)(FRAME_US - spent));
    }
    double secs = (now_us() - start) / 1e6;
    printf("%s: %ld frames in %.1f s (%.1f fps); logged in, subscribed, sent, saw it, unsubscribed and closed%s\n", name, frame,
           secs, frame / secs, sc == UNREACHABLE ? " after the proxy started" : "");
    if (sc == UNREACHABLE) printf("%s: %d disconnects, attempts up to %d, proxy started at frame %ld, retry now at frame %ld\n", name,
                                  f.disconnects, f.connecting_attempt_max, proxy_frame, retry_frame);

    CHECK(f.failure[0] == 0, "%s: %s", name, f.failure);
    CHECK(f.login_ok, "%s: login reply", name);
    CHECK(f.init_seen && f.sub_ok, "%s: init, then the subscribe's reply", name);
    CHECK(f.send_ok && f.own_seen, "%s: send reply and own create event", name);
    CHECK(f.unsub_ok && f.after_unsub == 0, "%s: unsubscribe reply, no event of it afterwards", name);
    CHECK(f.closed && f.cause == DCHAT_CLOSE_BY_USER, "%s: closed by the user (cause %d: %s)", name, f.cause, f.closed_text);
    CHECK(f.close_replied && f.closed_after_reply, "%s: the close's reply, then CLOSED right after it (%d events between)", name,
          f.after_close_reply);
    uint64_t again = 99;
    CHECK(dchat_close_nowait(f.c, &again) == DCHAT_OK && again == 0, "%s: close_nowait on a closed client: no request (%llu)", name,
          (unsigned long long)again);
    CHECK(poll_closed, "%s: poll_many said CLOSED after the last event", name);
    CHECK(dchat_client_state(f.c) == DCHAT_STATE_CLOSED, "%s: client state CLOSED", name);
    if (sc == UNREACHABLE) {
        CHECK(f.disconnects >= 2 && f.connecting_attempt_max >= 2, "%s: attempts counted (%d disconnects, attempt %d)", name,
              f.disconnects, f.connecting_attempt_max);
        CHECK(f.retry_ms_ok >= 2, "%s: disconnects carried the delay before the next attempt", name);
        CHECK(f.read_replied && f.cancelled, "%s: the cancelled read replied CANCELLED", name);
        CHECK(retry_frame >= 0, "%s: reconnect_now was called", name);
    }
    TIMED(T_FREE, st, dchat_free(f.c));
    CHECK(st == DCHAT_OK, "free");
    stop_proxy(proxy);
    print_stats(name);
    return frame;
}

/* A closed port and 2 attempts: the client gives up, told apart from a user's close by
 * its cause; the login that waited fails with CONNECTION, not TIMEOUT. */
static void gave_up(void) {
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/websocket", free_port());
    dchat_options *o;
    dchat_options_new(&o);
    CHECK(dchat_options_set_reconnect(o, 100, 1.0, 100, 2) == DCHAT_OK, "reconnect option");
    CHECK(dchat_options_set_reconnect(o, 100, 0.5, 100, 2) == DCHAT_ERR_INVALID_ARGUMENT, "factor below 1 refused");
    CHECK(dchat_options_set_reconnect(o, 100, 1.0, 100, -2) == DCHAT_ERR_INVALID_ARGUMENT, "attempts below -1 refused");
    CHECK(dchat_options_set_heartbeat(o, 0) == DCHAT_OK && dchat_options_set_heartbeat(o, 15000) == DCHAT_OK, "heartbeat option");
    CHECK(dchat_options_set_max_queued(o, 0) == DCHAT_ERR_INVALID_ARGUMENT && dchat_options_set_max_queued(o, 8) == DCHAT_OK,
          "max_queued option");
    dchat_client *c;
    dchat_status st;
    TIMED(T_CONNECT, st, dchat_connect_nowait(url, o, &c));
    dchat_options_free(o);
    REQUIRE(st == DCHAT_OK, "connect_nowait to a closed port returns a client");
    uint64_t login = 0;
    TIMED(T_LOGIN, st, dchat_login_nowait(c, "nobody@example.com", "secret", &login));
    CHECK(st == DCHAT_OK, "login_nowait");
    int attempts_seen = 0, disconnects = 0, last_retry = 0, login_failed = 0, closed = 0;
    dchat_close_cause cause = DCHAT_CLOSE_NONE;
    char text[256] = "", login_code[64] = "";
    dchat_event *evs[16];
    for (int frame = 0; frame < 600 && !closed; frame++) {
        size_t n = 0;
        TIMED(T_POLL_MANY, st, dchat_poll_many(c, 0, evs, 16, &n));
        for (size_t i = 0; i < n; i++) {
            dchat_event *ev = evs[i];
            if (dchat_event_kind(ev) == DCHAT_EVENT_STATE) {
                dchat_state s = dchat_event_state(ev);
                if (s == DCHAT_STATE_CONNECTING && (int)dchat_event_attempt(ev) > attempts_seen) attempts_seen = (int)dchat_event_attempt(ev);
                if (s == DCHAT_STATE_DISCONNECTED) {
                    disconnects++;
                    last_retry = (int)dchat_event_retry_ms(ev);
                }
                if (s == DCHAT_STATE_CLOSED) {
                    closed = 1;
                    cause = dchat_event_close_cause(ev);
                    snprintf(text, sizeof text, "%s", dchat_event_text(ev) ? dchat_event_text(ev) : "");
                }
            } else if (dchat_event_kind(ev) == DCHAT_EVENT_REPLY && dchat_event_request(ev) == login) {
                login_failed = 1;
                snprintf(login_code, sizeof login_code, "%s", dchat_event_code(ev) ? dchat_event_code(ev) : "(none)");
            }
            dchat_event_free(ev);
        }
        usleep(16667);
    }
    printf("gave up: %d attempts after the first, %d disconnects, closed with cause %d: %s; the waiting login: %s\n", attempts_seen,
           disconnects, cause, text, login_code);
    CHECK(closed && cause == DCHAT_CLOSE_GAVE_UP, "closed with DCHAT_CLOSE_GAVE_UP (cause %d)", cause);
    CHECK(strstr(text, "gave up after 2 reconnect attempts") != NULL, "the reason counts the attempts: %s", text);
    CHECK(attempts_seen == 2 && disconnects == 3, "attempt numbers 1..2 and 3 disconnects (%d, %d)", attempts_seen, disconnects);
    CHECK(last_retry == -1, "the last disconnect has no next attempt (%d)", last_retry);
    CHECK(login_failed && strcmp(login_code, "CONNECTION") == 0, "the waiting login failed with CONNECTION (%s)", login_code);
    size_t n = 0;
    CHECK(dchat_poll_many(c, 0, evs, 16, &n) == DCHAT_ERR_CLOSED, "poll_many after CLOSED");
    CHECK(dchat_reconnect_now(c) == DCHAT_ERR_CLOSED, "reconnect_now after CLOSED");
    TIMED(T_FREE, st, dchat_free(c));
    print_stats("gave up");
}

/* A client freed in the middle of things (connected through the slow proxy, a read on
 * the wire) by dchat_free_nowait: returns at once, and no callback runs after it. */
static volatile int freed, callbacks_after_free, connected_seen;

static void on_event(void *user_data, const dchat_event *ev) {
    (void)user_data;
    if (freed) callbacks_after_free++;
    if (dchat_event_kind(ev) == DCHAT_EVENT_STATE && dchat_event_state(ev) == DCHAT_STATE_CONNECTED) connected_seen = 1;
    usleep(20000); /* a slow callback: the free must wait for it, not the other way round */
}

static void free_without_waiting(void) {
    int port = free_port();
    pid_t proxy = start_proxy(port);
    for (int i = 0; i < 100 && !port_open(port); i++) usleep(50000);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/websocket", port);
    dchat_options *o;
    dchat_options_new(&o);
    dchat_options_set_callback(o, on_event, NULL);
    dchat_client *c;
    REQUIRE(dchat_connect_nowait(url, o, &c) == DCHAT_OK, "connect_nowait in callback mode");
    dchat_options_free(o);
    uint64_t id;
    dchat_login_nowait(c, env("DCHAT_USER1_EMAIL"), env("DCHAT_USER1_PASSWORD"), &id);
    for (int i = 0; i < 300 && !connected_seen; i++) usleep(20000);
    CHECK(connected_seen, "connected through the proxy");
    dchat_items_nowait(c, "messages", "read", NULL, &id);
    usleep(100000); /* the read is on the wire, its answer 4 s away */
    dchat_status st;
    TIMED(T_FREE_NOWAIT, st, dchat_free_nowait(c));
    freed = 1;
    CHECK(st == DCHAT_OK, "free_nowait");
    sleep(3);
    printf("free without waiting: %d callbacks after dchat_free_nowait returned\n", callbacks_after_free);
    CHECK(callbacks_after_free == 0, "no callback after free_nowait (%d)", callbacks_after_free);
    stop_proxy(proxy);
    print_stats("free without waiting");
}

/* Arguments checked like every call; the nowait calls refuse a NULL client. */
static void misuse(void) {
    uint64_t id;
    dchat_client *c = NULL;
    CHECK(dchat_connect_nowait(NULL, NULL, &c) == DCHAT_ERR_NULL_ARGUMENT && c == NULL, "NULL url");
    CHECK(dchat_connect_nowait("ftp://x", NULL, &c) == DCHAT_ERR_INVALID_ARGUMENT && c == NULL, "bad scheme");
    CHECK(dchat_login_nowait(NULL, "a", "b", &id) == DCHAT_ERR_NULL_ARGUMENT, "NULL client");
    CHECK(dchat_cancel(NULL, 1) == DCHAT_ERR_NULL_ARGUMENT, "NULL client");
    CHECK(dchat_close_nowait(NULL, &id) == DCHAT_ERR_NULL_ARGUMENT, "NULL client");
    CHECK(dchat_client_state(NULL) == DCHAT_STATE_CLOSED, "NULL client state");
    CHECK(dchat_free_nowait(NULL) == DCHAT_OK, "free_nowait(NULL)");
    CHECK(dchat_event_attempt(NULL) == 0 && dchat_event_retry_ms(NULL) == -1 && dchat_event_close_cause(NULL) == DCHAT_CLOSE_NONE,
          "NULL event accessors");
    int fd;
    size_t n;
    dchat_event *evs[1];
    CHECK(dchat_event_fd(NULL, &fd) == DCHAT_ERR_NULL_ARGUMENT, "NULL client fd");
    CHECK(dchat_poll_many(NULL, 0, evs, 1, &n) == DCHAT_ERR_NULL_ARGUMENT, "NULL client poll_many");
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);
    misuse();
    gave_up();
    free_without_waiting();
    run(SLOW, "slow (every chunk delayed " DELAY_S " s)");
    run(UNREACHABLE, "unreachable, then slow");
    report();
    return failed ? 1 : 0;
}
