/*
 * A game loop with a chat overlay: an animated scene drawn every frame, and on top of it
 * the last messages of a Directus `messages` collection (`Name: text`), an input line
 * and the connection state. Events are taken with dchat_poll(c, 0, ...) on the main
 * thread until the queue is empty, once per frame, so the network never blocks a frame.
 * Typing and Enter send a message; Escape or closing the window quits. The overlay is in
 * the presence of a room (default `general`): while you type, others see "Kevin is
 * typing…", and it shows who types there.
 *
 *   chat_overlay WS_URL EMAIL PASSWORD [options]
 *     --ca-pem FILE       trust this CA for wss:// (besides the bundled roots)
 *     --font FILE         a TrueType font (default: DejaVu Sans from fonts-dejavu-core)
 *     --send TEXT         send TEXT once the history is shown (for tests)
 *     --expect TEXT       wait for a new message TEXT (default: the --send text), e.g.
 *                         one typed into the window
 *     --screenshot FILE   save the first frame that shows the expected message as a
 *                         BMP, print the chat lines of that frame to stdout and exit
 *     --frames N          give up after N frames (exit 1), e.g. in tests
 *     --room ROOM         the room whose presence it is in (default general)
 *     --expect-typing NAME  the screenshot also waits until "NAME is typing…" shows,
 *                         and that line is printed with the chat lines
 *
 * Nothing waits for the server: connecting, logging in and subscribing are issued
 * before the first frame with the non-blocking calls (dchat_connect_nowait,
 * dchat_login_nowait, dchat_subscribe_chat_nowait), and their outcomes arrive as events
 * while the frames go on ("connecting", "reconnecting in 2.0 s (attempt 3)", ...).
 * Uses only include/directus_chat.h and the library, SDL2 and SDL2_ttf.
 */
#define _POSIX_C_SOURCE 200809L
#include <SDL.h>
#include <SDL_ttf.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directus_chat.h"

#define WIDTH 800
#define HEIGHT 600
#define VISIBLE_LINES 10
#define MAX_MESSAGES 200
#define INPUT_MAX 512
#define FONT_SIZE 16

/* ---- command line ---- */

typedef struct {
    const char *url, *email, *password, *ca_pem_file, *font, *send, *expect, *screenshot, *room, *expect_typing;
    long max_frames;
} config;

static bool parse_args(int argc, char **argv, config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    cfg->room = "general";
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--ca-pem") == 0 && has_value) cfg->ca_pem_file = argv[++i];
        else if (strcmp(a, "--font") == 0 && has_value) cfg->font = argv[++i];
        else if (strcmp(a, "--send") == 0 && has_value) cfg->send = argv[++i];
        else if (strcmp(a, "--expect") == 0 && has_value) cfg->expect = argv[++i];
        else if (strcmp(a, "--screenshot") == 0 && has_value) cfg->screenshot = argv[++i];
        else if (strcmp(a, "--room") == 0 && has_value) cfg->room = argv[++i];
        else if (strcmp(a, "--expect-typing") == 0 && has_value) cfg->expect_typing = argv[++i];
        else if (strcmp(a, "--frames") == 0 && has_value) cfg->max_frames = strtol(argv[++i], NULL, 10);
        else if (a[0] == '-' && a[1] == '-') return false;
        else if (positional == 0) { cfg->url = a; positional++; }
        else if (positional == 1) { cfg->email = a; positional++; }
        else if (positional == 2) { cfg->password = a; positional++; }
        else return false;
    }
    if (!cfg->expect) cfg->expect = cfg->send;
    /* A screenshot waits for the expected message, so it needs one. */
    return positional == 3 && (!cfg->screenshot || cfg->expect);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) buf[n] = '\0';
    else { free(buf); buf = NULL; }
    fclose(f);
    return buf;
}

/* ---- joining the chat, without waiting ---- */

typedef struct {
    uint64_t login, subscription; /* request ids; a subscribe's reply carries the subscription id */
    uint64_t enter;               /* entering the room's presence (typing shown to others) */
    bool failed;
    char error[512];
} joining;

