/*
 * A terminal chat on a Directus `messages` collection, like the Directus chat guides:
 * log in, print the history as `Name: text`, print new messages as they arrive, send
 * each line you type. Your own messages read `Name (you): text`, edited ones end in
 * `(edited)`, messages of a room start with `[room]`. In a room you see who comes and
 * goes (`* [room] Ada is online`), who is typing (`* [room] Ada is typing...`) and the
 * unread count of rooms you are not looking at. `/quit` or end of input leaves.
 *
 *   chat WS_URL EMAIL PASSWORD
 *   DCHAT_TOKEN=<static token> chat WS_URL
 *
 * Commands:
 *   /join ROOM     join a room (it must exist) and send there; you stay in the others
 *   /leave         leave the current room, back to the lobby
 *   /older         the 20 messages before the oldest shown of the current room
 *   /edit TEXT     change the text of your last message in the current room
 *   /delete        delete your last message in the current room
 *   /who           who is online in the current room (and who is typing)
 *   /read          mark the current room read up to its newest message
 *   /quit          leave
 * DCHAT_HISTORY=N sets how many messages a room's history shows (default 100).
 *
 * Events arrive on the library's dispatcher thread (callback mode) while the main
 * thread reads stdin; a mutex keeps the two from interleaving their output and guards
 * the little state they share.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directus_chat.h"

static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;
/* The room lines are sent to ("" is the lobby), your last message in it and its newest. */
static char current[128] = "";
static char last_own[64] = "";
static char newest[64] = "";

static bool in_current(const char *room) { return strcmp(room ? room : "", current) == 0; }

static void print_message(const dchat_event *ev, size_t i, const char *suffix) {
    const char *room = dchat_event_message_room(ev, i);
    const char *author = dchat_event_message_author(ev, i);
    bool own = dchat_event_message_own(ev, i);
    if (room) printf("[%s] ", room);
    printf("%s%s: %s%s%s\n", author ? author : "?", own ? " (you)" : "", dchat_event_message_text(ev, i),
           dchat_event_message_edited(ev, i) ? " (edited)" : "", suffix);
    if (own && in_current(room)) snprintf(last_own, sizeof last_own, "%.63s", dchat_event_message_id(ev, i));
    if (in_current(room)) snprintf(newest, sizeof newest, "%.63s", dchat_event_message_id(ev, i));
}

static const char *who(const dchat_event *ev) {
    const char *name = dchat_event_user_name(ev);
    return name ? name : dchat_event_user_id(ev);
}

static void print_messages(const dchat_event *ev) {
    for (size_t i = 0; i < dchat_event_message_count(ev); i++) print_message(ev, i, "");
}

