#!/usr/bin/env python3
"""Slow clients for the webhook: N connections that trickle bytes.

Half open TLS and send an HTTP request one byte at a time; the others open
TCP and send a TLS ClientHello prefix byte by byte. Runs for SECONDS, then
prints how many connections the server closed on them (it should: client
timeouts). usage: slowloris.py PORT N SECONDS"""
import socket
import ssl
import sys
import time

port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
req = b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
hello = bytes.fromhex("160301020001") + b"\x00" * 64
conns = []
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 2 == 0:
            s = ctx.wrap_socket(s)
            conns.append([s, req, 0])
        else:
            conns.append([s, hello, 0])
    except OSError:
        pass
closed = 0
end = time.time() + secs
while time.time() < end and conns:
    for c in list(conns):
        s, data, pos = c
        try:
            s.send(data[pos % len(data):pos % len(data) + 1])
            c[2] += 1
        except (OSError, ssl.SSLError):
            closed += 1
            conns.remove(c)
    time.sleep(0.5)
print(f"slow connections opened={n} closed_by_server={closed}")
