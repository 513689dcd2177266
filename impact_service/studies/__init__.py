"""Studies: submit, list, poll, cancel, fetch results."""
