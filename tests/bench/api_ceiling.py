"""The serving API's ceiling for bench_api: the same server stack (uvicorn workers, FastAPI, a
meter's-day route and an async handler, as the API's), answering a constant payload of the same
size without touching a store. Started by the benchmark as ``uvicorn tests.bench.api_ceiling:app``."""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import Response

PAYLOAD = os.environ.get("GRIDLAKE_BENCH_PAYLOAD", "{}").encode()
app = FastAPI()


@app.get("/v1/meters/{meter_id}/days/{day}")
async def meter_day(meter_id: str, day: str) -> Response:
    return Response(PAYLOAD, media_type="application/json", headers={"Cache-Control": "private, no-store"})
