"""What OCP's takeover call names besides the cluster: host types (`/api/v2/compute/hostTypes`) and the
SSH credentials a user keeps in their profile (`/api/v2/profiles/me/credentials`).

obcp installs nothing over SSH (each host runs an obcp agent the operator started), so a credential is
only kept, encrypted with the server's secret key, for the clients that send one; it is never returned.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint

from obcp.meta.base import Id, metadata

compute_host_type = Table(
    "compute_host_type",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

profile_credential = Table(
    "profile_credential",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("iam_user.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("description", String(255), nullable=True),
    # sshCredentialProperty: type (PASSWORD | PRIVATE_KEY) and username in clear, the secret encrypted.
    Column("ssh_type", String(16), nullable=False),
    Column("ssh_username", String(64), nullable=False),
    Column("secret_enc", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("user_id", "name"),
    Index("ix_profile_credential_user_id", "user_id"),
)
