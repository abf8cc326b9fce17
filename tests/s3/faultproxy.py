#!/usr/bin/env python3
"""HTTP fault-injecting proxy for the S3 tests.

    faultproxy.py UPSTREAM_HOST:PORT PLAN_FILE [--stall SECONDS] [--random P --seed N]
                  [--rate BYTES_PER_SECOND]

Listens on a free loopback port (printed as the first line on stdout), and
forwards each HTTP/1.1 request to UPSTREAM on a fresh connection, unless the
plan says otherwise. PLAN_FILE holds one fault per line, "METHOD:FAULT" or
"*:FAULT"; each request consumes the first line that matches its method:

    reset     close the client connection with a TCP RST, no answer
    503       answer 503 SlowDown (S3 XML error body)
    500       answer 500 InternalError
    403       answer 403 AccessDenied
    expired   answer 400 ExpiredToken
    truncate  forward, but send only the headers and half of the body, then close
    stall     forward, send the headers and a quarter of the body, then go
              silent for --stall seconds (default 6) before closing

The file is re-read for every request, so tests change the plan by
rewriting it. With --rate, every answer reaches the client at that many bytes
per second (a very slow link). Requests with no matching line are forwarded untouched, or,
with --random P, get a random fault (reset, 503, 500, or truncate for a GET)
with probability P. Every injected fault is logged on stderr.
"""
import asyncio
import os
import random
import socket
import struct
import sys

UPSTREAM = None
PLAN = None
STALL_S = 6.0
RANDOM_P = 0.0
RATE = 0
RNG = random.Random(1)


def take_fault(method):
    try:
        with open(PLAN) as f:
            lines = [l.strip() for l in f if l.strip()]
    except FileNotFoundError:
        return None
    for i, line in enumerate(lines):
        m, _, fault = line.partition(":")
        if m == "*" or m == method:
            del lines[i]
            tmp = PLAN + ".tmp"
            with open(tmp, "w") as f:
                f.write("".join(l + "\n" for l in lines))
            os.replace(tmp, PLAN)
            return fault
    return None


def error_answer(status, reason, code):
    body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code>'
            '<Message>injected by faultproxy</Message>'
            '<RequestId>faultproxy-1</RequestId></Error>' % code).encode()
    head = ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n"
            "Content-Length: %d\r\nx-amz-request-id: faultproxy-1\r\n\r\n"
            % (status, reason, len(body))).encode()
    return head + body


def rst_close(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def forward(method, head_lines, body):
    host, port = UPSTREAM
    r, w = await asyncio.open_connection(host, port)
    out = [head_lines[0]]
    for l in head_lines[1:]:
        if l.lower().startswith("connection:"):
            continue
        out.append(l)
    out.append("Connection: close")
    w.write(("\r\n".join(out) + "\r\n\r\n").encode() + body)
    await w.drain()
    data = await r.read()
    w.close()
    sep = data.find(b"\r\n\r\n")
    if sep < 0:
        raise ConnectionError("bad upstream answer")
    head = data[:sep].decode("latin-1").split("\r\n")
    head = [l for l in head if not l.lower().startswith("connection:")]
    return ("\r\n".join(head) + "\r\n\r\n").encode(), data[sep + 4:]


async def send(writer, data):
    """Write data, paced to RATE bytes per second when set."""
    if RATE <= 0:
        writer.write(data)
        await writer.drain()
        return
    step = max(1024, RATE // 20)
    for i in range(0, len(data), step):
        writer.write(data[i:i + step])
        await writer.drain()
        await asyncio.sleep(len(data[i:i + step]) / RATE)


async def handle(reader, writer):
    try:
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            lines = raw.decode("latin-1").rstrip("\r\n").split("\r\n")
            method = lines[0].split(" ", 1)[0]
            length = 0
            for l in lines[1:]:
                k, _, v = l.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            body = await reader.readexactly(length) if length else b""
            fault = take_fault(method)
            if fault is None and RANDOM_P > 0 and RNG.random() < RANDOM_P:
                fault = RNG.choice(["reset", "503", "500"] +
                                   (["truncate", "truncate"] if method == "GET" else []))
            if fault:
                print("fault %s %s" % (fault, lines[0]), file=sys.stderr, flush=True)
            if fault == "reset":
                rst_close(writer)
                return
            if fault in ("503", "500", "403", "expired"):
                ans = {"503": (503, "Slow Down", "SlowDown"),
                       "500": (500, "Internal Server Error", "InternalError"),
                       "403": (403, "Forbidden", "AccessDenied"),
                       "expired": (400, "Bad Request", "ExpiredToken")}[fault]
                writer.write(error_answer(*ans))
                await writer.drain()
                continue
            head, rbody = await forward(method, lines, body)
            if fault == "truncate":
                writer.write(head + rbody[: len(rbody) // 2])
                await writer.drain()
                rst_close(writer)
                return
            if fault == "stall":
                writer.write(head + rbody[: len(rbody) // 4])
                await writer.drain()
                await asyncio.sleep(STALL_S)
                rst_close(writer)
                return
            await send(writer, head + rbody)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        if not writer.transport.is_closing():
            writer.close()


async def main():
    global UPSTREAM, PLAN, STALL_S, RANDOM_P, RATE
    args = sys.argv[1:]
    if "--rate" in args:
        i = args.index("--rate")
        RATE = int(args[i + 1])
        del args[i:i + 2]
    for opt in ("--random", "--seed"):
        if opt in args:
            i = args.index(opt)
            if opt == "--random":
                RANDOM_P = float(args[i + 1])
            else:
                RNG.seed(int(args[i + 1]))
            del args[i:i + 2]
    if "--stall" in args:
        i = args.index("--stall")
        STALL_S = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    h, _, p = args[0].rpartition(":")
    UPSTREAM = (h, int(p))
    PLAN = args[1]
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
