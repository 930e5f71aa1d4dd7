"""The joint meeting's staff workbench at /workbench/: the office's files, meetings, task changes and on-site
verification; each bureau's board of its own tasks and its reports (docs/workbench.md)."""
