"""Counts in words, as the jobs' summaries and the app's status line say them."""


def count_words(count: int, thing: str, things: str) -> str:
    return f"{count} {thing if count == 1 else things}"
