"""What the editor reads when a photo could not be sent (admin form and upload view alike)."""

from storage.errors import TransferDeadlineExceeded


def waiting_message(outcome, photo_label, saved=True):
    """What happened, that nothing is lost, and what the page shows meanwhile (the article's other
    photos, or the default image). ``saved``: said after an article's save."""
    start = "L'article est enregistré, mais " if saved else ""
    if outcome.host_full:
        trouble = "l'espace de l'hébergement des photos (HostGator) est plein"
        when = ("dès que de la place sera libérée. Prévenez la personne qui gère l'hébergement : dans cPanel, "
                "« Utilisation du disque » montre ce qui occupe la place (ou demandez plus d'espace à HostGator)")
    else:
        trouble = ("l'envoi vers l'hébergement des photos (HostGator) est trop lent"
                   if isinstance(outcome.error, TransferDeadlineExceeded)
                   else "l'hébergement des photos (HostGator) ne répond pas")
        when = "automatiquement dès qu'il répondra"
    sentence = f"{start}{trouble} : la photo « {photo_label} » est gardée en lieu sûr et sera publiée {when}."
    return f"{sentence[0].upper()}{sentence[1:]} En attendant, elle n'apparaît pas sur la page."
