"""The one prompt format, shared by training and answering so the model sees the same shape in both."""

from __future__ import annotations

from collections.abc import Sequence

# Short on purpose: every training example and every answer's prefill pays for each of its tokens.
SYSTEM_PROMPT = "Answer from the context in one or two sentences. If it doesn't say, say you don't know."
DONT_KNOW = "I don't know. The company documents I have don't cover that."


def fit_contexts(passages: Sequence[str], budget_chars: int) -> list[str]:
    """Passages in rank order within a character budget; the last one is cut if enough room is left."""
    kept: list[str] = []
    left = budget_chars
    for passage in passages:
        if len(passage) <= left:
            kept.append(passage)
            left -= len(passage)
        elif left >= 200:
            kept.append(passage[:left].rsplit(" ", 1)[0] + " ...")
            break
        else:
            break
    return kept


def user_turn(question: str, contexts: Sequence[str]) -> str:
    """The user message: numbered context passages, then the question."""
    if not contexts:
        return f"Question: {question.strip()}"
    passages = "\n\n".join(f"[{i}] {text.strip()}" for i, text in enumerate(contexts, start=1))
    return f"Context:\n{passages}\n\nQuestion: {question.strip()}"


def question_of(user_content: str) -> str:
    """The question of a user message that user_turn wrote."""
    return user_content.rpartition("Question: ")[2].strip()


def chat_messages(question: str, contexts: Sequence[str], answer: str | None = None) -> list[dict[str, str]]:
    """System, user (context + question) and, for training, the assistant's answer."""
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_turn(question, contexts)},
    ]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer.strip()})
    return messages
