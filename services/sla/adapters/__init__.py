"""How the SLA watch talks to PostgreSQL, Kafka metadata, Prometheus and the browser."""
