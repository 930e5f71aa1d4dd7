"""The joint meeting's domain: pure, no I/O."""
