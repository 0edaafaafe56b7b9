"""The four Rendezvous services, each a hexagon: domain, ports, use cases, adapters, bootstrap."""
