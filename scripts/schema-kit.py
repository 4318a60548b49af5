#!/usr/bin/env python3
"""The directus-chat schema kit: puts the chat schema into your own Directus.

    scripts/schema-kit.py apply --url https://cms.example.com --token ADMIN_TOKEN
    scripts/schema-kit.py apply ... --dry-run     # print the plan, change nothing
    scripts/schema-kit.py check --url ... --token ...   # exit 0 when the server has it all

It talks to the Directus REST API with an admin token (or `DIRECTUS_TOKEN` in the
environment, which keeps the token out of `ps`), works out what is missing and makes only
that, so running it twice changes nothing the second time. It supports Directus 10.x,
where permissions hang on roles, and 11+/12, where they hang on policies (the kit makes a
policy and attaches it to the role).

What it makes (names configurable; docs: /work/coord/SCHEMA.md in the project, README):
  rooms          id (string key, a slug), name, date_created; a room "general"
  messages       id (integer auto increment or uuid), text, room (M2O rooms), client_key
                 (unique), file (M2O directus_files), user_created, date_created, date_updated
  presence       id "<user>:<room>", user, room, typing, date_updated (set on create too)
  read_receipts  id "<user>:<room>", user, room, last_read, last_read_date, date_updated
  a role (default "Users") whose members may: create/read messages, rooms, presence,
  read_receipts; update/delete only their own messages, presence and receipts; read the
  public fields of users; upload and read files.

Python 3 standard library only, so it runs anywhere the user has Python.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

CURRENT_USER = "$CURRENT_USER"


class KitError(Exception):
    """A request the server refused, or a server the kit cannot work with."""


# ---------------------------------------------------------------- REST


class Api:
    """A tiny Directus REST client (urllib, JSON in and out)."""

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, query: Optional[dict[str, str]] = None) -> Any:
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            raise KitError(f"{method} {path}: HTTP {e.code} {describe_errors(raw)}") from None
        except urllib.error.URLError as e:
            raise KitError(f"{method} {path}: cannot reach {self.url}: {e.reason}") from None
        if not raw:
            return None
        return json.loads(raw).get("data")

    def get(self, path: str, **query: str) -> Any:
        return self.call("GET", path, query=query or None)

    def status(self, method: str, path: str) -> int:
        """The HTTP status of a request (for probing what the server has)."""
        req = urllib.request.Request(self.url + path, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code
        except urllib.error.URLError as e:
            raise KitError(f"{method} {path}: cannot reach {self.url}: {e.reason}") from None


def describe_errors(raw: bytes) -> str:
    try:
        errors = json.loads(raw).get("errors") or []
        return "; ".join(f"{(e.get('extensions') or {}).get('code', '?')}: {e.get('message', '')}" for e in errors)
    except (ValueError, AttributeError):
        return raw[:200].decode(errors="replace")


# ---------------------------------------------------------------- the wanted schema


@dataclass
class FieldSpec:
    name: str
    type: str
    special: list[str] = field(default_factory=list)
    schema: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    related: Optional[str] = None  # M2O target collection
    unique: bool = False
    primary: bool = False

    def payload(self) -> dict[str, Any]:
        schema = dict(self.schema)
        if self.unique:
            schema["is_unique"] = True
        meta = dict(self.meta)
        if self.special:
            meta["special"] = list(self.special)
        return {"field": self.name, "type": self.type, "schema": schema, "meta": meta}


@dataclass
class CollectionSpec:
    name: str
    fields: list[FieldSpec]
    note: str
    icon: str

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


@dataclass
class PermissionSpec:
    collection: str
    action: str
    fields: list[str]
    permissions: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)


@dataclass
class Options:
    key_type: str = "integer"
    messages: str = "messages"
    text_field: str = "text"
    rooms: str = "rooms"
    presence: str = "presence"
    receipts: str = "read_receipts"
    role_name: str = "Users"
    policy_name: str = "Chat users"
    default_rooms: list[str] = field(default_factory=lambda: ["general"])


def string_key() -> FieldSpec:
    # A string key set by the client (a room slug, or "<user id>:<room id>").
    return FieldSpec("id", "string", schema={"is_primary_key": True, "has_auto_increment": False, "length": 255},
                     meta={"interface": "input", "readonly": False, "hidden": False}, primary=True)


def user_field(name: str) -> FieldSpec:
    return FieldSpec(name, "uuid", special=["user-created"], related="directus_users",
                     meta={"interface": "select-dropdown-m2o", "readonly": True, "hidden": True})


def room_field(rooms: str) -> FieldSpec:
    return FieldSpec("room", "string", schema={"is_nullable": True, "length": 255}, related=rooms,
                     meta={"interface": "select-dropdown-m2o"})


def timestamp(name: str, special: list[str]) -> FieldSpec:
    return FieldSpec(name, "timestamp", special=special, meta={"interface": "datetime", "readonly": True, "hidden": True})


def wanted_collections(o: Options) -> list[CollectionSpec]:
    if o.key_type == "uuid":
        msg_key = FieldSpec("id", "uuid", special=["uuid"], schema={"is_primary_key": True},
                            meta={"hidden": True, "readonly": True}, primary=True)
    else:
        msg_key = FieldSpec("id", "integer", schema={"is_primary_key": True, "has_auto_increment": True},
                            meta={"hidden": True, "readonly": True}, primary=True)
    return [
        CollectionSpec(o.rooms, [
            string_key(),
            FieldSpec("name", "string", meta={"interface": "input"}),
            timestamp("date_created", ["date-created"]),
        ], note="Chat rooms (directus-chat); the key is a slug such as general", icon="forum"),
        CollectionSpec(o.messages, [
            msg_key,
            FieldSpec(o.text_field, "text", meta={"interface": "input-multiline"}),
            room_field(o.rooms),
            FieldSpec("client_key", "string", schema={"is_nullable": True, "length": 255}, unique=True,
                      meta={"interface": "input", "readonly": True, "hidden": True,
                            "note": "made by the client; a retried send meets RECORD_NOT_UNIQUE"}),
            FieldSpec("file", "uuid", special=["file"], related="directus_files", meta={"interface": "file"}),
            user_field("user_created"),
            timestamp("date_created", ["date-created"]),
            timestamp("date_updated", ["date-updated"]),
        ], note="Chat messages (directus-chat)", icon="chat"),
        CollectionSpec(o.presence, [
            string_key(),
            user_field("user"),
            room_field(o.rooms),
            FieldSpec("typing", "boolean", schema={"default_value": False}, meta={"interface": "boolean"}),
            # Set on create as well as on update: the server-clock heartbeat of a presence row.
            timestamp("date_updated", ["date-created", "date-updated"]),
        ], note="Who is online, per room (directus-chat); id is <user id>:<room id>", icon="sensors"),
        CollectionSpec(o.receipts, [
            string_key(),
            user_field("user"),
            room_field(o.rooms),
            FieldSpec("last_read", "string", meta={"interface": "input"}),
            FieldSpec("last_read_date", "timestamp", meta={"interface": "datetime"}),
            timestamp("date_updated", ["date-updated"]),
        ], note="Read markers, per user and room (directus-chat); id is <user id>:<room id>", icon="done_all"),
    ]


def wanted_permissions(o: Options, ownership: str = "permissions") -> list[PermissionSpec]:
    """The chat users' permissions. With ownership "flow" (Directus 12 Core, where rules
    need a license) every row is plain: all fields, no filter; the kit's flows then refuse
    updates and deletes of other users' rows."""
    rules = ownership == "permissions"
    own_message = {"user_created": {"_eq": CURRENT_USER}} if rules else {}
    own_row = {"user": {"_eq": CURRENT_USER}} if rules else {}

    def only(*fields: str) -> list[str]:
        return list(fields) if rules else ["*"]

    # Updates may change content, never who wrote a row or when it was made.
    return [
        PermissionSpec(o.messages, "create", ["*"]),
        PermissionSpec(o.messages, "read", ["*"]),
        PermissionSpec(o.messages, "update", only(o.text_field, "file", "date_updated"), own_message),
        PermissionSpec(o.messages, "delete", ["*"], own_message),
        PermissionSpec(o.rooms, "create", ["*"]),
        PermissionSpec(o.rooms, "read", ["*"]),
        PermissionSpec(o.presence, "create", ["*"]),
        PermissionSpec(o.presence, "read", ["*"]),
        PermissionSpec(o.presence, "update", only("typing", "date_updated"), own_row),
        PermissionSpec(o.presence, "delete", ["*"], own_row),
        PermissionSpec(o.receipts, "create", ["*"]),
        PermissionSpec(o.receipts, "read", ["*"]),
        PermissionSpec(o.receipts, "update", only("last_read", "last_read_date", "date_updated"), own_row),
        PermissionSpec(o.receipts, "delete", ["*"], own_row),
        PermissionSpec("directus_users", "read", only("id", "first_name", "last_name", "email", "avatar")),
        PermissionSpec("directus_files", "create", ["*"]),
        PermissionSpec("directus_files", "read", ["*"]),
    ]


