from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from storage.names import rendition_name


class PublishedQuerySet(models.QuerySet):
    def published(self):
        return self.filter(published=True, published_at__lte=timezone.now())


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
    # The name on HostGator (e.g. "2026/11/match-ab12cd34ef.jpg"); legacy rows may hold a full URL,
    # hence the generous length. Width and height are stored by the photo pipeline rather than
    # through ImageField's width_field, which would read the file back over FTP.
    image = models.ImageField("photo", max_length=500, blank=True)
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_alt = models.CharField(
        "texte alternatif de la photo",
        max_length=250,
        blank=True,
        help_text="Décrit la photo pour les lecteurs malvoyants (ex. « L'équipe U15 après la victoire »).",
    )
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

    @property
    def image_url(self):
        """The photo's public URL, or the default image's; pure string building, no network."""
        if self.image:
            return self.image.url
        return default_storage.url(settings.DEFAULT_IMAGE_NAME)

    @property
    def image_renditions(self):
        """{width: url} of the smaller copies made at upload; none for the default image or a
        legacy row whose size is unknown. Names are derived from the photo's name: no network."""
        if not self.image or not self.image_width:
            return {}
        return {
            width: default_storage.url(rendition_name(self.image.name, width))
            for width in settings.PHOTO_RENDITION_WIDTHS
            if width < self.image_width
        }

    @property
    def image_srcset(self):
        if not self.image_renditions:
            return ""
        candidates = [*self.image_renditions.items(), (self.image_width, self.image_url)]
        return ", ".join(f"{url} {width}w" for width, url in candidates)

    @property
    def thumbnail_url(self):
        """The smallest copy, for lists and previews."""
        renditions = self.image_renditions
        return renditions[min(renditions)] if renditions else self.image_url


class PendingUpload(models.Model):
    """A normalised photo that HostGator could not take when the article was saved.

    Its bytes wait here, in the database (Render's disk does not survive a deploy), until
    ``retry_pending_uploads`` pushes them and attaches the name to the article. Renditions are made
    again from these bytes, so only the original is kept.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="pending_uploads")
    name = models.CharField("nom sur HostGator", max_length=500)
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
        return f"{self.name} ({self.article})"
