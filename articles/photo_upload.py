"""The gallery's two endpoints, behind the admin (staff only, CSRF-checked, see photo_admin.py):

- ``upload``: one file per request. It is checked and normalised with no transaction open, parked
  and sent (storage API), and the answer is the photo as JSON, or its French refusal. Thirty
  photos are thirty requests: none carries more than one file, and a bad file refuses only itself.
- ``search``: photos of the library by caption, credit, alt text or name, and by month, to reuse.
"""

import re

from django.db.models import Q
from django.http import JsonResponse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.views.decorators.http import require_GET, require_POST

from articles import photos
from articles.admin_messages import waiting_message
from articles.forms import checked_photo
from articles.models import Photo
from storage.images import ImageRejected

SEARCH_LIMIT = 40


def photo_json(photo, outcome=None):
    waiting = not photo.on_store
    return {
        "id": photo.pk,
        "name": photo.name,
        "label": str(photo),
        "url": photo.url,
        "thumbnail_url": photo.thumbnail_url,
        "width": photo.width,
        "height": photo.height,
        "caption": photo.caption,
        "credit": photo.credit,
        "alt_text": photo.alt_text,
        "decorative": photo.decorative,
        "focal_x": photo.focal_x,
        "focal_y": photo.focal_y,
        "uploaded_at": date_format(localtime(photo.uploaded_at), "j F Y"),
        "state": "pending" if waiting else "uploaded",
        "message": waiting_message(outcome, str(photo), saved=False) if waiting and outcome else "",
    }


def refusal(message, status=400):
    return JsonResponse({"error": message}, status=status)


@require_POST
def upload(request):
    files = request.FILES.getlist("file")
    if len(files) != 1:
        return refusal("Envoyez une photo par requête (champ « file »).")
    upload = files[0]
    try:
        processed = checked_photo(upload)
    except ImageRejected as rejected:
        return refusal(rejected.message)
    slug = (request.POST.get("slug") or request.POST.get("title") or upload.name.rsplit(".", 1)[0])[:200]
    photo, outcome = photos.store_photo(processed, slug, uploaded_by=request.user)
    return JsonResponse(photo_json(photo, outcome), status=201)


@require_GET
def search(request):
    query, month = request.GET.get("q", "").strip(), request.GET.get("mois", "").strip()
    found = Photo.objects.filter(on_store=True)
    for word in query.split()[:5]:
        found = found.filter(Q(caption__icontains=word) | Q(credit__icontains=word) | Q(alt_text__icontains=word)
                             | Q(name__icontains=word))
    if month:  # "2026-11"
        parts = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", month, re.ASCII)
        if parts is None:
            return refusal("Mois invalide : écrivez-le AAAA-MM (ex. 2026-11).")
        found = found.filter(uploaded_at__year=int(parts[1]), uploaded_at__month=int(parts[2]))
    return JsonResponse({"photos": [photo_json(photo) for photo in found[:SEARCH_LIMIT]], "limit": SEARCH_LIMIT})
