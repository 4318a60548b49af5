/* Attachments from C against a real Directus (run by bindings/python/tests/test_attachments.py,
 * whose Python peer receives the message): uploads the file given in DCHAT_FILE with
 * dchat_upload_nowait, checks its DCHAT_EVENT_TRANSFER progress (from 0 to the size,
 * growing, about one event per percent) and the reply's file object through the item
 * accessors (no JSON library), sends a message carrying it, and checks misuse: NULL and
 * bad arguments give status codes, not crashes. Prints FILE_ID=<id> and a summary line. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "directus_chat.h"

static int passed, failed;

static void fail_here(int line, const char *what) {
    char msg[512] = "", code[64] = "";
    dchat_last_error_message(msg, sizeof msg, NULL);
    dchat_last_error_code(code, sizeof code, NULL);
    fprintf(stderr, "attachment_test.c:%d: FAILED %s (last error %s: %s)\n", line, what, code, msg);
    failed++;
    printf("chat_test attachments: %d passed, %d failed\n", passed, failed);
    exit(1);
}

#define CHECK(cond) do { if (cond) passed++; else fail_here(__LINE__, #cond); } while (0)
#define CHECK_OK(call) CHECK((call) == DCHAT_OK)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing environment variable %s\n", name); exit(2); }
    return v;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Polls until the reply of `request`, counting its progress events. */
static dchat_event *reply_of(dchat_client *c, uint64_t request, uint64_t size, int *progress_events) {
    double start = now_s();
    uint64_t last = 0;
    bool first = true;
    for (;;) {
        dchat_event *e = NULL;
        dchat_status st = dchat_poll(c, 500, &e);
        if (st == DCHAT_ERR_TIMEOUT) {
            if (now_s() - start > 120) fail_here(__LINE__, "no reply within 120 s");
            continue;
        }
        if (st != DCHAT_OK) fail_here(__LINE__, "dchat_poll");
        if (dchat_event_kind(e) == DCHAT_EVENT_TRANSFER && dchat_event_request(e) == request) {
            uint64_t done = 0;
            int64_t total = 0;
            CHECK_OK(dchat_event_transfer(e, &done, &total));
            CHECK(total == (int64_t)size);
            CHECK(first ? done == 0 : done > last);
            first = false;
            last = done;
            (*progress_events)++;
        } else if (dchat_event_kind(e) == DCHAT_EVENT_REPLY && dchat_event_request(e) == request) {
            if (size > 0) CHECK(last == size);
            return e;
        }
        dchat_event_free(e);
    }
}

int main(void) {
    const char *path = env("DCHAT_FILE");
    struct stat st;
    CHECK(stat(path, &st) == 0);
    uint64_t size = (uint64_t)st.st_size;

    dchat_options *o = NULL;
    CHECK_OK(dchat_options_new(&o));
    CHECK_OK(dchat_options_set_timeouts(o, 10000, 15000));
    CHECK_OK(dchat_options_set_file_field(o, "file"));
    CHECK(dchat_options_set_file_field(NULL, "file") == DCHAT_ERR_NULL_ARGUMENT);
    const char *ca = getenv("DCHAT_CA_PEM");
    if (ca) CHECK_OK(dchat_options_set_ca_pem(o, ca));
    dchat_client *c = NULL;
    CHECK_OK(dchat_connect(env("DIRECTUS_WS_URL"), o, &c));
    CHECK_OK(dchat_options_free(o));
    CHECK_OK(dchat_login(c, env("DCHAT_EMAIL"), env("DCHAT_PASSWORD")));

    /* Misuse first: the client lives on. */
    uint64_t request = 0;
    CHECK(dchat_upload_nowait(NULL, path, NULL, NULL, &request) == DCHAT_ERR_NULL_ARGUMENT);
    CHECK(dchat_upload_nowait(c, NULL, NULL, NULL, &request) == DCHAT_ERR_NULL_ARGUMENT);
    CHECK(dchat_upload_nowait(c, path, NULL, NULL, NULL) == DCHAT_ERR_NULL_ARGUMENT);
    CHECK(dchat_upload_nowait(c, "\xff\xfe", NULL, NULL, &request) == DCHAT_ERR_INVALID_UTF8);
    CHECK(dchat_upload_nowait(c, path, NULL, "not a mime type\n", &request) == DCHAT_OK);
    int ignored = 0;
    dchat_event *bad = reply_of(c, request, 0, &ignored);
    CHECK(dchat_event_code(bad) != NULL && strcmp(dchat_event_code(bad), "INVALID_ARGUMENT") == 0);
    CHECK(dchat_event_transfer(bad, NULL, NULL) == DCHAT_ERR_INVALID_ARGUMENT);
    dchat_event_free(bad);
    CHECK(dchat_event_transfer(NULL, NULL, NULL) == DCHAT_ERR_NULL_ARGUMENT);
    char *url = NULL;
    CHECK(dchat_asset_url(c, "../x", &url) == DCHAT_ERR_INVALID_ARGUMENT && url == NULL);

    /* The upload, with progress. */
    int progress_events = 0;
    CHECK_OK(dchat_upload_nowait(c, path, env("DCHAT_FILE_NAME"), "image/png", &request));
    dchat_event *r = reply_of(c, request, size, &progress_events);
    CHECK(dchat_event_code(r) == NULL);
    CHECK(dchat_event_item_count(r) == 1);
    const char *id = dchat_event_item_string(r, 0, "/id");
    CHECK(id != NULL);
    const char *name = dchat_event_item_string(r, 0, "/filename_download");
    CHECK(name != NULL && strcmp(name, env("DCHAT_FILE_NAME")) == 0);
    const char *type = dchat_event_item_string(r, 0, "/type");
    CHECK(type != NULL && strcmp(type, "image/png") == 0);
    CHECK(progress_events >= 50 && progress_events <= 102);
    CHECK_OK(dchat_asset_url(c, id, &url));
    CHECK(url != NULL && strstr(url, "/assets/") != NULL && strstr(url, id) != NULL);
    CHECK_OK(dchat_string_free(url));

    /* The message that carries it. */
    char extra[128];
    snprintf(extra, sizeof extra, "{\"file\":\"%s\"}", id);
    uint64_t sent = 0;
    CHECK_OK(dchat_send_with(c, env("DCHAT_TEXT"), extra, &sent));
    dchat_event *s = reply_of(c, sent, 0, &ignored);
    CHECK(dchat_event_code(s) == NULL);
    dchat_event_free(s);
    printf("FILE_ID=%s\nPROGRESS_EVENTS=%d\n", id, progress_events);
    dchat_event_free(r);

    CHECK_OK(dchat_close(c));
    CHECK_OK(dchat_free(c));
    printf("chat_test attachments: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
