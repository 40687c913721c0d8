"""What every metadb table module builds on: the one `MetaData` and the column types they share.

The table modules import this and never each other, so any of them loads alone; `obcp.meta.schema` loads
them all, for whoever needs the whole schema (migrations, tests that create every table).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, MetaData, Text
from sqlalchemy.dialects import mysql, sqlite

# SQLite only autoincrements an INTEGER PRIMARY KEY; everywhere else the id is a BIGINT.
Id = BigInteger().with_variant(sqlite.INTEGER(), "sqlite")
# Long text (JSON documents, logs): MEDIUMTEXT on MySQL, where TEXT stops at 64 KiB.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
