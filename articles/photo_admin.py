"""The photo library in the admin: every photo with its caption, credit and alt text, searchable,
and the gallery's endpoints (photo_upload.py) under /admin/articles/photo/."""

from django.contrib import admin
from django.urls import path
from django.utils.html import format_html

from articles import photo_upload
from articles.models import Photo


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = ["preview", "__str__", "credit", "uploaded_at", "uploaded_by", "on_store"]
    list_filter = ["on_store", "decorative"]
    search_fields = ["caption", "credit", "alt_text", "name"]
    date_hierarchy = "uploaded_at"
    fields = ["preview", "caption", "credit", "alt_text", "decorative", "focal_x", "focal_y", "name", "width",
              "height", "uploaded_by", "uploaded_at", "on_store"]
    readonly_fields = ["preview", "name", "width", "height", "uploaded_by", "uploaded_at", "on_store"]

    def has_add_permission(self, request):
        return False  # photos come in through an article's gallery

    def get_urls(self):
        def staff_only(view):
            def checked(request, *args, **kwargs):
                # An editor who may write articles may fill their galleries.
                if not any(request.user.has_perm(f"articles.{verb}_article") for verb in ("add", "change")):
                    return photo_upload.refusal("Vous n'avez pas le droit de gérer les photos.", status=403)
                return view(request, *args, **kwargs)
            return self.admin_site.admin_view(checked)

        return [
            path("envoi/", staff_only(photo_upload.upload), name="articles_photo_upload"),
            path("recherche/", staff_only(photo_upload.search), name="articles_photo_search"),
            *super().get_urls(),
        ]

    @admin.display(description="Aperçu")
    def preview(self, photo):
        return format_html('<img src="{}" alt="" class="photo-preview">', photo.thumbnail_url)
