"""Simulation of customers against the real engine."""
