"""gridimpact service: the command line today, the FastAPI front end and the store next."""
