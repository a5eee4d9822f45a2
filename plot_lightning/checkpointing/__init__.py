"""Training state you can trust: atomic checkpoint files, exact resume state, no non-finite state saved."""
