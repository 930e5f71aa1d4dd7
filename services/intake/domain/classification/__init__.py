"""Deciding a complaint's category (pure: no I/O): the platform's taxonomy, the text classifier, and the rule
that combines them into a CategoryDecision."""
