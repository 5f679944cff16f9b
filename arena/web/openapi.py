"""The OpenAPI 3.1 description of ``/api/v1`` and a page that shows it.

``GET /api/v1/openapi.json``  the description, built from the code
``GET /api/docs``             the same, as a page (served by us: no CDN, no script)

Built with apispec: the paths come from the app's URL map (apispec-webframeworks'
Flask plugin reads each view's rule), each operation from the YAML after ``---``
in the view's docstring, the shared schemas from :data:`SCHEMAS` below (plain
JSON Schema 2020-12, which OpenAPI 3.1 uses as is). tests/test_api_openapi.py
validates real responses against this description with openapi-core.
"""

from __future__ import annotations

import json

from apispec import APISpec
from apispec.yaml_utils import load_operations_from_docstring
from flask import Blueprint, current_app, jsonify, render_template

bp = Blueprint("openapi", __name__)

#: Views described in the OpenAPI document (endpoint names).
DESCRIBED = (
    "leaderboard_api.leaderboard_json",
    "leaderboard_api.scopes_json",
    "leaderboard_api.rank_json",
    "read_api.tiers_json",
    "read_api.models_json",
    "read_api.model_json",
    "read_api.snapshots_json",
    "read_api.snapshot_json",
    "read_api.matrices_json",
    "maintainer.recompute",
    "maintainer.set_model_state",
    "maintainer.export_votes",
    "maintainer.export_votes_parquet",
    "maintainer_import.import_kind",
    "api.create_battle",
    "api.create_vote",
    "live.start",
    "live.add_turn",
    "live.regenerate",
    "live.show",
    "live.reveal",
    "live.events",
)

NUM = {"type": ["number", "null"]}
INT = {"type": "integer"}
STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}