FORBIDDEN_MESSAGE = "You don't have permission to access this."


def ownership_flow(name: str, owner: str, collections: list[str]) -> dict[str, Any]:
    """A blocking ("filter") flow that refuses an update or delete by a non-admin of any
    row whose `owner` is not the caller (or is empty), and an update that sets `owner`,
    with FORBIDDEN, as a permission rule would. Operations as a graph: key -> spec."""
    def others(keys: str) -> dict[str, Any]:
        return {"collection": "{{$trigger.collection}}", "permissions": "$full", "emitEvents": False,
                "query": {"fields": ["id"], "limit": 1, "filter": {"_and": [
                    {"id": {"_in": keys}},
                    {"_or": [{owner: {"_neq": "{{$accountability.user}}"}}, {owner: {"_null": True}}]}]}}}

    deny = {"code": "FORBIDDEN", "status": "403", "message": FORBIDDEN_MESSAGE}
    ops: dict[str, dict[str, Any]] = {
        "privileged": {"type": "condition", "resolve": None, "reject": "kind",
                       "options": {"filter": {"_or": [{"$accountability": {"_null": True}},
                                                      {"$accountability": {"admin": {"_eq": True}}}]}}},
        "kind": {"type": "condition", "resolve": "del_others", "reject": "upd_others",
                 "options": {"filter": {"$trigger": {"event": {"_contains": "items.delete"}}}}},
        "upd_others": {"type": "item-read", "options": others("{{$trigger.keys}}"), "resolve": "upd_count", "reject": "upd_fail"},
        "upd_count": {"type": "transform", "resolve": "upd_mine", "reject": None,
                      "options": {"json": {"others": "{{upd_others.length}}", "owner": "{{$trigger.payload." + owner + "}}"}}},
        "upd_mine": {"type": "condition", "resolve": None, "reject": "upd_deny",
                     # A payload without the owner field renders it as "undefined" (12.x).
                     "options": {"filter": {"upd_count": {"others": {"_eq": 0}, "owner": {"_in": ["undefined", ""]}}}}},
        "upd_deny": {"type": "throw-error", "options": deny, "resolve": None, "reject": None},
        "upd_fail": {"type": "throw-error", "options": deny, "resolve": None, "reject": None},
        "del_others": {"type": "item-read", "options": others("{{$trigger.payload}}"), "resolve": "del_count", "reject": "del_fail"},
        "del_count": {"type": "transform", "resolve": "del_mine", "reject": None,
                      "options": {"json": {"others": "{{del_others.length}}"}}},
        "del_mine": {"type": "condition", "resolve": None, "reject": "del_deny",
                     "options": {"filter": {"del_count": {"others": {"_eq": 0}}}}},
        "del_deny": {"type": "throw-error", "options": deny, "resolve": None, "reject": None},
        "del_fail": {"type": "throw-error", "options": deny, "resolve": None, "reject": None},
    }
    flow = {"name": name, "icon": "lock", "color": "#6644FF", "status": "active", "trigger": "event",
            "accountability": None,
            "options": {"type": "filter", "scope": ["items.update", "items.delete"], "collections": collections}}
    digest = hashlib.sha256(json.dumps([flow, ops], sort_keys=True).encode()).hexdigest()[:12]
    flow["description"] = f"directus-chat schema kit {digest}: only the owner ({owner}) may update or delete a row"
    return {"flow": flow, "ops": ops, "first": "privileged"}


