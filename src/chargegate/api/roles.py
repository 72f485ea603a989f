"""Which API keys may call which routes (domain.roles).

Every router whose routes take the calling operator declares the role they need, by being made
here (`router(role)`); create_app refuses to start with an authenticated route that did not
(`require_declared`), and the authentication itself (api.auth) refuses a key whose role does
not allow the route, with 403. A route that somehow declared nothing needs everything."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar, assert_never

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from chargegate.domain.errors import Forbidden
from chargegate.domain.roles import Role, allows


class RoleRoute(APIRoute):
    needs: ClassVar[Role]


class OperatorRoute(RoleRoute):
    needs = Role.OPERATOR


class SessionsRoute(RoleRoute):
    needs = Role.SESSIONS


def _route_class(role: Role) -> type[RoleRoute]:
    match role:
        case Role.OPERATOR:
            return OperatorRoute
        case Role.SESSIONS:
            return SessionsRoute
        case _:
            assert_never(role)


def router(role: Role, prefix: str = "/1.2", **options: Any) -> APIRouter:
    """A router whose routes need `role`."""
    return APIRouter(prefix=prefix, route_class=_route_class(role), **options)


def needed(request: Request) -> Role:
    route = request.scope.get("route")
    return route.needs if isinstance(route, RoleRoute) else Role.OPERATOR


def require(request: Request, held: Role) -> None:
    """403 unless a key of role `held` may call this request's route."""
    if not allows(held, needed(request)):
        raise Forbidden(
            f"This API key has the role '{held}', which allows only the session endpoints "
            "(/1.2/transactions, /1.2/queue, /1.2/ports); this endpoint needs an 'operator' key"
        )


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    yield dependant.call
    for dependency in dependant.dependencies:
        yield from _calls(dependency)


def authenticated_routes(
    app: FastAPI, authenticated: Callable[..., Any]
) -> Iterator[tuple[str, APIRoute]]:
    """(path, route) of every route of the app, included routers' too, that takes the caller
    (the dependency `authenticated`)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and authenticated in _calls(route.dependant):
            yield context.path or route.path, route


def require_declared(app: FastAPI, authenticated: Callable[..., Any]) -> None:
    """Refuse to build an app with a route that takes the caller (`authenticated`) but did not
    declare the role it needs: such a route would be callable by any key."""
    undeclared = [
        path
        for path, route in authenticated_routes(app, authenticated)
        if not isinstance(route, RoleRoute)
    ]
    if undeclared:
        raise RuntimeError(f"routes without a declared role (api/roles.py): {undeclared}")
