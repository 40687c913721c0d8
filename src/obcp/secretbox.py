"""Encryption of stored secrets (observer root passwords, agent keys, access-key secrets, SSH credentials)
with keys kept in OBCP_HOME, and their rotation.

Every server replica sharing a metadb must share the key files (copy `secret.key`, or point
`OBCP_SECRET_KEY_FILE` at one copy). A ciphertext names the key that wrote it: `k1:<key id>:<Fernet token>`,
the key id being the first 16 hex digits of the key's SHA-256. A ciphertext written before key ids existed
(a bare Fernet token) is tried with every key.

Rotation (docs/security.md, "Rotating the secret key"): a second file beside the key, `secret.key.new`, holds
the next key. While it exists, a replica writes with it and reads with both; it notices the file appearing,
changing or going away by itself (a `stat` of both files before each use), so no replica restarts.
`obcp secrets rotate` then re-encrypts every stored secret under the new key, and `obcp secrets promote`
makes the new key the only one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "k1:"
NEW_SUFFIX = ".new"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def new_key_path(path: Path) -> Path:
    return path.with_name(path.name + NEW_SUFFIX)


def write_new_key(path: Path) -> bool:
    """Writes a fresh key to `path` unless it exists (O_EXCL: two replicas starting at once on a fresh home
    must not write two different keys); True if this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(Fernet.generate_key())
    return True


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


class SecretBox:
    def __init__(self, key: bytes, new_key: bytes | None = None, *, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamps = self._file_stamps()
        self._load(key, new_key)

    def _load(self, key: bytes, new_key: bytes | None) -> None:
        keys = [k for k in (new_key, key) if k]
        self._fernets = {key_id(k): Fernet(k) for k in keys}
        self._all = MultiFernet([Fernet(k) for k in keys])
        self._writer = key_id(keys[0])
        # A separate key derived for HMACs (cache keys, counters of unknown user names), never the encryption
        # key itself; from `secret.key`, so it stays put while a rotation runs.
        self._mac_key = hashlib.sha256(b"obcp-mac:" + key).digest()

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        path = Path(path)
        if not path.exists():
            write_new_key(path)
        key, new_key = _read(path)
        return cls(key, new_key, path=path)

    def _file_stamps(self) -> tuple[object, ...]:
        if self._path is None:
            return ()
        return (_stamp(self._path), _stamp(new_key_path(self._path)))

    def refresh(self) -> bool:
        """Re-reads the key files if they changed since last read; True if they did."""
        if self._path is None:
            return False
        with self._lock:
            stamps = self._file_stamps()
            if stamps == self._stamps:
                return False
            try:
                key, new_key = _read(self._path)
                self._load(key, new_key)
            except (OSError, ValueError):
                # A key file caught half-copied (or removed between stat and read): keep the keys in use
                # and look again at the next use.
                return False
            self._stamps = stamps
            return True

    @property
    def writing_key_id(self) -> str:
        self.refresh()
        return self._writer

    @property
    def key_ids(self) -> tuple[str, ...]:
        self.refresh()
        return tuple(self._fernets)

    def encrypt(self, plaintext: str) -> str:
        self.refresh()
        token = self._fernets[self._writer].encrypt(plaintext.encode()).decode()
        return f"{PREFIX}{self._writer}:{token}"

    def decrypt(self, ciphertext: str) -> str:
        self.refresh()
        kid = written_by(ciphertext)
        try:
            if kid is None:
                return self._legacy(ciphertext)
            fernet = self._fernets.get(kid)
            if fernet is None:
                raise ValueError(
                    f"a stored secret is encrypted with the key {kid}, which is in neither secret.key nor "
                    "secret.key.new of this server"
                )
            return fernet.decrypt(ciphertext[len(PREFIX) + len(kid) + 1 :].encode()).decode()
        except InvalidToken as exc:
            raise ValueError("a stored secret cannot be decrypted with this server's secret.key") from exc

    def _legacy(self, token: str) -> str:
        return self._all.decrypt(token.encode()).decode()

    def needs_rotation(self, ciphertext: str) -> bool:
        """True unless the ciphertext is already written by the key this box writes with."""
        return written_by(ciphertext) != self.writing_key_id

    def mac(self, data: str) -> str:
        return hmac.new(self._mac_key, data.encode(), hashlib.sha256).hexdigest()


def written_by(ciphertext: str) -> str | None:
    """The key id a ciphertext names; None for one written before key ids."""
    if not ciphertext.startswith(PREFIX):
        return None
    kid, sep, _ = ciphertext[len(PREFIX) :].partition(":")
    return kid if sep else None


def _read(path: Path) -> tuple[bytes, bytes | None]:
    key = path.read_bytes().strip()
    new = new_key_path(path)
    try:
        new_key = new.read_bytes().strip() or None
    except FileNotFoundError:
        new_key = None
    return key, new_key
