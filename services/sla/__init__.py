"""SLA watch: working-day deadlines, at-risk and breach alerts, rates and the ops page."""
