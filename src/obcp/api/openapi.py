"""The OpenAPI document at `/api/v2/openapi.json`, made to tell the truth to a generated client.

FastAPI documents every route as answering 200 or 422, with no schema; obcp never answers 422 (bad input is
a 400 with OCP's code 1001) and answers errors FastAPI does not know of. So the document is rewritten once,
from each route's shape, for every route at once, whoever added it:

- the error statuses a route can answer, each with OCP's error envelope as its schema: 401 behind the
  authentication, 403 with a permission (or a state-changing method: the console's CSRF check), 400 with any
  parameter or body, 404 with a path parameter, 413 everywhere (the body limit), and the few more of
  `openapi_schemas.EXTRA_ERRORS`;
- the success answer: OCP's envelope with the route's `data` schema (`openapi_schemas.DATA`), or the bare
  answers OCP documents (`openapi_schemas.BARE`);
- both authentication schemes: `basicAuth` and the AK/SK signature as `ocpAccessKey`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from obcp.api.auth import PUBLIC_PATHS
from obcp.api.openapi_schemas import BARE, COMPONENTS, DATA, EXTRA_ERRORS, INT, LINKS, STR, TIME, Schema, ref
from obcp.iam.ak_signature import SCHEME

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ERROR_DESCRIPTIONS = {
    400: "Bad argument or state (OCP codes 1001, 1003, 4007, 11007, …)",
    401: "Not logged in, bad credentials or a refused signature (3000)",
    403: "Not authorized: the message names the permission required (3100)",
    404: "No such object (1002, 4001, 11001, …)",
    409: "The name or address is already in use (1006, 7001, 11014)",
    413: "The body is larger than 1 MiB (1003)",
    503: "The metadb cannot be reached (34004): nothing was changed",
}
SECURITY_SCHEMES = {
    "basicAuth": {"type": "http", "scheme": "basic"},
    "ocpAccessKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": (
            f"OCP 4.x AK/SK: `Authorization: {SCHEME} <AccessKeyId>:<Signature>` with a `Date` header "
            "(RFC 1123, within 15 minutes of the server's clock). Signature = Base64(HMAC-SHA1(secret, "
            "METHOD\\nMD5(body, upper-case hex, empty without a body)\\nContent-Type\\nDate\\nHost\\n"
            "x-ocp-* headers as name:value, sorted, one a line\\n"
            "path?query sorted by key, percent-encoded)). "
            "A request that changes something is accepted once. See docs/api.md of obcp."
        ),
    },
}
_ENVELOPE_REQUIRED = {"duration": INT, "server": STR, "status": INT, "timestamp": TIME, "traceId": STR}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            document(schema, list(_documented_routes(app)))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


@dataclass(frozen=True)
class DocumentedRoute:
    path: str
    methods: frozenset[str]
    dependant: Dependant  # with the dependencies of the routers that include it


def _documented_routes(app: FastAPI) -> Iterator[DocumentedRoute]:
    # Through the included routers, as FastAPI's own document generation walks them.
    for context in iter_route_contexts(app.routes):
        route = context.route
        if isinstance(route, APIRoute) and route.include_in_schema:
            dependant = getattr(context, "dependant", None) or route.dependant
            path = context.path_format or route.path_format
            yield DocumentedRoute(path, frozenset(context.methods or ()), dependant)


def document(schema: dict[str, Any], routes: list[DocumentedRoute]) -> None:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(COMPONENTS)
    components["securitySchemes"] = SECURITY_SCHEMES
    for route in routes:
        for method in sorted(route.methods):
            operation = schema["paths"].get(route.path, {}).get(method.lower())
            if operation is not None:
                _document_operation(operation, route, method)
    add_links(schema["paths"])


def add_links(paths: dict[str, Any]) -> None:
    """`links` on each creation's success to the routes of what it created (`openapi_schemas.LINKS`)."""
    for key, (target, param, field) in LINKS.items():
        method, path = key.split(" ", 1)
        source = paths.get(path, {}).get(method.lower())
        if source is None:
            continue
        links = {}
        for other, operations in paths.items():
            if other != target and not other.startswith(target + "/"):
                continue
            for op in operations.values():
                if "operationId" in op:
                    parameters = {param: f"$response.body#/data/{field}"}
                    links[op["operationId"]] = {"operationId": op["operationId"], "parameters": parameters}
        if links:
            source["responses"]["200"]["links"] = links


def _document_operation(operation: dict[str, Any], route: DocumentedRoute, method: str) -> None:
    key = f"{method} {route.path}"
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    success = responses.setdefault("200", {"description": "Successful Response"})
    if key in BARE:
        success["content"] = {media: {"schema": s} for media, s in BARE[key].items()}
    elif route.path.startswith("/api/"):
        success["content"] = {"application/json": {"schema": success_envelope(key)}}
    error = {"application/json": {"schema": ref("OcpErrorEnvelope")}}
    for status in sorted(error_statuses(route, method)):
        responses[str(status)] = {"description": ERROR_DESCRIPTIONS[status], "content": error}
    public = _public(route.path)
    operation["security"] = [] if public else [{"basicAuth": []}, {"ocpAccessKey": []}]


def success_envelope(key: str) -> Schema:
    properties: dict[str, Schema] = {**_ENVELOPE_REQUIRED, "successful": {"type": "boolean", "enum": [True]}}
    required = sorted(properties)
    if key not in DATA:
        properties["data"] = {}  # a route not described yet: any `data`, or none
    elif (data := DATA[key]) is not None:
        properties["data"] = data
        required.append("data")
    return {"type": "object", "required": required, "properties": properties}


def _public(path: str) -> bool:
    return not path.startswith("/api/") or path in PUBLIC_PATHS


def _calls(route: DocumentedRoute) -> list[Callable[..., Any]]:
    found: list[Callable[..., Any]] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is not None:
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


def _params(route: DocumentedRoute) -> tuple[bool, bool, bool]:
    """Whether the route (with its dependencies) reads query, path or body parameters."""
    query, path = bool(route.dependant.query_params), bool(route.dependant.path_params)
    body = bool(route.dependant.body_params)
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        query = query or bool(dep.query_params)
        path = path or bool(dep.path_params)
        stack.extend(dep.dependencies)
    return query, path, body


def error_statuses(route: DocumentedRoute, method: str) -> set[int]:
    statuses = {413}
    if not _public(route.path):
        # 503: who calls is checked against the metadb, which may be away (OCP's 34004).
        statuses |= {401, 503}
        permission = any(getattr(c, "permission_template", None) for c in _calls(route))
        if permission or method not in SAFE_METHODS:
            statuses.add(403)
    query, path, body = _params(route)
    if query or path or body:
        statuses.add(400)
    if path:
        statuses.add(404)
    return statuses | EXTRA_ERRORS.get(f"{method} {route.path}", set())
