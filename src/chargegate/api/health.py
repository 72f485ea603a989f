"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from chargegate.services import health
from chargegate.services.runtime import Runtime

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers."""
    runtime: Runtime = request.app.state.runtime
    problem = await health.problem(runtime)
    if problem is not None:
        return JSONResponse({"status": "unavailable", "message": problem}, status_code=503)
    return JSONResponse({"status": "ready", "node_id": runtime.settings.node_id})