static bool fail_join(joining *j, const char *what, dchat_status st) {
    char msg[400] = "";
    dchat_last_error_message(msg, sizeof msg, NULL);
    snprintf(j->error, sizeof j->error, "%s failed (%s): %s", what, dchat_status_name(st), msg);
    j->failed = true;
    return false;
}

/* Issues the connect, the login and the subscribe; returns at once. */
static bool start_chat(const config *cfg, const char *ca_pem, joining *j, dchat_client **out) {
    dchat_options *opts;
    dchat_options_new(&opts); /* poll mode is the default */
    dchat_options_set_reconnect(opts, 1000, 1.5, 5000, -1); /* keep trying, at most 5 s apart */
    if (ca_pem) {
        dchat_status st = dchat_options_set_ca_pem(opts, ca_pem);
        if (st != DCHAT_OK) { dchat_options_free(opts); return fail_join(j, "CA PEM", st); }
    }
    dchat_status st = dchat_connect_nowait(cfg->url, opts, out);
    dchat_options_free(opts);
    if (st != DCHAT_OK) return fail_join(j, "connect", st);
    if ((st = dchat_login_nowait(*out, cfg->email, cfg->password, &j->login)) != DCHAT_OK) return fail_join(j, "login", st);
    if ((st = dchat_subscribe_chat_nowait(*out, &j->subscription, NULL)) != DCHAT_OK) return fail_join(j, "subscribe", st);
    /* Waits for the login by itself; until it is done, typing is not told to anyone. */
    if ((st = dchat_enter_nowait(*out, cfg->room, &j->enter)) != DCHAT_OK) return fail_join(j, "enter", st);
    return true;
}

/* ---- text, cached as textures so a line is rasterized once, not every frame ---- */

typedef struct {
    char *utf8;
    SDL_Texture *tex;
    int w, h;
    SDL_Color color;
} label;

static void label_set(label *l, const char *text, SDL_Color color) {
    if (l->utf8 && strcmp(l->utf8, text) == 0 && memcmp(&l->color, &color, sizeof color) == 0) return;
    free(l->utf8);
    l->utf8 = strdup(text);
    l->color = color;
    if (l->tex) SDL_DestroyTexture(l->tex);
    l->tex = NULL;
}

static void label_free(label *l) {
    free(l->utf8);
    if (l->tex) SDL_DestroyTexture(l->tex);
    memset(l, 0, sizeof *l);
}

/* Draws the label at (x, y); returns its height. An empty text draws nothing. */
static int label_draw(SDL_Renderer *r, TTF_Font *font, label *l, int x, int y) {
    if (!l->utf8 || !l->utf8[0]) return TTF_FontLineSkip(font);
    if (!l->tex) {
        SDL_Surface *s = TTF_RenderUTF8_Blended(font, l->utf8, l->color);
        if (!s) return TTF_FontLineSkip(font);
        l->tex = SDL_CreateTextureFromSurface(r, s);
        l->w = s->w;
        l->h = s->h;
        SDL_FreeSurface(s);
    }
    SDL_Rect dst = {x, y, l->w, l->h};
    SDL_RenderCopy(r, l->tex, NULL, &dst);
    return l->h;
}

/* ---- the chat view: messages by id, in arrival order ---- */

typedef struct {
    char *id;
    label line; /* "Name: text" */
} message;

typedef struct {
    message items[MAX_MESSAGES];
    int count;
} chat_log;

static const SDL_Color WHITE = {235, 235, 235, 255}, GREY = {150, 150, 160, 255}, GREEN = {90, 220, 120, 255},
                       YELLOW = {240, 200, 80, 255}, RED = {240, 90, 80, 255}, CYAN = {120, 210, 240, 255};

static void format_line(char *buf, size_t len, const dchat_event *ev, size_t i) {
    const char *author = dchat_event_message_author(ev, i);
    snprintf(buf, len, "%s: %s", author ? author : "?", dchat_event_message_text(ev, i));
}

