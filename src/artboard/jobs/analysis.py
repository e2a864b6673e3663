"""Seed 003's analysis route, on the path it documented: upload a picture, get OpenAI's description of it.

Statuses as seed 003 documented them: 400 for a file that is not an accepted image, 401 when there is no
OpenAI key to use (no key session in ``X-Session-ID`` holding one, and no ``OPENAI_API_KEY``), 200 with
OpenAI's own error object in ``openai_response`` when OpenAI refused the request (an invalid key, say), since
the upload itself succeeded, and 500 when OpenAI failed or could not be reached: the one Artboard route whose
500 is not a bug of its own, kept because seed 003's clients read it so; its body is the envelope with
``external_error``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field

from artboard.auth.deps import CurrentUser
from artboard.deps import SettingsDep, resources_of
from artboard.errors import ValidationFailed
from artboard.jobs.analysis_service import Analyses
from artboard.library.replies import thumbnail_path
from artboard.media.upload import read_upload_form
from artboard.openapi import BODY, FILE, errors, object_schema, request_body

router = APIRouter(tags=["analysis"], responses=errors(401))
UPLOADED = "Image uploaded successfully"
_UPLOAD = request_body({"multipart/form-data": object_schema({"uploaded_file": FILE}, ["uploaded_file"])})


class AnalysisOut(BaseModel):
    message: str = Field(description=f'Always "{UPLOADED}" (seed 003).')
    thumbnail: str = Field(description="The path of the image's 128 px thumbnail, served by `/api/thumbnails/`.")
    openai_response: dict[str, Any] = Field(
        description="OpenAI's ChatCompletion, or its error object `{error: {message, type, param, code}}` when "
        "OpenAI refused the request (an invalid key, say)."
    )
    image_id: str = Field(description="The uploaded image in your gallery; its `metadata` keeps `openai_response`.")


async def get_analyses(request: Request) -> Analyses:
    """Made per request over the shared services (it holds nothing of its own)."""
    resources = resources_of(request)
    wait_s = resources.settings.openai_timeout_s
    return Analyses(resources.sessions, resources.jobs, resources.library, wait_s)


AnalysesDep = Annotated[Analyses, Depends(get_analyses)]


@router.post(
    "/api/images/analyze-image",
    response_model=AnalysisOut,
    openapi_extra=_UPLOAD,
    responses=errors(
        *BODY,
        403,
        429,
        500,
        notes={
            400: "Not a multipart form, no `uploaded_file`, or a file that is not an accepted image.",
            401: "Sign in first; or there is no OpenAI key to use: no key session in `X-Session-ID` holding one, "
            "and no `OPENAI_API_KEY` on the server.",
            413: "The file is too large, or over the quota.",
            429: "Too many of your jobs are waiting.",
            500: "Seed 003's status: OpenAI failed or could not be reached (after retries), or did not answer in time "
            "(`external_error`): `detail` "
            "names the stored image and the analysis job.",
        },
    ),
)
async def analyze_image(
    request: Request,
    user: CurrentUser,
    analyses: AnalysesDep,
    settings: SettingsDep,
    x_session_id: Annotated[
        str | None, Header(max_length=128, description="A key session whose OpenAI key pays for the analysis.")
    ] = None,
) -> AnalysisOut:
    """Upload an image (`uploaded_file`) to your gallery and answer OpenAI's description of it (seed 003)."""
    form = await read_upload_form(request, "uploaded_file", settings.max_file_size)
    if form.file is None:
        raise ValidationFailed("The form has no `uploaded_file` field.")
    title = (form.filename or "").replace("\x00", "")[:300]
    analysis = await analyses.analyze(user.id, form.file, title=title, session_id=x_session_id or None)
    return AnalysisOut(
        message=UPLOADED,
        thumbnail=thumbnail_path(analysis.image_id),
        openai_response=analysis.openai_response,
        image_id=analysis.image_id,
    )
