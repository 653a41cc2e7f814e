from django import forms
from django.conf import settings

from articles.models import Article, ArticlePhoto, Photo
from articles.photo_processing import process_upload
from storage.images import ImageRejected, too_heavy

ALT_REQUIRED = ("Décrivez la photo pour les lecteurs malvoyants (texte alternatif), "
                "ou cochez « décorative » si elle n'apporte rien au texte.")
PHOTO_FIELDS = ["caption", "credit", "alt_text", "decorative", "focal_x", "focal_y"]
PHOTO_GONE = "Cette photo a été retirée de la photothèque entre-temps : déposez-la à nouveau."


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


def clean_alt(form, cleaned, field="alt_text", decorative="decorative"):
    if not cleaned.get(decorative) and not (cleaned.get(field) or "").strip():
        form.add_error(field, ALT_REQUIRED)


class ArticleAdminForm(forms.ModelForm):
    """The editor's form. Without JavaScript it adds one photo per save (``photo`` and its fields);
    the gallery's drop zone sends each file to the upload view instead. A photo is checked and
    normalised before anything is saved or sent: a refused file leaves no row and no byte anywhere,
    and the editor reads why in French."""

    photo = forms.FileField(
        label="Ajouter une photo",
        required=False,
        help_text="JPEG, PNG, WebP, GIF ou HEIC (iPhone), 15 Mo au plus. La photo est redressée, "
                  "allégée et débarrassée de ses données de localisation avant publication.",
    )
    photo_caption = forms.CharField(label="Légende de la nouvelle photo", max_length=300, required=False)
    photo_credit = forms.CharField(label="Crédit de la nouvelle photo", max_length=150, required=False)
    photo_alt_text = forms.CharField(label="Texte alternatif de la nouvelle photo", max_length=250, required=False)
    photo_decorative = forms.BooleanField(label="Nouvelle photo décorative", required=False)

    class Meta:
        model = Article
        fields = ["title", "slug", "summary", "body", "published", "published_at"]

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
        if cleaned.get("photo"):
            clean_alt(self, cleaned, "photo_alt_text", "photo_decorative")
        return cleaned

    def new_photo_details(self):
        return {name: self.cleaned_data.get(f"photo_{name}") for name in ["caption", "credit", "alt_text",
                                                                          "decorative"]}


class PlacementForm(forms.ModelForm):
    """A photo's card in the article's gallery: its place, and the photo's own fields (caption,
    credit, alt text, focal point), which every article showing the photo shares."""

    # show_hidden_initial: what this editor was shown travels with the form, so that only what
    # they changed is written -- another editor may have described the same photo meanwhile.
    caption = forms.CharField(label="Légende", max_length=300, required=False, show_hidden_initial=True)
    credit = forms.CharField(label="Crédit", max_length=150, required=False, show_hidden_initial=True)
    alt_text = forms.CharField(label="Texte alternatif", max_length=250, required=False, show_hidden_initial=True)
    decorative = forms.BooleanField(label="Décorative", required=False, show_hidden_initial=True)
    focal_x = forms.FloatField(label="Point d'intérêt x", min_value=0, max_value=1, initial=0.5,
                               show_hidden_initial=True)
    focal_y = forms.FloatField(label="Point d'intérêt y", min_value=0, max_value=1, initial=0.5,
                               show_hidden_initial=True)
    is_cover = forms.BooleanField(label="Couverture", required=False)

    class Meta:
        model = ArticlePhoto
        fields = ["photo", "position"]
        error_messages = {"photo": {"invalid_choice": PHOTO_GONE}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        photo = self.instance.photo if self.instance.photo_id else None
        if not self.instance.pk:  # a new card: what its editor saw came from the upload or the library
            for name in PHOTO_FIELDS:
                self.fields[name].show_hidden_initial = False
        if photo is not None:
            for name in PHOTO_FIELDS:
                self.initial.setdefault(name, getattr(photo, name))
            self.initial.setdefault("is_cover", self.instance.article.cover_id == photo.pk)

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        # Locked until the article's transaction commits (Django's admin runs the view in one): a
        # clean-up forgetting this photo, taken out of another article meanwhile, waits for the
        # save and then sees it placed here -- or it went first, and the editor is told.
        if photo is not None and not Photo.objects.select_for_update().filter(pk=photo.pk).exists():
            raise forms.ValidationError(PHOTO_GONE, code="invalid_choice")
        return photo

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("photo") and not cleaned.get("DELETE"):
            clean_alt(self, cleaned)
        return cleaned

    def save(self, commit=True):
        placement = super().save(commit=commit)
        photo = placement.photo
        if self.fields["caption"].show_hidden_initial:  # a card the page showed: only what was changed
            changed = [name for name in PHOTO_FIELDS if name in self.changed_data]
        else:
            changed = [name for name in PHOTO_FIELDS if getattr(photo, name) != self.cleaned_data[name]]
        for name in changed:
            setattr(photo, name, self.cleaned_data[name])
        if changed:
            photo.save(update_fields=changed)
        return placement
