"""The demo shopping API: products guarded by ``read:products`` / ``write:products``."""
