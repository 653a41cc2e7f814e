from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "storage"
    verbose_name = "Stockage des photos"

    def ready(self):
        from storage import checks  # noqa: F401  (registers the deploy checks)
