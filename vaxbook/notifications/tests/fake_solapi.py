"""A local HTTP server that answers as SOLAPI's API does for the two calls vaxbook makes
(``POST /messages/v4/send-many/detail``, ``GET /messages/v4/list-old``), records what it
received, and can be made to fail: answer 5xx, stall, or hold a request it has registered."""

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

SEND_PATH = "/messages/v4/send-many/detail"
LIST_PATH = "/messages/v4/list-old"


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    query: dict
    body: dict | None


@dataclass
class FakeSolapi:
    """``send_fault``: None (accept), an HTTP status to answer, ``"stall"`` (wait
    ``stall_seconds`` before anything), ``"stall_after_registering"`` (register the message,
    then wait), ``"hold"`` (register, then wait until ``release`` is set). ``list_fault``: None
    or an HTTP status. ``refuse``: accept the request but not the message (a number SOLAPI
    refuses: 200 with a failedMessageList)."""

    send_fault: object = None
    list_fault: int | None = None
    refuse: bool = False
    stall_seconds: float = 2.0
    received: list[Received] = field(default_factory=list)
    registered: list[dict] = field(default_factory=list)
    send_arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def sends(self) -> list[Received]:
        return [r for r in self.received if r.path == SEND_PATH]

    def lists(self) -> list[Received]:
        return [r for r in self.received if r.path == LIST_PATH]

    # -- the API -------------------------------------------------------------------------

    def answer_send(self, body: dict) -> tuple[int, dict]:
        if isinstance(self.send_fault, int):
            return self.send_fault, {"errorCode": "InternalError", "errorMessage": "down"}
        if self.send_fault == "stall":
            time.sleep(self.stall_seconds)
        messages = []
        for message in body["messages"]:
            messages.append(
                {
                    **message,
                    "messageId": "M4V" + uuid.uuid4().hex[:20].upper(),
                    "dateCreated": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "statusCode": "3062" if self.refuse else "2000",
                }
            )
        if not self.refuse:
            with self.lock:
                self.registered.extend(messages)
        self.send_arrived.set()
        if self.send_fault == "stall_after_registering":
            time.sleep(self.stall_seconds)
        if self.send_fault == "hold":
            self.release.wait(120)
        return 200, _send_response(messages, refused=self.refuse)

    def answer_list(self, query: dict) -> tuple[int, dict]:
        if self.list_fault:
            return self.list_fault, {"errorCode": "InternalError", "errorMessage": "down"}
        with self.lock:
            found = [
                m
                for m in self.registered
                if m["to"] == query.get("to", m["to"]) and m["from"] == query.get("from", m["from"])
            ]
        limit = int(query.get("limit", 20))
        start = int(query.get("startKey", 0))
        page = found[start : start + limit]
        more = start + limit < len(found)
        return 200, {
            "limit": limit,
            "startKey": str(start),
            "nextKey": str(start + limit) if more else None,
            "messageList": {m["messageId"]: m for m in page},
        }


def _send_response(messages: list[dict], *, refused: bool) -> dict:
    count = {
        "total": len(messages),
        "sentTotal": 0,
        "sentSuccess": 0,
        "sentPending": 0 if refused else len(messages),
        "sentReplacement": 0,
        "refund": 0,
        "registeredFailed": len(messages) if refused else 0,
        "registeredSuccess": 0 if refused else len(messages),
    }
    cash = {"requested": 0, "replacement": 0, "refund": 0, "sum": 0}
    failed = [
        {
            "to": m["to"],
            "from": m["from"],
            "type": m["type"],
            "statusMessage": "수신번호 형식 오류",
            "country": "82",
            "messageId": m["messageId"],
            "statusCode": m["statusCode"],
            "accountId": "ACC",
            "customFields": m.get("customFields"),
        }
        for m in messages
    ]
    return {
        "groupInfo": {
            "count": count,
            "countForCharge": {},
            "balance": cash,
            "point": cash,
            "app": {},
            "log": [],
            "status": "SENDING",
            "allowDuplicates": False,
            "isRefunded": False,
            "accountId": "ACC",
            "masterAccountId": None,
            "apiVersion": "4",
            "groupId": "G4V" + uuid.uuid4().hex[:20].upper(),
            "price": {},
            "dateCreated": None,
            "dateUpdated": None,
        },
        "failedMessageList": failed if refused else [],
        "messageList": []
        if refused
        else [
            {
                "messageId": m["messageId"],
                "statusCode": m["statusCode"],
                "statusMessage": "정상 접수",
                "customFields": m.get("customFields"),
            }
            for m in messages
        ],
    }


def _handler(fake: FakeSolapi):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _record(self, body: dict | None) -> Received:
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            received = Received(self.command, parsed.path, dict(self.headers), query, body)
            with fake.lock:
                fake.received.append(received)
            return received

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client is gone (timed out, killed)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            received = self._record(json.loads(self.rfile.read(length) or b"{}"))
            if received.path != SEND_PATH:
                return self._answer(404, {"errorCode": "NotFound"})
            self._answer(*fake.answer_send(received.body))

        def do_GET(self) -> None:  # noqa: N802
            received = self._record(None)
            if received.path != LIST_PATH:
                return self._answer(404, {"errorCode": "NotFound"})
            self._answer(*fake.answer_list(received.query))

    return Handler
