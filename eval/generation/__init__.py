"""Generation stage: batched chat generation and the append-only result cache it resumes from."""
