"""The error an observer operation raises: a stable code, an HTTP status and a sentence naming the cause."""

from __future__ import annotations


class ObserverOperationError(Exception):
    def __init__(self, code: str, message: str, http_status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
