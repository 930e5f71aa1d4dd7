"""Intake: turns complaints from the hotline, petitions, the web and walk-ins into events."""
