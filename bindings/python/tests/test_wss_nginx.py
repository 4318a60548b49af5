"""wss:// through a real TLS reverse proxy: nginx with a test CA (scripts/tls-proxy.sh)
in front of the test server. Trusting the CA, the chat works through the proxy;
without it, the connection is refused with a certificate error."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Dict

import pytest

import directus_chat
from directus_chat import Client

from conftest import Server

def test_chat_through_nginx_with_the_test_ca(server: Server, proxy: Dict[str, str]) -> None:
    kevin = server.user(1)
    ca_pem = Path(proxy["PROXY_CA_PEM"]).read_text()
    text = f"python through nginx {uuid.uuid4().hex[:10]}"
    with Client(proxy["PROXY_WSS_URL"], timeout=15, ca_pem=ca_pem) as client:
        client.login(kevin["email"], kevin["password"])
        with client.subscribe_chat() as sub:
            init = sub.next(timeout=10)
            assert init is not None and init.kind == "init"
            client.send_nowait(text)
            for _ in range(40):
                ev = sub.next(timeout=0.5)
                if ev is not None and ev.kind == "create" and any(m.text == text for m in ev.messages):
                    assert [m.author for m in ev.messages if m.text == text] == [kevin["name"]]
                    break
            else:
                raise AssertionError("own create event did not arrive through nginx")
    log = Path(proxy["PROXY_ACCESS_LOG"]).read_text()
    assert '"GET /websocket HTTP/1.1" 101' in log


def test_nginx_with_the_test_ca_is_refused_by_default(proxy: Dict[str, str]) -> None:
    for system_roots in (False, True):
        with pytest.raises(directus_chat.DirectusConnectionError) as refused:
            Client(proxy["PROXY_WSS_URL"], timeout=15, system_roots=system_roots)
        assert "certificate" in str(refused.value) and "UnknownIssuer" in str(refused.value)