SCOPE = {
    "type": "object",
    "required": ["category", "source", "rater_group"],
    "properties": {"category": STR, "source": STR, "rater_group": STR},
}
CITATION = {
    "type": "object",
    "description": "The stored snapshot an answer was read from: cite it.",
    "required": ["id", "created_at", "method", "scope", "digest", "votes", "models", "url"],
    "properties": {
        "id": INT,
        "created_at": STR,
        "method": {"type": "string", "enum": ["bt", "davidson", "elo", "bt-style"]},
        "scope": SCOPE,
        "digest": STR,
        "votes": INT,
        "models": INT,
        "confidence": NUM,
        "ci": NSTR,
        "url": STR,
    },
}
ROW = {
    "type": "object",
    "required": ["model", "rating", "ci_low", "ci_high", "rank_ub", "tier", "battles"],
    "properties": {
        "model": STR,
        "rating": NUM,
        "ci_low": NUM,
        "ci_high": NUM,
        "rank_ub": INT,
        "tier": INT,
        "battles": {"type": "number"},
        "wins": {"type": "number"},
        "losses": {"type": "number"},
        "ties": {"type": "number"},
        "component": INT,
        "rank_plain": {"type": ["integer", "null"]},  # style_control=true
        "rank_change": {"type": ["integer", "null"]},
    },
}
BOOL = {"type": "boolean"}
LIVE_SIDE = {
    "type": "object",
    "description": "One side's answer of a turn (the newest attempt); no model name.",
    "required": ["text", "status", "error", "attempt", "finish_reason"],
    "properties": {
        "text": {"type": "string", "description": "the answer so far (all of it once done)"},
        "status": {"type": "string", "enum": ["streaming", "done", "error"]},
        "error": NSTR,
        "attempt": INT,
        "finish_reason": NSTR,
        "html": {
            "type": "string",
            "description": "a done answer rendered from Markdown and sanitized (nh3)",
        },
    },
}
LIVE_VIEW = {
    "type": "object",
    "description": "A live battle as its rater may see it: no model names before the vote.",
    "required": [
        "battle_id",
        "status",
        "turns",
        "failure",
        "max_turns",
        "can_vote",
        "can_continue",
        "identity_leak",
        "category",
    ],
    "properties": {
        "battle_id": INT,
        "status": {"type": "string", "enum": ["open", "ready", "failed", "voted"]},
        "turns": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["turn", "user", "left", "right"],
                "properties": {
                    "turn": INT,
                    "user": STR,
                    "left": {"$ref": "#/components/schemas/LiveSide"},
                    "right": {"$ref": "#/components/schemas/LiveSide"},
                },
            },
        },
        "failure": NSTR,
        "max_turns": INT,
        "can_vote": BOOL,
        "can_continue": BOOL,
        "identity_leak": BOOL,
        "category": NSTR,
    },
}
REVEALED = {
    "type": "object",
    "required": ["model", "ttft_ms", "tokens_per_second"],
    "properties": {"model": STR, "ttft_ms": NUM, "tokens_per_second": NUM},
}
SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error", "reason"],
        "properties": {"error": STR, "reason": STR},
    },
    "Citation": CITATION,
    "Row": ROW,
    "Leaderboard": {
        "type": "object",
        "required": ["snapshot", "meta", "models"],
        "properties": {
            "snapshot": {"$ref": "#/components/schemas/Citation"},
            "compared_to": {  # style_control=true: the plain bt snapshot of rank_plain
                "oneOf": [{"$ref": "#/components/schemas/Citation"}, {"type": "null"}]
            },
            "meta": {"type": "object"},
            "models": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
            "bootstrap": {"type": "object"},
        },
    },
    "Scopes": {
        "type": "object",
        "required": ["scopes"],
        "properties": {
            "scopes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["method", "category", "source", "rater_group", "snapshots"],
                    "properties": {
                        "method": STR,
                        "category": STR,
                        "source": STR,
                        "rater_group": STR,
                        "updated_at": NSTR,
                        "snapshots": INT,
                    },
                },
            }
        },
    },
    "Rank": {
        "type": "object",
        "required": ["meta", "models"],
        "properties": {"meta": {"type": "object"}, "models": {"type": "array"}},
    },
    "Tiers": {
        "type": "object",
        "required": ["snapshot", "tiers"],
        "properties": {
            "snapshot": {"$ref": "#/components/schemas/Citation"},
            "tiers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "tier",
                        "leader",
                        "lower_bound",
                        "upper_bound",
                        "next_tier_upper_bound",
                        "models",
                    ],
                    "properties": {
                        "tier": INT,
                        "leader": STR,
                        "lower_bound": NUM,
                        "upper_bound": NUM,
                        "next_tier_upper_bound": NUM,
                        "models": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["model", "rating", "ci_low", "ci_high", "rank_ub"],
                                "properties": {
                                    "model": STR,
                                    "rating": NUM,
                                    "ci_low": NUM,
                                    "ci_high": NUM,
                                    "rank_ub": INT,
                                    "battles": {"type": "number"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "Models": {
        "type": "object",
        "required": ["snapshot", "models"],
        "properties": {
            "snapshot": {"oneOf": [{"$ref": "#/components/schemas/Citation"}, {"type": "null"}]},
            "models": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "state", "rating", "rank_ub", "tier"],
                    "properties": {
                        "name": STR,
                        "organization": NSTR,
                        "license": NSTR,
                        "state": {"type": "string", "enum": ["active", "provisional", "retired"]},
                        "rating": NUM,
                        "rank_ub": {"type": ["integer", "null"]},
                        "tier": {"type": ["integer", "null"]},
                    },
                },
            },
        },
    },
    "ModelDetail": {
        "type": "object",
        "required": [
            "snapshot",
            "model",
            "current",
            "history",
            "categories",
            "head_to_head",
            "sample_answers",
        ],
        "properties": {
            "snapshot": {"oneOf": [{"$ref": "#/components/schemas/Citation"}, {"type": "null"}]},
            "model": {
                "type": "object",
                "required": ["name", "state"],
                "properties": {"name": STR, "state": STR, "organization": NSTR, "license": NSTR},
            },
            "current": {"type": ["object", "null"]},
            "composite": {"type": "object"},  # arena.web.model_signals.signals
            "history": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["snapshot", "created_at", "rating", "rank_ub"],
                    "properties": {
                        "snapshot": INT,
                        "created_at": STR,
                        "rating": NUM,
                        "ci_low": NUM,
                        "ci_high": NUM,
                        "rank_ub": INT,
                        "tier": INT,
                    },
                },
            },
            "categories": {"type": "array", "items": {"type": "object"}},
            "sample_answers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["prompt_key", "category", "prompt", "answer", "cut"],
                    "properties": {
                        "prompt_key": STR,
                        "category": STR,
                        "prompt": STR,
                        "answer": STR,
                        "cut": {"type": "boolean"},
                    },
                },
            },
            "head_to_head": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["opponent", "wins", "losses", "ties", "p_beats"],
                    "properties": {
                        "opponent": STR,
                        "wins": INT,
                        "losses": INT,
                        "ties": INT,
                        "p_beats": NUM,
                        "p_low": NUM,
                        "p_high": NUM,
                    },
                },
            },
        },
    },
    "SnapshotList": {
        "type": "object",
        "required": ["snapshots"],
        "properties": {
            "snapshots": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "created_at", "method", "scope", "digest", "votes", "url"],
                    "properties": {
                        "id": INT,
                        "created_at": STR,
                        "method": STR,
                        "scope": SCOPE,
                        "digest": STR,
                        "votes": INT,
                        "url": STR,
                    },
                },
            }
        },
    },
    "Matrices": {
        "type": "object",
        "required": ["snapshot", "models", "win_probability", "significantly_above"],
        "properties": {
            "snapshot": {"$ref": "#/components/schemas/Citation"},
            "models": {"type": "array", "items": STR},
            "win_probability": {"type": "array", "items": {"type": "array", "items": NUM}},
            "significantly_above": {
                "type": ["array", "null"],
                "items": {"type": "array", "items": {"type": "integer", "enum": [0, 1]}},
            },
        },
    },
    "Recompute": {
        "type": "object",
        "required": ["job", "queue"],
        "properties": {"job": STR, "queue": STR},
    },
    "ImportResult": {
        "type": "object",
        "required": ["kind", "inserted", "updated"],
        "properties": {
            "kind": STR,
            "inserted": INT,
            "updated": INT,
            "format": STR,
            "notes": {"type": "array", "items": STR},
        },
    },
    "ImportError": {
        "type": "object",
        "required": ["error", "reason"],
        "properties": {"error": STR, "reason": STR, "row": INT},
    },
    "Battle": {
        "type": "object",
        "description": "A curated battle: the prompt and two answers, no model names.",
        "required": ["battle_token", "prompt", "left", "right"],
        "properties": {
            "battle_token": STR,
            "prompt": {
                "type": "object",
                "required": ["id", "text", "category"],
                "properties": {"id": INT, "text": STR, "category": NSTR},
            },
            "left": {"type": "object", "required": ["text"], "properties": {"text": STR}},
            "right": {"type": "object", "required": ["text"], "properties": {"text": STR}},
        },
    },
    "VoteAccepted": {
        "type": "object",
        "description": "The vote is queued; the models' names, left and right.",
        "required": ["left_model", "right_model"],
        "properties": {"left_model": STR, "right_model": STR},
    },
    "LiveSide": LIVE_SIDE,
    "LiveView": LIVE_VIEW,
    "LiveStarted": {
        "type": "object",
        "required": ["battle_token", "battle_id", "stream_url", "view"],
        "properties": {
            "battle_token": STR,
            "battle_id": INT,
            "stream_url": {"type": "string", "description": "the battle's event stream"},
            "view": {"$ref": "#/components/schemas/LiveView"},
        },
    },
    "LiveTurnStarted": {
        "type": "object",
        "required": ["turn", "attempt", "view"],
        "properties": {
            "turn": INT,
            "attempt": INT,
            "view": {"$ref": "#/components/schemas/LiveView"},
        },
    },
    "LiveReveal": {
        "type": "object",
        "description": "After the vote: each side's model, mean time to first token (ms) "
        "and tokens per second of its answers that count.",
        "required": ["identity_leak", "left", "right"],
        "properties": {"identity_leak": BOOL, "left": REVEALED, "right": REVEALED},
    },
    "ModelState": {
        "type": "object",
        "required": ["model", "state", "previous"],
        "properties": {"model": STR, "state": STR, "previous": STR},
    },
}
PARAMETERS = {
    "method": {
        "name": "method",
        "in": "query",
        "schema": {"type": "string", "enum": ["bt", "davidson", "elo"]},
        "description": "rating method; default: the [rating] method setting",
    },
    "category": {
        "name": "category",
        "in": "query",
        "schema": {"type": "string"},
        "description": "a prompt category; unnamed: every category",
    },
    "source": {
        "name": "source",
        "in": "query",
        "schema": {"type": "string"},
        "description": "human (default), judge:NAME, or all",
    },
    "rater_group": {
        "name": "rater_group",
        "in": "query",
        "schema": {"type": "string"},
        "description": "a rater group; unnamed: every group",
    },
    "battle_id": {
        "name": "battle_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
        "description": "the live battle's id",
    },
    "battle_token": {
        "name": "token",
        "in": "query",
        "required": True,
        "schema": {"type": "string"},
        "description": "the battle's token (battle_token of POST /api/v1/live)",
    },
    "last_event_id": {
        "name": "last_event_id",
        "in": "query",
        "schema": {"type": "string", "pattern": r"^(0|\d{1,20}-\d{1,20})$"},
        "description": "resume after this event id (the Last-Event-ID header wins)",
    },
    "Last-Event-ID": {
        "name": "Last-Event-ID",
        "in": "header",
        "schema": {"type": "string", "pattern": r"^(0|\d{1,20}-\d{1,20})$"},
        "description": "resume after this event id (sent by a reconnecting EventSource)",
    },
    "format": {
        "name": "format",
        "in": "query",
        "schema": {"type": "string", "enum": ["json", "csv"]},
        "description": "csv: the table as CSV",
    },
}


