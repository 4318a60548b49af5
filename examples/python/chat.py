#!/usr/bin/env python3
"""A terminal chat on a Directus `messages` collection, like the Directus chat guides.

    python chat.py WS_URL EMAIL PASSWORD
    DCHAT_TOKEN=<static token> python chat.py WS_URL

Prints the history and every new message as ``Name: text`` and sends each line you
type. ``/quit`` or end of input leaves.
"""

from __future__ import annotations

import os
import sys

from directus_chat import Client, DirectusError, Event


def show(event: Event) -> None:
    # The history (init) and new messages (create); edits and deletions are not shown.
    if event.kind in ("init", "create"):
        for m in event.messages:
            print(f"{m.author or '?'}: {m.text}", flush=True)


def main() -> int:
    args = sys.argv[1:]
    url = args[0] if args else os.environ.get("DIRECTUS_WS_URL", "")
    token = os.environ.get("DCHAT_TOKEN")
    if not url or (not token and len(args) < 3):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with Client(url) as client:
            if token:
                client.login_with_token(token)
            else:
                client.login(args[1], args[2])
            client.subscribe_chat(callback=show)
            for line in sys.stdin:
                line = line.rstrip("\r\n")
                if line == "/quit":
                    break
                if line:
                    client.send(line)
    except DirectusError as e:
        print(f"error: {e.code}: {e.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
