"""Adapters of the booking service: gRPC edge, database, outbound clients."""
