"""An issuer's JWK Set endpoint on a loopback port, for key-fetching tests.

Serves whatever the test publishes at `/jwks.json` and counts the requests;
it can also answer like a broken or hostile host (a status, a redirect, a huge
or compressed body, no answer at all). With `tls=True` it speaks HTTPS with a
certificate from a throwaway CA, and `client_ssl_context()` trusts that CA, so
the production path (https only, no flag) runs against a real TLS server.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

JWKS_PATH = "/jwks.json"
HANG_LIMIT_S = 30.0
"""A hanging reply gives up after this, so a forgotten `release()` cannot block teardown."""
DRIP_BYTES = 500
"""A dripping reply sends this many bytes of whitespace (10 s) before the key set."""


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"keys": []}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class JwksServer:
    origin: str = ""
    reply: Reply = field(default_factory=Reply)
    hits: dict[str, int] = field(default_factory=dict)
    ca_pem: bytes | None = None
    released: threading.Event = field(default_factory=threading.Event)
    stalling: str | None = None

    @property
    def url(self) -> str:
        return self.origin + JWKS_PATH

    @property
    def fetches(self) -> int:
        """How many times the key set was requested."""
        return self.hits.get(JWKS_PATH, 0)

    def publish(self, jwks: dict[str, Any]) -> None:
        self.reply = Reply(body=json.dumps(jwks).encode())

    def answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.reply = Reply(status=status, body=body, headers=headers)

    def hang(self) -> None:
        """Accept requests but never answer them (until `release()`)."""
        self.stalling = "hang"
        self.released.clear()

    def drip(self) -> None:
        """Answer 200, then a byte every 20 ms for 10 s, then the key set (or until `release()`)."""
        self.stalling = "drip"
        self.released.clear()

    def release(self) -> None:
        self.stalling = None
        self.released.set()

    def client_ssl_context(self) -> ssl.SSLContext:
        assert self.ca_pem is not None, "start(tls=True) for an HTTPS server"
        return ssl.create_default_context(cadata=self.ca_pem.decode())


def start(tls: bool = False) -> Iterator[JwksServer]:
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits[self.path] = state.hits.get(self.path, 0) + 1
            if state.stalling == "hang":
                state.released.wait(HANG_LIMIT_S)
                return
            if state.stalling == "drip":
                self._drip()
                return
            reply = state.reply if self.path == JWKS_PATH else Reply(404, b"")
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _drip(self) -> None:
            """Leading whitespace a byte at a time, then the published body: valid, but slow."""
            body = state.reply.body
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(DRIP_BYTES + len(body)))
                self.end_headers()
                for _ in range(DRIP_BYTES):
                    if state.released.wait(0.02):
                        return
                    self.wfile.write(b" ")
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    with tempfile.TemporaryDirectory() as directory:
        if tls:
            state.ca_pem, context = _throwaway_tls(Path(directory))
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        state.origin = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield state
        finally:
            state.release()
            server.shutdown()
            server.server_close()


def _throwaway_tls(directory: Path) -> tuple[bytes, ssl.SSLContext]:
    """A CA and a certificate for 127.0.0.1 signed by it; returns the CA PEM and server context."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "footdrop-cds test CA")])
    ca_cert = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        _certificate(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
            ca_name,
            server_key.public_key(),
            now,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ca_cert.public_bytes(serialization.Encoding.PEM), context


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
