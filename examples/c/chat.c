/*
 * A terminal chat on a Directus `messages` collection, like the Directus chat guides:
 * log in, print the history as `Name: text`, print new messages as they arrive, send
 * each line you type. `/quit` or end of input leaves.
 *
 *   chat WS_URL EMAIL PASSWORD
 *   DCHAT_TOKEN=<static token> chat WS_URL
 *
 * Events arrive on the library's dispatcher thread (callback mode) while the main
 * thread reads stdin; a mutex keeps the two from interleaving their output.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directus_chat.h"

static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;

static void print_messages(const dchat_event *ev) {
    for (size_t i = 0; i < dchat_event_message_count(ev); i++) {
        const char *author = dchat_event_message_author(ev, i);
        printf("%s: %s\n", author ? author : "?", dchat_event_message_text(ev, i));
    }
}

static void on_event(void *user_data, const dchat_event *ev) {
    (void)user_data;
    pthread_mutex_lock(&out);
    switch (dchat_event_kind(ev)) {
    case DCHAT_EVENT_SUBSCRIPTION:
        /* init: the history; create: new messages. Updates and deletes are not shown. */
        if (dchat_event_sub_event(ev) == DCHAT_SUB_INIT || dchat_event_sub_event(ev) == DCHAT_SUB_CREATE) print_messages(ev);
        break;
    case DCHAT_EVENT_REPLY:
        if (dchat_event_code(ev)) fprintf(stderr, "! not sent: %s\n", dchat_event_text(ev));
        break;
    case DCHAT_EVENT_STATE:
        if (dchat_event_state(ev) == DCHAT_STATE_DISCONNECTED) fprintf(stderr, "! disconnected: %s\n", dchat_event_text(ev));
        break;
    case DCHAT_EVENT_ERROR:
    case DCHAT_EVENT_SUBSCRIPTION_ERROR:
        fprintf(stderr, "! %s\n", dchat_event_text(ev));
        break;
    default:
        break;
    }
    fflush(stdout);
    pthread_mutex_unlock(&out);
}

static int fail(const char *what, dchat_status st) {
    char msg[512] = "";
    dchat_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "%s failed (%s): %s\n", what, dchat_status_name(st), msg);
    return 1;
}

int main(int argc, char **argv) {
    const char *url = argc > 1 ? argv[1] : getenv("DIRECTUS_WS_URL");
    const char *email = argc > 2 ? argv[2] : getenv("DCHAT_EMAIL");
    const char *password = argc > 3 ? argv[3] : getenv("DCHAT_PASSWORD");
    const char *token = getenv("DCHAT_TOKEN");
    if (!url || (!token && (!email || !password))) {
        fprintf(stderr, "usage: %s WS_URL EMAIL PASSWORD   (or DCHAT_TOKEN=... %s WS_URL)\n", argv[0], argv[0]);
        return 2;
    }

    dchat_options *opts;
    dchat_options_new(&opts);
    dchat_options_set_callback(opts, on_event, NULL);
    dchat_client *chat;
    dchat_status st = dchat_connect(url, opts, &chat);
    dchat_options_free(opts);
    if (st != DCHAT_OK) return fail("connect", st);

    st = token ? dchat_login_token(chat, token) : dchat_login(chat, email, password);
    if (st != DCHAT_OK) {
        dchat_free(chat);
        return fail("login", st);
    }
    uint64_t subscription;
    st = dchat_subscribe_chat(chat, &subscription);
    if (st != DCHAT_OK) {
        dchat_free(chat);
        return fail("subscribe", st);
    }

    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "/quit") == 0) break;
        if (line[0] == '\0') continue;
        uint64_t request;
        st = dchat_send(chat, line, &request);
        if (st != DCHAT_OK) fail("send", st);
    }
    /* Closing lets sends already on the wire finish (their replies still arrive). */
    dchat_free(chat);
    return 0;
}
