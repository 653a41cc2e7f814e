from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.utils.html import format_html

from articles import photos
from articles.forms import ArticleAdminForm
from articles.models import Article, PendingUpload

PENDING_MESSAGE = ("L'article est enregistré, mais l'hébergement des photos (HostGator) ne répond pas : "
                   "la photo est gardée en lieu sûr et sera publiée automatiquement dès qu'il répondra. "
                   "En attendant, l'image par défaut s'affiche.")


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

    @admin.display(description="photo")
    def photo_preview(self, article):
        return format_html('<img src="{}" alt="" class="photo-preview">',
                           article.thumbnail_url)

    @admin.display(description="état de la photo")
    def photo_state(self, article):
        if getattr(article, "photo_pending", False):
            return format_html('<span class="photo-pending" title="{}">⏳ en attente d\'envoi</span>',
                               "HostGator ne répondait pas ; la photo sera envoyée automatiquement.")
        return "✓" if article.image else "image par défaut"

    @admin.display(description="photo actuelle")
    def current_photo(self, article):
        if not article.pk:
            return "—"
        waiting = "⏳ Une nouvelle photo attend d'être envoyée à HostGator." if article.pending_uploads.exists() else ""
        return format_html('<img src="{}" alt="" class="current-photo"><p><strong>{}</strong></p>',
                           article.image_url, waiting)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("remove_photo") and obj.image:
            obj.image = ""
            obj.image_width = obj.image_height = None
            obj.save(update_fields=["image", "image_width", "image_height", "updated_at"])
        processed = form.cleaned_data.get("photo")
        if processed and photos.attach_photo(obj, processed) == photos.PENDING:
            messages.warning(request, PENDING_MESSAGE)


@admin.register(PendingUpload)
class PendingUploadAdmin(admin.ModelAdmin):
    list_display = ["name", "article", "created_at", "attempts", "last_error"]
    readonly_fields = ["article", "name", "width", "height", "created_at", "attempts", "last_error"]
    exclude = ["data"]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Réessayer maintenant l'envoi de toutes les photos en attente")
    def retry_now(self, request, queryset):
        report = photos.retry_pending_uploads()
        if report.pushed:
            messages.success(request, f"{len(report.pushed)} photo(s) envoyée(s) à HostGator.")
        if report.failed:
            messages.warning(request, f"{len(report.failed)} photo(s) toujours en attente : HostGator ne répond pas.")
