"""The RDV Service Public sandbox as a Starlette app: OAuth, `/api/v1`, and `/sandbox` controls.

OAuth follows Doorkeeper as RDV Service Public configures it: authorization code only, scope
`write`, form-encoded token requests, access tokens that expire (2 hours unless told
otherwise), refresh tokens that rotate (the old one is revoked once used), revocation.
`/oauth/authorize` approves at once, as the agent `sandbox_agent_id` (1 by default: the admin
of every organisation).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as day_time
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sync_assets.sandbox.faults import ScriptedFault, scripted_answer
from sync_assets.sandbox.rdvsp_world import (
    PAGE_SIZE,
    PARIS,
    Agent,
    ApiProblem,
    Change,
    RdvspWorld,
    WebhookEndpoint,
    not_found,
)

UNAUTHENTICATED = {"errors": ["Vous devez vous connecter ou vous inscrire pour continuer."]}


@dataclass
class OAuthState:
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    access_token_ttl: float = 7200.0
    codes: dict[str, dict] = field(default_factory=dict)
    access_tokens: dict[str, tuple[int, float]] = field(default_factory=dict)  # token -> (agent id, expires)
    refresh_tokens: dict[str, dict] = field(default_factory=dict)  # token -> {agent_id, revoked}
    token_requests: int = 0
    revocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, agent_id: int) -> dict:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access_tokens[access] = (agent_id, time.time() + self.access_token_ttl)
        self.refresh_tokens[refresh] = {"agent_id": agent_id, "revoked": False, "access_token": access}
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.access_token_ttl),
            "refresh_token": refresh,
            "scope": "write",
            "created_at": int(time.time()),
        }

    def revoke_agent(self, agent_id: int) -> None:
        """What an agent does at /oauth/authorized_applications: every token of the app stops working."""
        with self.lock:
            for token, (owner, _) in list(self.access_tokens.items()):
                if owner == agent_id:
                    del self.access_tokens[token]
            for entry in self.refresh_tokens.values():
                if entry["agent_id"] == agent_id:
                    entry["revoked"] = True

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access_tokens = {t: (a, 0.0) for t, (a, _) in self.access_tokens.items()}


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class RdvspSandbox:
    """Routes over one world and one OAuth state."""

    def __init__(self, world: RdvspWorld, oauth: OAuthState | None = None):
        self.world = world
        self.oauth = oauth or OAuthState()
        self.sandbox_agent_id = 1
        # Replays asked by endpoint creation without `trigger: false`: (endpoint, changes).
        self.replays: list[tuple[WebhookEndpoint, list[Change]]] = []
        self.on_replay: Callable[[WebhookEndpoint, list[Change]], None] | None = None
        self.api_requests = 0
        self.faults: list[ScriptedFault] = []
        self.requested_paths: list[str] = []
        # Called with each API request's path before it is answered (tests change data mid-listing).
        self.before_request: Callable[[str], None] | None = None

    def fail_requests(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        after: int = 0,
        headers: dict[str, str] | None = None,
        body: dict | None = None,
    ) -> ScriptedFault:
        fault = ScriptedFault(
            path,
            status,
            times,
            after,
            headers or {},
            body
            or (
                {"errors": ["Limite d'appels API atteinte. Merci de patienter.\n"]}
                if status == 429
                else {"errors": ["Unexpected internal error"]}
            ),
        )
        self.faults.append(fault)
        return fault

    def _scripted_fault(self, path: str) -> Response | None:
        return scripted_answer(self.faults, path)

    def routes(self) -> list[Route]:
        api = "/api/v1"
        return [
            Route("/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/revoke", self.revoke, methods=["POST"]),
            Route(f"{api}/agents/me", self.api(self.me)),
            Route(f"{api}/agents/me.json", self.api(self.me)),
            Route(f"{api}/organisations", self.api(self.list_organisations)),
            Route(f"{api}/organisations/{{org:int}}", self.api(self.show_organisation)),
            Route(f"{api}/rdvs", self.api(self.list_rdvs)),
            Route(f"{api}/organisations/{{org:int}}/rdvs", self.api(self.list_organisation_rdvs)),
            Route(f"{api}/rdvs/{{rdv:int}}/update_status", self.api(self.update_rdv_status), methods=["PATCH"]),
            Route(f"{api}/rdv_plans", self.api(self.create_rdv_plan), methods=["POST"]),
            Route(f"{api}/rdv_plans/{{plan:int}}", self.api(self.show_rdv_plan)),
            Route(f"{api}/users", self.api(self.list_users)),
            Route(f"{api}/users/{{user:int}}", self.api(self.show_user)),
            Route(f"{api}/organisations/{{org:int}}/users", self.api(self.list_organisation_users)),
            Route(f"{api}/organisations/{{org:int}}/motifs", self.api(self.list_motifs)),
            Route(f"{api}/lieux", self.api(self.list_lieux)),
            Route(f"{api}/agents", self.api(self.list_agents)),
            Route(
                f"{api}/organisations/{{org:int}}/webhook_endpoints",
                self.api(self.webhook_endpoints),
                methods=["GET", "POST"],
            ),
            Route(
                f"{api}/organisations/{{org:int}}/webhook_endpoints/{{endpoint:int}}",
                self.api(self.update_webhook_endpoint),
                methods=["PATCH", "PUT"],
            ),
            Route("/sandbox/state", self.control_state, methods=["GET"]),
            Route("/sandbox/rdvs", self.control_create_rdv, methods=["POST"]),
            Route("/sandbox/rdvs/{rdv:int}", self.control_rdv, methods=["PATCH", "DELETE"]),
            Route("/sandbox/rdvs/{rdv:int}/cancel", self.control_cancel_rdv, methods=["POST"]),
            Route("/sandbox/rgpd_purge", self.control_rgpd_purge, methods=["POST"]),
            Route("/sandbox/rdv_plans/{plan:int}/book", self.control_book_rdv_plan, methods=["POST"]),
            Route("/sandbox/users", self.control_create_user, methods=["POST"]),
            Route("/sandbox/users/{user:int}", self.control_user, methods=["PATCH", "DELETE"]),
            Route("/sandbox/users/{user:int}/anonymise", self.control_anonymise_user, methods=["POST"]),
            Route("/sandbox/oauth", self.control_oauth, methods=["POST"]),
        ]

    # --- OAuth --------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.oauth.client_id:
            return oauth_error("invalid_client", "Client authentication failed due to unknown client.", 401)
        if q.get("response_type") != "code" or not q.get("redirect_uri"):
            return oauth_error("invalid_request", "The request is missing a required parameter.")
        if q.get("scope") not in (None, "", "write"):
            return oauth_error("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
        agent_id = int(q.get("sandbox_agent_id") or self.sandbox_agent_id)
        if agent_id not in self.world.agents:
            return oauth_error("access_denied", "The resource owner or authorization server denied the request.")
        code = secrets.token_urlsafe(16)
        self.oauth.codes[code] = {
            "agent_id": agent_id,
            "redirect_uri": q["redirect_uri"],
            "expires": time.time() + 600,
            "challenge": q.get("code_challenge"),
            "method": q.get("code_challenge_method"),
        }
        params = {"code": code}
        if q.get("state"):
            params["state"] = q["state"]
        separator = "&" if "?" in q["redirect_uri"] else "?"
        return RedirectResponse(f"{q['redirect_uri']}{separator}{urlencode(params)}", status_code=302)

    async def token(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return oauth_error("invalid_request", "The request must be application/x-www-form-urlencoded.")
        form = await _form(request)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if (client_id, client_secret) != (self.oauth.client_id, self.oauth.client_secret):
            return oauth_error("invalid_client", "Client authentication failed due to unknown client.", 401)
        with self.oauth.lock:
            self.oauth.token_requests += 1
            grant = form.get("grant_type")
            if grant == "authorization_code":
                entry = self.oauth.codes.pop(form.get("code") or "", None)
                if entry is None or entry["expires"] < time.time() or entry["redirect_uri"] != form.get("redirect_uri"):
                    return oauth_error(
                        "invalid_grant",
                        "The provided authorization grant is invalid, expired, revoked, "
                        "does not match the redirection URI used in the authorization request, "
                        "or was issued to another client.",
                    )
                if entry["challenge"]:
                    verifier = form.get("code_verifier") or ""
                    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                    expected = digest if entry["method"] == "S256" else verifier
                    if not secrets.compare_digest(expected, entry["challenge"]):
                        return oauth_error("invalid_grant", "The code verifier does not match the code challenge.")
                return JSONResponse(self.oauth.issue(entry["agent_id"]))
            if grant == "refresh_token":
                entry = self.oauth.refresh_tokens.get(form.get("refresh_token") or "")
                if entry is None or entry["revoked"]:
                    return oauth_error(
                        "invalid_grant",
                        "The provided authorization grant is invalid, expired, revoked, "
                        "does not match the redirection URI used in the authorization request, "
                        "or was issued to another client.",
                    )
                entry["revoked"] = True  # refresh tokens rotate: the old one is spent
                return JSONResponse(self.oauth.issue(entry["agent_id"]))
            return oauth_error(
                "unsupported_grant_type", "The authorization grant type is not supported by the authorization server."
            )

    async def revoke(self, request: Request) -> Response:
        """RFC 7009 as Doorkeeper answers it: 200 `{}` for a revoked, unknown or already revoked
        token; 403 `unauthorized_client` when the client does not authenticate. A token and its
        refresh token are one record: revoking either revokes both."""
        form = await _form(request)
        if (form.get("client_id"), form.get("client_secret")) != (self.oauth.client_id, self.oauth.client_secret):
            return oauth_error("unauthorized_client", "You are not authorized to revoke this token", 403)
        token = form.get("token") or ""
        with self.oauth.lock:
            self.oauth.revocations += 1
            for refresh, entry in self.oauth.refresh_tokens.items():
                if token in (refresh, entry.get("access_token")):
                    entry["revoked"] = True
                    self.oauth.access_tokens.pop(entry.get("access_token"), None)
            self.oauth.access_tokens.pop(token, None)
        return JSONResponse({})

    # --- API plumbing -------------------------------------------------------------------

    def api(self, handler):
        async def endpoint(request: Request) -> Response:
            self.api_requests += 1
            self.requested_paths.append(request.url.path)
            if self.before_request is not None:
                self.before_request(request.url.path)
            faulted = self._scripted_fault(request.url.path)
            if faulted is not None:
                return faulted
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else ""
            owner = self.oauth.access_tokens.get(token)
            if owner is None or owner[1] < time.time():
                reason = "The access token expired" if owner else "The access token is invalid"
                return JSONResponse(
                    UNAUTHENTICATED,
                    status_code=401,
                    headers={
                        "WWW-Authenticate": 'Bearer realm="Doorkeeper", error="invalid_token", '
                        f'error_description="{reason}"'
                    },
                )
            agent = self.world.agents.get(owner[0])
            if agent is None:
                return JSONResponse(UNAUTHENTICATED, status_code=401)
            try:
                with self.world.lock:
                    answer = await handler(request, agent)
                return answer if isinstance(answer, Response) else JSONResponse(answer)
            except ApiProblem as problem:
                return JSONResponse(problem.body, status_code=problem.status)

        return endpoint

    @staticmethod
    def page_of(request: Request, items: list, key: str, render) -> dict:
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        total = len(items)
        pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
        chunk = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return {
            key: [render(i) for i in chunk],
            "meta": {
                "current_page": page,
                "next_page": page + 1 if page < pages else None,
                "prev_page": page - 1 if page > 1 else None,
                "total_pages": pages,
                "total_count": total,
            },
        }

    def base_url(self, request: Request) -> str:
        return str(request.base_url)

    # --- API handlers -------------------------------------------------------------------

    async def me(self, request: Request, agent: Agent) -> dict:
        return {"agent": self.world.agent_json(agent)}

    async def list_organisations(self, request: Request, agent: Agent) -> dict:
        return self.page_of(request, self.world.organisations_of(agent), "organisations", self.world.organisation_json)

    async def show_organisation(self, request: Request, agent: Agent) -> dict:
        return {
            "organisation": self.world.organisation_json(self.world.require_member(agent, request.path_params["org"]))
        }

    async def list_rdvs(self, request: Request, agent: Agent, organisation_id: int | None = None) -> dict:
        q = request.query_params
        ids = {int(v) for k in ("id", "id[]") for v in q.getlist(k) if v.isdigit()} or None
        organisation_id = organisation_id or (
            int(q["organisation_id"]) if q.get("organisation_id", "").isdigit() else None
        )
        rows = self.world.rdv_listing(
            agent,
            organisation_id=organisation_id,
            agent_id=int(q["agent_id"]) if q.get("agent_id", "").isdigit() else None,
            user_id=int(q["user_id"]) if q.get("user_id", "").isdigit() else None,
            ids=ids,
            starts_after=_parse_moment(q.get("starts_after")),
            starts_before=_parse_moment(q.get("starts_before"), end=True),
        )
        base = self.base_url(request)
        return self.page_of(request, rows, "rdvs", lambda i: self.world.rdv_json(self.world.rdvs[i], base))

    async def list_organisation_rdvs(self, request: Request, agent: Agent) -> dict:
        self.world.require_member(agent, request.path_params["org"])
        return await self.list_rdvs(request, agent, organisation_id=request.path_params["org"])

    async def update_rdv_status(self, request: Request, agent: Agent) -> dict:
        """Answers with the status only, as the API does."""
        body = await _params(request)
        rdv = self.world.set_rdv_status(agent, request.path_params["rdv"], body.get("status"))
        return {"status": rdv.status}

    async def create_rdv_plan(self, request: Request, agent: Agent) -> Response:
        body = await _params(request)
        user = body.get("user")
        if not isinstance(user, dict):
            raise ApiProblem(422, {"errors": ["param is missing or the value is empty: user"]})
        plan = self.world.create_rdv_plan(agent, user, body.get("return_url"), body.get("dossier_url"))
        return JSONResponse({"rdv_plan": self.world.rdv_plan_json(plan, self.base_url(request))}, status_code=201)

    async def show_rdv_plan(self, request: Request, agent: Agent) -> dict:
        plan = self.world.rdv_plans.get(request.path_params["plan"])
        if plan is None or plan.agent_id != agent.id:
            raise not_found("rdv_plan")
        return {"rdv_plan": self.world.rdv_plan_json(plan, self.base_url(request))}

    async def list_users(self, request: Request, agent: Agent) -> dict:
        ids = {int(v) for v in request.query_params.getlist("ids[]") if v.isdigit()}
        users = [
            u
            for u in self.world.users.values()
            if set(u.organisation_ids) & set(agent.roles) and (not ids or u.id in ids)
        ]
        return self.page_of(request, users, "users", self.world.user_json)

    async def show_user(self, request: Request, agent: Agent) -> dict:
        user = self.world.users.get(request.path_params["user"])
        if user is None:
            raise not_found("user")
        if not set(user.organisation_ids) & set(agent.roles):
            raise ApiProblem(
                403,
                {
                    "errors": [{"base": "forbidden"}],
                    "error_messages": ["Vous n’avez pas les droits suffisants pour voir cette fiche usager."],
                },
            )
        return {"user": self.world.user_json(user, with_profiles_for=agent)}

    async def list_organisation_users(self, request: Request, agent: Agent) -> dict:
        org = self.world.require_member(agent, request.path_params["org"])
        return self.page_of(request, self.world.users_of_organisation(org.id), "users", self.world.user_json)

    async def list_motifs(self, request: Request, agent: Agent) -> dict:
        org = self.world.require_member(agent, request.path_params["org"])
        motifs = [m for m in self.world.motifs.values() if m.organisation_id == org.id]
        if request.query_params.get("active") == "true":
            motifs = [m for m in motifs if m.deleted_at is None]
        return self.page_of(request, motifs, "motifs", self.world.motif_json)

    async def list_lieux(self, request: Request, agent: Agent) -> dict:
        q = request.query_params
        org_ids = [int(q["organisation_id"])] if q.get("organisation_id", "").isdigit() else list(agent.roles)
        for org_id in org_ids:
            self.world.require_member(agent, org_id)
        lieux = [lieu for lieu in self.world.lieux.values() if lieu.organisation_id in org_ids]
        return self.page_of(request, lieux, "lieux", self.world.lieu_json)

    async def list_agents(self, request: Request, agent: Agent) -> dict:
        q = request.query_params
        org_ids = [int(q["organisation_id"])] if q.get("organisation_id", "").isdigit() else list(agent.roles)
        for org_id in org_ids:
            self.world.require_member(agent, org_id)
        agents = [a for a in self.world.agents.values() if set(a.roles) & set(org_ids)]
        return self.page_of(request, agents, "agents", self.world.agent_json)

    async def webhook_endpoints(self, request: Request, agent: Agent) -> dict:
        org = self.world.require_member(agent, request.path_params["org"])
        if request.method == "GET":
            target = request.query_params.get("target_url")
            endpoints = [
                e
                for e in self.world.webhook_endpoints.values()
                if e.organisation_id == org.id and (target is None or e.target_url == target)
            ]
            return self.page_of(request, endpoints, "webhook_endpoints", self.world.webhook_endpoint_json)
        return await self._save_endpoint(request, agent, org.id, None)

    async def update_webhook_endpoint(self, request: Request, agent: Agent) -> dict:
        return await self._save_endpoint(request, agent, request.path_params["org"], request.path_params["endpoint"])

    async def _save_endpoint(self, request: Request, agent: Agent, org_id: int, endpoint_id: int | None) -> dict:
        params = await _params(request)
        subscriptions = params["subscriptions"] if "subscriptions" in params else params.get("subscriptions[]")
        if isinstance(subscriptions, str):
            subscriptions = [subscriptions]
        endpoint, stored = self.world.save_webhook_endpoint(
            agent, org_id, params.get("target_url"), params.get("secret"), subscriptions, endpoint_id
        )
        # `trigger` must be the JSON boolean false to skip the replay of every subscribed record.
        if stored and params.get("trigger") is not False:
            changes = self.world.records_for_replay(endpoint)
            self.replays.append((endpoint, changes))
            if self.on_replay is not None:
                self.on_replay(endpoint, changes)
        return {"webhook_endpoint": self.world.webhook_endpoint_json(endpoint)}

    # --- sandbox controls (no auth: local use only) -------------------------------------

    async def control_state(self, request: Request) -> Response:
        w = self.world
        return JSONResponse(
            {
                "organisations": len(w.organisations),
                "agents": len(w.agents),
                "users": len(w.users),
                "motifs": len(w.motifs),
                "lieux": len(w.lieux),
                "rdvs": len(w.rdvs),
                "webhook_endpoints": len(w.webhook_endpoints),
                "version": w.version,
                "api_requests": self.api_requests,
                "token_requests": self.oauth.token_requests,
            }
        )

    async def control_create_rdv(self, request: Request) -> Response:
        body = await _params(request)
        starts_at = _parse_moment(body.get("starts_at"))
        return self._control(lambda: self.world.create_rdv(body.get("organisation_id"), starts_at), "rdv")

    async def control_rdv(self, request: Request) -> Response:
        rdv_id = request.path_params["rdv"]
        if request.method == "DELETE":
            reason = request.query_params.get("reason")
            return self._control(lambda: self.world.delete_rdv(rdv_id, reason), None)
        body = await _params(request)
        return self._control(
            lambda: self.world.update_rdv(
                rdv_id,
                status=body.get("status"),
                starts_at=_parse_moment(body.get("starts_at")),
                context=body.get("context"),
            ),
            "rdv",
        )

    async def control_cancel_rdv(self, request: Request) -> Response:
        return self._control(lambda: self.world.cancel_rdv(request.path_params["rdv"]), "rdv")

    async def control_book_rdv_plan(self, request: Request) -> Response:
        """The agent finishes a plan: an RDV is taken for its user."""
        return self._control(lambda: self.world.book_rdv_plan(request.path_params["plan"]), "rdv")

    async def control_rgpd_purge(self, request: Request) -> Response:
        return JSONResponse({"destroyed": self.world.rgpd_purge()})

    async def control_create_user(self, request: Request) -> Response:
        body = await _params(request)
        return self._control(lambda: self.world.create_user(body.get("organisation_id")), "user")

    async def control_user(self, request: Request) -> Response:
        user_id = request.path_params["user"]
        if request.method == "DELETE":
            return self._control(lambda: self.world.delete_user(user_id), None)
        body = await _params(request)
        return self._control(lambda: self.world.update_user(user_id, **body), "user")

    async def control_anonymise_user(self, request: Request) -> Response:
        return self._control(lambda: self.world.anonymise_user(request.path_params["user"]), "user")

    async def control_oauth(self, request: Request) -> Response:
        """{"access_token_ttl": s} | {"expire_access_tokens": true} | {"revoke_agent": id}."""
        body = await _params(request)
        if "access_token_ttl" in body:
            self.oauth.access_token_ttl = float(body["access_token_ttl"])
        if body.get("expire_access_tokens"):
            self.oauth.expire_access_tokens()
        if "revoke_agent" in body:
            self.oauth.revoke_agent(int(body["revoke_agent"]))
        return JSONResponse({"access_token_ttl": self.oauth.access_token_ttl})

    def _control(self, action, key: str | None) -> Response:
        try:
            result = action()
        except ApiProblem as problem:
            return JSONResponse(problem.body, status_code=problem.status)
        if key is None:
            return Response(status_code=204)
        render = self.world.rdv_json if key == "rdv" else self.world.user_json
        return JSONResponse({key: render(result)})


async def _params(request: Request) -> dict:
    """JSON body, else form, else query parameters (the API accepts all three)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        return body if isinstance(body, dict) else {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return await _form(request)
    q = request.query_params
    return {k: (q.getlist(k) if k.endswith("[]") else q.get(k)) for k in q}


async def _form(request: Request) -> dict:
    """A URL-encoded form body (the only form the API takes); `key[]` fields keep every value."""
    fields = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: (v if k.endswith("[]") else v[-1]) for k, v in fields.items()}


def _parse_moment(value: str | None, end: bool = False) -> datetime | None:
    """A date ("2025-01-02") or a time ("2025-01-02T08:00:00+01:00"), as the API accepts both."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiProblem(400, {"errors": [f"Format de date invalide : {value[:40]}"]}) from None
    if len(value) == 10:  # a date: the whole day, in Paris time
        moment = datetime.combine(moment.date(), day_time.max if end else day_time.min, PARIS)
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)
