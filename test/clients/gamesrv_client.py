#!/usr/bin/env python3
"""An independent gamesrv game-port client, written from docs/PROTOCOL.md alone.

It implements section 3, "Game protocol (TCP)": the length-prefixed frames, the client
messages HELLO, MOVE, CHAT, PING and BYE, and the server messages WELCOME, STATE (its
header, CELL and ENTRY blocks; a CELL block replaces the client's content for its cell),
LEAVE, CHAT, HIT, DEATH, PONG, NOTICE, KICK and ERROR. Nothing here was taken from the
engine's C++ or TypeScript: if this client works, the document is enough.

`main` runs a two-player scenario (used by test/python-client.test.ts):

    python3 gamesrv_client.py --port P --ticket-a T1 --ticket-b T2

A and B log in; A comes near B and sees B move (STATE); A chats (B and A hear it), pings,
goes to the world's corner (LEAVE of B); both say BYE and the server closes. One JSON line
of what it saw, exit 0; a protocol violation, ERROR, KICK or the 10 s deadline: exit 1 and
a message on stderr. Python 3.11, standard library only.
"""

import argparse
import json
import math
import selectors
import socket
import struct
import sys
import time

# Limits (section 3, "Limits").
LENGTH_BYTES = 4
MAX_CLIENT_FRAME = 1024
MAX_SERVER_FRAME = 16777216
PROTOCOL_VERSION = 1
MIN_CHAT_BYTES = 1
MAX_CHAT_BYTES = 512
STATE_HEADER_BYTES = 14
CELL_HEADER_BYTES = 10
ENTRY_BYTES = 16

# Client -> server types.
C_HELLO, C_MOVE, C_ATTACK, C_CHAT, C_PING, C_BYE = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
# Server -> client types.
S_WELCOME, S_STATE, S_LEAVE, S_CHAT, S_HIT = 0x81, 0x82, 0x83, 0x84, 0x85
S_DEATH, S_PONG, S_NOTICE, S_KICK, S_ERROR = 0x86, 0x87, 0x88, 0x89, 0x8A

ERROR_NAMES = dict(enumerate((
    "bad_frame", "frame_too_long", "unknown_type", "bad_payload", "not_hello_first",
    "hello_twice", "bad_version", "bad_ticket", "ticket_expired", "bad_utf8",
    "bad_coordinates", "rate_limited", "server_full", "draining", "hello_timeout"), 1))
KICK_NAMES = dict(enumerate((
    "replaced", "too_slow", "operator", "draining", "idle", "rate_limited", "shutdown"), 1))

WELCOME = struct.Struct("<IIHHddd")  # 36 bytes
STATE_HEADER = struct.Struct("<QIH")  # 14
CELL_HEADER = struct.Struct("<iiH")  # 10
ENTRY = struct.Struct("<Iffi")  # 16
PONG = struct.Struct("<QQ")
HIT = struct.Struct("<IIii")
DEATH = struct.Struct("<II")
assert STATE_HEADER.size == STATE_HEADER_BYTES and CELL_HEADER.size == CELL_HEADER_BYTES
assert ENTRY.size == ENTRY_BYTES


class ProtocolError(Exception):
    """The server broke the document, sent ERROR or KICK, or the deadline passed."""


def frame(msg_type: int, payload: bytes = b"") -> bytes:
    length = 1 + len(payload)
    if length > MAX_CLIENT_FRAME:
        raise ValueError(f"frame of length {length} is over maxClientFrame")
    return struct.pack("<IB", length, msg_type) + payload


def text_field(payload: bytes, at: int, what: str) -> tuple[str, int]:
    """A u16 byte count then that many UTF-8 bytes; returns (text, offset after it)."""
    if len(payload) < at + 2:
        raise ProtocolError(f"{what}: payload too short for its fields")
    (n,) = struct.unpack_from("<H", payload, at)
    raw = payload[at + 2:at + 2 + n]
    if len(raw) != n:
        raise ProtocolError(f"{what}: text of {n} bytes cut short")
    try:
        return raw.decode("utf-8"), at + 2 + n
    except UnicodeDecodeError as e:
        raise ProtocolError(f"{what}: text is not UTF-8: {e}") from None


def exact(payload: bytes, size: int, what: str) -> None:
    if len(payload) != size:
        raise ProtocolError(f"{what}: payload of {len(payload)} bytes, expected {size}")


