"""The serving API: the figures gridlake publishes, over HTTP, read from Redis.

Reads follow the published key layout and the live version pointers (jobs/stores/cache_read.py);
a miss or a Redis failure is answered from the durable copies in Cassandra. The API computes
nothing the lake has not: the publish stored each entry as the JSON document a response
carries, and a figure response is those bytes as stored, with the data version (``ETag``,
``X-Data-Version``) and the store that served it (``X-Served-From``) in its headers.

Caching follows the product's rules: public analytics (feeders, substations, regions) are
``public, max-age=300`` with stale-while-revalidate and an ETag of the data version, so an
``If-None-Match`` revalidation costs a 304; a household's figures need a bearer token and are
``private, no-store``. Errors are RFC 9457 problem details, never a stack trace.

Each uvicorn worker builds its own Redis and Cassandra clients at start-up (``lifespan``).
"""

from __future__ import annotations

import calendar
import hashlib
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
import redis
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobs.api.green_button import usage_feed
from jobs.runtime.config import Settings, load_settings
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_read import CacheRead, CacheReader, LiveReader, RedisDown
from jobs.stores.cache_versions import version_day
from jobs.stores.clients import cassandra_session, elasticsearch_client, open_async_redis, serving_redis
from jobs.stores.hot_keys import HotKeys
from jobs.stores.search_query import (
    FACETS,
    SearchInputError,
    SearchRequest,
    facet_aggregations,
    parse_near,
    parse_radius,
    parse_range,
    parse_type,
    search_query,
)
from schemas.cache_keys import (AREA_DAILY, AREA_TOP_CONSUMERS, METER_DAILY, METER_HOURLY, METER_LATEST, METER_MONTH,
                                METER_TOU, KeyFamily, pointer_key)
from schemas.search import candidate_alias

PROBLEM = "application/problem+json"
PRIVATE = "private, no-store"
STATIC = "public, max-age=31536000, immutable"
#: The longest date range of one Green Button feed (a year and a day covers a leap year).
MAX_FEED_DAYS = 367

#: The answers of a household's resources besides 200, for the OpenAPI schema.
PERSONAL = {401: {"description": "No bearer token, or not a known API key (problem details)."},
            403: {"description": "The API key may not read this meter (problem details)."},
            404: {"description": "Nothing published for it (problem details)."}}

AreaLevel = Literal["feeder", "substation", "region"]
#: The levels whose top consumers are published (transforms/cache_entries.py TOP_CONSUMER_AREAS).
TopConsumerLevel = Literal["feeder", "region"]
MeterId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="The meter's pseudonymous id.")]
AreaId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                             description="The feeder's, substation's or region's id.")]
Day = Annotated[date, Path(description="The local day, YYYY-MM-DD.")]
Month = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="The month, YYYY-MM.")]


