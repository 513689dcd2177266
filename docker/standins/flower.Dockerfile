# Stand-in for mher/flower:2.0: Flower from the package index on the python stand-in.
FROM python:3.11-slim-bookworm
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi; \
    python -m venv /opt/flower \
    && /opt/flower/bin/pip install --no-cache-dir --disable-pip-version-check "flower==2.0.1" "celery[redis]>=5.4,<6"
ENV PATH=/opt/flower/bin:$PATH
USER 65534:65534
EXPOSE 5555
CMD ["celery", "flower"]