#: Refusals several operations share (``{$ref: '#/components/responses/NAME'}`` in a view's
#: docstring): name -> the reasons, as each answer's ``reason`` field gives them.
REFUSALS = {
    "BadToken": "bad_token",
    "BadTurn": "bad_token, bad_prompt, too_long, bad_json, bad_text",
    "WrongBattle": "wrong_battle (the token is for another battle)",
    "NoBattle": "no_battle",
    "NoLiveBattle": "no_battle, live_disabled",
    "TurnRefused": "not_ready (still streaming), max_turns, battle_failed, already_voted",
    "TokenExpired": "token_expired",
    "BodyTooLong": "the body is longer than 64 KiB",
    "Unavailable": "unavailable (Redis or the database)",
}


def build(app) -> dict:
    """The OpenAPI 3.1 document for ``app`` (its URL map and view docstrings)."""
    spec = APISpec(
        title="Arena API",
        version="1",
        openapi_version="3.1.0",
        info={
            "description": "Read endpoints are public unless [api] public_read = false; "
            "maintainer endpoints need a bearer token (arena token create)."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    for name, param in PARAMETERS.items():
        spec.components.parameter(name, param["in"], {k: v for k, v in param.items()})
    spec.components.response(
        "Error",
        {
            "description": "an error with its reason",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    )
    for name, reasons in REFUSALS.items():
        spec.components.response(
            name,
            {
                "description": reasons,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )
    spec.components.response(
        "ImportError",
        {
            "description": "a body that cannot be imported: the row (when known) and why",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ImportError"}}
            },
        },
    )
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    for endpoint in DESCRIBED:
        rule = rules.get(endpoint)
        if rule is None:
            continue
        view = app.view_functions[endpoint]
        operations = load_operations_from_docstring(view.__doc__ or "")
        path = _openapi_path(rule.rule)
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _openapi_path(rule: str) -> str:
    """``/models/<path:name>`` -> ``/models/{name}``."""
    import re

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def document() -> dict:
    cached = current_app.extensions.get("arena.openapi")
    if cached is None:
        cached = current_app.extensions["arena.openapi"] = build(current_app)
    return cached


@bp.get("/api/v1/openapi.json")
def openapi_json():
    return jsonify(document())


@bp.get("/api/docs")
def docs():
    """The description as a page: every operation, its parameters, answers and schemas."""
    doc = document()
    return render_template(
        "api_docs.html",
        doc=doc,
        schemas_json={k: json.dumps(v, indent=2) for k, v in doc["components"]["schemas"].items()},
    )