def parse(msg_type: int, p: bytes) -> dict | None:
    """One server message as a dict; None for a type this client does not know."""
    if msg_type == S_WELCOME:
        exact(p, WELCOME.size, "WELCOME")
        keys = ("sessionId", "playerId", "tickRateHz", "replicationHz",
                "worldMin", "worldMax", "aoiRadius")
        return {"type": "WELCOME", **dict(zip(keys, WELCOME.unpack(p)))}
    if msg_type == S_STATE:
        if len(p) < STATE_HEADER_BYTES:
            raise ProtocolError("STATE: shorter than its header")
        tick, seq, cell_count = STATE_HEADER.unpack_from(p, 0)
        at, cells = STATE_HEADER_BYTES, []
        for _ in range(cell_count):
            if len(p) < at + CELL_HEADER_BYTES:
                raise ProtocolError("STATE: CELL header cut short")
            cx, cy, count = CELL_HEADER.unpack_from(p, at)
            at += CELL_HEADER_BYTES
            if len(p) < at + count * ENTRY_BYTES:
                raise ProtocolError("STATE: CELL entries cut short")
            entries = [ENTRY.unpack_from(p, at + i * ENTRY_BYTES) for i in range(count)]
            at += count * ENTRY_BYTES
            cells.append({"cx": cx, "cy": cy, "entries": entries})
        if at != len(p):
            raise ProtocolError(f"STATE: {len(p) - at} bytes after its {cell_count} cells")
        return {"type": "STATE", "tick": tick, "lastClientSeq": seq, "cells": cells}
    if msg_type == S_LEAVE:
        (count,) = struct.unpack_from("<H", p, 0) if len(p) >= 2 else (0,)
        exact(p, 2 + 4 * count, "LEAVE")
        return {"type": "LEAVE", "playerIds": list(struct.unpack_from(f"<{count}I", p, 2))}
    if msg_type == S_CHAT:
        (sender,) = struct.unpack_from("<I", p, 0) if len(p) >= 4 else (0,)
        text, end = text_field(p, 4, "CHAT")
        exact(p, end, "CHAT")
        return {"type": "CHAT", "fromPlayerId": sender, "text": text}
    if msg_type == S_HIT:
        exact(p, HIT.size, "HIT")
        return dict(zip(("attacker", "target", "damage", "hpAfter"), HIT.unpack(p)),
                    type="HIT")
    if msg_type == S_DEATH:
        exact(p, DEATH.size, "DEATH")
        return dict(zip(("killer", "victim"), DEATH.unpack(p)), type="DEATH")
    if msg_type == S_PONG:
        exact(p, PONG.size, "PONG")
        t, server_us = PONG.unpack(p)
        return {"type": "PONG", "t": t, "serverTimeUs": server_us}
    if msg_type == S_NOTICE:
        text, end = text_field(p, 0, "NOTICE")
        exact(p, end, "NOTICE")
        return {"type": "NOTICE", "text": text}
    if msg_type == S_KICK:
        text, end = text_field(p, 1, "KICK")
        exact(p, end, "KICK")
        return {"type": "KICK", "reason": p[0], "text": text}
    if msg_type == S_ERROR:
        (code,) = struct.unpack_from("<H", p, 0) if len(p) >= 2 else (0,)
        text, end = text_field(p, 2, "ERROR")
        exact(p, end, "ERROR")
        return {"type": "ERROR", "code": code, "text": text}
    return None  # "a client ignores message types it does not know"


