#!/usr/bin/env python3
"""A terminal chat on a Directus `messages` collection, like the Directus chat guides.

    python chat.py WS_URL EMAIL PASSWORD
    DCHAT_TOKEN=<static token> python chat.py WS_URL

Prints the history and every new message as ``Name: text`` and sends each line you
type. Your own messages read ``Name (you): text``, edited ones end in ``(edited)``,
messages of a room start with ``[room]``. In a room you see who comes and goes
(``* [room] Ada is online``), who is typing (``* [room] Ada is typing...``) and the
unread count of rooms you are not looking at. Commands:

    /join ROOM     join a room (it must exist) and send there; you stay in the others
    /leave         leave the current room, back to the lobby
    /older         the 20 messages before the oldest shown of the current room
    /edit TEXT     change the text of your last message in the current room
    /delete        delete your last message in the current room
    /who           who is online in the current room (and who is typing)
    /read          mark the current room read up to its newest message
    /file PATH     upload a file and send it (with DCHAT_FILE_FIELD set)
    /quit          leave (so does the end of input)

DCHAT_HISTORY=N sets how many messages a room's history shows (default 100).
DCHAT_FILE_FIELD=file (the schema kit's attachment field) shows each message's
attachment as ``[file: NAME, SIZE bytes, URL]`` and enables /file.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import List, Optional

from directus_chat import ChatMessage, Client, DirectusError, Event


class Chat:
    """What the input loop and the event callbacks share."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.lock = threading.Lock()  # one line at a time, and the state below
        self.room: Optional[str] = None  # where lines go; None is the lobby
        self.last_own: Optional[str] = None  # your last message there
        self.newest: Optional[str] = None  # the newest message shown there

    def line(self, m: ChatMessage) -> str:
        prefix = f"[{m.room}] " if m.room else ""
        you = " (you)" if m.own else ""
        edited = " (edited)" if m.edited else ""
        file = f" [file: {m.file.name}, {m.file.size} bytes, {self.client.asset_url(m.file.id)}]" if m.file else ""
        return f"{prefix}{m.author or '?'}{you}: {m.text}{edited}{file}"

    def show(self, m: ChatMessage) -> None:
        print(self.line(m), flush=True)
        if m.own and m.room == self.room:
            self.last_own = m.id
        if m.room == self.room:
            self.newest = m.id

    def on_presence(self, event: Event) -> None:
        # Who comes and goes, who types, unread counts of the other rooms.
        who = event.user_name or event.user
        with self.lock:
            if event.kind == "online":
                print(f"* [{event.room}] {who} {'is online' if event.online else 'went offline'}", flush=True)
            elif event.kind == "typing" and event.typing:
                print(f"* [{event.room}] {who} is typing...", flush=True)
            elif event.kind == "unread" and event.room != self.room and event.unread:
                print(f"* [{event.room}] {event.unread} unread", flush=True)

    def on_event(self, event: Event) -> None:
        # A room's history (init), new and edited messages, and deletions.
        with self.lock:
            if event.kind in ("init", "create", "update"):
                for m in event.messages:
                    self.show(m)
            elif event.kind == "delete":
                prefix = f"[{event.room}] " if event.room else ""
                for key in event.deleted:
                    print(f"{prefix}(message {key} deleted)", flush=True)
                    if event.room == self.room and key == self.last_own:
                        self.last_own = None

    def command(self, text: str) -> bool:
        """Handles one typed line; False for /quit."""
        if text == "/quit":
            return False
        if text.startswith("/join "):
            with self.lock:
                self.room, self.last_own, self.newest = text[6:], None, None
            self.client.join(self.room, callback=self.on_event)
        elif text == "/leave":
            if self.room is not None:
                self.client.leave(self.room)
            with self.lock:
                self.room, self.last_own = None, None
        elif text == "/older":
            page = self.client.load_older(self.room, count=20)
            with self.lock:
                print(f"-- {len(page)} older message(s)", flush=True)
                for m in page:
                    self.show(m)
        elif text.startswith("/edit ") or text == "/delete":
            with self.lock:
                target = self.last_own
            if target is None:
                print("! no message of yours here yet", file=sys.stderr)
            elif text == "/delete":
                self.client.delete_message(target)
            else:
                self.client.edit_message(target, text[6:])
        elif text == "/who":
            if self.room is None:
                print("! join a room first", file=sys.stderr)
            else:
                members = self.client.online(self.room)
                names = " ".join(f"{m.name or m.user}{' (typing)' if m.typing else ''}" for m in members)
                with self.lock:
                    print(f"* [{self.room}] {len(members)} online: {names}", flush=True)
        elif text == "/read":
            with self.lock:
                room, newest = self.room, self.newest
            if room is not None and newest is not None:
                self.client.mark_read(room, newest)
        elif text.startswith("/file "):
            path = text[len("/file ") :].strip()
            f = self.client.upload(path)
            print(f"-- uploaded {f.name} ({f.size} bytes)", file=sys.stderr)
            self.client.send(os.path.basename(path), room=self.room, extra={"file": f.id})
        elif text.startswith("/"):
            print("! commands: /join ROOM, /leave, /older, /edit TEXT, /delete, /who, /read, /file PATH, /quit", file=sys.stderr)
        else:
            self.client.send(text, room=self.room)
        return True


def main() -> int:
    args = sys.argv[1:]
    url = args[0] if args else os.environ.get("DIRECTUS_WS_URL", "")
    token = os.environ.get("DCHAT_TOKEN")
    if not url or (not token and len(args) < 3):
        print(__doc__, file=sys.stderr)
        return 2
    history = int(os.environ.get("DCHAT_HISTORY", "100"))
    try:
        # Joining a room also enters its presence (who is online, typing, unread counts).
        chat_ref: List[Chat] = []

        def on_event(event: Event) -> None:
            if event.type == "presence" and chat_ref:
                chat_ref[0].on_presence(event)

        with Client(
            url, history_limit=history, presence_on_join=True, on_event=on_event, file_field=os.environ.get("DCHAT_FILE_FIELD") or None
        ) as client:
            if token:
                client.login_with_token(token)
            else:
                client.login(args[1], args[2])
            chat = Chat(client)
            chat_ref.append(chat)
            try:
                client.join(None, callback=chat.on_event)  # the lobby: messages without a room
            except DirectusError:
                # A collection without a room field (the guides' schema): the whole chat.
                try:
                    client.whoami()  # for the "(you)" marks
                except DirectusError:
                    pass
                client.subscribe_chat(callback=chat.on_event)
            for line in sys.stdin:
                line = line.rstrip("\r\n")
                if not line:
                    continue
                try:
                    if not chat.command(line):
                        break
                except DirectusError as e:
                    print(f"! {e.code}: {e.message}", file=sys.stderr)
    except DirectusError as e:
        print(f"error: {e.code}: {e.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