static message *find_message(chat_log *log, const char *id) {
    for (int i = 0; i < log->count; i++)
        if (id && log->items[i].id && strcmp(log->items[i].id, id) == 0) return &log->items[i];
    return NULL;
}

static void remove_at(chat_log *log, int i) {
    free(log->items[i].id);
    label_free(&log->items[i].line);
    memmove(&log->items[i], &log->items[i + 1], (size_t)(log->count - i - 1) * sizeof(message));
    log->count--;
}

static void upsert(chat_log *log, const dchat_event *ev, size_t i) {
    char buf[INPUT_MAX + 128];
    format_line(buf, sizeof buf, ev, i);
    message *m = find_message(log, dchat_event_message_id(ev, i));
    if (!m) {
        if (log->count == MAX_MESSAGES) remove_at(log, 0);
        m = &log->items[log->count++];
        memset(m, 0, sizeof *m);
        const char *id = dchat_event_message_id(ev, i);
        m->id = id ? strdup(id) : NULL;
    }
    label_set(&m->line, buf, WHITE);
}

/* A delete event's JSON lists the deleted keys (numbers or uuids); any message whose id
 * appears there as a whole token goes. */
static void remove_deleted(chat_log *log, const char *json) {
    if (!json) return;
    for (int i = log->count - 1; i >= 0; i--) {
        const char *id = log->items[i].id;
        size_t n = id ? strlen(id) : 0;
        for (const char *p = n ? strstr(json, id) : NULL; p; p = strstr(p + 1, id)) {
            bool starts = p == json || strchr("[\",: ", p[-1]);
            bool ends = strchr("]\",: ", p[n]) != NULL;
            if (starts && ends) { remove_at(log, i); break; }
        }
    }
}

static void clear_log(chat_log *log) {
    while (log->count) remove_at(log, log->count - 1);
}

/* ---- the frame's state ---- */

typedef struct {
    chat_log log;
    dchat_state state;
    uint32_t attempt;  /* of the last CONNECTING */
    int64_t retry_ms;  /* of the last DISCONNECTED; -1: no retry follows */
    dchat_close_cause cause;
    bool have_state, history_shown, sent, expected_seen;
    char notice[512]; /* the last error or refused send */
    uint64_t send_request;
    /* Who types in the room (user id, name), from typing events; oneself left out. */
    char typing_id[4][64], typing_name[4][64];
    int typing_count;
    char me[64];
} chat_view;

static void set_typing(chat_view *v, const dchat_client *c, const dchat_event *ev) {
    const char *id = dchat_event_user_id(ev), *name = dchat_event_user_name(ev);
    if (!id) return;
    if (!v->me[0]) { /* known once logged in: the chat API learns the user */
        dchat_event *me = NULL;
        if (dchat_me(c, &me) == DCHAT_OK) {
            const char *mine = dchat_event_item_string(me, 0, "/id");
            if (mine) snprintf(v->me, sizeof v->me, "%s", mine);
            dchat_event_free(me);
        }
    }
    if (strcmp(id, v->me) == 0) return;
    for (int i = 0; i < v->typing_count; i++)
        if (strcmp(v->typing_id[i], id) == 0) {
            memmove(&v->typing_id[i], &v->typing_id[i + 1], (size_t)(v->typing_count - i - 1) * sizeof v->typing_id[0]);
            memmove(&v->typing_name[i], &v->typing_name[i + 1], (size_t)(v->typing_count - i - 1) * sizeof v->typing_name[0]);
            v->typing_count--;
            break;
        }
    if (dchat_event_flag(ev) && v->typing_count < 4) {
        snprintf(v->typing_id[v->typing_count], sizeof v->typing_id[0], "%s", id);
        snprintf(v->typing_name[v->typing_count], sizeof v->typing_name[0], "%s", name ? name : "someone");
        v->typing_count++;
    }
}

