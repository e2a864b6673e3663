"""Jobs: the durable queue (the database is the truth), brokers that carry job ids, workers, events."""
