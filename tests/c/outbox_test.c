/*
 * The outbox through the C ABI, against a real Directus (scripts/test-c.sh starts one):
 * messages queued with dchat_outbox_send arrive as local echoes (DCHAT_OUTBOX_QUEUED,
 * a chat message with the entry's key), then SENDING and SENT (the stored item), and
 * the server's create events carry the same key, so a view keyed by it shows each
 * message once. A second client on the same outbox gets DCHAT_ERR_OUTBOX with
 * OUTBOX_LOCKED; a file that is not an outbox gets OUTBOX_CORRUPT and is left as it was;
 * cancel, edit and list; a closed client's outbox is resumed by the next one.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "directus_chat.h"

#define N 5

static int passed, failed;

static void fail_here(int line, const char *what, dchat_status st) {
    char msg[512] = "", code[64] = "";
    dchat_last_error_message(msg, sizeof msg, NULL);
    dchat_last_error_code(code, sizeof code, NULL);
    fprintf(stderr, "outbox_test.c:%d: FAILED %s (status %s, code %s: %s)\n", line, what, dchat_status_name(st), code, msg);
    failed++;
    printf("chat_test outbox: %d passed, %d failed\n", passed, failed);
    exit(1);
}

#define CHECK(cond) do { if (cond) passed++; else fail_here(__LINE__, #cond, DCHAT_OK); } while (0)
#define CHECK_OK(call) do { dchat_status st_ = (call); if (st_ == DCHAT_OK) passed++; else fail_here(__LINE__, #call, st_); } while (0)
#define CHECK_STATUS(call, want) do { dchat_status st_ = (call); if (st_ == (want)) passed++; else fail_here(__LINE__, #call " == " #want, st_); } while (0)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing environment variable %s\n", name); exit(2); }
    return v;
}

static dchat_client *open_client(const char *path) {
    dchat_options *o;
    CHECK_OK(dchat_options_new(&o));
    CHECK_OK(dchat_options_set_outbox(o, path));
    dchat_client *c = NULL;
    dchat_status st = dchat_connect(env("DIRECTUS_WS_URL"), o, &c);
    dchat_options_free(o);
    return st == DCHAT_OK ? c : NULL;
}

/* One line of the sender's view, keyed by the message key. */
typedef struct {
    char key[64];
    int pending, stored, sent;
} line_t;

static line_t view[64];
static int lines;

static line_t *find(const char *key) {
    for (int i = 0; i < lines; i++)
        if (strcmp(view[i].key, key) == 0) return &view[i];
    return NULL;
}

