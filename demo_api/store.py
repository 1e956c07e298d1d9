"""Products in SQLite: one short transaction per call, safe from many threads."""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    price       REAL    NOT NULL CHECK (price >= 0),
    description TEXT    NOT NULL DEFAULT '',
    created_by  TEXT    NOT NULL,
    created_at  REAL    NOT NULL,
    updated_by  TEXT    NOT NULL,
    updated_at  REAL    NOT NULL
)
"""
_COLUMNS = "id, name, price, description, created_by, created_at, updated_by, updated_at"


@dataclass(frozen=True)
class Product:
    """A stored product and who last changed it (an M2M App ID)."""

    id: int
    name: str
    price: float
    description: str
    created_by: str
    created_at: float
    updated_by: str
    updated_at: float


def _close_all(connections: list[sqlite3.Connection], lock: threading.Lock) -> None:
    with lock:
        for db in connections:
            db.close()
        connections.clear()


class ProductStore:
    """SQLite-backed products; every write records the app that made it.

    Each thread gets its own connection; writes take the database lock up front
    (``BEGIN IMMEDIATE``) and wait for it, so concurrent writers queue instead of failing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Connections are closed explicitly, by close() or when the store is collected:
        # one left to the garbage collector is a ResourceWarning (Python 3.13).
        self._finalizer = weakref.finalize(self, _close_all, self._connections, self._lock)
        with self._transaction() as db:
            db.execute(_SCHEMA)

    def close(self) -> None:
        """Close every connection the store opened (any thread's); a later call opens
        new ones, so an app may be started again."""
        self._local = threading.local()
        _close_all(self._connections, self._lock)

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # check_same_thread=False only so that close() may run on another thread:
            # each connection is still used by the thread that opened it.
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            with self._lock:
                self._connections.append(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def list(self, *, limit: int = 100, offset: int = 0) -> list[Product]:
        """Products by id."""
        rows = self._connection().execute(
            f"SELECT {_COLUMNS} FROM products ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
            (limit, offset),
        )
        return [Product(*row) for row in rows]

    def get(self, product_id: int) -> Product | None:
        """One product, or None."""
        row = (
            self._connection()
            .execute(f"SELECT {_COLUMNS} FROM products WHERE id = ?", (product_id,))  # noqa: S608
            .fetchone()
        )
        return Product(*row) if row else None

    def create(self, *, name: str, price: float, description: str, app_id: str) -> Product:
        """Store a new product created by ``app_id``."""
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO products (name, price, description, created_by, created_at,"
                " updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, price, description, app_id, now, app_id, now),
            )
            product_id = cursor.lastrowid
        assert product_id is not None
        product = self.get(product_id)
        assert product is not None
        return product

    def update(self, product_id: int, changes: dict[str, Any], *, app_id: str) -> Product | None:
        """Apply ``changes`` (name, price, description) on behalf of ``app_id``."""
        allowed = {key: changes[key] for key in ("name", "price", "description") if key in changes}
        assignments = ", ".join(f"{key} = ?" for key in allowed)
        with self._transaction() as db:
            cursor = db.execute(
                f"UPDATE products SET {assignments}{', ' if allowed else ''}"  # noqa: S608
                "updated_by = ?, updated_at = ? WHERE id = ?",
                (*allowed.values(), app_id, time.time(), product_id),
            )
            if cursor.rowcount == 0:
                return None
        return self.get(product_id)

    def delete(self, product_id: int) -> bool:
        """Remove a product; False when there was none."""
        with self._transaction() as db:
            return db.execute("DELETE FROM products WHERE id = ?", (product_id,)).rowcount > 0

    def count(self) -> int:
        """How many products are stored."""
        return int(self._connection().execute("SELECT COUNT(*) FROM products").fetchone()[0])
