#!/usr/bin/env python3
"""Holds many connections to a Shido server the way an anonymous attacker would, for the
hostile-input benchmarks of docs/BENCHMARKS.md ("Connections"): each connection sends
nothing (silent), a frame header announcing --frame-bytes and all but the last byte of its
body (half-frame), or nothing but then stays until the server closes it. Run shido-bench
against the same server meanwhile to see whether real clients still get through.

  hold_connections.py --port 5000 --count 1000 --mode half-frame --frame-bytes 1048576 \\
      --seconds 20 --server-pid PID

Prints one JSON object: connections opened, the replies they got (125, 128), how many the
server had closed at the end, and the server's peak and current RSS (with --server-pid).
"""
import argparse
import json
import resource
import select
import socket
import struct
import time


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def first_reply_code(data):
    """The code of the first whole frame in data, or None."""
    if len(data) < 4:
        return None
    (length,) = struct.unpack(">I", data[:4])
    if len(data) < 4 + length:
        return None
    try:
        return json.loads(data[4:4 + length]).get("code")
    except ValueError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--source", default="", help="source address to connect from")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--mode", choices=["silent", "half-frame"], default="silent")
    parser.add_argument("--frame-bytes", type=int, default=1 << 20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--server-pid", type=int, default=0)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    sockets = []
    received = {}
    started = time.monotonic()
    for _ in range(args.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if args.source:
            s.bind((args.source, 0))
        s.connect((args.host, args.port))
        s.setblocking(False)
        sockets.append(s)
        received[s.fileno()] = b""
        if args.mode == "half-frame":
            payload = struct.pack(">I", args.frame_bytes) + b"{" + b" " * (args.frame_bytes - 2)
            try:
                s.send(payload)  # what the socket takes now; the rest is not needed
            except OSError:
                pass
    opened = time.monotonic() - started

    closed = set()
    by_fd = {s.fileno(): s for s in sockets}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    deadline = started + args.seconds
    while time.monotonic() < deadline and len(closed) < len(sockets):
        for fd, _ in poller.poll(200):
            try:
                chunk = by_fd[fd].recv(65536)
            except OSError:
                chunk = b""
            if chunk:
                received[fd] += chunk
            else:
                closed.add(fd)
                poller.unregister(fd)

    codes = {}
    for data in received.values():
        code = first_reply_code(data)
        codes[str(code)] = codes.get(str(code), 0) + 1
    report = {
        "mode": args.mode,
        "connections": len(sockets),
        "seconds_to_open": round(opened, 3),
        "first_reply_codes": codes,
        "closed_by_server": len(closed),
    }
    if args.server_pid:
        report["server_peak_rss_kib"] = rss_kib(args.server_pid, "VmHWM")
        report["server_rss_kib"] = rss_kib(args.server_pid, "VmRSS")
    print(json.dumps(report))
    for s in sockets:
        s.close()


if __name__ == "__main__":
    main()
