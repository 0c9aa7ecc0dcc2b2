"""The decision pipeline and the engine around it."""
