"""Adapters of the identity service: gRPC edge, database, outbound clients."""