class Problem(Exception):
    """An RFC 9457 problem: ``status``, a short ``title`` and the ``detail`` of this request."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(request: Request, problem: Problem) -> Response:
    body = {"type": "about:blank", "title": problem.title, "status": problem.status, "detail": problem.detail,
            "instance": request.url.path, **problem.extra}
    return Response(orjson.dumps(body), status_code=problem.status, media_type=PROBLEM,
                    headers={"Cache-Control": PRIVATE})


def key_digest(key: str) -> str:
    """What ``api.key_hashes`` holds of an API key: its SHA-256, in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for ``settings`` (default: the environment's configuration, as every worker loads it)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with cassandra_session(settings, timeout_s=10) as session:
            client = serving_redis(settings.redis, cluster=settings.cache.cluster)
            live_client = open_async_redis(settings.redis, cluster=settings.cache.cluster)
            hot = HotKeys(settings.api.memcached, settings.api.memcached_ttl_s) if settings.api.memcached else None
            candidate = settings.api.data_version == "candidate"
            app.state.reader = CacheReader(client, DurableCopies(session, settings.cassandra.keyspace),
                                           ttl_s=settings.cache.ttl_days * 86400, prefix=settings.cache.prefix,
                                           candidate=candidate)
            app.state.live = LiveReader(live_client, settings.cache.prefix, hot,
                                        pointer_ttl_s=settings.api.pointer_ttl_ms / 1000,
                                        worker_entries=settings.api.worker_entries, candidate=candidate)
            app.state.cassandra = session
            app.state.es = elasticsearch_client(settings)
            try:
                yield
            finally:
                client.close()
                await live_client.aclose()
                if hot is not None:
                    await hot.close()

    app = FastAPI(title="gridlake serving API", version="1",
                  description="The figures gridlake publishes: meters' days and hours, feeders', substations' "
                              "and regions' days, top consumers, and Green Button (ESPI) feeds.", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)

    # The schema and its pages change only with the code: cached a year by any cache, as the
    # product's rules say for static documents.
    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_schema() -> Response:
        return Response(orjson.dumps(app.openapi()), media_type="application/json", headers={"Cache-Control": STATIC})

    @app.get("/docs", include_in_schema=False)
    async def openapi_pages() -> Response:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)
        return Response(page.body, media_type="text/html", headers={"Cache-Control": STATIC})

    @app.exception_handler(Problem)
    async def _problem(request: Request, problem: Problem) -> Response:
        return problem_response(request, problem)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return problem_response(request, Problem(400, "Bad request", f"{where}: {first.get('msg')}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        return problem_response(request, Problem(error.status_code, str(error.detail), str(error.detail)))

    async def lookup(request: Request, family: KeyFamily, **parts: str) -> CacheRead | None:
        """The entry from the live version on the event loop (from the version the edge pinned
        with ``X-Edge-Version``, which it caches the response under); when it is not there, the
        full read (refill, fallback) on the thread pool; when Redis fails, the durable copy."""
        reader = request.app.state.reader
        try:
            found = await request.app.state.live.read(family, request.headers.get("x-edge-version"), **parts)
        except RedisDown:
            return await run_in_threadpool(lambda: reader.read_durable(family, **parts))
        if found is not None:
            return found
        return await run_in_threadpool(lambda: reader.read(family, **parts))

    async def missing(request: Request, what: str, day: date | None) -> Problem:
        return await run_in_threadpool(not_found, request.app.state.reader, what, day)

    # Called by the handlers, not as a FastAPI dependency: resolving dependencies was a tenth of
    # a worker's time per request (py-spy, bench_api's load).
    async def allowed_meters(request: Request) -> frozenset[str]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(401, "Unauthorized", "a household's figures need a bearer token")
        meters = settings.api.key_hashes.get(key_digest(token.strip()))
        if meters is None:
            raise Problem(401, "Unauthorized", "the bearer token is not a known API key")
        return frozenset(meters)

    def may_read(meters: frozenset[str], meter_id: str) -> None:
        if "*" not in meters and meter_id not in meters:
            raise Problem(403, "Forbidden", f"this API key may not read meter {meter_id}")

    def not_found(cache: CacheReader, what: str, day: date | None) -> Problem:
        newest = newest_published(cache)
        if day is not None and (newest is None or day > newest):
            return Problem(404, "Not published", f"{day} is not published yet",
                           newest_published=newest.isoformat() if newest else None)
        return Problem(404, "Not found", f"no {what}" + (f" on {day}" if day else ""))

    def figures(request: Request, read: CacheRead, public: bool) -> Response:
        """The entry's document as stored, with its caching headers (304 when the client has it)."""
        version = read.version or f"c{zlib.crc32(read.document):08x}"
        headers = {"ETag": f'"{version}"', "X-Data-Version": version, "X-Served-From": read.source,
                   "Cache-Control": (f"public, max-age={settings.api.analytics_max_age_s}, "
                                     f"stale-while-revalidate={settings.api.stale_while_revalidate_s}")
                   if public else PRIVATE}
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        return Response(read.document, media_type="application/json", headers=headers)

    async def meters_entry(request: Request, family: KeyFamily, meter_id: str, day: date | None) -> Response:
        """One of a meter's entries (``family``), of ``day`` for a dated family."""
        may_read(await allowed_meters(request), meter_id)
        parts = {"meter_id": meter_id} if day is None else {"meter_id": meter_id, "date": day.isoformat()}
        read = await lookup(request, family, **parts)
        if read is None:
            raise await missing(request, f"{family.name} of meter {meter_id}", day)
        return figures(request, read, public=False)

    @app.get("/v1/meters/{meter_id}/days/{day}", tags=["meters"], responses=PERSONAL,
             summary="A meter's day: energy in and out, peak and its time, load factor, voltages, completeness")
    async def meter_day(request: Request, meter_id: MeterId, day: Day) -> Response:
        return await meters_entry(request, METER_DAILY, meter_id, day)

    @app.get("/v1/meters/{meter_id}/days/{day}/hours", tags=["meters"], responses=PERSONAL,
             summary="A meter's kWh imported per local hour of a day (the repeated DST hour as 02b)")
    async def meter_hours(request: Request, meter_id: MeterId, day: Day) -> Response:
        return await meters_entry(request, METER_HOURLY, meter_id, day)

    @app.get("/v1/meters/{meter_id}/days/{day}/tou", tags=["meters"], responses=PERSONAL,
             summary="A meter's kWh imported per time-of-use band of its tariff on a day")
    async def meter_tou(request: Request, meter_id: MeterId, day: Day) -> Response:
        return await meters_entry(request, METER_TOU, meter_id, day)

    @app.get("/v1/meters/{meter_id}/months/{month}", tags=["meters"], responses=PERSONAL,
             summary="A meter's month: its figures as of the month's last published day")
    async def meter_month(request: Request, meter_id: MeterId, month: Month) -> Response:
        first = date.fromisoformat(f"{month}-01")
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        newest = await run_in_threadpool(newest_published, request.app.state.reader)
        as_of = min(last, newest) if newest is not None and newest >= first else last
        return await meters_entry(request, METER_MONTH, meter_id, as_of)

    @app.get("/v1/meters/{meter_id}/latest", tags=["meters"], responses=PERSONAL,
             summary="A meter's latest published day")
    async def meter_latest(request: Request, meter_id: MeterId) -> Response:
        return await meters_entry(request, METER_LATEST, meter_id, None)

    @app.get("/v1/areas/{level}/{area_id}/days/{day}", tags=["areas"],
             summary="A feeder's, substation's or region's totals of a day")
    async def area_day(request: Request, level: AreaLevel, area_id: AreaId, day: Day) -> Response:
        read = await lookup(request, AREA_DAILY, level=level, area_id=area_id, date=day.isoformat())
        if read is None:
            raise await missing(request, f"figures for {level} {area_id}", day)
        return figures(request, read, public=True)

    @app.get("/v1/areas/{level}/{area_id}/days/{day}/top-consumers", tags=["areas"],
             summary="A feeder's or region's meters by kWh imported that day, largest first")
    async def top_consumers(request: Request, level: TopConsumerLevel, area_id: AreaId, day: Day) -> Response:
        read = await lookup(request, AREA_TOP_CONSUMERS, level=level, area_id=area_id, date=day.isoformat())
        if read is None:
            raise await missing(request, f"top consumers for {level} {area_id}", day)
        return figures(request, read, public=True)

    @app.get("/espi/1_1/resource/Batch/UsagePoint/{meter_id}", tags=["green button"], response_class=Response,
             responses={200: {"content": {"application/atom+xml": {}}}, **PERSONAL},
             summary="Green Button (ESPI 1.1) Atom feed of a meter's hourly energy over local days start..end")
    async def green_button(request: Request, meter_id: MeterId,
                           start: Annotated[date, Query(description="First local day, YYYY-MM-DD.")],
                           end: Annotated[date, Query(description="Last local day, YYYY-MM-DD.")]) -> Response:
        may_read(await allowed_meters(request), meter_id)
        if end < start or (end - start).days >= MAX_FEED_DAYS:
            raise Problem(400, "Bad request", f"start..end: {start}..{end} must be in order and at most "
                                              f"{MAX_FEED_DAYS} days")
        hours_by_day = []
        for offset in range((end - start).days + 1):
            day = start + timedelta(days=offset)
            read = await lookup(request, METER_HOURLY, meter_id=meter_id, date=day.isoformat())
            if read is not None:
                hours_by_day.append((day, orjson.loads(read.document)[METER_HOURLY.value_name]))
        if not hours_by_day:
            raise await missing(request, f"hours for meter {meter_id} from {start} to", end)
        feed = usage_feed(meter_id, hours_by_day, ZoneInfo(settings.grid.timezone), datetime.now(timezone.utc))
        return Response(feed, media_type="application/atom+xml", headers={"Cache-Control": PRIVATE})

    @app.get("/v1/search", tags=["search"],
             summary="Meters and sensors by radius around a point, type, feeder, energy range and text, with facets")
    def search(request: Request,
               near: Annotated[str | None, Query(description="LAT,LON of the centre of a radius search.")] = None,
               radius: Annotated[str, Query(description="Radius around near, e.g. 500m or 2km.")] = "2km",
               type: Annotated[str | None, Query(description="Meter class or sensor type.")] = None,  # noqa: A002
               feeder: Annotated[str | None, Query(description="Feeder id.")] = None,
               kwh: Annotated[str | None, Query(description="kWh imported on the latest day, MIN..MAX.")] = None,
               q: Annotated[str | None, Query(description="Words of the description.")] = None,
               limit: Annotated[int, Query(ge=1, le=100, description="Most hits to return.")] = 20) -> Response:
        try:
            wanted = SearchRequest(near=parse_near(near) if near else None, radius=parse_radius(radius),
                                   device_type=parse_type(type) if type else None, feeder=feeder,
                                   kwh=parse_range(kwh, "kwh") if kwh else None, text=q, limit=limit)
        except SearchInputError as exc:
            raise Problem(400, "Bad request", str(exc).replace("--", "")) from None
        _, body = search_query(wanted)
        es, alias = request.app.state.es, settings.api.search_alias
        if settings.api.data_version == "candidate" and es.indices.exists_alias(name=candidate_alias(alias)):
            alias = candidate_alias(alias)  # the canary pool searches the candidate while there is one
        found = es.search(index=alias, aggs=facet_aggregations(), **body)
        hits = [public_hit(hit, wanted.near is not None) for hit in found["hits"]["hits"]]
        facets = {name: {bucket["key"]: bucket["doc_count"] for bucket in found["aggregations"][name]["buckets"]}
                  for name in FACETS}
        result = {"total": found["hits"]["total"]["value"], "hits": hits, "facets": facets}
        return Response(orjson.dumps(result), media_type="application/json",
                        headers={"Cache-Control": f"public, max-age={settings.api.analytics_max_age_s}, "
                                                  f"stale-while-revalidate={settings.api.stale_while_revalidate_s}"})

    @app.get("/v1/data-versions/{day}", tags=["health"],
             summary="The data version a day's figures are served from here (empty when not published)")
    async def data_version(request: Request, day: Day) -> Response:
        try:
            version = await request.app.state.live.day_version(day.isoformat())
        except (RedisDown, redis.RedisError) as exc:
            raise Problem(503, "Service unavailable", f"Redis does not answer: {exc}") from None
        shown = version.decode() if version is not None else ""
        return Response(orjson.dumps({"date": day.isoformat(), "version": shown or None}),
                        media_type="application/json", headers={"X-Data-Version": shown, "Cache-Control": PRIVATE})

    @app.get("/healthz", tags=["health"], summary="The process answers")
    def healthz() -> Response:
        return Response(orjson.dumps({"status": "ok"}), media_type="application/json",
                        headers={"Cache-Control": PRIVATE})

    @app.get("/readyz", tags=["health"],
             summary="Redis, Cassandra and Elasticsearch answer and a live data version is present")
    def readyz(request: Request) -> Response:
        checks = readiness(request, request.app.state.reader, request.app.state.cassandra)
        ready = all(check["ok"] for check in checks.values())
        return Response(orjson.dumps({"ready": ready, "checks": checks}), status_code=200 if ready else 503,
                        media_type="application/json", headers={"Cache-Control": PRIVATE})

    def readiness(request: Request, cache: CacheReader, session: Any) -> dict[str, dict[str, Any]]:
        checks: dict[str, dict[str, Any]] = {}
        try:
            version = cache.client.get(pointer_key(cache.prefix))
            checks["redis"] = {"ok": True}
            checks["data_version"] = ({"ok": True, "version": version.decode()} if version is not None
                                      else {"ok": False, "reason": "no live data version: nothing published yet"})
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            checks["redis"] = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
            checks["data_version"] = {"ok": False, "reason": "Redis does not answer"}
        try:
            session.execute("SELECT release_version FROM system.local", timeout=2)
            checks["cassandra"] = {"ok": True}
        except Exception as exc:  # noqa: BLE001
            checks["cassandra"] = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
        try:
            health = request.app.state.es.options(request_timeout=2, max_retries=0).cluster.health()
            checks["elasticsearch"] = ({"ok": True, "status": health["status"]} if health["status"] != "red"
                                       else {"ok": False, "reason": "cluster health is red"})
        except Exception as exc:  # noqa: BLE001
            checks["elasticsearch"] = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
        return checks

    return app


#: What a search hit may show: pseudonymous ids, classes and figures; never a location or the
#: description (which holds the street).
PUBLIC_HIT_FIELDS = ("device_id", "device_kind", "meter_class", "tariff", "feeder_id", "substation_id", "region",
                     "latest")


def public_hit(hit: dict[str, Any], with_distance: bool) -> dict[str, Any]:
    """A search hit as the API shows it: PUBLIC_HIT_FIELDS and, near a point, the distance in
    whole hundreds of metres (no exact location can be recovered from several searches)."""
    source = hit["_source"]
    shown = {field: source[field] for field in PUBLIC_HIT_FIELDS if field in source}
    if with_distance:
        shown["distance_m"] = round(hit["sort"][-1], -2)
    return shown


def newest_published(cache: CacheReader) -> date | None:
    """The newest local day published, from the live pointer (None when nothing is, or Redis fails)."""
    try:
        version = cache.client.get(pointer_key(cache.prefix))
    except Exception:  # noqa: BLE001 - Redis down: the durable copies answer, the newest day is unknown
        return None
    return version_day(version.decode()) if version is not None else None
