"""Event and message contracts of Caseline: every event and every Kafka message is a pydantic model here."""
