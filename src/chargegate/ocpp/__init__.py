"""The charger side: OCPP-J over WebSocket."""
