#!/usr/bin/env python3
"""A webhook receiver for trying missive on one machine, offline: it prints
every delivery and checks its Standard Webhooks signature, then answers 204.
Python 3 standard library only.

    python3 examples/receiver.py                 # http://127.0.0.1:9000/
    python3 examples/receiver.py 9001 path/to/webhook-signing-secret

The signature is checked with the secret missive generated on first start
(data/webhook-signing-secret, readable by missive's user only), or with the
file given as the second argument. missive refuses loopback targets unless
they are allowed, so start it with:

    MISSIVE__CHANNELS__WEBHOOK__ALLOW_PRIVATE=true cargo run --release -- serve
"""

import base64
import hashlib
import hmac
import http.server
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
SECRET_FILE = sys.argv[2] if len(sys.argv) > 2 else "data/webhook-signing-secret"


def signing_key():
    try:
        with open(SECRET_FILE) as f:
            secret = f.read().strip()
    except OSError:
        return None
    if secret.startswith("whsec_"):
        secret = secret[len("whsec_"):]
    return base64.b64decode(secret)


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        signatures = self.headers.get("webhook-signature", "").split()
        key = signing_key()
        if key is None:
            verdict = "signature not checked (no %s)" % SECRET_FILE
        else:
            mac = hmac.new(key, ("%s.%s." % (msg_id, timestamp)).encode() + body, hashlib.sha256)
            expected = "v1," + base64.b64encode(mac.digest()).decode()
            valid = any(hmac.compare_digest(expected, s) for s in signatures)
            verdict = "signature valid" if valid else "SIGNATURE NOT VALID"
        print("POST %s  webhook-id: %s  %s" % (self.path, msg_id, verdict))
        print(body.decode("utf-8", "replace") + "\n", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    print("receiving webhooks on http://127.0.0.1:%d/ (Ctrl-C to stop)" % PORT, flush=True)
    http.server.HTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
