import posixpath

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import slugify

from storage.names import rendition_name
from storage.renditions import MEDIA_TYPES, MODERN_FORMATS

THUMBNAIL_WIDTH = 400  # list cards and admin previews


def extension_of(name):
    """'2026/11/match-ab12.jpg' -> 'jpg'."""
    return posixpath.splitext(name)[1][1:].lower()


class PublishedQuerySet(models.QuerySet):
    def published(self):
        return self.filter(published=True, published_at__lte=timezone.now())

    def with_gallery(self):
        """Each article's photos in two queries for the whole page (see Article.gallery)."""
        return self.prefetch_related(
            models.Prefetch("placements", queryset=ArticlePhoto.objects.select_related("photo")))


class Article(models.Model):
    title = models.CharField("titre", max_length=200)
    slug = models.SlugField(
        "adresse (slug)",
        max_length=220,
        unique=True,
        blank=True,
        help_text="Partie de l'adresse de la page ; laissée vide, elle est faite à partir du titre.",
    )
    summary = models.TextField("résumé", blank=True)
    body = models.TextField("texte", blank=True)
    photos = models.ManyToManyField("Photo", through="ArticlePhoto", related_name="articles", blank=True)
    # The editor's choice; none (or a photo no longer in the gallery): the first photo is the cover.
    cover = models.ForeignKey("Photo", verbose_name="photo de couverture", null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    published = models.BooleanField("publié", default=False)
    published_at = models.DateTimeField("date de publication", default=timezone.now)
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    objects = PublishedQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = "article"
        verbose_name_plural = "articles"
        indexes = [models.Index(fields=["published", "-published_at"])]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = self._unique_slug()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("articles:detail", kwargs={"slug": self.slug})

    def _unique_slug(self):
        base = slugify(self.title)[:200] or "article"
        slug, counter = base, 2
        while Article.objects.filter(slug=slug).exclude(pk=self.pk).exists():
            slug, counter = f"{base}-{counter}", counter + 1
        return slug

    @cached_property
    def gallery(self):
        """The photos readers see, in the editor's order: those already on the store (a photo
        still waiting for the store is left out until it is there). Uses a prefetch when the view
        made one (``with_gallery``): no query per article on the list."""
        if self.pk is None:
            return []  # an article not saved yet has no gallery
        return [placement.photo for placement in self.placements.all() if placement.photo.on_store]

    @property
    def cover_photo(self):
        for photo in self.gallery:
            if photo.pk == self.cover_id:
                return photo
        return self.gallery[0] if self.gallery else None

    @property
    def image_url(self):
        """The cover's public URL, or the default image's; pure string building, no network."""
        cover = self.cover_photo
        return cover.url if cover else default_storage.url(settings.DEFAULT_IMAGE_NAME)

    @property
    def thumbnail_url(self):
        cover = self.cover_photo
        return cover.thumbnail_url if cover else self.image_url


class Photo(models.Model):
    """One file on the photo store, with what readers need to know about it. The same bytes
    uploaded twice are one photo (``content_hash``); an article shows photos through ArticlePhoto."""

    # The name on the store (e.g. "2026/11/match-ab12cd34ef.jpg"); a legacy photo may hold a full
    # URL, hence the length. Width and height come from the photo pipeline, never from reading the
    # file back over FTP; a legacy photo's may be unknown.
    name = models.CharField("nom sur l'hébergement", max_length=500, unique=True)
    width = models.PositiveIntegerField("largeur", null=True, blank=True, editable=False)
    height = models.PositiveIntegerField("hauteur", null=True, blank=True, editable=False)
    content_hash = models.CharField("empreinte", max_length=10, blank=True, editable=False)
    # False while the file waits for the store (a PendingUpload): pages leave it out until then.
    on_store = models.BooleanField("sur l'hébergement", default=True, editable=False)
    caption = models.CharField("légende", max_length=300, blank=True)
    credit = models.CharField("crédit", max_length=150, blank=True,
                              help_text="Qui a pris la photo (ex. « Photo : Leïla B. »).")
    alt_text = models.CharField(
        "texte alternatif", max_length=250, blank=True,
        help_text="Décrit la photo pour les lecteurs malvoyants (ex. « L'équipe U15 après la victoire »).")
    decorative = models.BooleanField("décorative", default=False,
                                     help_text="Rien à décrire : les lecteurs d'écran l'ignorent.")
    focal_x = models.FloatField("point d'intérêt (horizontal)", default=0.5,
                                validators=[MinValueValidator(0), MaxValueValidator(1)])
    focal_y = models.FloatField("point d'intérêt (vertical)", default=0.5,
                                validators=[MinValueValidator(0), MaxValueValidator(1)])
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="envoyée par", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+", editable=False)
    uploaded_at = models.DateTimeField("envoyée le", default=timezone.now, editable=False)
    # {extension: [widths]} of the files on the store, the full size included ({"jpg": [480, 1024,
    # 2016], "avif": [...]}): pages list only these. Written after each upload of the photo's files.
    files = models.JSONField("fichiers", default=dict, blank=True, editable=False)
    # Shown under the photo while it loads (storage/renditions.py): its average colour and a tiny
    # preview. Empty for a photo with transparency or one made before placeholders.
    colour = models.CharField("couleur", max_length=7, blank=True, editable=False)
    placeholder = models.TextField("aperçu", blank=True, editable=False)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = "photo"
        verbose_name_plural = "photos"
        constraints = [models.UniqueConstraint(fields=["content_hash"], condition=~models.Q(content_hash=""),
                                               name="one_photo_per_content")]

    def __str__(self):
        return self.caption or self.name.rsplit("/", 1)[-1]

    @property
    def url(self):
        return default_storage.url(self.name)

    @property
    def extension(self):
        return extension_of(self.name)

    def file_name(self, extension, width):
        """The name on the store of the photo in ``extension`` at ``width`` (its own width: the full size)."""
        if width == self.width:
            return self.name if extension == self.extension else rendition_name(self.name, extension=extension)
        return rendition_name(self.name, width, extension)

    def file_url(self, extension, width):
        return default_storage.url(self.file_name(extension, width))

    def srcset_of(self, extension):
        """'<url> 480w, <url> 1024w, ...' of the files that exist in ``extension`` (``files``), or ""."""
        widths = sorted(self.files.get(extension, ())) if self.width and "://" not in self.name else []
        return ", ".join(f"{self.file_url(extension, width)} {width}w" for width in widths)

    @property
    def srcset(self):
        """In the photo's own format (JPEG or PNG): what every browser reads."""
        return self.srcset_of(self.extension) if len(self.files.get(self.extension, ())) > 1 else ""

    @property
    def sources(self):
        """[(media type, srcset)] of the modern formats that exist on the store, best first."""
        return [(MEDIA_TYPES[extension], srcset) for extension in MODERN_FORMATS
                if (srcset := self.srcset_of(extension))]

    @property
    def renditions(self):
        """{width: url} of the narrower copies in the photo's own format that exist on the store."""
        if not self.width or "://" in self.name:
            return {}
        return {width: self.file_url(self.extension, width)
                for width in sorted(self.files.get(self.extension, ())) if width < self.width}

    @property
    def thumbnail_url(self):
        """A small copy (the narrowest at least THUMBNAIL_WIDTH wide), for lists and previews."""
        renditions = self.renditions
        wide_enough = [width for width in renditions if width >= THUMBNAIL_WIDTH]
        if wide_enough or renditions:
            return renditions[min(wide_enough) if wide_enough else max(renditions)]
        return self.url

    @property
    def alt(self):
        """What the ``alt`` attribute says: nothing for a decorative photo."""
        return "" if self.decorative else self.alt_text

    @property
    def focal_classes(self):
        """CSS classes that crop around the focal point (object-position in steps of 5 %, see
        site.css): a class, not a style attribute, which the Content-Security-Policy forbids."""
        return f"fx-{round(self.focal_x * 20) * 5} fy-{round(self.focal_y * 20) * 5}"


class ArticlePhoto(models.Model):
    """A photo's place in an article's gallery."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="placements")
    photo = models.ForeignKey(Photo, on_delete=models.PROTECT, related_name="placements", verbose_name="photo")
    position = models.PositiveIntegerField("ordre", default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "photo de l'article"
        verbose_name_plural = "photos de l'article"
        constraints = [models.UniqueConstraint(fields=["article", "photo"], name="a_photo_once_per_article")]

    def __str__(self):
        return f"{self.article} — {self.photo}"


class PendingUpload(models.Model):
    """A normalised photo on its way to the photo store, or that the store could not take.

    Its bytes wait here, in the database (Render's disk does not survive a deploy), until they are
    pushed (right after the save, or by ``retry_pending_uploads``); then the photo is marked on the
    store and shows on its articles' pages. Renditions are made again from these bytes, so only the
    original is kept. Deleting the photo deletes this row: it never comes back from the queue.
    """

    photo = models.OneToOneField(Photo, on_delete=models.CASCADE, related_name="pending_upload")
    name = models.CharField("nom sur le stockage des photos", max_length=500)
    data = models.BinaryField("photo normalisée")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    attempts = models.PositiveIntegerField("tentatives", default=0)
    last_error = models.TextField("dernière erreur", blank=True)
    created_at = models.DateTimeField("en attente depuis", auto_now_add=True)
    # Set while a retry run pushes this photo (no row lock is held during the upload); a run that
    # died mid-push leaves it to the next run once this time has passed.
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "photo en attente"
        verbose_name_plural = "photos en attente"

    def __str__(self):
        return self.name
