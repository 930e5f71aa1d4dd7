"""The one way to a complainant's full name and number: the centre's callback staff, for a case of their district.

Routing's centre calls complainants back (回访); everything outside intake sees a pseudonym and a masked number.
`GET /v1/cases/{case_id}/complainants` answers a centre unit token only, for a case of that centre's district,
and records every person it returns in `contact_access_log` (who: the token's unit and the X-Staff-Id it
names; when; which case; why) in the same transaction as the read. The answer is not to be cached.
"""

# No `from __future__ import annotations`: FastAPI must see the closures' dependency types at runtime.

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from district.unit_tokens import CENTRE, UNIT
from eventcore.auth import Principal
from eventcore.http import error_responses
from services.intake.adapters.http_common import Channels, IntakeError, error_response, stores_of
from services.intake.adapters.privacy_store import PrivacyStore

Purpose = Literal["callback", "follow_up"]


def contact_router(channels: Channels) -> APIRouter:
    router = APIRouter(prefix="/v1/cases", tags=["callback"])
    calling_unit = channels.auth.requiring(UNIT)

    @router.get(
        "/{case_id}/complainants",
        summary="The case's complainants with name and number, for the centre's callback (every read is logged)",
        responses=error_responses(401, 403, 404, 422, model=IntakeError),
    )
    async def complainants_of_case(
        request: Request,
        case_id: str,
        unit: Annotated[Principal, Depends(calling_unit)],
        purpose: Annotated[Purpose, Query(description="Why the number is read (recorded)")] = "callback",
        x_staff_id: Annotated[str | None, Header(max_length=64)] = None,
    ) -> JSONResponse:
        if unit.name != CENTRE or unit.district is None:
            return error_response(403, "forbidden", "only the centre's callback staff read complainants' numbers")
        stores = stores_of(request)
        privacy = PrivacyStore(stores.schema)
        async with stores.pool.acquire() as conn, conn.transaction():
            if not await privacy.case_in_district(conn, case_id, unit.district):
                return error_response(404, "not_found", f"no case {case_id!r} in {unit.district}")
            contacts = await privacy.contacts_of_case(conn, case_id, unit.district)
            await privacy.log_access(
                conn,
                principal=unit.label,
                staff_id=x_staff_id,
                district=unit.district,
                case_id=case_id,
                complainant_ids=[c.complainant_id for c in contacts],
                purpose=purpose,
                client=request.client.host if request.client else None,
            )
        body = {
            "case_id": case_id,
            "complainants": [
                {
                    "complainant_id": c.complainant_id,
                    "name": c.name,
                    "phone": c.phone,
                    "complaint_id": c.complaint_id,
                    "channel": c.channel,
                    "received_at": c.received_at.isoformat(),
                }
                for c in contacts
            ],
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return router
