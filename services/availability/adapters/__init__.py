"""Adapters of the availability service: gRPC edge, database, outbound clients."""
