"""The Kafka boundary: the only package that imports aiokafka; its errors become BusError."""

from monitor.bus.admin import TopicSpec, ensure_topics, wait_for_broker
from monitor.bus.connection import watch_silence
from monitor.bus.consumer import Consumer, Record, TopicPartition
from monitor.bus.dead_letters import DeadLetters, dead_letter_headers
from monitor.bus.producer import Fenced, Producer
from monitor.bus.transactions import PartitionProducers

__all__ = [
    "Consumer",
    "DeadLetters",
    "Fenced",
    "PartitionProducers",
    "Producer",
    "Record",
    "TopicPartition",
    "TopicSpec",
    "dead_letter_headers",
    "ensure_topics",
    "wait_for_broker",
    "watch_silence",
]
