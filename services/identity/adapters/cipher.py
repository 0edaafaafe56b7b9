"""The vault's keys: AES-256-GCM encryption of secrets at rest, and HMAC signing of confirmation links.

Keys come from ``RENDEZVOUS_IDENTITY_ENCRYPTION_KEYS``: comma-separated ``kid:key`` pairs, each key
32 bytes in URL-safe base64; the FIRST is current (new ciphertexts), the others still decrypt.
Every ciphertext is stored with its key id, so rotation is: prepend a new key, let reads and
``rotate-keys`` re-encrypt, then drop the old key.

A ciphertext is ``nonce (12 bytes) || AES-GCM(plaintext)`` with associated data naming the table and
row it belongs to, so a ciphertext copied onto another row does not decrypt.

Link signatures use a key derived (HKDF-SHA256) from each vault key, so one configuration secret
serves both, and a rotated vault key keeps old links verifiable while it is still configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kit.errors import Internal
from kit.settings import SettingsError
from services.identity.domain.secrets import b64url

NONCE_BYTES = 12
KEY_BYTES = 32
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_LINK_INFO = b"rendezvous-identity-confirmation-link-signing"


@dataclass(frozen=True)
class VaultKey:
    kid: str
    key: bytes = field(repr=False)


def parse_keys(value: str, env: str = "RENDEZVOUS_IDENTITY_ENCRYPTION_KEYS") -> list[VaultKey]:
    """``kid:base64url-key,…`` → keys, first current; SettingsError naming what is wrong."""
    keys: list[VaultKey] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not _KID.match(kid):
            raise SettingsError(f"{env}: each entry must be kid:base64url-key (kid of letters, digits, '.', '_', '-')")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise SettingsError(f"{env}: the key of {kid!r} is not URL-safe base64") from None
        if len(key) != KEY_BYTES:
            raise SettingsError(f"{env}: the key of {kid!r} must be {KEY_BYTES} bytes, not {len(key)}")
        if any(k.kid == kid for k in keys):
            raise SettingsError(f"{env}: key id {kid!r} appears twice")
        keys.append(VaultKey(kid, key))
    if not keys:
        raise SettingsError(f"{env}: at least one key is required")
    return keys


def new_key_entry(kid: str) -> str:
    """A fresh ``kid:key`` entry for the configuration (``python -m services.identity new-key``)."""
    return f"{kid}:{b64url(os.urandom(KEY_BYTES))}"


class Keyring:
    """Encrypts with the current key, decrypts with whichever key a ciphertext names."""

    def __init__(self, keys: list[VaultKey]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._current = keys[0]
        self._ciphers = {k.kid: AESGCM(k.key) for k in keys}
        self._link_keys = [_derive(k.key) for k in keys]

    @property
    def current_kid(self) -> str:
        return self._current.kid

    def seal(self, plaintext: bytes, context: str) -> tuple[str, bytes]:
        """``(kid, nonce || ciphertext)`` under the current key, bound to ``context``."""
        nonce = os.urandom(NONCE_BYTES)
        return self._current.kid, nonce + self._ciphers[self._current.kid].encrypt(nonce, plaintext, context.encode())

    def open(self, kid: str, sealed: bytes, context: str) -> bytes:
        """The plaintext; Internal if the key is no longer configured or the data was altered."""
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise Internal(f"secret encrypted with key {kid!r}, which is not configured any more")
        try:
            return cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise Internal("a stored secret does not decrypt (altered, or moved from another row)") from None

    # LinkSigner
    def sign(self, payload: bytes) -> str:
        return b64url(hmac.new(self._link_keys[0], payload, hashlib.sha256).digest())

    def verify(self, payload: bytes, signature: str) -> bool:
        ok = False
        for key in self._link_keys:  # every key is tried, so timing does not tell which one matched
            expected = b64url(hmac.new(key, payload, hashlib.sha256).digest())
            ok |= hmac.compare_digest(expected.encode(), signature.encode())
        return ok


def _derive(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LINK_INFO).derive(key)
