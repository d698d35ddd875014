"""A local HTTP server speaking m.weibo.cn's JSON shapes over real sockets, with scripted faults."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

CST = timezone(timedelta(hours=8))
PAGE = 10
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>\xe7\x99\xbb\xe5\xbd\x95 - \xe6\x96\xb0\xe6\xb5\xaa\xe5\xbe\xae\xe5\x8d\x9a</title></head><body>passport</body></html>"


def weibo_comment(post_id: str, n: int, text: str | None = None) -> dict[str, Any]:
    created = datetime(2026, 11, 22, 10, 0, tzinfo=CST) + timedelta(minutes=n)
    return {
        "id": int(f"49{post_id[-4:]}{n:05d}"),
        "rootid": int(f"49{post_id[-4:]}{n:05d}"),
        "created_at": created.strftime("%a %b %d %H:%M:%S %z %Y"),
        "text": text or f'评论{n} <span class="url-icon"><img alt=[泪] src="x.png" /></span>',
        "like_count": n % 5,
        "user": {"id": 7000 + n % 13, "screen_name": f"用户{n % 13}"},
        "comments": [],
    }


@dataclass
class FakeWeibo:
    """State shared with the handler; tests edit it between requests."""

    posts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    search_results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    faults: deque[str] = field(default_factory=deque)  # consumed one per request
    hotflow_refused: set[str] = field(default_factory=set)  # post ids whose hotflow answers ok: 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hotflow(self, post_id: str, max_id: int | None) -> dict[str, Any]:
        if post_id in self.hotflow_refused:
            return {"ok": 0, "msg": "还没有人评论哦~快来抢沙发！"}
        comments = self.posts.get(post_id, [])
        page = (max_id - 1000) if max_id else 0
        items = comments[page * PAGE : (page + 1) * PAGE]
        more = (page + 1) * PAGE < len(comments)
        return {
            "ok": 1,
            "data": {
                "data": items,
                "max_id": 1000 + page + 1 if more else 0,
                "max_id_type": 0,
                "total_number": len(comments),
            },
        }

    def show(self, post_id: str, page: int) -> dict[str, Any]:
        comments = self.posts.get(post_id, [])
        items = comments[(page - 1) * PAGE : page * PAGE]
        return {"ok": 1, "data": {"data": items, "total_number": len(comments)}}


def _handler(state: FakeWeibo, timeout_sleep_s: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(
            self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8"
        ) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the poller was killed mid-response (the soak's chaos does that)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            with state.lock:
                state.requests.append(
                    {"path": url.path, "params": params, "cookie": self.headers.get("Cookie")}
                )
                fault = state.faults.popleft() if state.faults else "ok"
            if fault in ("418", "403", "432", "500", "502"):
                return self._send(int(fault), b"blocked")
            if fault == "ok0":
                return self._send(200, json.dumps({"ok": 0, "msg": "请求过于频繁"}).encode())
            if fault == "html":
                return self._send(200, LOGIN_PAGE, "text/html; charset=utf-8")
            if fault == "truncated":
                return self._send(200, b'{"ok": 1, "data": {"data": [{"id": 1, "te')
            if fault == "timeout":
                time.sleep(timeout_sleep_s)
                return self._send(200, b"{}")
            if url.path == "/comments/hotflow":
                body = state.hotflow(
                    params["id"], int(params["max_id"]) if "max_id" in params else None
                )
            elif url.path == "/api/comments/show":
                body = state.show(params["id"], int(params.get("page", 1)))
            elif url.path == "/api/container/getIndex":
                keyword = params["containerid"].split("q=", 1)[1]
                page = int(params.get("page", 1))
                mblogs = state.search_results.get(keyword, []) if page == 1 else []
                body = {
                    "ok": 1,
                    "data": {
                        "cards": [
                            {
                                "card_type": 11,
                                "card_group": [{"card_type": 9, "mblog": m} for m in mblogs],
                            }
                        ]
                    },
                }
            else:
                return self._send(404, b"not found")
            return self._send(200, json.dumps(body, ensure_ascii=False).encode())

    return Handler


class FakeWeiboServer:
    def __init__(self, timeout_sleep_s: float = 1.0) -> None:
        self.state = FakeWeibo()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state, timeout_sleep_s))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeWeiboServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
