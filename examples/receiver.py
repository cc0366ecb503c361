#!/usr/bin/env python3
"""A webhook receiver to try missive with, using only Python's standard library.

    python3 examples/receiver.py [PORT] [SECRET_FILE]

Listens on 127.0.0.1:PORT (default 9000), prints each delivery missive posts
(its webhook-id and body) and answers 204. When SECRET_FILE (default
data/webhook-signing-secret) exists, it checks the Standard Webhooks signature
with that secret and answers 401 to a request whose signature doesn't match,
as a real receiver should. It also refuses timestamps more than five minutes
away, so a captured request can't be replayed later.
"""

import base64
import hashlib
import hmac
import http.server
import os
import sys
import time

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
SECRET_FILE = sys.argv[2] if len(sys.argv) > 2 else "data/webhook-signing-secret"
MAX_BODY = 1 << 20


def secret():
    if not os.path.exists(SECRET_FILE):
        return None
    text = open(SECRET_FILE).read().strip()
    return base64.b64decode(text.removeprefix("whsec_"))


def signature_ok(key, msg_id, timestamp, body, header):
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in header.split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, g) for g in given)


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_response(413)
            self.end_headers()
            return
        body = self.rfile.read(length)
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "0")
        key = secret()
        if key is not None:
            fresh = abs(time.time() - int(timestamp)) < 300 if timestamp.isdigit() else False
            if not fresh or not signature_ok(key, msg_id, timestamp, body,
                                             self.headers.get("webhook-signature", "")):
                print(f"refused {msg_id}: bad signature or timestamp", flush=True)
                self.send_response(401)
                self.end_headers()
                return
        print(f"{msg_id} {body.decode(errors='replace')}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


print(f"listening on http://127.0.0.1:{PORT}/", flush=True)
http.server.HTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
