"""What the editor reads when a photo could not be sent (admin form and upload view alike)."""

from django.core.files.storage import default_storage

from storage.errors import TransferDeadlineExceeded


def waiting_message(outcome, photo_label, saved=True):
    """What happened, that nothing is lost, and what the page shows meanwhile (the article's other
    photos, or the default image). ``saved``: said after an article's save."""
    start = "L'article est enregistré, mais " if saved else ""
    store = default_storage
    if outcome.host_full:
        trouble = f"l'espace de {store.place} est plein"
        when = f"dès que de la place sera libérée. Prévenez la personne qui gère {store.place} : {store.when_full}"
    else:
        trouble = (f"l'envoi vers {store.place} est trop lent" if isinstance(outcome.error, TransferDeadlineExceeded)
                   else f"{store.place} ne répond pas")
        when = "automatiquement dès qu'il répondra"
    sentence = f"{start}{trouble} : la photo « {photo_label} » est gardée en lieu sûr et sera publiée {when}."
    return f"{sentence[0].upper()}{sentence[1:]} En attendant, elle n'apparaît pas sur la page."


def store_short():
    """« HostGator », « le stockage S3 »: the store editors' photos go to, as a sentence names it."""
    return default_storage.short


def store_says_nothing():
    """« HostGator ne répond pas », « Le stockage S3 ne répond pas »."""
    short = default_storage.short
    return f"{short[0].upper()}{short[1:]} ne répond pas"
