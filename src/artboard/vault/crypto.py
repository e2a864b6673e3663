"""Sealing a user's provider keys under a password only they know, and sealing data under the server key.

A user's key is sealed with AES-256-GCM under a key derived from their password with PBKDF2-SHA256, a fresh
random 32-byte salt and a fresh 12-byte nonce every time. The sealed text names its scheme and iteration
count, so raising the count later leaves what was sealed before readable:

    $aes256gcm-pbkdf2sha256$i=600000$<salt>$<nonce>$<ciphertext and tag>     (base64url, no padding)

Seed 001 stored ``<encrypted>.<salt>``: standard base64 of the 12-byte nonce followed by ciphertext and tag
(Go's ``gcm.Seal(nonce, nonce, ...)``), a dot, and standard base64 of the 32-byte salt, at 100,000
iterations. That is read too, so a key moved over from seed 001 opens with its old password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256 (2023)
LEGACY_ITERATIONS = 100_000  # seed 001
# A sealed text names its own count: bounded, so an altered one cannot make a derivation run for hours.
MIN_ITERATIONS, MAX_ITERATIONS = 100_000, 10_000_000
SALT_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
SCHEME = "aes256gcm-pbkdf2sha256"


class CannotOpen(Exception):
    """The password is wrong, or the sealed text was altered or is not one: AES-GCM cannot tell which."""


def seal(secret: str, password: str, iterations: int = ITERATIONS) -> str:
    """``secret`` sealed under ``password``; slow on purpose (one PBKDF2 derivation): call it off the event loop."""
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}")
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(_derive(password, salt, iterations)).encrypt(nonce, secret.encode(), None)
    return "$".join(["", SCHEME, f"i={iterations}", _encode(salt), _encode(nonce), _encode(ciphertext)])


def unseal(sealed: str, password: str) -> str:
    """The secret ``seal`` (or seed 001) sealed under ``password``; ``CannotOpen`` otherwise. Slow, like ``seal``."""
    salt, nonce, ciphertext, iterations = _parse(sealed)
    try:
        return AESGCM(_derive(password, salt, iterations)).decrypt(nonce, ciphertext, None).decode()
    except (InvalidTag, UnicodeDecodeError):
        raise CannotOpen("The password does not open this key.") from None


def _parse(sealed: str) -> tuple[bytes, bytes, bytes, int]:
    """Salt, nonce, ciphertext with tag, and iteration count, in either format."""
    try:
        if sealed.startswith("$"):
            _, scheme, count, salt, nonce, ciphertext = sealed.split("$")
            if scheme != SCHEME or not count.startswith("i=") or not count[2:].isdigit():
                raise CannotOpen("Not a sealed key of a known scheme.")
            iterations = int(count[2:])
            parsed = _decode(salt), _decode(nonce), _decode(ciphertext), iterations
        else:
            encrypted, salt = sealed.split(".")
            data = _decode(encrypted)
            parsed = _decode(salt), data[:NONCE_BYTES], data[NONCE_BYTES:], LEGACY_ITERATIONS
    except (ValueError, binascii.Error):
        raise CannotOpen("Not a sealed key.") from None
    salt_bytes, nonce_bytes, ciphertext_bytes, iterations = parsed
    if (
        not salt_bytes
        or len(nonce_bytes) != NONCE_BYTES
        or len(ciphertext_bytes) < TAG_BYTES
        or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS
    ):
        raise CannotOpen("Not a sealed key.")
    return parsed


def _derive(password: str, salt: bytes, iterations: int) -> bytes:
    # hashlib runs OpenSSL's PBKDF2 without holding the GIL, so a derivation in a thread blocks nothing else.
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, dklen=32)


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (seed 001 wrote standard base64)."""
    if not text:
        raise ValueError("empty")
    standard = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)


class ServerKey:
    """AES-256-GCM under a key derived with HKDF-SHA256 from the server secret for one purpose: what it seals,
    every process sharing ``SECRET_KEY`` can open, and nothing without the secret can. ``context`` is
    authenticated with the data, so a sealed value cannot be moved to another record."""

    def __init__(self, secret: str, purpose: str) -> None:
        info = f"artboard {purpose}".encode()
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())
        self._aead = AESGCM(key)

    def seal(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
        except (InvalidTag, ValueError):
            raise CannotOpen("Not sealed by this server's key for this record.") from None
