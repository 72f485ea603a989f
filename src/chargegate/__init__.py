"""chargegate: an EV-charging backend speaking OCPP to chargers and a small REST API to apps."""

__version__ = "0.1.0"
