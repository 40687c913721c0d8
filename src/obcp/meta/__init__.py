"""The metadb: tables, engine set-up, migrations."""
