"""Webhooks: events for other systems (the unified intake system, departments' own systems), written to
an outbox in the same transaction as the change and delivered, signed, after commit. Serves
administrators (subscriptions, delivery log, re-send) and the systems that subscribe."""
