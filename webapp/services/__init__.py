"""Use cases: open a transaction, load rows, call domain rules, write, commit."""