class Client:
    """One connection: a frame reader and what this player sees."""

    def __init__(self, name: str, port: int, host: str) -> None:
        self.name = name
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setblocking(False)
        self.buf = bytearray()
        self.closed = False  # the server closed the connection
        self.bye_sent = False
        self.welcome: dict | None = None
        self.cells: dict[tuple[int, int], dict[int, tuple[float, float, int]]] = {}
        self.last_client_seq = 0
        self.seq = 0
        self.chats: list[dict] = []
        self.pongs: list[dict] = []
        self.notices: list[str] = []
        self.left: list[int] = []  # every LEAVE's player ids

    def send(self, msg_type: int, payload: bytes = b"") -> None:
        self.sock.setblocking(True)
        try:
            self.sock.sendall(frame(msg_type, payload))
        finally:
            self.sock.setblocking(False)

    def hello(self, ticket: str) -> None:
        raw = ticket.encode("ascii")
        self.send(C_HELLO, struct.pack("<HH", PROTOCOL_VERSION, len(raw)) + raw)

    def move(self, x: float, y: float) -> int:
        self.seq += 1
        self.send(C_MOVE, struct.pack("<ddI", x, y, self.seq))
        return self.seq

    def chat(self, text: str) -> None:
        raw = text.encode("utf-8")
        if not MIN_CHAT_BYTES <= len(raw) <= MAX_CHAT_BYTES:
            raise ValueError("chat text must be 1..512 bytes")
        self.send(C_CHAT, struct.pack("<H", len(raw)) + raw)

    def ping(self, t: int) -> None:
        self.send(C_PING, struct.pack("<Q", t))

    def bye(self) -> None:
        self.send(C_BYE)
        self.bye_sent = True

    def position_of(self, player_id: int) -> tuple[float, float] | None:
        for entries in self.cells.values():
            if player_id in entries:
                x, y, _hp = entries[player_id]
                return x, y
        return None

    def cell_holding(self, player_id: int) -> tuple[int, int] | None:
        return next((c for c, entries in self.cells.items() if player_id in entries), None)

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionResetError:
            data = b""
        if not data:
            if not self.bye_sent:
                raise ProtocolError(f"{self.name}: the server closed the connection")
            self.closed = True
            return
        self.buf += data
        while len(self.buf) >= LENGTH_BYTES:
            (length,) = struct.unpack_from("<I", self.buf, 0)
            if length < 1 or length > MAX_SERVER_FRAME:
                raise ProtocolError(f"{self.name}: frame length {length} out of range")
            if len(self.buf) < LENGTH_BYTES + length:
                break
            msg_type = self.buf[LENGTH_BYTES]
            payload = bytes(self.buf[LENGTH_BYTES + 1:LENGTH_BYTES + length])
            del self.buf[:LENGTH_BYTES + length]
            msg = parse(msg_type, payload)
            if msg is not None:
                self.apply(msg)

    def apply(self, msg: dict) -> None:
        kind = msg["type"]
        if kind == "ERROR":
            name = ERROR_NAMES.get(msg["code"], msg["code"])
            raise ProtocolError(f"{self.name}: ERROR {name}: {msg['text']}")
        if kind == "KICK":
            name = KICK_NAMES.get(msg["reason"], msg["reason"])
            raise ProtocolError(f"{self.name}: KICK {name}: {msg['text']}")
        if kind == "WELCOME":
            if self.welcome is not None:
                raise ProtocolError(f"{self.name}: a second WELCOME")
            self.welcome = msg
            return
        if self.welcome is None:
            raise ProtocolError(f"{self.name}: {kind} before WELCOME")
        if kind == "STATE":
            self.last_client_seq = msg["lastClientSeq"]
            for cell in msg["cells"]:  # each block replaces what we had for its cell
                self.cells[(cell["cx"], cell["cy"])] = {
                    pid: (x, y, hp) for pid, x, y, hp in cell["entries"]}
            seen: set[int] = set()  # applied as written, a STATE leaves no player twice
            for content in self.cells.values():
                if seen & content.keys():
                    raise ProtocolError(f"{self.name}: players {seen & content.keys()} "
                                        "in two cells after a STATE")
                seen |= content.keys()
        elif kind == "LEAVE":
            self.left.extend(msg["playerIds"])
            for entries in self.cells.values():
                for pid in msg["playerIds"]:
                    entries.pop(pid, None)
        elif kind == "CHAT":
            self.chats.append(msg)
        elif kind == "PONG":
            self.pongs.append(msg)
        elif kind == "NOTICE":
            self.notices.append(msg["text"])


def pump(clients: list[Client], done, deadline: float, what: str) -> None:
    """Read every client's frames until done() is true; ProtocolError at the deadline."""
    sel = selectors.DefaultSelector()
    try:
        for c in clients:
            if not c.closed:
                sel.register(c.sock, selectors.EVENT_READ, c)
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"timed out waiting for {what}")
            for key, _ in sel.select(left):
                (client := key.data).on_readable()
                if client.closed:
                    sel.unregister(client.sock)
    finally:
        sel.close()


def cell_of(w: dict, x: float, y: float) -> tuple[int, int]:
    """The cell of (x, y): `worldMax` itself is in the last of the n cells of an axis."""
    lo, side = w["worldMin"], w["aoiRadius"]
    n = math.ceil((w["worldMax"] - lo) / side)
    return (min(math.floor((x - lo) / side), n - 1), min(math.floor((y - lo) / side), n - 1))


