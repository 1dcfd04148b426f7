"""Answering a question: retrieval, the reader, and the model backends. Shared by the Slack bot, `ftbot ask` and
`ftbot eval`, and the training gate, which must score a candidate exactly as the bot would answer with it."""