/* "Ada is typing…", "Ada and Grace are typing…"; empty when nobody types. */
static void typing_text(const chat_view *v, char *buf, size_t n) {
    buf[0] = '\0';
    for (int i = 0; i < v->typing_count; i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i == 0 ? "" : i == v->typing_count - 1 ? " and " : ", ", v->typing_name[i]);
    if (v->typing_count) snprintf(buf + strlen(buf), n - strlen(buf), " %s typing\xE2\x80\xA6", v->typing_count == 1 ? "is" : "are");
}

static void apply_event(chat_view *v, joining *j, const dchat_client *c, const dchat_event *ev, const config *cfg) {
    switch (dchat_event_kind(ev)) {
    case DCHAT_EVENT_TYPING:
        set_typing(v, c, ev);
        break;
    case DCHAT_EVENT_STATE:
        v->state = dchat_event_state(ev);
        v->have_state = true;
        if (v->state == DCHAT_STATE_CONNECTING) v->attempt = dchat_event_attempt(ev);
        v->retry_ms = dchat_event_retry_ms(ev);
        v->cause = dchat_event_close_cause(ev);
        if (v->state == DCHAT_STATE_DISCONNECTED && dchat_event_text(ev))
            snprintf(v->notice, sizeof v->notice, "disconnected: %s", dchat_event_text(ev));
        else if (v->state == DCHAT_STATE_AUTHENTICATED)
            v->notice[0] = '\0';
        break;
    case DCHAT_EVENT_SUBSCRIPTION:
        switch (dchat_event_sub_event(ev)) {
        case DCHAT_SUB_INIT:   /* the history: it replaces what is shown */
        case DCHAT_SUB_CREATE:
        case DCHAT_SUB_UPDATE:
            if (dchat_event_sub_event(ev) == DCHAT_SUB_INIT) clear_log(&v->log);
            for (size_t i = 0; i < dchat_event_message_count(ev); i++) {
                upsert(&v->log, ev, i);
                if (cfg->expect && dchat_event_sub_event(ev) == DCHAT_SUB_CREATE &&
                    strcmp(dchat_event_message_text(ev, i), cfg->expect) == 0)
                    v->expected_seen = true;
            }
            if (dchat_event_sub_event(ev) == DCHAT_SUB_INIT) v->history_shown = true;
            break;
        case DCHAT_SUB_DELETE:
            remove_deleted(&v->log, dchat_event_json(ev));
            break;
        default:
            break;
        }
        break;
    case DCHAT_EVENT_REPLY:
        if (dchat_event_code(ev) && (dchat_event_request(ev) == j->login || dchat_event_request(ev) == j->subscription)) {
            /* Joining failed (AUTH_FAILED, FORBIDDEN, ...). */
            snprintf(j->error, sizeof j->error, "%s failed (%s): %s", dchat_event_request(ev) == j->login ? "login" : "subscribe",
                     dchat_event_code(ev), dchat_event_text(ev));
            j->failed = true;
        } else if (dchat_event_code(ev)) {
            snprintf(v->notice, sizeof v->notice, "not sent: %s", dchat_event_text(ev));
        }
        break;
    case DCHAT_EVENT_ERROR:
    case DCHAT_EVENT_SUBSCRIPTION_ERROR:
        snprintf(v->notice, sizeof v->notice, "%s", dchat_event_text(ev) ? dchat_event_text(ev) : "error");
        break;
    default:
        break;
    }
}

static void send_text(chat_view *v, const dchat_client *c, const char *text) {
    dchat_status st = dchat_send(c, text, &v->send_request);
    if (st != DCHAT_OK) {
        char msg[400] = "";
        dchat_last_error_message(msg, sizeof msg, NULL);
        snprintf(v->notice, sizeof v->notice, "send failed: %s", msg);
    }
}

/* ---- drawing ---- */

static void fill(SDL_Renderer *r, int x, int y, int w, int h, Uint8 cr, Uint8 cg, Uint8 cb, Uint8 ca) {
    SDL_SetRenderDrawColor(r, cr, cg, cb, ca);
    SDL_Rect rect = {x, y, w, h};
    SDL_RenderFillRect(r, &rect);
}

