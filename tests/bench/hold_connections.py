#!/usr/bin/env python3
"""Holds many connections to a Shido server the way an anonymous attacker would, for the
hostile-input benchmarks of docs/BENCHMARKS.md ("Connections"): each connection sends
nothing (silent), a frame header announcing --frame-bytes and all but the last byte of its
body (half-frame), or HELLO and then nothing (hello: the server holds a greeted session), and
then stays until the server closes it. Run shido-bench against the same server meanwhile to
see whether real clients still get through. With --tls each connection first completes a
TLS 1.3 handshake (ALPN shido/1, the server's certificate not checked: holding connections
needs no pin) and sends its bytes through it.

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
import ssl
import struct
import time

HELLO = b'{"code":200,"protocol":1}'
TLS_RECORD_TYPES = (0x15, 0x16, 0x17)  # alert, handshake, application data


def tls_context():
    """TLS 1.3 only, ALPN shido/1, no certificate verification."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols(["shido/1"])
    return context


class Tls:
    """TLS over one of our sockets through memory buffers, so that what the socket carries
    stays in view: a refusal the server writes in plaintext before any handshake (128) is
    still read as a frame, as over plain TCP."""

    def __init__(self, context, sock):
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing)
        self.plaintext = False  # the server answered without TLS: bytes pass as they come

    def handshake(self, timeout):
        """Completes the handshake on the (blocking) socket. Returns the bytes the server
        sent instead when it answered in plaintext, else b"" (b"" too when it closed)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                try:
                    self.tls.do_handshake()
                    self.sock.sendall(self.outgoing.read())
                    return b""
                except ssl.SSLWantReadError:
                    self.sock.sendall(self.outgoing.read())
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        return b""
                    if chunk[0] not in TLS_RECORD_TYPES:
                        self.plaintext = True
                        return chunk
                    self.incoming.write(chunk)
        except (ssl.SSLError, OSError):
            return b""
        finally:
            self.sock.settimeout(None)

    def send_some(self, data):
        """Encrypts data and writes what the (non-blocking) socket takes now."""
        if self.plaintext:
            return self.sock.send(data)
        self.tls.write(data)
        return self.sock.send(self.outgoing.read())

    def received(self, chunk):
        """What chunk, read from the socket, carries, and whether the server has closed
        its side of the TLS connection (close_notify, or a broken record)."""
        if self.plaintext:
            return chunk, False
        self.incoming.write(chunk)
        data = b""
        while True:
            try:
                more = self.tls.read(65536)
                if not more:  # the TLS connection has ended
                    return data, True
                data += more
            except ssl.SSLWantReadError:
                return data, False
            except (ssl.SSLZeroReturnError, ssl.SSLError):
                return data, True


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


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
    parser.add_argument("--mode", choices=["silent", "half-frame", "hello"], default="silent")
    parser.add_argument("--frame-bytes", type=int, default=1 << 20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--tls", action="store_true",
                        help="TLS 1.3 first (ALPN shido/1, certificate not checked)")
    args = parser.parse_args()
    context = tls_context() if args.tls else None

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    sockets = []
    received = {}
    tls = {}  # by fd, with --tls
    handshakes_failed = 0
    started = time.monotonic()
    for _ in range(args.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if args.source:
            s.bind((args.source, 0))
        s.connect((args.host, args.port))
        sockets.append(s)
        received[s.fileno()] = b""
        if context is not None:
            connection = Tls(context, s)
            received[s.fileno()] = connection.handshake(args.seconds)
            if not connection.plaintext and not connection.tls.selected_alpn_protocol():
                handshakes_failed += 1
            tls[s.fileno()] = connection
        s.setblocking(False)
        send = tls[s.fileno()].send_some if context is not None else s.send
        if args.mode == "half-frame":
            payload = struct.pack(">I", args.frame_bytes) + b"{" + b" " * (args.frame_bytes - 2)
            try:
                send(payload)  # what the socket takes now; the rest is not needed
            except OSError:
                pass
        elif args.mode == "hello":
            try:
                send(frame(HELLO))
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
            data, ended = chunk, not chunk
            if chunk and fd in tls:
                data, ended = tls[fd].received(chunk)
            if data:
                received[fd] += data
            if ended:
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
    if context is not None:
        report["tls"] = True
        report["tls_handshakes_failed"] = handshakes_failed
    if args.server_pid:
        report["server_peak_rss_kib"] = rss_kib(args.server_pid, "VmHWM")
        report["server_rss_kib"] = rss_kib(args.server_pid, "VmRSS")
    print(json.dumps(report))
    for s in sockets:
        s.close()


if __name__ == "__main__":
    main()
