"""The `caseline` command: runs the system, its services, feeds and operator tools."""
