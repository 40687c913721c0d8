"""The secret box's keys (docs/security.md, "Rotating the secret key"): each ciphertext names its key; a
ciphertext from before key ids still decrypts; a replica picks up `secret.key.new` without a restart, writes
with it and reads with both keys; a replica missing the new key says which key it lacks, and reads as soon as
the file is copied; after the promotion the old key is gone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from obcp.secretbox import SecretBox, key_id, new_key_path, write_new_key, written_by


def test_key_ids_legacy_ciphertexts_and_a_rotation_between_two_replicas(tmp_path: Path) -> None:
    a_file, b_file = tmp_path / "a" / "secret.key", tmp_path / "b" / "secret.key"
    a = SecretBox.from_file(a_file)
    b_file.parent.mkdir()
    shutil.copy(a_file, b_file)
    b = SecretBox.from_file(b_file)
    old_id = key_id(a_file.read_bytes().strip())
    # Written before key ids: a bare Fernet token of the same key.
    legacy = Fernet(a_file.read_bytes().strip()).encrypt(b"written-by-an-old-release").decode()
    assert written_by(legacy) is None and a.decrypt(legacy) == "written-by-an-old-release"
    before = a.encrypt("root-password")
    assert before.startswith(f"k1:{old_id}:") and "root-password" not in before
    assert b.decrypt(before) == "root-password" and a.needs_rotation(legacy) and not a.needs_rotation(before)

    # A key file caught half-copied is not taken up: the keys in use stay, until the file is whole.
    new_key_path(a_file).write_bytes(b"half-a-ke")
    assert written_by(a.encrypt("x")) == old_id
    new_key_path(a_file).unlink()
    assert write_new_key(new_key_path(a_file)) and not write_new_key(new_key_path(a_file))
    new_id = key_id(new_key_path(a_file).read_bytes().strip())
    during = a.encrypt("agent-key")  # no restart: the file is noticed before the next encryption
    assert written_by(during) == new_id and a.key_ids == (new_id, old_id)
    assert a.decrypt(before) == "root-password" and a.decrypt(legacy) == "written-by-an-old-release"
    assert a.needs_rotation(before) and not a.needs_rotation(during)
    # The other replica has not got the new key yet: it says which key it lacks, and reads once it has it.
    with pytest.raises(ValueError, match=new_id):
        b.decrypt(during)
    shutil.copy(new_key_path(a_file), new_key_path(b_file))
    assert b.decrypt(during) == "agent-key"
    assert written_by(b.encrypt("x")) == new_id

    rotated = a.encrypt(a.decrypt(before))
    os.replace(new_key_path(a_file), a_file)  # the promotion
    assert a.decrypt(rotated) == "root-password" and list(a.key_ids) == [new_id]
    with pytest.raises(ValueError, match=old_id):
        a.decrypt(before)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        a.decrypt(legacy)
    assert SecretBox.from_file(a_file).decrypt(during) == "agent-key"


def test_a_foreign_key_cannot_decrypt(tmp_path: Path) -> None:
    mine = SecretBox.from_file(tmp_path / "mine.key")
    other = SecretBox.from_file(tmp_path / "other.key")
    with pytest.raises(ValueError):
        other.decrypt(mine.encrypt("secret"))
    with pytest.raises(ValueError):
        other.decrypt(Fernet(Fernet.generate_key()).encrypt(b"legacy").decode())
