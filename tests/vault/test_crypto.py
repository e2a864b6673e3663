"""Sealing provider keys: AES-256-GCM under PBKDF2-SHA256 with the iteration count stored in the sealed text,
seed 001's "encrypted.salt" read as it was written, and the server key's sealing for shared key sessions."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from artboard.vault.crypto import ITERATIONS, MIN_ITERATIONS, CannotOpen, ServerKey, seal, unseal

PASSWORD = "encryption-password"
FAST = MIN_ITERATIONS  # where the count is not what a test is about

# Seed 001's README example values, sealed as seed 001 stored them: standard base64 of nonce + ciphertext + tag,
# a dot, standard base64 of the 32-byte salt; PBKDF2-SHA256 at 100,000 iterations. Salt 00..1f, nonce 00..0b.
SEED_001_VECTOR = (
    "AAECAwQFBgcICQoLRfJBK0EBuGR6uxgmCUD+h6HgtdlDJrwtPRPJ2yXcM1Jv.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
)


def seed_001_seal(secret: str, password: str) -> str:
    """Seed 001's format, written independently of the code under test."""
    salt, nonce = os.urandom(32), os.urandom(12)
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000, 32)
    data = nonce + AESGCM(key).encrypt(nonce, secret.encode(), None)
    return f"{base64.b64encode(data).decode()}.{base64.b64encode(salt).decode()}"


@pytest.mark.parametrize(
    "secret",
    ["fal-ai-token-here", "b7c1e0a4-0000-4000-8000-000000000000:3f9a0c1d2e", "sk-proj-" + "x" * 2000, "clé ключ 鍵 🔑"],
)
def test_a_sealed_key_opens_with_its_password(secret: str) -> None:
    sealed = seal(secret, PASSWORD, FAST)
    assert secret not in sealed
    assert unseal(sealed, PASSWORD) == secret


def test_a_wrong_password_does_not_open_it() -> None:
    sealed = seal("fal-ai-token-here", PASSWORD, FAST)
    for wrong in ("encryption-passworD", "encryption-password ", "", "something else entirely"):
        with pytest.raises(CannotOpen):
            unseal(sealed, wrong)


def test_every_seal_has_a_fresh_salt_and_nonce() -> None:
    first, second = (seal("fal-ai-token-here", PASSWORD, FAST).split("$") for _ in range(2))
    assert first[3] != second[3] and first[4] != second[4]
    assert len(base64.urlsafe_b64decode(first[3] + "==")) == 32
    assert len(base64.urlsafe_b64decode(first[4] + "==")) == 12


def test_the_iteration_count_is_stored_with_the_ciphertext() -> None:
    default = seal("fal-ai-token-here", PASSWORD)
    assert default.startswith(f"$aes256gcm-pbkdf2sha256$i={ITERATIONS}$")
    assert unseal(default, PASSWORD) == "fal-ai-token-here"
    # A key sealed under another count still opens: the count is read from the sealed text, not assumed.
    other = seal("fal-ai-token-here", PASSWORD, 123_456)
    assert "$i=123456$" in other
    assert unseal(other, PASSWORD) == "fal-ai-token-here"


def _flip(part: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize(("part", "index"), [("salt", 3), ("nonce", 4), ("ciphertext", 5)])
def test_a_tampered_sealed_key_does_not_open(part: str, index: int) -> None:
    parts = seal("fal-ai-token-here", PASSWORD, FAST).split("$")
    parts[index] = _flip(parts[index])
    with pytest.raises(CannotOpen):
        unseal("$".join(parts), PASSWORD)


def test_a_tampered_iteration_count_does_not_open() -> None:
    sealed = seal("fal-ai-token-here", PASSWORD, FAST)
    with pytest.raises(CannotOpen):
        unseal(sealed.replace(f"$i={FAST}$", f"$i={FAST + 1}$"), PASSWORD)


def test_seed_001_format_is_read() -> None:
    assert unseal(SEED_001_VECTOR, PASSWORD) == "fal-ai-token-here"
    with pytest.raises(CannotOpen):
        unseal(SEED_001_VECTOR, "wrong-password")
    fresh = seed_001_seal("fal-key:with/odd+chars", "another password")
    assert unseal(fresh, "another password") == "fal-key:with/odd+chars"


def test_a_tampered_seed_001_key_does_not_open() -> None:
    encrypted, salt = SEED_001_VECTOR.split(".")
    data = bytearray(base64.b64decode(encrypted))
    data[-1] ^= 0x01
    with pytest.raises(CannotOpen):
        unseal(f"{base64.b64encode(bytes(data)).decode()}.{salt}", PASSWORD)
    other_salt = base64.b64encode(bytes(range(1, 33))).decode()
    with pytest.raises(CannotOpen):
        unseal(f"{encrypted}.{other_salt}", PASSWORD)


@pytest.mark.parametrize(
    "sealed",
    [
        "",
        "not sealed",
        "a.b.c",
        "!!!.AAAA",
        "AAAA.",
        "$aes256gcm-pbkdf2sha256$i=600000$AAAA$AAAA",
        "$other-scheme$i=600000$AAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
        # An altered count far beyond the bound would keep a core busy for hours: refused before deriving.
        "$aes256gcm-pbkdf2sha256$i=999999999999$AAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
        "$aes256gcm-pbkdf2sha256$i=1$AAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_what_is_not_a_sealed_key_is_refused_the_same_way(sealed: str) -> None:
    with pytest.raises(CannotOpen):
        unseal(sealed, PASSWORD)


def test_the_server_key_opens_only_its_own_sealing_for_the_same_record() -> None:
    key = ServerKey("s" * 48, "vault sessions")
    sealed = key.seal(b'{"keys": {"fal": "fal-ai-token-here"}}', b"record-1")
    assert b"fal-ai-token-here" not in sealed
    assert ServerKey("s" * 48, "vault sessions").open(sealed, b"record-1") == b'{"keys": {"fal": "fal-ai-token-here"}}'
    for other_key, context in (
        (ServerKey("t" * 48, "vault sessions"), b"record-1"),  # another deployment's secret
        (ServerKey("s" * 48, "job keys"), b"record-1"),  # the same secret for another purpose
        (key, b"record-2"),  # moved to another record
    ):
        with pytest.raises(CannotOpen):
            other_key.open(sealed, context)
    with pytest.raises(CannotOpen):
        key.open(b"short", b"record-1")
