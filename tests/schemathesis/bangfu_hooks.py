"""schemathesis hook: signs every request as bangfu's service expects (docs/api.md).

Authorization: Bangfu key=<base64 public key>,ts=<unix ms>,sig=<base64 Ed25519 signature of
"bangfu-request-v1\\n<METHOD>\\n<path and query exactly as sent>\\n<ts>">

The key is the test ledger's coordinator (BANGFU_ST_KEY: a file holding its 32-byte seed in hex),
so every read is allowed and schemathesis reaches the handlers behind the access checks.
"""

import base64
import os
import time

import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

with open(os.environ["BANGFU_ST_KEY"], encoding="ascii") as f:
    KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(f.read().strip()))
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
BASE = os.environ["BANGFU_ST_URL"]


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.headers is None:
        case.headers = {}
    case.headers.pop("Authorization", None)
    # Sign the path and query exactly as `requests` will send them.
    sent = case.as_transport_kwargs(base_url=BASE)
    prepared = requests.Request(sent["method"], sent["url"], params=sent.get("params")).prepare()
    ts = int(time.time() * 1000)
    message = f"bangfu-request-v1\n{prepared.method}\n{prepared.path_url}\n{ts}"
    sig = base64.b64encode(KEY.sign(message.encode("utf-8"))).decode()
    case.headers["Authorization"] = f"Bangfu key={PUBLIC},ts={ts},sig={sig}"
