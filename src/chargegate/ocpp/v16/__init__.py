"""OCPP 1.6J: what chargers send us, and how our orders are worded for them."""
