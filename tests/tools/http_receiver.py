#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A test receiver for berth's HTTP output (python3 standard library only).

Every POSTed record is decoded from the body's shape and appended to --out,
one record per line, before the request is answered, so that what the file
holds is exactly what was acknowledged:

  ndjson         each non-empty line is a record
  elasticsearch  action lines ({"create":...}) are dropped, documents kept;
                 the answer is a _bulk answer with one item per document
  splunk-hec     each {"time":..,"event":..} object: its event (an object is
                 written as compact JSON, a string as it is)

Answers are 200 unless --statuses says otherwise for the first requests
(e.g. "503,503,400"); --status answers every request with one code.

SIGTERM stops it between two requests: a request it read is answered, none
is left half done, so a restart on the same port loses and repeats nothing.
The port is taken with SO_REUSEADDR, so a restart can bind it at once.
With --tls-cert and --tls-key it speaks HTTPS; a client that refuses the
certificate is only logged (--log: "handshake failed ...").

  http_receiver.py --port 18500 --out records.ndjson [--shape auto]
                   [--port-file F] [--statuses 503,503] [--log requests.log]
                   [--tls-cert server.pem --tls-key server.key [--tls-client-ca ca.pem]]
"""
import argparse
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading

stopping = threading.Event()


def decode(shape, body):
    """The records of a body, as lines (bytes, no newline)."""
    records = []
    if shape == "splunk-hec":
        text = body.decode("utf-8")
        decoder = json.JSONDecoder()
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            obj, pos = decoder.raw_decode(text, pos)
            event = obj["event"]
            if isinstance(event, str):
                records.append(event.encode("utf-8"))
            else:
                records.append(json.dumps(event, separators=(",", ":"),
                                          ensure_ascii=False).encode("utf-8"))
        return records
    lines = [line for line in body.split(b"\n") if line.strip()]
    if shape == "elasticsearch":
        if len(lines) % 2:
            raise ValueError("a _bulk body with an odd number of lines")
        for action, doc in zip(lines[0::2], lines[1::2]):
            if "create" not in json.loads(action) and "index" not in json.loads(action):
                raise ValueError("not a create or index action: %r" % action[:80])
            records.append(doc)
        return records
    return lines


def shape_of(path, configured):
    if configured != "auto":
        return configured
    if "/_bulk" in path:
        return "elasticsearch"
    if "/services/collector" in path:
        return "splunk-hec"
    return "ndjson"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An idle keep-alive connection is closed after this, so that a stop
    # request is not held up by a client that sends nothing.
    timeout = 1

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def do_POST(self):
        srv = self.server
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        with srv.lock:
            index = srv.requests
            srv.requests += 1
            status = srv.statuses[index] if index < len(srv.statuses) else srv.status
            shape = shape_of(self.path, srv.shape)
            records = []
            reply = json.dumps({"error": "scripted status %d" % status})
            if 200 <= status < 300:
                try:
                    records = decode(shape, body)
                except (ValueError, KeyError, UnicodeDecodeError) as e:
                    status = 400
                    reply = json.dumps({"error": "undecodable body: %s" % e})
            if 200 <= status < 300:
                if records:
                    srv.out.write(b"".join(r + b"\n" for r in records))
                    srv.out.flush()
                if shape == "elasticsearch":
                    reply = json.dumps({"took": 0, "errors": False, "items": [
                        {"create": {"status": 201}} for _ in records]})
                else:
                    reply = '{"text":"Success","code":0}'
            if srv.log:
                srv.log.write("%d %s %s %d %d\n" % (index, self.path, shape, status,
                                                     len(records)))
                srv.log.flush()
        self.answer(status, reply)
        if stopping.is_set():
            self.close_connection = True

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (socket.timeout, ConnectionError):
            self.close_connection = True


class Server(http.server.HTTPServer):
    def get_request(self):
        try:
            return super().get_request()
        except ssl.SSLError as e:
            # The client refused the certificate (or spoke no TLS): say so.
            if self.log:
                self.log.write("handshake failed %s\n" % (e.reason or e))
                self.log.flush()
            raise


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--out", required=True, help="records are appended here")
    p.add_argument("--shape", default="auto",
                   choices=["auto", "ndjson", "elasticsearch", "splunk-hec"])
    p.add_argument("--status", type=int, default=200, help="answer after --statuses")
    p.add_argument("--statuses", default="", help="comma-separated answers to the first requests")
    p.add_argument("--log", help="one line per request: index path shape status records")
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", help="... and this key (PEM)")
    p.add_argument("--tls-client-ca", help="require a client certificate signed by this CA")
    args = p.parse_args()

    srv = Server(("127.0.0.1", args.port), Handler, bind_and_activate=False)
    srv.allow_reuse_address = True
    srv.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.server_bind()
    srv.server_activate()
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.tls_client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.lock = threading.Lock()
    srv.requests = 0
    srv.statuses = [int(s) for s in args.statuses.split(",") if s.strip()]
    srv.status = args.status
    srv.shape = args.shape
    srv.out = open(args.out, "ab")
    srv.log = open(args.log, "a") if args.log else None
    srv.timeout = 0.2  # handle_request() returns this often to look at stopping

    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, args.port_file)
    while not stopping.is_set():
        srv.handle_request()
    srv.server_close()
    srv.out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
