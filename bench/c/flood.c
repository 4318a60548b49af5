/* The C ABI against the flood server, in callback mode or in poll/drain mode:
 *   flood callback|poll URL EVENTS [LABEL]
 * Logs in with a token, subscribes to the chat, and for every create event reads each
 * message's text as a C program would. Stops at EVENTS delivered or after 2 s without
 * an event, and prints one JSON line (events/s from the init to the last event, CPU
 * seconds over the same span, peak RSS). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "directus_chat.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

struct count {
  _Atomic uint64_t delivered;
  _Atomic uint64_t bytes; /* text bytes read, so the reads cannot be optimised away */
  _Atomic double start, last, cpu_start;
};

/* One event: the init starts the clock, each create counts its messages. */
static void on_event(struct count *c, const struct dchat_event *ev) {
  if (dchat_event_kind(ev) != DCHAT_EVENT_SUBSCRIPTION) return;
  enum dchat_sub_event se = dchat_event_sub_event(ev);
  if (se == DCHAT_SUB_INIT) {
    c->cpu_start = cpu_s();
    c->start = c->last = now_s();
  } else if (se == DCHAT_SUB_CREATE) {
    size_t n = dchat_event_message_count(ev);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += strlen(dchat_event_message_text(ev, i));
    c->bytes += bytes;
    c->delivered += n;
    c->last = now_s();
  }
}

static void callback(void *user_data, const struct dchat_event *ev) { on_event(user_data, ev); }

static void check(enum dchat_status s, const char *what) {
  if (s != DCHAT_OK) {
    char buf[512];
    size_t len;
    dchat_last_error_message(buf, sizeof buf, &len);
    fprintf(stderr, "%s failed: %s\n", what, buf);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: %s callback|poll URL EVENTS [LABEL]\n", argv[0]);
    return 2;
  }
  int poll_mode = strcmp(argv[1], "poll") == 0;
  uint64_t sent = strtoull(argv[3], NULL, 10);
  static struct count c;
  dchat_options *opts;
  check(dchat_options_new(&opts), "options");
  if (!poll_mode) check(dchat_options_set_callback(opts, callback, &c), "set_callback");
  dchat_client *client;
  check(dchat_connect(argv[2], opts, &client), "connect");
  dchat_options_free(opts);
  check(dchat_login_token(client, "bench-token"), "login");
  uint64_t sub;
  check(dchat_subscribe_chat(client, &sub), "subscribe");
  if (poll_mode) {
    /* Wait for an event, then drain whatever is queued, as a host loop does. */
    for (;;) {
      dchat_event *ev;
      enum dchat_status s = dchat_poll(client, 100, &ev);
      if (s == DCHAT_ERR_TIMEOUT) {
        if (c.start > 0 && now_s() - c.last > 2.0) break;
        continue;
      }
      check(s, "poll");
      while (s == DCHAT_OK) {
        on_event(&c, ev);
        dchat_event_free(ev);
        s = dchat_poll(client, 0, &ev);
      }
      if (sent && c.delivered >= sent) break;
    }
  } else {
    for (;;) {
      usleep(10000);
      if (sent && c.delivered >= sent) break;
      if (c.start > 0 && now_s() - c.last > 2.0) break;
    }
  }
  /* CPU over the flood only: a few idle polls after it cost next to nothing. */
  double cpu = cpu_s() - c.cpu_start;
  double secs = c.last - c.start;
  if (secs <= 0) secs = 1e-9;
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  printf("{\"client\":\"directus-chat C ABI, %s%s\",\"sent\":%llu,\"delivered\":%llu,\"seconds\":%.6f,"
         "\"events_per_s\":%.1f,\"cpu_s\":%.4f,\"max_rss_kib\":%ld,\"text_bytes\":%llu}\n",
         poll_mode ? "poll/drain" : "callback", argc == 5 ? argv[4] : "", (unsigned long long)sent, (unsigned long long)c.delivered, secs,
         c.delivered / secs, cpu, u.ru_maxrss, (unsigned long long)c.bytes);
  fflush(stdout);
  dchat_free(client);
  return 0;
}
