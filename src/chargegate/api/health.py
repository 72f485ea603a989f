"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from chargegate import metrics
from chargegate.api.arguments import Rt
from chargegate.services import health

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
async def readyz(rt: Rt) -> JSONResponse:
    """Ready for traffic: the database answers."""
    problem = await health.problem(rt)
    if problem is not None:
        return JSONResponse({"status": "unavailable", "message": problem}, status_code=503)
    return JSONResponse({"status": "ready", "node_id": rt.settings.node_id})
