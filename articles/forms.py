from django import forms
from django.conf import settings

from articles.models import Article
from articles.photos import process_upload
from storage.images import ImageRejected


class ArticleAdminForm(forms.ModelForm):
    """The editor's form. The photo is checked and normalised here, before anything is saved or
    sent: a refused file leaves no row and no byte anywhere, and the editor reads why in French."""

    photo = forms.FileField(
        label="photo",
        required=False,
        help_text="JPEG, PNG, WebP, GIF ou HEIC (iPhone), 15 Mo au plus. La photo est redressée, "
                  "allégée et débarrassée de ses données de localisation avant publication.",
    )
    remove_photo = forms.BooleanField(label="retirer la photo (l'image par défaut s'affichera)", required=False)

    class Meta:
        model = Article
        fields = ["title", "slug", "summary", "body", "image_alt", "published", "published_at"]

    def clean_photo(self):
        upload = self.cleaned_data.get("photo")
        if not upload:
            return None
        if upload.size > settings.PHOTO_MAX_BYTES:
            limit = settings.PHOTO_MAX_BYTES // (1024 * 1024)
            raise forms.ValidationError(f"Cette photo est trop lourde ({upload.size / 1024 / 1024:.1f} Mo) : "
                                        f"{limit} Mo au plus.", code="too_large")
        try:
            return process_upload(upload.read(), upload.name)
        except ImageRejected as rejected:
            raise forms.ValidationError(rejected.message, code=rejected.code) from None

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("photo") and cleaned.get("remove_photo"):
            self.add_error("remove_photo",
                           "Choisissez : envoyer une nouvelle photo ou retirer l'actuelle, pas les deux.")
        return cleaned
