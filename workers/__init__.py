"""The worker fleet: Celery tasks (``tasks``, thin) that claim a study or a part in the store, run
the engine's pipeline phases (``runner``, ``fanout``) and store the outcome (``execution``)."""
