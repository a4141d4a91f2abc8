"""Pages for people: the clinical documentation and the card gallery (public, no JWT).

`/docs/clinical` is every card's `source.url` and, with `#topic-<code>`, its one
link: HTML for a browser, the same page as Markdown at `/docs/clinical.md` or
with `Accept: text/markdown`. `/docs/cards` runs the gallery's example patients
through the service's own pipeline, at each example's stated request time, and
shows the cards as an EHR would.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache, lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from cards.docs import as_html
from cards.gallery import GalleryExample, Shown, gallery_html, load_examples
from cards.model import Card
from service.cds.engine import Engine
from service.cds.models import Caller, HookRequest
from service.cds.pipeline import run
from service.http.deps import EngineDep

router = APIRouter()

MARKDOWN = "text/markdown; charset=utf-8"
#: The representation depends on Accept, so shared caches must keep them apart.
_VARY = {"Vary": "Accept"}


@router.get(
    "/docs/clinical",
    response_class=HTMLResponse,
    summary="The implemented clinical logic (every card's source.url)",
    responses={
        200: {
            "description": "HTML for a browser; Markdown when Accept prefers text/markdown",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
        }
    },
)
def clinical_documentation(request: Request, engine: EngineDep) -> Response:
    """The implemented clinical logic: HTML, or Markdown when the client prefers it."""
    if prefers_markdown(request.headers.get("accept", "")):
        return PlainTextResponse(engine.clinical_doc, media_type=MARKDOWN, headers=_VARY)
    return HTMLResponse(_clinical_html(engine.clinical_doc), headers=_VARY)


@router.get("/docs/clinical.md", response_class=PlainTextResponse)
def clinical_markdown(engine: EngineDep) -> PlainTextResponse:
    """The same page as Markdown (docs/clinical.md)."""
    return PlainTextResponse(engine.clinical_doc, media_type=MARKDOWN)


@router.get("/docs/cards", response_class=HTMLResponse)
async def card_gallery(engine: EngineDep) -> HTMLResponse:
    """Every card topic, from the example patients, rendered as an EHR would."""
    shown = [
        Shown(name, example, await example_cards(engine, example)) for name, example in _examples()
    ]
    return HTMLResponse(gallery_html(shown))


async def example_cards(engine: Engine, example: GalleryExample) -> list[Card]:
    """The cards the service answers for an example, at the example's request time.

    An anonymous caller: the gallery neither reads nor writes the shown-card memory, and
    its cards, shown to no clinician, stay out of the card log.
    """
    spec = engine.service(example.service)
    request = HookRequest.model_validate(example.request)
    at_request_time = replace(engine, clock=lambda: example.now)
    return (await run(at_request_time, spec, request, Caller(), issued=False)).cards


def prefers_markdown(accept: str) -> bool:
    """Whether an Accept header ranks text/markdown above text/html (HTML on a tie)."""
    quality: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = next((_q(p) for p in params if p.startswith("q=")), 1.0)
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))

    def rank(media: str) -> float:
        family = media.split("/")[0] + "/*"
        return quality.get(media, quality.get(family, quality.get("*/*", 0.0)))

    return rank("text/markdown") > rank("text/html")


def _q(param: str) -> float:
    try:
        return float(param[2:])
    except ValueError:
        return 0.0


@lru_cache(maxsize=2)
def _clinical_html(markdown: str) -> str:
    return as_html(markdown)


@cache
def _examples() -> list[tuple[str, GalleryExample]]:
    return load_examples()
