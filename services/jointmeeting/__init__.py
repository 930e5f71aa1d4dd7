"""Joint meeting: splits cross-department cases into enforcement tasks for member bureaus."""
