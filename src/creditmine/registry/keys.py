"""The Ed25519 keys that sign the audit trail: made once, kept private, published as a public key.

The private key signs every trail entry; whoever verifies the trail needs only the public key. On a
laptop the key lives beside the embedded store (readable by its owner only); a team server keeps its
own in its state folder, and clients verify with the public key it publishes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["key_id", "load_or_create_private_key", "load_public_key", "public_pem"]

PRIVATE_FILE, PUBLIC_FILE = "trail_ed25519.pem", "trail_ed25519.pub.pem"


def load_or_create_private_key(folder: str | os.PathLike) -> Ed25519PrivateKey:
    """The signing key in `folder` (created with mode 0600 on first use, and its public key beside it)."""
    folder = Path(folder)
    private = folder / PRIVATE_FILE
    if private.is_file():
        return serialization.load_pem_private_key(private.read_bytes(), password=None)
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # created readable by the owner only, then moved into place so no reader sees half a key
    partial = private.with_suffix(".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    os.replace(partial, private)
    (folder / PUBLIC_FILE).write_bytes(public_pem(key.public_key()))
    return key


def load_public_key(path: str | os.PathLike) -> Ed25519PublicKey:
    """A public key from a PEM file (or the PEM bytes themselves)."""
    data = path if isinstance(path, bytes) else Path(path).read_bytes()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path if not isinstance(path, bytes) else 'key'}: not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: names the key in each entry."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
