"""一人一档 / 一企一档: what the government holds about a person or an enterprise, reused with consent."""