/* The "game": a sky gradient, scrolling hills and a bouncing ball, all driven by the
 * frame number so that a stuck loop would be visible at once. */
static void draw_scene(SDL_Renderer *r, long frame) {
    for (int y = 0; y < HEIGHT; y += 4) fill(r, 0, y, WIDTH, 4, (Uint8)(20 + y / 12), (Uint8)(30 + y / 10), (Uint8)(70 + y / 6), 255);
    int offset = (int)(frame * 2 % 160);
    for (int x = -160; x < WIDTH + 160; x += 160) {
        int hx = x - offset;
        for (int i = 0; i < 80; i += 4) fill(r, hx + i, 380 - i, 160 - 2 * i, 4, 40, (Uint8)(110 + i), 60, 255);
    }
    fill(r, 0, 380, WIDTH, HEIGHT - 380, 40, 90, 50, 255);
    double t = frame / 60.0;
    int bx = (int)(WIDTH / 2 + 300 * sin(t * 0.9)), by = (int)(330 - fabs(sin(t * 2.5)) * 220);
    for (int dy = -24; dy <= 24; dy += 2) {
        int half = (int)sqrt(24.0 * 24.0 - dy * dy);
        fill(r, bx - half, by + dy, 2 * half, 2, 250, (Uint8)(140 + dy * 2), 40, 255);
    }
}

static SDL_Color state_color(const chat_view *v, bool failed) {
    if (failed) return RED;
    if (!v->have_state) return YELLOW;
    switch (v->state) {
    case DCHAT_STATE_AUTHENTICATED: return GREEN;
    case DCHAT_STATE_DISCONNECTED:
    case DCHAT_STATE_CLOSED: return RED;
    default: return YELLOW;
    }
}

/* The status line: the state, with the attempt and the delay before the next one. */
static const char *state_name(const chat_view *v, bool failed, char *buf, size_t len) {
    if (failed) return "failed";
    if (!v->have_state) return "connecting";
    switch (v->state) {
    case DCHAT_STATE_CONNECTING:
        if (v->attempt == 0) return "connecting";
        snprintf(buf, len, "connecting (attempt %u)", (unsigned)v->attempt);
        return buf;
    case DCHAT_STATE_CONNECTED: return "connected, logging in";
    case DCHAT_STATE_AUTHENTICATED: return "online";
    case DCHAT_STATE_DISCONNECTED:
        if (v->retry_ms < 0) return "disconnected";
        snprintf(buf, len, "disconnected, retrying in %.1f s", v->retry_ms / 1000.0);
        return buf;
    case DCHAT_STATE_CLOSED: return v->cause == DCHAT_CLOSE_GAVE_UP ? "closed: gave up reconnecting" : "closed";
    }
    return "?";
}

typedef struct {
    label status, notice, input, fps, typing;
} hud;

static void draw_overlay(SDL_Renderer *r, TTF_Font *font, chat_view *v, hud *h, const joining *j, const char *input, long frame,
                         bool cursor_on) {
    int skip = TTF_FontLineSkip(font);
    int panel_h = (VISIBLE_LINES + 2) * skip + 24, panel_y = HEIGHT - panel_h - 10;
    SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_BLEND);
    fill(r, 10, panel_y, WIDTH - 20, panel_h, 0, 0, 0, 170);
    fill(r, 10, 10, WIDTH - 20, skip + 12, 0, 0, 0, 170);

    char buf[INPUT_MAX + 64], state[64];
    snprintf(buf, sizeof buf, "chat: %s%s%s", state_name(v, j->failed, state, sizeof state), j->failed ? " - " : "",
             j->failed ? j->error : "");
    label_set(&h->status, buf, state_color(v, j->failed));
    label_draw(r, font, &h->status, 20, 16);
    snprintf(buf, sizeof buf, "frame %ld", frame);
    label_set(&h->fps, buf, GREY);
    label_draw(r, font, &h->fps, WIDTH - 130, 16);

    int y = panel_y + 8;
    int first = v->log.count > VISIBLE_LINES ? v->log.count - VISIBLE_LINES : 0;
    for (int i = first; i < v->log.count; i++) y += label_draw(r, font, &v->log.items[i].line, 20, y);
    y = panel_y + 8 + VISIBLE_LINES * skip;
    label_set(&h->notice, v->notice, RED);
    label_draw(r, font, &h->notice, 20, y);
    /* Who types, right of the notice line. */
    typing_text(v, buf, sizeof buf);
    label_set(&h->typing, buf, GREY);
    label_draw(r, font, &h->typing, WIDTH / 2, y);
    snprintf(buf, sizeof buf, "> %s%s", input, cursor_on ? "_" : "");
    label_set(&h->input, buf, CYAN);
    label_draw(r, font, &h->input, 20, y + skip + 4);
}