def wanted_flows(o: Options) -> list[dict[str, Any]]:
    return [
        ownership_flow(f"directus-chat: own {o.messages} only", "user_created", [o.messages]),
        ownership_flow(f"directus-chat: own {o.presence} and {o.receipts} only", "user", [o.presence, o.receipts]),
    ]


# ---------------------------------------------------------------- comparing


# Types as the server reports them back; SQLite and PostgreSQL name some differently.
TYPE_ALIASES = {
    "timestamp": {"timestamp", "dateTime"},
    "string": {"string"},
    "text": {"text", "string"},
    "uuid": {"uuid", "string"},
    "integer": {"integer", "bigInteger"},
    "boolean": {"boolean"},
}


def same_filter(a: Any, b: Any) -> bool:
    return (a or {}) == (b or {})


def same_fields(have: Any, want: list[str]) -> bool:
    if isinstance(have, str):
        have = have.split(",")
    return sorted(have or []) == sorted(want)


@dataclass
class Change:
    """One thing the kit would make or fix; `run` does it and may return an id."""

    what: str
    run: Callable[[], Any]


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # things the kit will not change by itself

    def add(self, what: str, run: Callable[[], Any]) -> None:
        self.changes.append(Change(what, run))


class Kit:
    def __init__(self, api: Api, opts: Options, out: Callable[[str], None]) -> None:
        self.api = api
        self.o = opts
        self.out = out
        self.version = "unknown"
        self.policies_model = False
        self.role_id: Optional[str] = None
        self.policy_id: Optional[str] = None
        # "permissions": own-rows-only as permission rules; "flow": as blocking flows
        # (Directus 12 Core, where permission rules need a license).
        self.ownership = "permissions"

    # -- server

    def detect(self) -> None:
        """Finds the server version and whether permissions hang on policies (11+)."""
        info = self.api.get("/server/info") or {}
        directus = info.get("directus") or {}
        self.version = str(directus.get("version") or info.get("version") or "unknown")
        if not directus and "project" not in info:
            raise KitError("/server/info says nothing: is the token an admin's?")
        major = self.version.split(".")[0]
        if major.isdigit():
            # /server/info names the version to any logged-in user; 11.0 brought policies.
            self.policies_model = int(major) >= 11
        else:
            status = self.api.status("GET", "/policies?limit=1")
            if status not in (200, 403, 404):
                raise KitError(f"GET /policies: unexpected HTTP {status}")
            # 10.x has no /policies route (403/404 even for an admin).
            self.policies_model = status == 200
        def obj(value: Any) -> dict[str, Any]:
            # A relation the token may not expand comes back as a bare id (or not at all).
            return value if isinstance(value, dict) else {}

        if self.policies_model:
            me = obj(self.api.get("/users/me", fields="role.policies.policy.admin_access,policies.policy.admin_access"))
            links = (obj(me.get("role")).get("policies") or []) + (me.get("policies") or [])
            admin = any(obj(obj(link).get("policy")).get("admin_access") for link in links)
        else:
            me = obj(self.api.get("/users/me", fields="role.admin_access"))
            admin = bool(obj(me.get("role")).get("admin_access"))
        if not admin:
            raise KitError("the token is not an administrator's")
        # Directus 12 without a license (the "Core" tier) refuses permissions with rules
        # (item filters, field lists, validation): custom_permission_rules_enabled.
        self.ownership = "permissions"
        if self.policies_model and self.api.status("GET", "/license") == 200:
            entitlement = ((self.api.get("/license") or {}).get("entitlements") or {}).get("custom_permission_rules_enabled")
            if isinstance(entitlement, dict):
                entitled = entitlement.get("override")
                if entitled is None:
                    entitled = entitlement.get("default", True)
            else:
                entitled = entitlement if entitlement is not None else True
            if not entitled:
                self.ownership = "flow"

    # -- planning

    def plan(self) -> Plan:
        plan = Plan()
        existing = {c["collection"]: c for c in self.api.get("/collections") or []}
        for spec in wanted_collections(self.o):
            self.plan_collection(plan, spec, existing)
        self.plan_rooms(plan, existing)
        if self.policies_model:
            self.plan_policy(plan)
        else:
            self.plan_role_v10(plan)
        if self.ownership == "flow":
            self.plan_flows(plan)
        return plan

    # -- Directus 12 Core: own-rows-only as blocking flows

    def plan_flows(self, plan: Plan) -> None:
        wanted = wanted_flows(self.o)
        names = ",".join(w["flow"]["name"] for w in wanted)
        have = {f["name"]: f for f in self.api.get("/flows", **{"filter[name][_in]": names, "fields": "id,name,description,status,operation",
                                                                "limit": "-1"}) or []}
        for w in wanted:
            cur = have.get(w["flow"]["name"])
            if cur and cur.get("description") == w["flow"]["description"] and cur.get("status") == "active" and cur.get("operation"):
                continue
            what = "replace" if cur else "create"
            plan.add(f"{what} flow {w['flow']['name']!r} (only owners update or delete; Directus 12 without a license "
                     f"refuses permission rules)", lambda w=w, cur=cur: self.make_flow(w, cur))

    def make_flow(self, wanted: dict[str, Any], old: Optional[dict[str, Any]]) -> None:
        if old:
            self.api.call("DELETE", f"/flows/{old['id']}")
        flow_id = self.api.call("POST", "/flows", wanted["flow"])["id"]
        ops: dict[str, dict[str, Any]] = wanted["ops"]
        ids: dict[str, str] = {}

        def make(key: str, depth: int, row: int) -> str:
            # Successors first: an operation names the ids of the ones after it.
            if key in ids:
                return ids[key]
            spec = ops[key]
            nxt = {edge: (make(spec[edge], depth + 1, row + (edge == "reject")) if spec[edge] else None) for edge in ("resolve", "reject")}
            body = {"flow": flow_id, "key": key, "name": key.replace("_", " "), "type": spec["type"], "options": spec["options"],
                    "position_x": 19 + 18 * depth, "position_y": 1 + 18 * row, **nxt}
            ids[key] = self.api.call("POST", "/operations", body)["id"]
            return ids[key]

        first = make(wanted["first"], 0, 0)
        self.api.call("PATCH", f"/flows/{flow_id}", {"operation": first})

    def plan_collection(self, plan: Plan, spec: CollectionSpec, existing: dict[str, Any]) -> None:
        api = self.api
        if spec.name not in existing:
            body = {"collection": spec.name, "meta": {"icon": spec.icon, "note": spec.note}, "schema": {},
                    "fields": [f.payload() for f in spec.fields]}
            plan.add(f"create collection {spec.name} ({', '.join(f.name for f in spec.fields)})",
                     lambda: api.call("POST", "/collections", body))
            for f in spec.fields:
                if f.related:
                    self.plan_relation(plan, spec.name, f, None)
            return
        have = {f["field"]: f for f in api.get(f"/fields/{spec.name}") or []}
        relations = {r["field"]: r for r in api.get(f"/relations/{spec.name}") or []}
        for f in spec.fields:
            cur = have.get(f.name)
            if cur is None:
                if f.primary:
                    plan.problems.append(f"{spec.name} exists without a field {f.name!r}: give it that primary key by hand")
                    continue
                plan.add(f"add field {spec.name}.{f.name} ({f.type})", lambda c=spec.name, f=f: api.call("POST", f"/fields/{c}", f.payload()))
                if f.related:
                    self.plan_relation(plan, spec.name, f, None)
                continue
            cur_type = cur.get("type")
            if f.primary:
                if cur_type not in TYPE_ALIASES.get(f.type, {f.type}):
                    kind = "uuid" if cur_type in ("uuid", "string") else "integer"
                    plan.problems.append(f"{spec.name}.id is {cur_type} (key type {kind}), not {f.type}: the kit keeps it; "
                                         f"run with --key-type {kind}")
                continue
            if cur_type not in TYPE_ALIASES.get(f.type, {f.type}):
                plan.problems.append(f"{spec.name}.{f.name} is {cur_type}, the chat schema wants {f.type}: change it by hand")
                continue
            meta = cur.get("meta") or {}
            have_special = meta.get("special") or []
            # The server adds cast-* specials of its own (e.g. cast-timestamp); they stay.
            casts = [s for s in have_special if s.startswith("cast-")]
            if sorted(s for s in have_special if not s.startswith("cast-")) != sorted(f.special):
                want = casts + f.special
                plan.add(f"set special {f.special} on {spec.name}.{f.name} (was {have_special})",
                         lambda c=spec.name, f=f, w=want: api.call("PATCH", f"/fields/{c}/{f.name}", {"meta": {"special": w or None}}))
            schema = cur.get("schema") or {}
            if f.unique and not schema.get("is_unique"):
                plan.add(f"make {spec.name}.{f.name} unique",
                         lambda c=spec.name, f=f: api.call("PATCH", f"/fields/{c}/{f.name}", {"schema": {"is_unique": True}}))
            if f.related:
                self.plan_relation(plan, spec.name, f, relations.get(f.name))

    def plan_relation(self, plan: Plan, collection: str, f: FieldSpec, cur: Optional[dict[str, Any]]) -> None:
        if cur is not None:
            if cur.get("related_collection") != f.related:
                plan.problems.append(f"{collection}.{f.name} relates to {cur.get('related_collection')}, not {f.related}: fix it by hand")
            return
        body = {"collection": collection, "field": f.name, "related_collection": f.related,
                "schema": {"on_delete": "SET NULL"}}
        plan.add(f"relate {collection}.{f.name} to {f.related}", lambda: self.api.call("POST", "/relations", body))

    def plan_rooms(self, plan: Plan, existing: dict[str, Any]) -> None:
        have: set[str] = set()
        if self.o.rooms in existing:
            rows = self.api.get(f"/items/{self.o.rooms}", fields="id", limit="-1") or []
            have = {str(r["id"]) for r in rows}
        for room in self.o.default_rooms:
            if room not in have:
                body = {"id": room, "name": room.replace("-", " ").replace("_", " ").capitalize()}
                plan.add(f"create room {room!r} in {self.o.rooms}", lambda b=body: self.api.call("POST", f"/items/{self.o.rooms}", b))

    # -- 10.x: permissions on the role

    def find_one(self, path: str, name: str) -> Optional[dict[str, Any]]:
        rows = self.api.get(path, **{"filter[name][_eq]": name, "fields": "*", "limit": "2"}) or []
        if len(rows) > 1:
            raise KitError(f"two entries named {name!r} in {path}: rename one or pass another name")
        return rows[0] if rows else None

    def plan_role_v10(self, plan: Plan) -> None:
        role = self.find_one("/roles", self.o.role_name)
        if role is None:
            body = {"name": self.o.role_name, "icon": "chat", "app_access": False, "admin_access": False,
                    "description": "directus-chat users"}

            def make() -> None:
                self.role_id = self.api.call("POST", "/roles", body)["id"]
            plan.add(f"create role {self.o.role_name!r} (no app access)", make)
            self.plan_permissions(plan, "role", None)
            return
        if role.get("admin_access"):
            plan.problems.append(f"role {self.o.role_name!r} has admin access; chat users should not")
        self.role_id = role["id"]
        self.plan_permissions(plan, "role", role["id"])

    # -- 11+: permissions on a policy attached to the role

    def plan_policy(self, plan: Plan) -> None:
        policy = self.find_one("/policies", self.o.policy_name)
        role = self.find_one("/roles", self.o.role_name)
        if policy is None:
            body = {"name": self.o.policy_name, "icon": "chat", "app_access": False, "admin_access": False,
                    "enforce_tfa": False, "description": "directus-chat: what chat users may do"}

            def make_policy() -> None:
                self.policy_id = self.api.call("POST", "/policies", body)["id"]
            plan.add(f"create policy {self.o.policy_name!r} (no app access)", make_policy)
        else:
            if policy.get("admin_access"):
                plan.problems.append(f"policy {self.o.policy_name!r} has admin access; chat users should not")
            self.policy_id = policy["id"]
        if role is None:
            def make_role() -> None:
                body = {"name": self.o.role_name, "icon": "chat", "description": "directus-chat users",
                        "policies": {"create": [{"policy": self.policy_id}], "update": [], "delete": []}}
                self.role_id = self.api.call("POST", "/roles", body)["id"]
            plan.add(f"create role {self.o.role_name!r} with policy {self.o.policy_name!r}", make_role)
        else:
            self.role_id = role["id"]
            attached = False
            if self.policy_id is not None:
                links = self.api.get(f"/roles/{role['id']}", fields="policies.policy") or {}
                attached = any(str((link or {}).get("policy")) == self.policy_id for link in links.get("policies") or [])
            if not attached:
                def attach() -> None:
                    body = {"policies": {"create": [{"policy": self.policy_id}], "update": [], "delete": []}}
                    self.api.call("PATCH", f"/roles/{self.role_id}", body)
                plan.add(f"attach policy {self.o.policy_name!r} to role {self.o.role_name!r}", attach)
        self.plan_permissions(plan, "policy", self.policy_id)

    # -- permission rows, on a role (10.x) or a policy (11+)

    def plan_permissions(self, plan: Plan, owner_field: str, owner_id: Optional[str]) -> None:
        have: dict[tuple[str, str], list[dict[str, Any]]] = {}
        if owner_id is not None:
            rows = self.api.get("/permissions", **{f"filter[{owner_field}][_eq]": owner_id, "limit": "-1"}) or []
            for row in rows:
                have.setdefault((row["collection"], row["action"]), []).append(row)

        def owner() -> Optional[str]:
            return self.role_id if owner_field == "role" else self.policy_id

        for p in wanted_permissions(self.o, self.ownership):
            rows = have.get((p.collection, p.action), [])
            body = {"collection": p.collection, "action": p.action, "fields": p.fields,
                    "permissions": p.permissions, "validation": p.validation}
            label = f"{p.action} on {p.collection}" + (" (own rows only)" if p.permissions else "")
            if not rows:
                plan.add(f"permit {label}", lambda b=body: self.api.call("POST", "/permissions", {**b, owner_field: owner()}))
                continue
            row = rows[0]
            if len(rows) > 1:
                plan.problems.append(f"{len(rows)} permission rows for {p.action} on {p.collection}; the kit keeps the first")
            if not (same_filter(row.get("permissions"), p.permissions) and same_filter(row.get("validation"), p.validation)
                    and same_fields(row.get("fields"), p.fields)):
                plan.add(f"fix permission {label} (was fields {row.get('fields')}, filter {row.get('permissions')})",
                         lambda b=body, rid=row["id"]: self.api.call("PATCH", f"/permissions/{rid}", b))


