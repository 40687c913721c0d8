"""Users, roles, OCP permission expressions, password hashing and credential verification."""
