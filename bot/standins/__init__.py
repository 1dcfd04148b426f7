"""Local stand-ins for what ftbot talks to outside our machines: Slack (`slack/`), an OpenAI-compatible model
server (`openai.py`), and the small threaded HTTP plumbing both serve through (`http.py`)."""
