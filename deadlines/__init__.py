"""Every deadline of a case or a task, computed in one place: the SLA policy and the working calendar.

The SLA service judges its clocks with them, the joint meeting proposes its tasks' deadlines with them and
routing counts a clock's time left on the same calendar; services do not import each other, so the code
and the files they share live here, beside `district/`. Pure: nothing here does I/O besides reading its
own files (the policy per district, the calendar overrides) when asked to.
"""