static void on_event(void *user_data, const dchat_event *ev) {
    (void)user_data;
    pthread_mutex_lock(&out);
    switch (dchat_event_kind(ev)) {
    case DCHAT_EVENT_SUBSCRIPTION:
        /* The rooms' history (init), new and edited messages, deletions. */
        switch (dchat_event_sub_event(ev)) {
        case DCHAT_SUB_INIT:
        case DCHAT_SUB_CREATE:
        case DCHAT_SUB_UPDATE:
            print_messages(ev);
            break;
        case DCHAT_SUB_DELETE:
            for (size_t i = 0; i < dchat_event_deleted_count(ev); i++) {
                const char *room = dchat_event_room(ev);
                if (room) printf("[%s] ", room);
                printf("(message %s deleted)\n", dchat_event_deleted_id(ev, i));
                if (in_current(room) && strcmp(last_own, dchat_event_deleted_id(ev, i)) == 0) last_own[0] = '\0';
            }
            break;
        default:
            break;
        }
        break;
    case DCHAT_EVENT_PRESENCE:
        printf("* [%s] %s %s\n", dchat_event_room(ev), who(ev), dchat_event_flag(ev) ? "is online" : "went offline");
        break;
    case DCHAT_EVENT_TYPING:
        if (dchat_event_flag(ev)) printf("* [%s] %s is typing...\n", dchat_event_room(ev), who(ev));
        break;
    case DCHAT_EVENT_UNREAD:
        if (!in_current(dchat_event_room(ev)) && dchat_event_count(ev) > 0)
            printf("* [%s] %llu unread\n", dchat_event_room(ev), (unsigned long long)dchat_event_count(ev));
        break;
    case DCHAT_EVENT_REPLY:
        if (dchat_event_code(ev)) fprintf(stderr, "! failed: %s\n", dchat_event_text(ev));
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

static const char *room_arg(void) { return current[0] ? current : NULL; }

/* A command typed by the user; false for /quit. */
static bool command(dchat_client *chat, const char *line) {
    dchat_status st = DCHAT_OK;
    uint64_t id;
    char target[64];
    if (strcmp(line, "/quit") == 0) return false;
    if (strncmp(line, "/join ", 6) == 0) {
        pthread_mutex_lock(&out);
        snprintf(current, sizeof current, "%.127s", line + 6);
        last_own[0] = '\0';
        newest[0] = '\0';
        pthread_mutex_unlock(&out);
        if ((st = dchat_join(chat, current, &id)) != DCHAT_OK) fail("join", st);
    } else if (strcmp(line, "/leave") == 0) {
        if (current[0] && (st = dchat_leave(chat, current)) != DCHAT_OK) fail("leave", st);
        pthread_mutex_lock(&out);
        current[0] = '\0';
        last_own[0] = '\0';
        pthread_mutex_unlock(&out);
    } else if (strcmp(line, "/older") == 0) {
        dchat_event *page = NULL;
        if ((st = dchat_load_older(chat, room_arg(), NULL, 20, &page)) != DCHAT_OK) return fail("older", st), true;
        pthread_mutex_lock(&out);
        printf("-- %zu older message(s)\n", dchat_event_message_count(page));
        print_messages(page);
        fflush(stdout);
        pthread_mutex_unlock(&out);
        dchat_event_free(page);
    } else if (strncmp(line, "/edit ", 6) == 0 || strcmp(line, "/delete") == 0) {
        pthread_mutex_lock(&out);
        snprintf(target, sizeof target, "%.63s", last_own);
        pthread_mutex_unlock(&out);
        if (!target[0]) fprintf(stderr, "! no message of yours here yet\n");
        else if (line[1] == 'e' && (st = dchat_edit_message(chat, target, line + 6)) != DCHAT_OK) fail("edit", st);
        else if (line[1] == 'd' && (st = dchat_delete_message(chat, target)) != DCHAT_OK) fail("delete", st);
    } else if (strcmp(line, "/who") == 0) {
        size_t n = 0;
        if (!current[0] || (st = dchat_online_count(chat, current, &n)) != DCHAT_OK) return fprintf(stderr, "! join a room first\n"), true;
        pthread_mutex_lock(&out);
        printf("* [%s] %zu online:", current, n);
        for (size_t i = 0; i < n; i++) {
            char *user = NULL, *name = NULL;
            bool typing = false;
            if (dchat_online_user(chat, current, i, &user, &name, &typing) != DCHAT_OK) break;
            printf(" %s%s", name ? name : user, typing ? " (typing)" : "");
            dchat_string_free(user);
            dchat_string_free(name);
        }
        printf("\n");
        fflush(stdout);
        pthread_mutex_unlock(&out);
    } else if (strcmp(line, "/read") == 0) {
        pthread_mutex_lock(&out);
        snprintf(target, sizeof target, "%.63s", newest);
        pthread_mutex_unlock(&out);
        if (current[0] && target[0] && (st = dchat_mark_read(chat, current, target)) != DCHAT_OK) fail("read", st);
    } else if (line[0] == '/') {
        fprintf(stderr, "! commands: /join ROOM, /leave, /older, /edit TEXT, /delete, /who, /read, /quit\n");
    } else if ((st = dchat_send_to(chat, room_arg(), line, &id)) != DCHAT_OK) {
        fail("send", st);
    }
    return true;
}

int main(int argc, char **argv) {
    const char *url = argc > 1 ? argv[1] : getenv("DIRECTUS_WS_URL");
    const char *email = argc > 2 ? argv[2] : getenv("DCHAT_EMAIL");
    const char *password = argc > 3 ? argv[3] : getenv("DCHAT_PASSWORD");
    const char *token = getenv("DCHAT_TOKEN");
    const char *history = getenv("DCHAT_HISTORY");
    if (!url || (!token && (!email || !password))) {
        fprintf(stderr, "usage: %s WS_URL EMAIL PASSWORD   (or DCHAT_TOKEN=... %s WS_URL)\n", argv[0], argv[0]);
        return 2;
    }

    dchat_options *opts;
    dchat_options_new(&opts);
    dchat_options_set_callback(opts, on_event, NULL);
    if (history) dchat_options_set_history_limit(opts, (uint32_t)strtoul(history, NULL, 10));
    /* Joining a room also enters its presence (who is online, typing, unread counts);
     * leaving exits it. Default timings: a heartbeat every 10 s, offline after 25 s. */
    dchat_options_set_presence(opts, 0, 0, true);
    dchat_client *chat;
    dchat_status st = dchat_connect(url, opts, &chat);
    dchat_options_free(opts);
    if (st != DCHAT_OK) return fail("connect", st);

    st = token ? dchat_login_token(chat, token) : dchat_login(chat, email, password);
    if (st != DCHAT_OK) {
        dchat_free(chat);
        return fail("login", st);
    }
    /* The lobby: the messages without a room. A collection without a room field (the
     * guides' schema) refuses that filter: then the whole collection is the chat. */
    uint64_t subscription;
    st = dchat_join(chat, NULL, &subscription);
    if (st != DCHAT_OK) {
        dchat_event *me = NULL;
        if (dchat_whoami(chat, &me) == DCHAT_OK) dchat_event_free(me); /* for the "(you)" marks */
        st = dchat_subscribe_chat(chat, &subscription);
    }
    if (st != DCHAT_OK) {
        dchat_free(chat);
        return fail("subscribe", st);
    }

    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0') continue;
        if (!command(chat, line)) break;
    }
    /* Closing lets sends already on the wire finish (their replies still arrive). */
    dchat_free(chat);
    return 0;
}
