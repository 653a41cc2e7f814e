from contextlib import suppress
from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.db import transaction
from django.utils.html import format_html

from articles import (
    photo_admin,  # noqa: F401 -- registers the photo library
    photos,
)
from articles.admin_messages import store_says_nothing, store_short, waiting_message
from articles.forms import ArticleAdminForm, PlacementForm, checked_photo
from articles.models import Article, ArticlePhoto, PendingUpload
from storage.images import ImageRejected


class ArticlePhotoInline(admin.TabularInline):
    """The gallery: one card per photo. Without JavaScript, a table (order by number, remove by
    ticking); static/js/admin_gallery.js turns it into cards with a drop zone, drag to reorder,
    a focal point to click and the library to pick from."""

    model = ArticlePhoto
    form = PlacementForm
    extra = 0
    raw_id_fields = ["photo"]
    fields = ["preview", "photo", "position", "is_cover", "caption", "credit", "alt_text", "decorative",
              "focal_x", "focal_y"]
    readonly_fields = ["preview"]
    verbose_name = "photo de la galerie"
    verbose_name_plural = "galerie de photos"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("photo", "article")

    @admin.display(description="Aperçu")
    def preview(self, placement):
        if not placement.photo_id:
            return "—"
        photo = placement.photo
        if not photo.on_store:  # no file to show yet: an <img> would be a broken image
            return format_html('<span class="photo-waiting">{}</span>', f"⏳ en attente d'envoi vers {store_short()}")
        return format_html('<img src="{}" alt="" class="photo-preview" data-focal-x="{}" data-focal-y="{}">'
                           '<span class="photo-waiting"></span>', photo.thumbnail_url, photo.focal_x, photo.focal_y)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    inlines = [ArticlePhotoInline]
    list_display = ["photo_preview", "title", "published", "published_at", "photo_state"]
    list_display_links = ["photo_preview", "title"]
    list_filter = ["published", "published_at"]
    search_fields = ["title", "summary", "body"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "published_at"
    fieldsets = [
        (None, {"fields": ["title", "slug", "summary", "body", "published", "published_at"]}),
        ("Ajouter une photo", {"fields": ["photo", "photo_caption", "photo_credit", "photo_alt_text",
                                          "photo_decorative"], "classes": ["photo-add"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_gallery()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and "photo" in request.FILES:
            # Django runs this whole view in one transaction: check and normalise the photo (seconds
            # of CPU on Render) before it opens; the form then reads the result (checked_photo).
            with suppress(ImageRejected):
                checked_photo(request.FILES["photo"])
        # Django's French says "Ajout de article"; elided, as an editor would write it.
        title = "Ajout d'un article" if object_id is None else "Modification de l'article"
        return super().changeform_view(request, object_id, form_url, {"title": title, **(extra_context or {})})

    @admin.display(description="Photo")
    def photo_preview(self, article):
        return format_html('<img src="{}" alt="" class="photo-preview">', article.thumbnail_url)

    @admin.display(description="Photos")
    def photo_state(self, article):
        count = len(article.gallery)
        shown = f"{count} photo{'s' if count > 1 else ''}" if count else "image par défaut"
        # From the gallery's prefetch: a photo not on the store yet is one whose bytes wait.
        if any(not placement.photo.on_store for placement in article.placements.all()):
            return format_html('{} · <span class="photo-pending" title="{}">⏳ en attente d\'envoi</span>', shown,
                               f"{store_says_nothing()} ; les photos seront envoyées automatiquement.")
        return shown

    def save_model(self, request, obj, form, change):
        obj.save()
        processed = form.cleaned_data.get("photo")
        if processed:
            # Kept in the database with the article, sent once both are committed: never a file
            # on the network inside the transaction, and a rolled-back save sends nothing.
            photo, row = photos.park_photo(processed, obj.slug, request.user, **form.new_photo_details())
            photos.place_photo(obj, photo)
            if row is not None:
                transaction.on_commit(partial(self.send_photo, request, row, processed.renditions, str(photo)))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        article = form.instance
        chosen = [placement_form.instance.photo_id for formset in formsets for placement_form in formset.forms
                  if placement_form.cleaned_data.get("is_cover") and not placement_form.cleaned_data.get("DELETE")]
        cover = chosen[0] if chosen else None
        if cover is not None and not article.placements.filter(photo_id=cover).exists():
            cover = None
        if article.cover_id != cover:
            Article.objects.filter(pk=article.pk).update(cover=cover)
            article.cover_id = cover

    def send_photo(self, request, parked, renditions, photo_label):
        outcome = photos.send_parked_photo(parked, renditions)
        if outcome.state == photos.PENDING:
            messages.warning(request, waiting_message(outcome, photo_label))


@admin.action(permissions=["delete"], description="Supprimer les photos en attente sélectionnées")
def delete_selected_photos(modeladmin, request, queryset):
    return delete_selected(modeladmin, request, queryset)


@admin.register(PendingUpload)
class PendingUploadAdmin(admin.ModelAdmin):
    list_display = ["name", "photo", "created_at", "attempts", "last_error"]
    readonly_fields = ["photo", "name", "width", "height", "created_at", "attempts", "last_error"]
    exclude = ["data"]
    actions = ["retry_now", delete_selected_photos]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "sélectionnés": replaced by the feminine above
        return actions

    def has_add_permission(self, request):
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url,
                                       {"title": "Photo en attente d'envoi", **(extra_context or {})})

    @admin.action(description="Réessayer maintenant l'envoi de toutes les photos en attente")
    def retry_now(self, request, queryset):
        report = photos.retry_pending_uploads()
        if report.pushed:
            messages.success(request, f"{len(report.pushed)} photo(s) envoyée(s) vers {store_short()}.")
        if report.failed:
            messages.warning(request, f"{len(report.failed)} photo(s) toujours en attente : {store_says_nothing()}.")
