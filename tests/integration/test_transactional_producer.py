"""Events produced in transactions: the commit markers take offsets of their own, which no
consumer ever receives. Every event is still sent once, and the commit moves past the markers
(the strict commit counts offsets without an event as done: fusion_stream.commitguard)."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from confluent_kafka import Producer

from tests.conftest import TopicSet, bootstrap
from tests.support.fakes import CODEC
from tests.support.kafka import read_outcomes, wait_committed, webhook

pytestmark = pytest.mark.integration

TRANSACTIONS, PER_TRANSACTION = 10, 10


def test_transaction_markers_do_not_hold_the_commit(
    topic_set: TopicSet, worker_factory, http_server
) -> None:
    spec = topic_set.config().channel("webhook")
    producer = Producer(
        {"bootstrap.servers": bootstrap(), "transactional.id": f"test-{uuid.uuid4().hex}"}
    )
    producer.init_transactions(30)
    for t in range(TRANSACTIONS):
        producer.begin_transaction()
        for i in range(PER_TRANSACTION):
            job = f"tx-{t}-{i}"
            value = CODEC.encode(spec.value_schema, webhook(job, f"{http_server.url}/{job}"))
            producer.produce(spec.topic, key=job.encode(), value=value)
        producer.commit_transaction(30)

    worker = worker_factory(topic_set)
    worker.start()
    n = TRANSACTIONS * PER_TRANSACTION
    outcomes = read_outcomes(topic_set, until=n, timeout=120)
    assert Counter(o["status"] for o in outcomes) == {"sent": n}, worker.log_text()[-3000:]
    assert len(http_server.snapshot()) == n
    # The end offsets include one marker per transaction and partition: all committed.
    assert wait_committed(spec.topic, worker.app_id, timeout=60) == 0, worker.log_text()[-3000:]
    assert "never reached the agent" not in worker.log_text()
    assert worker.stop() == 0
