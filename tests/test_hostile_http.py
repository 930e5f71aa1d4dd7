"""Hostile HTTP bodies meet the body guard before any handler: too large while streaming (413), not JSON (415),
unreadable (400), too deep, too wide or holding text PostgreSQL cannot store (422 naming the field); intake keeps
what it refused, cut to size; duplicate keys are found in linear time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from district.registry import load_districts
from eventcore.auth import Authenticator
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.http import BodyGuard, BodyPolicy
from eventcore.service import ServiceSpec, build_app
from eventcore.settings import Settings
from services.intake.adapters.credentials import channel_tokens
from services.intake.adapters.http_channels import channel_router
from services.intake.adapters.http_common import Channels, _Pairs, intake_error_body
from services.intake.app import EXTRA_DDL, SCHEMA
from services.intake.handlers import IntakeContext
from services.intake.settings import IntakeSettings
from tests.dev_credentials import walk_in_desk


class Note(BaseModel):
    note: str
    tags: list[str] = []


def guarded_app() -> FastAPI:
    router = APIRouter()

    @router.post("/notes")
    async def take(note: Note) -> dict[str, str]:
        return {"note": note.note}

    return build_app(ServiceSpec(name="probe", schema="probe", routers=[router]), Settings())


@pytest.fixture
async def probe() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guarded_app()), base_url="http://p"
    ) as client:
        yield client


async def chunks(size: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    yield b'{"note": "'
    while sent < size:
        sent += chunk
        yield b"x" * chunk


async def test_a_body_too_large_is_refused_while_it_streams_and_when_it_is_announced(
    probe: httpx.AsyncClient,
) -> None:
    json_type = {"content-type": "application/json"}
    streamed = await probe.post("/notes", content=chunks(3 * 1024 * 1024), headers=json_type)
    announced = await probe.post("/notes", content=b"{}", headers={**json_type, "content-length": "9999999"})
    assert (streamed.status_code, announced.status_code) == (413, 413)
    assert streamed.json()["detail"]["error"] == "too_large"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "says"),
    [
        (b"note=hi", "application/x-www-form-urlencoded", 415, "unsupported_media_type", "application/json"),
        (b'{"note": "hi"}', "text/plain", 415, "unsupported_media_type", "text/plain"),
        (b'{"note": ', "application/json", 400, "invalid_json", "line 1 column 10"),
        (
            b'{"note": "a\\u0000b"}',
            "application/json",
            422,
            "unstorable_characters",
            "field 'note' contains U+0000",
        ),
        (
            b'{"note": "x", "tags": ["\\ud800"]}',
            "application/json",
            422,
            "unstorable_characters",
            "'tags[0]'",
        ),
        (b"[" * 5000 + b"]" * 5000, "application/json", 422, "too_deep", "nested deeper than 32"),
        (
            json.dumps(
                {"note": "x", "deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
            ).encode(),
            "application/json",
            422,
            "too_deep",
            "deep",
        ),
    ],
)
async def test_what_the_guard_refuses_and_how_it_says_so(
    probe: httpx.AsyncClient, body: bytes, content_type: str, status: int, code: str, says: str
) -> None:
    answer = await probe.post("/notes", content=body, headers={"content-type": content_type})
    assert answer.status_code == status, answer.text
    problem = answer.json()["detail"]
    assert problem["error"] == code and says in problem["message"]


async def test_a_json_body_with_a_charset_is_json(probe: httpx.AsyncClient) -> None:
    answer = await probe.post(
        "/notes",
        content='{"note": "好"}'.encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert answer.status_code == 200 and answer.json() == {"note": "好"}


def test_duplicate_keys_are_found_among_a_hundred_thousand_in_one_pass() -> None:
    pairs = [(f"k{i}", i) for i in range(100_000)] + [("k7", 0), ("k99999", 1)]
    assert _Pairs(pairs).duplicate_keys == ["k7", "k99999"]


def test_a_pushed_orders_kept_bytes_stay_what_every_release_wrote_duplicate_keys_and_all() -> None:
    """The bytes are hashed to tell a redelivered order from a changed one: an upgrade must not change them."""
    sent = '{"order_no": "A-1", "description": "电梯坏了", "extra": {"楼": 3, "x": [1, null]}, "order_no": "A-2"}'
    order = json.loads(sent, object_pairs_hook=_Pairs)
    assert order.original_json() == (
        '{"order_no":"A-1","description":"电梯坏了","extra":{"楼": 3, "x": [1, null]},"order_no":"A-2"}'
    ).encode()


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=3)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    yield ServiceStores(pool, SCHEMA, "/caseline/intake")
    await pool.close()


async def test_intake_keeps_a_refused_oversized_body_as_a_dead_letter_cut_to_size(
    stores: ServiceStores,
) -> None:
    districts = load_districts()
    ctx = IntakeContext(districts, pseudonym_secret="s" * 32)
    auth = Authenticator("intake", channel_tokens(districts, IntakeSettings(), None))
    app = FastAPI()
    app.include_router(channel_router(Channels(ctx, auth=auth)))
    app.state.runtime = SimpleNamespace(stores=stores)
    policy = BodyPolicy(max_bytes=64 * 1024, check_json=False, error_body=intake_error_body)
    guarded = BodyGuard(app, policy)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guarded), base_url="http://intake"
    ) as client:
        answer = await client.post(
            "/v1/walk-ins",
            content=chunks(512 * 1024),
            headers={**walk_in_desk(), "content-type": "application/json"},
        )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
    async with stores.pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
    assert letter.source == "walk-in-http" and 0 < len(letter.payload) <= 64 * 1024
