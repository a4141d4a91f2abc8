"""JWK Sets: which public keys of an issuer can verify which algorithm.

A key set is parsed once (when fetched or loaded from a file) into
`kid → {alg → key}`, so verification only looks a key up. Only asymmetric
signature keys are kept: EC on P-256 (ES256) or P-384 (ES384), and RSA of at
least 2048 bits (RS256, RS384). Symmetric (`oct`) keys, encryption keys and
keys we cannot parse are skipped, so a key set can never make HMAC usable.
Private members (`d`, primes) are dropped: a published set is public by contract.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt import PyJWK, PyJWTError

from service.fhir.strict_json import load_object

log = logging.getLogger(__name__)

ALGORITHMS = ("ES384", "RS384", "ES256", "RS256")
"""Signature algorithms accepted from EHRs (S-5): asymmetric only, never `none` or HMAC."""

MIN_RSA_BITS = 2048
MAX_KEY_SET_BYTES = 65_536
"""A JWK Set holds a few keys; anything larger is not one we need to read."""

_EC_ALGORITHM_BY_CURVE = {"P-256": "ES256", "P-384": "ES384"}
_RSA_ALGORITHMS = ("RS384", "RS256")
_PUBLIC_MEMBERS = {"EC": ("kty", "crv", "x", "y"), "RSA": ("kty", "n", "e")}

KeySet = Mapping[str, Mapping[str, PyJWK]]
"""kid → algorithm → verification key."""


class KeySetError(ValueError):
    """A document that is not a usable JWK Set (the message is one line)."""


def parse_key_set(document: bytes) -> KeySet:
    """Parse a JWK Set; unusable keys are skipped (and logged), a duplicated kid drops both."""
    try:
        parsed = load_object(document)
    except ValueError as error:
        raise KeySetError(f"not a JSON object ({error})") from None
    entries = parsed.get("keys")
    if not isinstance(entries, list):
        raise KeySetError('not a JWK Set: no "keys" array')
    keys: dict[str, Mapping[str, PyJWK]] = {}
    duplicated: set[str] = set()
    for entry in entries:
        kid, usable = _verification_keys(entry)
        if kid is None or not usable:
            continue
        if kid in keys:
            duplicated.add(kid)
        keys[kid] = usable
    for kid in duplicated:
        log.warning("JWK Set lists kid %r more than once; neither key is used", kid)
        del keys[kid]
    return keys


def read_key_set_file(path: Path) -> KeySet:
    """Load an issuer's key set from a file; at least one usable key is required."""
    try:
        with path.open("rb") as file:
            document = file.read(MAX_KEY_SET_BYTES + 1)
    except OSError as error:
        raise KeySetError(f"cannot read {path}: {error.strerror or error}") from None
    if len(document) > MAX_KEY_SET_BYTES:
        raise KeySetError(f"{path} is larger than {MAX_KEY_SET_BYTES} bytes")
    try:
        keys = parse_key_set(document)
    except KeySetError as error:
        raise KeySetError(f"{path}: {error}") from None
    if not keys:
        raise KeySetError(
            f"{path} has no usable signature key (EC P-256/P-384 or RSA >= {MIN_RSA_BITS} bits)"
        )
    return keys


def _verification_keys(entry: object) -> tuple[str | None, dict[str, PyJWK]]:
    if not isinstance(entry, dict):
        return None, {}
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        log.warning("JWK without a kid is skipped")
        return None, {}
    algorithms = _algorithms_for(entry)
    if not algorithms:
        log.warning("JWK %r is skipped: not an ES256/ES384/RS256/RS384 signature key", kid)
        return kid, {}
    kty = entry["kty"]
    public = {name: entry[name] for name in _PUBLIC_MEMBERS[kty] if name in entry}
    try:
        usable = {alg: PyJWK(public, algorithm=alg) for alg in algorithms}
    except PyJWTError as error:
        log.warning("JWK %r is skipped: %s", kid, error)
        return kid, {}
    key = next(iter(usable.values())).key
    if isinstance(key, RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        log.warning("JWK %r is skipped: RSA key of %d bits", kid, key.key_size)
        return kid, {}
    return kid, usable


def _algorithms_for(entry: dict[str, Any]) -> tuple[str, ...]:
    """The accepted algorithms this key may verify, honouring its `use`, `key_ops` and `alg`."""
    if entry.get("use", "sig") != "sig":
        return ()
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return ()
    kty = entry.get("kty")
    if kty == "EC":
        curve_algorithm = _EC_ALGORITHM_BY_CURVE.get(entry.get("crv", ""))
        candidates: tuple[str, ...] = (curve_algorithm,) if curve_algorithm else ()
    elif kty == "RSA":
        candidates = _RSA_ALGORITHMS
    else:
        return ()
    declared = entry.get("alg")
    if declared is None:
        return candidates
    return tuple(alg for alg in candidates if alg == declared)
