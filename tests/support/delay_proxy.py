#!/usr/bin/env python3
"""A TCP proxy that makes a server slow: every chunk, in both directions, is forwarded
DELAY seconds after it arrived, in order (a slow link, not a stalled one).

    delay_proxy.py --listen PORT --upstream HOST:PORT --delay SECONDS [--watch-pid PID]

Listens on 127.0.0.1:PORT (0 picks a free port), prints `listening PORT` once it does,
and exits when PID (e.g. the test that started it) is gone, so a crashed test leaves no
proxy behind. Used by tests/c/nowait_test.c for the faults a real server cannot make.
"""

import argparse
import asyncio
import os
import sys


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: "asyncio.Queue[tuple[float, bytes]]" = asyncio.Queue()

    async def forward() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    task = asyncio.ensure_future(forward())
    try:
        while True:
            chunk = await reader.read(65536)
            queue.put_nowait((loop.time() + delay, chunk))
            if not chunk:
                break
        await task
    except (ConnectionError, OSError):
        task.cancel()
    finally:
        writer.close()


async def serve(args: argparse.Namespace) -> None:
    host, port = args.upstream.rsplit(":", 1)

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(host, int(port))
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pump(client_r, server_w, args.delay), pump(server_r, client_w, args.delay), return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", args.listen)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    while args.watch_pid is None or alive(args.watch_pid):
        await asyncio.sleep(0.5)
    server.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--delay", type=float, required=True)
    p.add_argument("--watch-pid", type=int)
    args = p.parse_args()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
