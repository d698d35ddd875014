"""Services the monitor can start for itself: the embedded broker (Tansu) and Redis for the
zero-setup demo and the quick tests, and real Apache Kafka for the real-Kafka tests."""

from monitor.embedded.processes import ServiceProcess, free_port, spawn, stop_process
from monitor.embedded.services import EMBEDDED_WARNING, EmbeddedServices, resolve_endpoints

__all__ = [
    "EMBEDDED_WARNING",
    "EmbeddedServices",
    "ServiceProcess",
    "free_port",
    "resolve_endpoints",
    "spawn",
    "stop_process",
]
