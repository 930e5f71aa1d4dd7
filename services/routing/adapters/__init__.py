"""Routing's adapters: the case store and read model (PostgreSQL), the staff API (HTTP) and its tokens."""
