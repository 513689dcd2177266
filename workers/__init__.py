"""Celery workers (the study service issue builds them on grid_models and impact_service.store)."""
