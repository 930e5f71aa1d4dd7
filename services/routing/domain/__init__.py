"""Routing's domain: pure rules and decisions, no I/O."""
