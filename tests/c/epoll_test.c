/*
 * The event fd in an epoll loop (issue 11), against a real Directus (scripts/test-c.sh
 * exports its URL and users). The loop sleeps in epoll_wait on dchat_event_fd and takes
 * events only after a wakeup: it connects, logs in, subscribes, sends 20 messages, sees
 * them, unsubscribes and closes with the nowait calls. Every wakeup must find at least
 * one event (a wakeup with nothing to take is a spin), and no wait may run out while
 * the chat is not done (a missed wakeup). Odd wakeups take at most 2 events, so the fd
 * must stay readable after a partial drain (level-triggered), and become unreadable
 * once the queue is empty. Prints the wakeups, events and spins, and
 * `chat_test epoll: N passed, M failed`.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "directus_chat.h"

#define MESSAGES 20

static int passed, failed;

#define CHECK(cond, ...) do { if (cond) passed++; else { failed++; fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing environment variable %s\n", name); exit(2); }
    return v;
}

static int readable(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* What the loop knows. */
static dchat_client *c;
static uint64_t login, sub, sub_req, unsub_req, close_req, sends[MESSAGES];
static char texts[MESSAGES][96];
static int seen[MESSAGES], replied, sent, own, unsub_ok, close_replied, closed;
static long events;
static dchat_close_cause cause = DCHAT_CLOSE_NONE;

static void handle(dchat_event *ev) {
    events++;
    switch (dchat_event_kind(ev)) {
    case DCHAT_EVENT_STATE:
        if (dchat_event_state(ev) == DCHAT_STATE_CLOSED) {
            closed = 1;
            cause = dchat_event_close_cause(ev);
        }
        break;
    case DCHAT_EVENT_REPLY:
        if (dchat_event_code(ev)) fprintf(stderr, "reply %llu failed: %s\n", (unsigned long long)dchat_event_request(ev), dchat_event_code(ev));
        else if (dchat_event_request(ev) == unsub_req) unsub_ok = 1;
        else if (close_req && dchat_event_request(ev) == close_req) close_replied = 1;
        else if (dchat_event_request(ev) != login && dchat_event_request(ev) != sub_req) replied++;
        break;
    case DCHAT_EVENT_SUBSCRIPTION:
        if (dchat_event_subscription(ev) != sub) break;
        if (dchat_event_sub_event(ev) == DCHAT_SUB_INIT && !sent) {
            /* The history is here: send them all at once. */
            for (int k = 0; k < MESSAGES; k++) {
                snprintf(texts[k], sizeof texts[k], "epoll %d message %d", (int)getpid(), k);
                CHECK(dchat_send(c, texts[k], &sends[k]) == DCHAT_OK, "send %d", k);
            }
            sent = 1;
        } else if (dchat_event_sub_event(ev) == DCHAT_SUB_CREATE) {
            for (size_t m = 0; m < dchat_event_message_count(ev); m++)
                for (int k = 0; k < MESSAGES; k++)
                    if (!seen[k] && strcmp(dchat_event_message_text(ev, m), texts[k]) == 0) {
                        seen[k] = 1;
                        own++;
                    }
        }
        break;
    default:
        break;
    }
    dchat_event_free(ev);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (dchat_connect_nowait(env("DIRECTUS_WS_URL"), NULL, &c) != DCHAT_OK) {
        fprintf(stderr, "connect_nowait failed\n");
        return 1;
    }
    int fd = -1, fd2 = -1;
    CHECK(dchat_event_fd(c, &fd) == DCHAT_OK && fd >= 0, "event fd");
    CHECK(dchat_event_fd(c, &fd2) == DCHAT_OK && fd2 == fd, "the same fd every time");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event want = {.events = EPOLLIN, .data.fd = fd};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &want) == 0, "epoll_ctl");

    CHECK(dchat_login_nowait(c, env("DCHAT_USER1_EMAIL"), env("DCHAT_USER1_PASSWORD"), &login) == DCHAT_OK, "login");
    CHECK(dchat_subscribe_chat_nowait(c, &sub, &sub_req) == DCHAT_OK, "subscribe");
    int closing = 0;
    long wakeups = 0, spins = 0, missed = 0, partial = 0, unreadable_with_events = 0;
    dchat_event *evs[64];

    while (!closed) {
        struct epoll_event got;
        int r = epoll_wait(ep, &got, 1, 20000);
        if (r == 0) {
            missed++;
            fprintf(stderr, "no wakeup within 20 s (state %d)\n", dchat_client_state(c));
            break;
        }
        if (r < 0) continue; /* EINTR */
        wakeups++;
        /* Odd wakeups take 2 events at most (a frame's budget), even ones drain all. */
        size_t budget = wakeups % 2 ? 2 : (size_t)-1, taken = 0, n = 0;
        dchat_status st;
        do {
            size_t ask = budget - taken < 64 ? budget - taken : 64;
            st = dchat_poll_many(c, 0, evs, ask, &n);
            if (st != DCHAT_OK) break;
            for (size_t i = 0; i < n; i++) handle(evs[i]);
            taken += n;
        } while (n > 0 && taken < budget && !closed);
        /* A wakeup with nothing to take would be a spin (a fd readable too long). */
        if (taken == 0) spins++;
        if (taken == budget && !closed) {
            partial++;
            /* Stopped early: anything left must keep the fd readable. */
            if (!readable(fd)) {
                dchat_event *peek[1];
                size_t more = 0;
                if (dchat_poll_many(c, 0, peek, 1, &more) == DCHAT_OK && more == 1) {
                    unreadable_with_events++;
                    handle(peek[0]);
                }
            }
        }
        if (own == MESSAGES && replied == MESSAGES && !unsub_req) CHECK(dchat_unsubscribe_nowait(c, sub, &unsub_req) == DCHAT_OK, "unsubscribe");
        if (unsub_ok && !closing) {
            CHECK(dchat_close_nowait(c, &close_req) == DCHAT_OK && close_req != 0, "close");
            closing = 1;
        }
    }
    printf("epoll: %ld wakeups, %ld events, %ld spins (wakeups with nothing to take), %ld missed wakeups, "
           "%ld partial drains (the fd stayed readable after each)\n",
           wakeups, events, spins, missed, partial);
    CHECK(missed == 0, "every event woke the loop");
    CHECK(spins == 0, "no spin: %ld", spins);
    CHECK(unreadable_with_events == 0, "readable after a partial drain (%ld times not)", unreadable_with_events);
    CHECK(partial > 0, "some drains were partial");
    CHECK(wakeups <= events, "at most one wakeup per event");
    CHECK(own == MESSAGES && replied == MESSAGES, "all %d messages sent and seen (%d, %d)", MESSAGES, own, replied);
    CHECK(unsub_ok && close_replied && closed && cause == DCHAT_CLOSE_BY_USER, "unsubscribed, close replied, closed by the user");
    CHECK(!readable(fd), "unreadable after the last event");
    close(ep);
    CHECK(dchat_free(c) == DCHAT_OK, "free");
    printf("chat_test epoll: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
