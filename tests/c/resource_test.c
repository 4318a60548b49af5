/*
 * A thread the system refuses is DCHAT_ERR_RESOURCE with a readable reason (it used to
 * be reported as DCHAT_ERR_PANIC, an internal error). The address space is limited to
 * what the process uses plus 1 MiB, too little for a new thread's stack: connecting in
 * callback mode (which starts a dispatcher thread) and setting the first log callback
 * (which starts the log thread) must fail cleanly, and work again once the limit is
 * lifted; so must the first connect, which starts the network threads. Run plain only:
 * sanitizers reserve address space of their own. Reads DIRECTUS_WS_URL; prints
 * `chat_test resource: N passed, M failed`.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "directus_chat.h"

static int passed, failed;

#define CHECK(cond) do { if (cond) passed++; else { failed++; fprintf(stderr, "%s:%d: FAILED %s\n", __FILE__, __LINE__, #cond); } } while (0)

static void on_event(void *user_data, const dchat_event *ev) { (void)user_data; (void)ev; }
static void on_log(void *user_data, dchat_log_level level, const char *target, const char *message) {
    (void)user_data; (void)level; (void)target; (void)message;
}

/* The process's address space now, in bytes. */
static rlim_t address_space(void) {
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%lu", &pages) != 1) { fprintf(stderr, "cannot read /proc/self/statm\n"); exit(2); }
    fclose(f);
    return (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
}

static void check_resource(dchat_status st) {
    char msg[256] = "";
    dchat_last_error_message(msg, sizeof msg, NULL);
    if (st != DCHAT_ERR_RESOURCE) fprintf(stderr, "got %s: %s\n", dchat_status_name(st), msg);
    CHECK(st == DCHAT_ERR_RESOURCE);
    CHECK(strstr(msg, "cannot start a thread") != NULL);
}

int main(void) {
    const char *url = getenv("DIRECTUS_WS_URL");
    if (!url) { fprintf(stderr, "missing DIRECTUS_WS_URL\n"); return 2; }
    struct rlimit old;
    getrlimit(RLIMIT_AS, &old);
    struct rlimit tight = {address_space() + (1u << 20), old.rlim_max};

    /* The first client starts the network threads. (First thing: glibc keeps the stacks
     * of ended threads for new ones, which then need no new memory.) */
    dchat_client *warm = NULL;
    CHECK(setrlimit(RLIMIT_AS, &tight) == 0);
    check_resource(dchat_connect(url, NULL, &warm));
    CHECK(warm == NULL);
    CHECK(setrlimit(RLIMIT_AS, &old) == 0);
    CHECK(dchat_connect(url, NULL, &warm) == DCHAT_OK);

    tight.rlim_cur = address_space() + (1u << 20);
    CHECK(setrlimit(RLIMIT_AS, &tight) == 0);
    dchat_options *o = NULL;
    dchat_options_new(&o);
    dchat_options_set_callback(o, on_event, NULL);
    dchat_client *c = NULL;
    check_resource(dchat_connect(url, o, &c));
    CHECK(c == NULL);
    check_resource(dchat_set_log_callback(on_log, DCHAT_LOG_INFO, NULL));
    CHECK(setrlimit(RLIMIT_AS, &old) == 0);

    /* With room again, both work. */
    CHECK(dchat_connect(url, o, &c) == DCHAT_OK && c != NULL);
    CHECK(dchat_set_log_callback(on_log, DCHAT_LOG_INFO, NULL) == DCHAT_OK);
    CHECK(dchat_set_log_callback(NULL, DCHAT_LOG_OFF, NULL) == DCHAT_OK);
    dchat_options_free(o);
    CHECK(dchat_free(c) == DCHAT_OK);
    CHECK(dchat_free(warm) == DCHAT_OK);
    CHECK(dchat_shutdown(10000) == DCHAT_OK);
    printf("chat_test resource: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
