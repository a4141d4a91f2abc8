"""Metrics and structured logs: what operators see of the service.

The bottom layer of `service`: any layer may record a metric or log through it,
and it imports nothing of the service itself.
"""
