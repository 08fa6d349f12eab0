"""Durable background work in the database: enqueue, claim with a lease, retry with backoff."""
