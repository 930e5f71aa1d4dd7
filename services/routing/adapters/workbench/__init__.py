"""Routing's staff workbench at /workbench/: the units' queues, the centre's triage and callbacks, the case page
with its whole history and the actions the case accepts from the signed-in unit (docs/workbench.md)."""
