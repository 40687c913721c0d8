"""Encryption of stored secrets (observer root passwords, agent keys) with a key kept in OBCP_HOME.

Every server replica sharing a metadb must share this key file (copy `secret.key`, or point
`OBCP_SECRET_KEY_FILE` at one copy).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        # A separate key derived for HMACs (credential cache keys), so the encryption key is never reused.
        self._mac_key = hashlib.sha256(b"obcp-mac:" + key).digest()

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = Fernet.generate_key()
            # O_EXCL: two replicas starting at once on a fresh home must not write two different keys.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(key)
        return cls(path.read_bytes().strip())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("a stored secret cannot be decrypted with this server's secret.key") from exc

    def mac(self, data: str) -> str:
        return hmac.new(self._mac_key, data.encode(), hashlib.sha256).hexdigest()
