"""OCPP 2.0.1: what chargers send us, and how our orders are worded for them."""
