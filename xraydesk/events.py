"""Two small rules the Qt-free models and the Qt views share (napari's split: models emit plain
events, views observe them)."""

from collections.abc import Callable
from typing import Any


class Event:
    """Callbacks run in the emitting thread; the app's models are changed only on the UI thread."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


class NewestWins:
    """The newest request wins: each request takes a ticket, and only the newest ticket's results
    are used (a result of an older scan, load or query arriving late is dropped)."""

    def __init__(self) -> None:
        self._newest: object | None = None

    def take(self, ticket: object | None = None) -> object:
        """`ticket`: what identifies the request (a worker, a path); a fresh token by default."""
        self._newest = object() if ticket is None else ticket
        return self._newest

    def is_newest(self, ticket: object) -> bool:
        return ticket is not None and (ticket is self._newest or ticket == self._newest)

    def drop(self) -> None:
        self._newest = None

    @property
    def newest(self) -> object | None:
        return self._newest
