"""The audit trail: durable, chained, sealed JSON Lines, one log per run."""
