"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chargegate import metrics
from chargegate.services import health
from chargegate.services.runtime import Runtime

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint() -> Response:
    """Prometheus metrics of this node (no API key: keep it on an internal network)."""
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers."""
    runtime: Runtime = request.app.state.runtime
    problem = await health.problem(runtime)
    if problem is not None:
        return JSONResponse({"status": "unavailable", "message": problem}, status_code=503)
    return JSONResponse({"status": "ready", "node_id": runtime.settings.node_id})
