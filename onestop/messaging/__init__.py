"""E-mail and SMS beside the message centre: an outbox of messages, sent by jobs after commit."""
