"""Adapters of the directory service: gRPC edge, database, outbound clients."""