/* Reads back the frame just drawn (before it is presented) and saves it as a BMP. */
static bool save_screenshot(SDL_Renderer *r, const char *path) {
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, WIDTH, HEIGHT, 32, SDL_PIXELFORMAT_ARGB8888);
    if (!s) return false;
    bool ok = SDL_RenderReadPixels(r, NULL, SDL_PIXELFORMAT_ARGB8888, s->pixels, s->pitch) == 0 && SDL_SaveBMP(s, path) == 0;
    SDL_FreeSurface(s);
    return ok;
}

static void pop_utf8(char *s) {
    size_t n = strlen(s);
    while (n > 0 && ((unsigned char)s[n - 1] & 0xC0) == 0x80) n--; /* continuation bytes */
    if (n > 0) n--;
    s[n] = '\0';
}

int main(int argc, char **argv) {
    config cfg;
    if (!parse_args(argc, argv, &cfg)) {
        fprintf(stderr,
                "usage: %s WS_URL EMAIL PASSWORD [--ca-pem FILE] [--font FILE] [--send TEXT]\n"
                "          [--expect TEXT] [--screenshot OUT.bmp] [--frames N] [--room ROOM]\n",
                argv[0]);
        return 2;
    }
    char *ca_pem = NULL;
    if (cfg.ca_pem_file && !(ca_pem = read_file(cfg.ca_pem_file))) {
        fprintf(stderr, "cannot read %s\n", cfg.ca_pem_file);
        return 2;
    }
    if (SDL_Init(SDL_INIT_VIDEO) != 0 || TTF_Init() != 0) {
        fprintf(stderr, "SDL: %s\n", SDL_GetError());
        return 1;
    }
    SDL_Window *win = SDL_CreateWindow("directus-chat overlay", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, WIDTH, HEIGHT, 0);
    SDL_Renderer *ren = win ? SDL_CreateRenderer(win, -1, SDL_RENDERER_PRESENTVSYNC) : NULL;
    TTF_Font *font = TTF_OpenFont(cfg.font, FONT_SIZE);
    if (!win || !ren || !font) {
        fprintf(stderr, "SDL: %s\n", SDL_GetError());
        return 1;
    }
    SDL_RendererInfo info;
    SDL_GetRendererInfo(ren, &info);
    fprintf(stderr, "video driver %s, renderer %s\n", SDL_GetCurrentVideoDriver(), info.name);

    /* Issued before the first frame; nothing here waits for the server. */
    joining join = {0};
    dchat_client *c = NULL;
    Uint32 join_start = SDL_GetTicks();
    start_chat(&cfg, ca_pem, &join, &c);
    fprintf(stderr, "joining took %u ms\n", (unsigned)(SDL_GetTicks() - join_start));
    static chat_view view;
    hud h = {0};
    char input[INPUT_MAX] = "";
    SDL_StartTextInput();

    int exit_code = 0;
    long frame = 0, frames_before_history = -1;
    Uint32 worst_frame_ms = 0;
    bool running = true;
    while (running) {
        Uint32 frame_start = SDL_GetTicks();
        SDL_Event e;
        while (SDL_PollEvent(&e)) {
            if (e.type == SDL_QUIT || (e.type == SDL_KEYDOWN && e.key.keysym.sym == SDLK_ESCAPE)) running = false;
            else if (e.type == SDL_TEXTINPUT && strlen(input) + strlen(e.text.text) < sizeof input) {
                strcat(input, e.text.text);
                /* Never blocks; written at most every 3 s while keys come (an error
                 * before the room is entered is of no interest here). */
                if (c) dchat_set_typing(c, cfg.room, true);
            }
            else if (e.type == SDL_KEYDOWN && e.key.keysym.sym == SDLK_BACKSPACE) pop_utf8(input);
            else if (e.type == SDL_KEYDOWN && (e.key.keysym.sym == SDLK_RETURN || e.key.keysym.sym == SDLK_KP_ENTER) && input[0] && c) {
                send_text(&view, c, input); /* does not block: the outcome is a reply event */
                dchat_set_typing(c, cfg.room, false);
                input[0] = '\0';
            }
        }

        /* The frame's chat work: what is queued, at most 64 events, never waiting. */
        dchat_event *evs[64];
        size_t n = 0;
        if (c && dchat_poll_many(c, 0, evs, 64, &n) == DCHAT_OK)
            for (size_t i = 0; i < n; i++) {
                apply_event(&view, &join, c, evs[i], &cfg);
                dchat_event_free(evs[i]);
            }
        if (view.history_shown && frames_before_history < 0) {
            frames_before_history = frame;
            fprintf(stderr, "history shown at frame %ld\n", frame); /* tests wait for this before typing */
        }
        if (cfg.send && view.history_shown && !view.sent && c) {
            send_text(&view, c, cfg.send);
            view.sent = true;
        }

        draw_scene(ren, frame);
        draw_overlay(ren, font, &view, &h, &join, input, frame, (SDL_GetTicks() / 500) % 2 == 0);

        char typing_line[300];
        typing_text(&view, typing_line, sizeof typing_line);
        bool typing_seen = !cfg.expect_typing || strstr(typing_line, cfg.expect_typing) != NULL;
        if (cfg.screenshot && view.expected_seen && typing_seen) {
            /* This frame shows the expected message: keep it and report what it shows. */
            if (!save_screenshot(ren, cfg.screenshot)) {
                fprintf(stderr, "screenshot failed: %s\n", SDL_GetError());
                exit_code = 1;
            }
            int first = view.log.count > VISIBLE_LINES ? view.log.count - VISIBLE_LINES : 0;
            for (int i = first; i < view.log.count; i++) printf("%s\n", view.log.items[i].line.utf8);
            if (typing_line[0]) printf("%s\n", typing_line);
            running = false;
        }
        SDL_RenderPresent(ren);
        frame++;
        if (join.failed && cfg.screenshot) {
            fprintf(stderr, "%s\n", join.error);
            exit_code = 1;
            running = false;
        }
        if (cfg.max_frames > 0 && frame >= cfg.max_frames && running) {
            char state[64];
            fprintf(stderr, "gave up after %ld frames (state: %s)\n", frame, state_name(&view, join.failed, state, sizeof state));
            exit_code = 1;
            running = false;
        }
        Uint32 spent = SDL_GetTicks() - frame_start;
        if (frame > 1 && spent > worst_frame_ms) worst_frame_ms = spent; /* the first frame sets up the GPU and fonts */
        if (spent < 16) SDL_Delay(16 - spent); /* about 60 frames a second without vsync */
    }
    fprintf(stderr, "frames: %ld, slowest frame after the first %u ms\n", frame, (unsigned)worst_frame_ms);

    /* Frees without waiting for the server (requests on the wire finish in the background). */
    dchat_free_nowait(c);
    clear_log(&view.log);
    label_free(&h.status);
    label_free(&h.notice);
    label_free(&h.input);
    label_free(&h.fps);
    free(ca_pem);
    TTF_CloseFont(font);
    SDL_DestroyRenderer(ren);
    SDL_DestroyWindow(win);
    TTF_Quit();
    SDL_Quit();
    return exit_code;
}
