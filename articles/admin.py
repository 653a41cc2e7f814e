from contextlib import suppress
from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils.html import format_html

from articles import photos
from articles.forms import ArticleAdminForm, checked_photo
from articles.models import Article, PendingUpload
from storage.errors import TransferDeadlineExceeded
from storage.images import ImageRejected


def waiting_message(outcome, had_photo):
    """What the editor reads when the photo could not be sent: what happened, that nothing is
    lost, and what the page shows meanwhile (the previous photo, or the default image)."""
    shown = "la photo précédente reste affichée" if had_photo else "l'image par défaut s'affiche"
    if outcome.host_full:
        return ("L'article est enregistré, mais l'espace de l'hébergement des photos (HostGator) est plein : "
                "la photo est gardée en lieu sûr et sera publiée dès que de la place sera libérée. Prévenez la "
                "personne qui gère l'hébergement : dans cPanel, « Utilisation du disque » montre ce qui occupe "
                f"la place (ou demandez plus d'espace à HostGator). En attendant, {shown}.")
    trouble = ("l'envoi vers l'hébergement des photos (HostGator) est trop lent"
               if isinstance(outcome.error, TransferDeadlineExceeded)
               else "l'hébergement des photos (HostGator) ne répond pas")
    return (f"L'article est enregistré, mais {trouble} : la photo est gardée en lieu sûr et sera publiée "
            f"automatiquement dès qu'il répondra. En attendant, {shown}.")


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    list_display = ["photo_preview", "title", "published", "published_at", "photo_state"]
    list_display_links = ["photo_preview", "title"]
    list_filter = ["published", "published_at"]
    search_fields = ["title", "summary", "body"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "published_at"
    readonly_fields = ["current_photo"]
    fields = ["title", "slug", "summary", "body", "current_photo", "photo", "remove_photo", "image_alt",
              "published", "published_at"]

    def get_queryset(self, request):
        waiting = PendingUpload.objects.filter(article=OuterRef("pk"))
        return super().get_queryset(request).annotate(photo_pending=Exists(waiting))

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # A new article has no photo yet to show or to remove.
        return fields if obj else [name for name in fields if name not in {"current_photo", "remove_photo"}]

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
        return format_html('<img src="{}" alt="" class="photo-preview">',
                           article.thumbnail_url)

    @admin.display(description="État de la photo")
    def photo_state(self, article):
        if getattr(article, "photo_pending", False):
            return format_html('<span class="photo-pending" title="{}">⏳ en attente d\'envoi</span>',
                               "HostGator ne répondait pas ; la photo sera envoyée automatiquement.")
        return "✓" if article.image else "image par défaut"

    @admin.display(description="Photo actuelle")
    def current_photo(self, article):
        if not article.pk:
            return "—"
        waiting = "⏳ Une nouvelle photo attend d'être envoyée à HostGator." if article.pending_uploads.exists() else ""
        return format_html('<img src="{}" alt="" class="current-photo"><p><strong>{}</strong></p>',
                           article.image_url, waiting)

    def save_model(self, request, obj, form, change):
        if change:
            # Only what the form edits: a photo recorded meanwhile (a retry finishing) must not be
            # overwritten by the image fields this form loaded before it.
            obj.save(update_fields=[*self.form.Meta.fields, "updated_at"])
        else:
            obj.save()
        if form.cleaned_data.get("remove_photo"):
            photos.cancel_waiting_photos(obj)  # a removed photo never comes back from the queue
            if obj.image:
                obj.image = ""
                obj.image_width = obj.image_height = None
                obj.save(update_fields=["image", "image_width", "image_height", "updated_at"])
        processed = form.cleaned_data.get("photo")
        if processed:
            # Kept in the database with the article, sent once both are committed: never a file
            # on the network inside the transaction, and a rolled-back save sends nothing.
            parked = photos.park_photo(obj, processed)
            transaction.on_commit(partial(self.send_photo, request, parked, processed.renditions,
                                          had_photo=bool(obj.image)))

    def send_photo(self, request, parked, renditions, had_photo):
        outcome = photos.send_parked_photo(parked, renditions)
        if outcome.state == photos.PENDING:
            messages.warning(request, waiting_message(outcome, had_photo))


@admin.action(permissions=["delete"], description="Supprimer les photos en attente sélectionnées")
def delete_selected_photos(modeladmin, request, queryset):
    return delete_selected(modeladmin, request, queryset)


@admin.register(PendingUpload)
class PendingUploadAdmin(admin.ModelAdmin):
    list_display = ["name", "article", "created_at", "attempts", "last_error"]
    readonly_fields = ["article", "name", "width", "height", "created_at", "attempts", "last_error"]
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
            messages.success(request, f"{len(report.pushed)} photo(s) envoyée(s) à HostGator.")
        if report.failed:
            messages.warning(request, f"{len(report.failed)} photo(s) toujours en attente : HostGator ne répond pas.")