# ---------------------------------------------------------------- commands


def options_from(args: argparse.Namespace) -> Options:
    return Options(key_type=args.key_type, messages=args.collection, text_field=args.text_field, rooms=args.rooms_collection,
                   presence=args.presence_collection, receipts=args.receipts_collection, role_name=args.role_name,
                   policy_name=args.policy_name, default_rooms=args.room or ["general"])


def write_env(path: str, kit: Kit, changes: int) -> None:
    o = kit.o
    lines = {
        "DIRECTUS_VERSION": kit.version,
        "DCHAT_PERMISSIONS_ON": "policy" if kit.policies_model else "role",
        "DCHAT_OWNERSHIP": kit.ownership,
        "DCHAT_ROLE_ID": kit.role_id or "",
        "DCHAT_POLICY_ID": kit.policy_id or "",
        "DCHAT_COLLECTION": o.messages,
        "DCHAT_TEXT_FIELD": o.text_field,
        "DCHAT_KEY_TYPE": o.key_type,
        "DCHAT_ROOMS_COLLECTION": o.rooms,
        "DCHAT_PRESENCE_COLLECTION": o.presence,
        "DCHAT_RECEIPTS_COLLECTION": o.receipts,
        "DCHAT_ROOM": o.default_rooms[0],
        "DCHAT_KIT_CHANGES": str(changes),
    }
    with open(path, "w") as f:
        for k, v in lines.items():
            f.write(f"{k}={v}\n")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="schema-kit.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name, helptext in (("apply", "make what is missing (idempotent)"), ("check", "exit 0 when everything is in place")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--url", required=True, help="the Directus base URL, e.g. http://127.0.0.1:8055")
        p.add_argument("--token", default=os.environ.get("DIRECTUS_TOKEN"), help="an admin's access or static token (default: $DIRECTUS_TOKEN)")
        p.add_argument("--key-type", choices=["integer", "uuid"], default="integer", help="messages' primary key (new collections only)")
        p.add_argument("--collection", default="messages", help="the messages collection")
        p.add_argument("--text-field", default="text", help="the message text field")
        p.add_argument("--rooms-collection", default="rooms")
        p.add_argument("--presence-collection", default="presence")
        p.add_argument("--receipts-collection", default="read_receipts")
        p.add_argument("--role-name", default="Users", help="the role chat users get")
        p.add_argument("--policy-name", default="Chat users", help="Directus 11+: the policy holding the permissions")
        p.add_argument("--room", action="append", help="a room to create (repeatable; default general)")
        p.add_argument("--env-out", metavar="FILE", help="write KEY=VALUE results (version, role and policy ids) to FILE")
        p.add_argument("--quiet", action="store_true", help="print only the summary line")
        if name == "apply":
            p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    args = ap.parse_args(argv)
    if not args.token:
        ap.error("--token (or DIRECTUS_TOKEN) is required")

    def out(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    kit = Kit(Api(args.url, args.token), options_from(args), out)
    try:
        kit.detect()
        out(f"Directus {kit.version} at {args.url}: permissions on {'policies (11+)' if kit.policies_model else 'roles (10.x)'}"
            + ("; own rows enforced by flows (no license for permission rules)" if kit.ownership == "flow" else ""))
        plan = kit.plan()
        for problem in plan.problems:
            print(f"! {problem}", file=sys.stderr)
        if args.command == "check":
            for c in plan.changes:
                out(f"missing: {c.what}")
            ok = not plan.changes and not plan.problems
            print(f"schema kit check: {'ok' if ok else 'incomplete'} ({len(plan.changes)} missing, {len(plan.problems)} problems)")
            if args.env_out:
                write_env(args.env_out, kit, len(plan.changes))
            return 0 if ok else 1
        if args.dry_run:
            for c in plan.changes:
                out(f"would: {c.what}")
            print(f"schema kit: {len(plan.changes)} changes planned (dry run), {len(plan.problems)} problems")
            return 0 if not plan.problems else 1
        for c in plan.changes:
            out(f"doing: {c.what}")
            c.run()
        if plan.changes:
            # What was just made must now be complete; a second plan proves it.
            again = kit.plan()
            if again.changes:
                for c in again.changes:
                    print(f"! still missing after apply: {c.what}", file=sys.stderr)
                raise KitError("the server did not take every change")
        if args.env_out:
            write_env(args.env_out, kit, len(plan.changes))
        print(f"schema kit: {len(plan.changes)} changes applied, {len(plan.problems)} problems")
        return 0 if not plan.problems else 1
    except KitError as e:
        print(f"schema-kit: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
