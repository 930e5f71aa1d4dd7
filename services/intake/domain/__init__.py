"""Intake's domain: pure mapping of channel records to ComplaintReceived, no I/O."""
