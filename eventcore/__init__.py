"""The event-sourced core shared by every Caseline service.

Event store, transactional outbox and relay, inbox (idempotent consumer), dead letters,
CloudEvents mapping, settings and structured logging. Nothing here knows about complaints or cases.
"""
