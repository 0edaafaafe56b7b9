"""The server kit every Rendezvous service is built on.

Pure pieces (``errors``, ``settings``, ``clock``) may be imported by domains; the rest
(``grpc_server``, ``interceptors``, ``db``, ``telemetry``, ``logs``, ``channels``) are for
adapters and bootstraps only.
"""
