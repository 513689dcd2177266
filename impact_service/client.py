"""HTTP client of the study API (httpx); the CLI's submit/status/wait/result use it against any server."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

__all__ = ["ApiClient", "ApiError"]

TERMINAL = {"succeeded", "partially_succeeded", "failed", "canceled"}


class ApiError(Exception):
    """A 4xx/5xx answer, with the server's error code and message."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


class ApiClient:
    """Talks to ``base_url`` with an API key."""

    def __init__(
        self, base_url: str, api_key: str | None, *, timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    @property
    def http(self) -> httpx.Client:
        """The underlying HTTP client (authenticated, on the base URL), for requests without a method here."""
        return self._http

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        raise ApiError(
            response.status_code, error.get("code", "http_error"), error.get("message", response.text[:300]), error.get("details")
        )

    def submit(self, spec: dict[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Queue a study; returns the study resource."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        result: dict[str, Any] = self._check(self._http.post("/v1/studies", json=spec, headers=headers)).json()
        return result

    def upload(self, kind: str, path: Path) -> dict[str, Any]:
        """Upload a grid (``kind`` "grids") or an hourly profile ("profiles") file; returns its resource."""
        with path.open("rb") as handle:
            response = self._http.post(f"/v1/{kind}", files={"file": (path.name, handle)})
        result: dict[str, Any] = self._check(response).json()
        return result

    def study(self, study_id: str) -> dict[str, Any]:
        """Status and progress."""
        result: dict[str, Any] = self._check(self._http.get(f"/v1/studies/{study_id}")).json()
        return result

    def cancel(self, study_id: str) -> dict[str, Any]:
        """Cancel a study."""
        result: dict[str, Any] = self._check(self._http.delete(f"/v1/studies/{study_id}")).json()
        return result

    def wait(self, study_id: str, *, on_progress: Callable[[dict[str, Any]], None] | None = None, poll_s: float = 0.5,
             timeout_s: float = 24 * 3600) -> dict[str, Any]:  # fmt: skip
        """Poll until the study ends; returns its final resource."""
        deadline = time.monotonic() + timeout_s
        while True:
            study = self.study(study_id)
            if on_progress is not None:
                on_progress(study)
            if study["status"] in TERMINAL:
                return study
            if time.monotonic() > deadline:
                raise TimeoutError(f"study {study_id} did not finish within {timeout_s:.0f} s")
            time.sleep(poll_s)

    def result(self, study_id: str) -> dict[str, Any]:
        """The result JSON."""
        result: dict[str, Any] = self._check(self._http.get(f"/v1/studies/{study_id}/result")).json()
        return result

    def result_netcdf(self, study_id: str) -> bytes:
        """The result arrays as NetCDF bytes."""
        return self._check(self._http.get(f"/v1/studies/{study_id}/result.nc")).content

    def result_tables(self, study_id: str, fmt: str) -> bytes:
        """The result's tables: ``fmt`` "xlsx" (one workbook) or "csv" (a zip of CSV files)."""
        path = "result.xlsx" if fmt == "xlsx" else "result.csv.zip"
        return self._check(self._http.get(f"/v1/studies/{study_id}/{path}", timeout=120.0)).content

    def report(self, study_id: str) -> str:
        """The HTML report."""
        return self._check(self._http.get(f"/v1/studies/{study_id}/report", timeout=120.0)).text

    def ready(self) -> bool:
        """Whether /readyz answers 200."""
        try:
            return self._http.get("/readyz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False
