"""Checking events against the model: the engine, the rule catalogue and the findings."""
