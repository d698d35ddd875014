"""Where alerts go: Kafka topics and Redis. A sink that cannot deliver raises SinkBackpressure;
the scorer then retries and does not commit past the undelivered records."""

from monitor.sinks.base import Delivery, Sink
from monitor.sinks.kafka import KafkaSink
from monitor.sinks.redis import RedisSink

__all__ = ["Delivery", "KafkaSink", "RedisSink", "Sink"]
