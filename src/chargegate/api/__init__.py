"""The HTTP API: the seed's Transaction Management API under /1.2, plus read endpoints."""
