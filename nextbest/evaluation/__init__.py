"""Offline evaluation: prequential runs of a model, off-policy estimates from logs."""
