from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "articles"
    verbose_name = "Actualités"

    def ready(self):
        from articles import cleanup  # noqa: F401  (connects the signal receivers)
