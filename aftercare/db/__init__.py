"""Database plumbing: engine and sessions, the declarative base, ids and the UTC time type."""
