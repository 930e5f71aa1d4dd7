"""The SLA domain: pure, no I/O (calendar, policy, clocks, rates)."""
