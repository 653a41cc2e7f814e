from django import forms
from django.conf import settings

from articles.models import Article
from articles.photo_processing import process_upload
from storage.images import ImageRejected, too_heavy


def checked_photo(upload):
    """The upload checked and normalised (a storage.images.ProcessedPhoto), or ImageRejected.

    Computed once per upload and kept on it: the admin calls this before Django opens the view's
    transaction (decoding takes seconds on Render's 0.1 CPU, and no transaction may wait on it),
    then the form's clean reads the same result."""
    result = getattr(upload, "checked_photo", None)
    if result is None:
        try:
            if upload.size > settings.PHOTO_MAX_BYTES:  # before reading a file that large into memory
                raise too_heavy(upload.size, settings.PHOTO_MAX_BYTES)
            result = process_upload(upload.read(), upload.name)
        except ImageRejected as rejected:
            result = rejected
        upload.checked_photo = result
    if isinstance(result, ImageRejected):
        raise result
    return result


class ArticleAdminForm(forms.ModelForm):
    """The editor's form. The photo is checked and normalised here, before anything is saved or
    sent: a refused file leaves no row and no byte anywhere, and the editor reads why in French."""

    photo = forms.FileField(
        label="Photo",
        required=False,
        help_text="JPEG, PNG, WebP, GIF ou HEIC (iPhone), 15 Mo au plus. La photo est redressée, "
                  "allégée et débarrassée de ses données de localisation avant publication.",
    )
    remove_photo = forms.BooleanField(label="Retirer la photo (l'image par défaut s'affichera)", required=False)

    class Meta:
        model = Article
        fields = ["title", "slug", "summary", "body", "image_alt", "published", "published_at"]

    def clean_photo(self):
        upload = self.cleaned_data.get("photo")
        if not upload:
            return None
        try:
            return checked_photo(upload)
        except ImageRejected as rejected:
            raise forms.ValidationError(rejected.message, code=rejected.code) from None

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("photo") and cleaned.get("remove_photo"):
            self.add_error("remove_photo",
                           "Choisissez : envoyer une nouvelle photo ou retirer l'actuelle, pas les deux.")
        return cleaned
