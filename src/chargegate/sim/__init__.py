"""A simulated OCPP 1.6J charger for demos, tests and benchmarks."""
