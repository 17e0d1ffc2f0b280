"""SigV4A: the ECDSA P-256 key derived from AWS credentials, and signing with it.

The key derivation is AWS's (NIST SP 800-108 HMAC-SHA256 counter mode over the
secret, as in aws-c-auth and aws-sdk-go-v2 ``internal/v4a``); the ECDSA
operation itself runs in awscrt (extra ``crt``). Keys are derived once per
credentials and cached, bounded.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, NamedTuple

from ._credentials import Credentials
from ._exceptions import MissingDependencyError, SigningError

if TYPE_CHECKING:
    from awscrt.crypto import EC

# NIST P-256 (SEC 2 secp256r1).
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
_LABEL = b"AWS4-ECDSA-P256-SHA256"
# DER framing of an RFC 5915 ECPrivateKey on prime256v1 with its public key.
_SEC1_HEAD = bytes.fromhex("30770201010420")
_SEC1_CURVE_AND_KEY = bytes.fromhex("a00a06082a8648ce3d030107a14403420004")

_CACHE_SIZE = 16
_keys: dict[tuple[str, str], _DerivedKey] = {}


class PublicKey(NamedTuple):
    """The affine coordinates of a P-256 public key."""

    x: int
    y: int


class _DerivedKey(NamedTuple):
    ec: EC
    public_key: PublicKey


def derive_private_key(access_key_id: str, secret_access_key: str) -> int:
    """The SigV4A private scalar for these credentials (AWS's fixed-input KDF)."""
    input_key = b"AWS4A" + secret_access_key.encode()
    for counter in range(1, 255):
        fixed_input = (
            b"\x00\x00\x00\x01"
            + _LABEL
            + b"\x00"
            + access_key_id.encode()
            + bytes([counter])
            + b"\x00\x00\x01\x00"
        )  # i = 1, label, 0x00, context = key id || counter, L = 256 bits
        candidate = int.from_bytes(hmac.digest(input_key, fixed_input, "sha256"), "big")
        if candidate <= _N - 2:
            return candidate + 1
    raise SigningError("no SigV4A key can be derived from these credentials")  # pragma: no cover


def public_key(private_key: int) -> PublicKey:
    """``private_key * G`` on P-256 (Jacobian double-and-add; runs once per credentials)."""
    result: tuple[int, int, int] | None = None
    addend: tuple[int, int, int] = (_G[0], _G[1], 1)
    k = private_key
    while k:
        if k & 1:
            result = addend if result is None else _add(result, addend)
        addend = _double(addend)
        k >>= 1
    assert result is not None
    x, y, z = result
    z_inv = pow(z, -1, _P)
    return PublicKey(x * z_inv**2 % _P, y * z_inv**3 % _P)


def _double(point: tuple[int, int, int]) -> tuple[int, int, int]:
    x, y, z = point
    if y == 0:
        return (0, 1, 0)
    s = 4 * x * y * y % _P
    m = (3 * x * x + _A * pow(z, 4, _P)) % _P
    x2 = (m * m - 2 * s) % _P
    return (x2, (m * (s - x2) - 8 * pow(y, 4, _P)) % _P, 2 * y * z % _P)


def _add(p: tuple[int, int, int], q: tuple[int, int, int]) -> tuple[int, int, int]:
    x1, y1, z1 = p
    x2, y2, z2 = q
    u1, u2 = x1 * z2 * z2 % _P, x2 * z1 * z1 % _P
    s1, s2 = y1 * pow(z2, 3, _P) % _P, y2 * pow(z1, 3, _P) % _P
    if u1 == u2:
        return _double(p) if s1 == s2 else (0, 1, 0)
    h, r = (u2 - u1) % _P, (s2 - s1) % _P
    h2 = h * h % _P
    h3 = h * h2 % _P
    x3 = (r * r - h3 - 2 * u1 * h2) % _P
    return (x3, (r * (u1 * h2 - x3) - s1 * h3) % _P, h * z1 * z2 % _P)


def _crt() -> type[EC]:
    try:
        from awscrt.crypto import EC
    except ImportError:
        raise MissingDependencyError("SigV4A signing", extra="crt", module="awscrt") from None
    return EC


def derived_key(credentials: Credentials) -> _DerivedKey:
    """The awscrt key and public key for ``credentials``, derived once and cached."""
    cache_key = (credentials.access_key_id, credentials.secret_access_key)
    key = _keys.get(cache_key)
    if key is None:
        ec_class = _crt()
        d = derive_private_key(*cache_key)
        point = public_key(d)
        der = (
            _SEC1_HEAD
            + d.to_bytes(32, "big")
            + _SEC1_CURVE_AND_KEY
            + point.x.to_bytes(32, "big")
            + point.y.to_bytes(32, "big")
        )
        key = _DerivedKey(ec_class.new_key_from_der_data(der), point)
        if len(_keys) >= _CACHE_SIZE:
            _keys.clear()
        _keys[cache_key] = key
    return key


def sign(credentials: Credentials, string_to_sign: str) -> str:
    """The hex DER ECDSA signature of SHA-256(string to sign)."""
    key = derived_key(credentials)
    return key.ec.sign(hashlib.sha256(string_to_sign.encode()).digest()).hex()