def near(pos: tuple[float, float] | None, x: float, y: float) -> bool:
    return pos is not None and abs(pos[0] - x) <= 0.01 and abs(pos[1] - y) <= 0.01


def scenario(port: int, host: str, ticket_a: str, ticket_b: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    both = [a, b] = [Client("A", port, host), Client("B", port, host)]
    a.hello(ticket_a)
    b.hello(ticket_b)
    pump(both, lambda: a.welcome is not None and b.welcome is not None, deadline, "WELCOMEs")
    w, a_id, b_id = a.welcome, a.welcome["playerId"], b.welcome["playerId"]
    if a_id == b_id or not w["worldMin"] < w["worldMax"] or not w["aoiRadius"] > 0:
        raise ProtocolError(f"WELCOMEs that make no sense: {a.welcome}, {b.welcome}")
    r = w["aoiRadius"]

    # B stands in the middle of the world; A comes to a quarter radius from it (same or
    # adjacent cell, so each is in the other's 3 x 3); B steps a little and A sees it.
    mid = (w["worldMin"] + w["worldMax"]) / 2
    bx, by = mid + 0.25, mid + 0.25
    ax, ay = bx + r / 4, by
    bx2, by2 = bx - r / 8 + 0.125, by + r / 8 - 0.375
    for (x, y) in ((ax, ay), (bx2, by2)):
        (acx, acy), (bcx, bcy) = cell_of(w, x, y), cell_of(w, bx, by)
        assert abs(acx - bcx) <= 1 and abs(acy - bcy) <= 1, "the scenario's points"

    seq = b.move(bx, by)
    pump(both, lambda: b.last_client_seq >= seq and near(b.position_of(b_id), bx, by),
         deadline, "B's first MOVE applied")
    seq = a.move(ax, ay)
    pump(both, lambda: a.last_client_seq >= seq and near(a.position_of(a_id), ax, ay),
         deadline, "A's MOVE applied")
    seq = b.move(bx2, by2)
    pump(both, lambda: near(a.position_of(b_id), bx2, by2),
         deadline, "A to see B's new position in a STATE")
    seen = a.position_of(b_id)

    text = "hello from python \u2014 \u00e9\u00e8 \U0001F600"
    a.chat(text)
    pump(both, lambda: all(any(m["fromPlayerId"] == a_id for m in c.chats) for c in both),
         deadline, "B, and A itself, to receive A's CHAT")
    got = next(m for m in b.chats if m["fromPlayerId"] == a_id)["text"]
    echo = next(m for m in a.chats if m["fromPlayerId"] == a_id)["text"]
    if got != text or echo != text:
        raise ProtocolError(f"B received {got!r}, A {echo!r}; A said {text!r}")

    t0 = time.monotonic_ns() // 1000
    a.ping(t0)
    pump(both, lambda: any(p["t"] == t0 for p in a.pongs), deadline, "PONG")
    rtt_ms = (time.monotonic_ns() // 1000 - t0) / 1000

    # A goes to the world's high corner, far from B: A's own entry comes in the corner's
    # cell (the last one of each axis) and a LEAVE tells A to forget B.
    corner = (w["worldMax"], w["worldMax"])
    seq = a.move(*corner)
    pump(both, lambda: a.last_client_seq >= seq and near(a.position_of(a_id), *corner)
         and b_id in a.left and a.position_of(b_id) is None, deadline, "LEAVE of B")
    if a.cell_holding(a_id) != cell_of(w, *corner):
        raise ProtocolError(f"A at {corner} in cell {a.cell_holding(a_id)}, "
                            f"expected {cell_of(w, *corner)}")

    a.bye()
    b.bye()
    pump(both, lambda: a.closed and b.closed, deadline, "the server to close after BYE")
    for c in both:
        c.sock.close()
    return {
        "welcomeA": a.welcome, "welcomeB": b.welcome,
        "sawMove": True, "bSeenByA": {"x": seen[0], "y": seen[1]},
        "bTarget": {"x": bx2, "y": by2},
        "chatReceived": got, "chatFrom": a_id, "chatEchoed": echo == text,
        "leaveSeen": True, "cornerCell": list(a.cell_holding(a_id)),
        "rttMs": rtt_ms,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ticket-a", required=True)
    ap.add_argument("--ticket-b", required=True)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    try:
        result = scenario(args.port, args.host, args.ticket_a, args.ticket_b, args.timeout)
    except (ProtocolError, OSError) as e:
        print(f"gamesrv_client: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
