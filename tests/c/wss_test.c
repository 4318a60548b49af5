/*
 * wss:// through nginx with a test CA, through the C ABI (scripts/test-nginx.sh starts
 * a real Directus, nginx in front of it, and exports their URLs, the CA file and the
 * users). With dchat_options_set_ca_pem the chat works through the proxy: login,
 * subscribe, send, the own create event. Without it the connection is refused with a
 * certificate error; a malformed PEM is DCHAT_ERR_TLS.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "directus_chat.h"

static int passed, failed;

static void report_and_exit(int code) {
    printf("chat_test wss: %d passed, %d failed\n", passed, failed);
    exit(code);
}

static void fail_here(int line, const char *what, dchat_status st) {
    char msg[512] = "";
    dchat_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "wss_test.c:%d: FAILED %s (status %s: %s)\n", line, what, dchat_status_name(st), msg);
    failed++;
    report_and_exit(1);
}

#define CHECK(cond) do { if (cond) passed++; else fail_here(__LINE__, #cond, DCHAT_OK); } while (0)
#define CHECK_STATUS(call, want) do { dchat_status st_ = (call); if (st_ == (want)) passed++; else fail_here(__LINE__, #call " == " #want, st_); } while (0)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing environment variable %s\n", name); exit(2); }
    return v;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void last_message(char *buf, size_t len) { dchat_last_error_message(buf, len, NULL); }

int main(void) {
    const char *url = env("PROXY_WSS_URL");
    const char *ca_pem = read_file(env("PROXY_CA_PEM"));
    const char *email = env("DCHAT_USER1_EMAIL"), *password = env("DCHAT_USER1_PASSWORD"), *name = env("DCHAT_USER1_NAME");
    char msg[512];
    dchat_client *c = NULL;
    dchat_options *opts;

    /* Default trust (bundled public roots): the test CA is unknown. */
    CHECK_STATUS(dchat_connect(url, NULL, &c), DCHAT_ERR_CONNECTION);
    CHECK(c == NULL);
    last_message(msg, sizeof msg);
    fprintf(stderr, "without the CA: %s\n", msg);
    CHECK(strstr(msg, "certificate") != NULL && strstr(msg, "UnknownIssuer") != NULL);

    /* A malformed PEM is a TLS setup error with a message, not a crash. */
    CHECK_STATUS(dchat_options_new(&opts), DCHAT_OK);
    CHECK_STATUS(dchat_options_set_ca_pem(opts, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), DCHAT_OK);
    CHECK_STATUS(dchat_connect(url, opts, &c), DCHAT_ERR_TLS);
    last_message(msg, sizeof msg);
    CHECK(msg[0] != '\0');
    dchat_options_free(opts);

    /* Trusting only the test CA: the whole chat through nginx. */
    CHECK_STATUS(dchat_options_new(&opts), DCHAT_OK);
    CHECK_STATUS(dchat_options_set_ca_pem(opts, ca_pem), DCHAT_OK);
    CHECK_STATUS(dchat_options_set_tls_roots(opts, DCHAT_TLS_ROOTS_NONE), DCHAT_OK);
    CHECK_STATUS(dchat_connect(url, opts, &c), DCHAT_OK);
    dchat_options_free(opts);
    CHECK_STATUS(dchat_login(c, email, password), DCHAT_OK);
    uint64_t sub, request = 0;
    CHECK_STATUS(dchat_subscribe_chat(c, &sub), DCHAT_OK);

    char text[128];
    snprintf(text, sizeof text, "C through nginx %d", (int)getpid());
    int have_init = 0, have_reply = 0, have_create = 0;
    for (int waited = 0; waited < 30 && !(have_reply && have_create); waited++) {
        dchat_event *ev;
        dchat_status st = dchat_poll(c, 500, &ev);
        if (st == DCHAT_ERR_TIMEOUT) continue;
        CHECK(st == DCHAT_OK);
        dchat_kind kind = dchat_event_kind(ev);
        if (kind == DCHAT_EVENT_SUBSCRIPTION && dchat_event_subscription(ev) == sub) {
            dchat_sub_event se = dchat_event_sub_event(ev);
            if (se == DCHAT_SUB_INIT && !have_init) {
                have_init = 1;
                CHECK_STATUS(dchat_send(c, text, &request), DCHAT_OK);
            } else if (se == DCHAT_SUB_CREATE) {
                for (size_t i = 0; i < dchat_event_message_count(ev); i++) {
                    const char *author = dchat_event_message_author(ev, i);
                    if (strcmp(dchat_event_message_text(ev, i), text) == 0 && author && strcmp(author, name) == 0) have_create = 1;
                }
            }
        } else if (kind == DCHAT_EVENT_REPLY && request && dchat_event_request(ev) == request) {
            CHECK(dchat_event_code(ev) == NULL);
            have_reply = 1;
        } else if (kind == DCHAT_EVENT_STATE && dchat_event_state(ev) == DCHAT_STATE_DISCONNECTED) {
            fprintf(stderr, "disconnected: %s\n", dchat_event_text(ev));
        }
        dchat_event_free(ev);
    }
    CHECK(have_init);
    CHECK(have_reply);
    CHECK(have_create);
    CHECK_STATUS(dchat_free(c), DCHAT_OK);
    report_and_exit(failed ? 1 : 0);
}