int main(void) {
    char dir[] = "/tmp/dchat-outbox-c-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char path[256], other[256];
    snprintf(path, sizeof path, "%s/outbox.db", dir);
    snprintf(other, sizeof other, "%s/notes.txt", dir);
    char tag[64];
    snprintf(tag, sizeof tag, "c-outbox-%d", (int)getpid());

    dchat_client *c = open_client(path);
    CHECK(c != NULL);
    /* The lock: a second client on the same file is refused, with its code. */
    CHECK(open_client(path) == NULL);
    char code[64] = "";
    dchat_last_error_code(code, sizeof code, NULL);
    CHECK(strcmp(code, "OUTBOX_LOCKED") == 0);

    CHECK_OK(dchat_login_token(c, env("DCHAT_USER1_TOKEN")));
    uint64_t sub;
    CHECK_OK(dchat_subscribe_chat(c, &sub));
    uint64_t ids[N];
    for (int i = 0; i < N; i++) {
        char text[128];
        snprintf(text, sizeof text, "%s %d", tag, i);
        CHECK_OK(dchat_outbox_send(c, text, &ids[i]));
        CHECK(i == 0 || ids[i] > ids[i - 1]);
    }
    /* Unknown ids and a client without an outbox are argument errors. */
    CHECK_STATUS(dchat_outbox_cancel(c, 999999), DCHAT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(dchat_outbox_send(NULL, "x", &ids[0]), DCHAT_ERR_NULL_ARGUMENT);

    int sent = 0, stored = 0, shown_twice = 0;
    for (int spins = 0; (sent < N || stored < N) && spins < 600; spins++) {
        dchat_event *e;
        if (dchat_poll(c, 100, &e) != DCHAT_OK) continue;
        if (dchat_event_kind(e) == DCHAT_EVENT_OUTBOX) {
            const char *key = dchat_event_outbox_key(e);
            dchat_outbox_state st = dchat_event_outbox_state(e);
            /* The entry's chat message: its local echo (or the stored item once sent). */
            if (dchat_event_message_count(e) != 1 || strcmp(dchat_event_message_key(e, 0), key) != 0) failed++;
            if (st == DCHAT_OUTBOX_QUEUED) {
                if (find(key)) shown_twice++;
                else if (lines < 64) { snprintf(view[lines].key, sizeof view[lines].key, "%s", key); view[lines++].pending = 1; }
            } else if (st == DCHAT_OUTBOX_SENT) {
                line_t *l = find(key);
                if (l) { l->sent = 1; sent++; }
                if (!strstr(dchat_event_json(e), key)) failed++; /* the stored item carries its key */
            } else if (st != DCHAT_OUTBOX_SENDING) {
                failed++;
            }
        } else if (dchat_event_kind(e) == DCHAT_EVENT_SUBSCRIPTION && dchat_event_sub_event(e) == DCHAT_SUB_CREATE) {
            for (size_t i = 0; i < dchat_event_message_count(e); i++) {
                if (strncmp(dchat_event_message_text(e, i), tag, strlen(tag)) != 0) continue;
                line_t *l = find(dchat_event_message_key(e, i));
                if (l) { l->stored = 1; stored++; } else shown_twice++;
            }
        }
        dchat_event_free(e);
    }
    CHECK(sent == N);
    CHECK(stored == N);
    CHECK(shown_twice == 0);
    CHECK(lines == N);
    for (int i = 0; i < lines; i++) CHECK(view[i].pending && view[i].stored && view[i].sent);
    char *list;
    CHECK_OK(dchat_outbox_list(c, &list));
    CHECK(strcmp(list, "[]") == 0);
    dchat_string_free(list);
    CHECK_OK(dchat_close(c));
    CHECK_OK(dchat_free(c));

    /* Queued while logged out, one cancelled, one edited; the next client sends them. */
    c = open_client(path);
    CHECK(c != NULL);
    uint64_t a, b, d;
    CHECK_OK(dchat_outbox_send(c, "outbox c: a", &a));
    CHECK_OK(dchat_outbox_send(c, "outbox c: b", &b));
    CHECK_OK(dchat_outbox_send(c, "outbox c: d", &d));
    CHECK_OK(dchat_outbox_cancel(c, b));
    CHECK_OK(dchat_outbox_edit(c, d, "{\"text\":\"outbox c: d, edited\"}"));
    CHECK_STATUS(dchat_outbox_edit(c, d, "{\"client_key\":\"another\"}"), DCHAT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(dchat_outbox_edit(c, d, "not json"), DCHAT_ERR_INVALID_JSON);
    CHECK_OK(dchat_outbox_list(c, &list));
    CHECK(strstr(list, "outbox c: d, edited") != NULL && strstr(list, "outbox c: b") == NULL);
    dchat_string_free(list);
    CHECK_OK(dchat_free(c));
    c = open_client(path);
    CHECK(c != NULL);
    CHECK_OK(dchat_login_token(c, env("DCHAT_USER1_TOKEN")));
    int done = 0;
    for (int spins = 0; done < 2 && spins < 300; spins++) {
        dchat_event *e;
        if (dchat_poll(c, 100, &e) != DCHAT_OK) continue;
        if (dchat_event_kind(e) == DCHAT_EVENT_OUTBOX && dchat_event_outbox_state(e) == DCHAT_OUTBOX_SENT) {
            uint64_t id = dchat_event_outbox_id(e);
            if (id == a || id == d) done++;
            if (id == d && !strstr(dchat_event_json(e), "d, edited")) failed++;
        }
        dchat_event_free(e);
    }
    CHECK(done == 2);
    CHECK_OK(dchat_free(c));

    /* A file that is not an outbox: refused with its code and left as it was. */
    FILE *f = fopen(other, "w");
    fputs("my notes, not an outbox; not a database either........................................\n", f);
    fclose(f);
    CHECK(open_client(other) == NULL);
    dchat_last_error_code(code, sizeof code, NULL);
    CHECK(strcmp(code, "OUTBOX_CORRUPT") == 0);
    f = fopen(other, "r");
    char back[128] = "";
    CHECK(fgets(back, sizeof back, f) != NULL && strncmp(back, "my notes", 8) == 0);
    fclose(f);
    CHECK_STATUS(dchat_options_set_outbox(NULL, path), DCHAT_ERR_NULL_ARGUMENT);

    unlink(path);
    unlink(other);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    rmdir(dir);
    printf("chat_test outbox: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
