from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.generic import DetailView, ListView

from articles.models import Article

ABOVE_THE_FOLD = 3


class ArticleListView(ListView):
    template_name = "articles/article_list.html"
    context_object_name = "articles"
    paginate_by = 12

    def get_queryset(self):
        # The body is not shown on cards; the gallery prefetch gives every card its cover in one
        # more query for the whole page (DESIGN: at most 4 queries for the list).
        return Article.objects.published().with_gallery().defer("body")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["placeholder_photos"] = with_placeholder(article.cover_photo for article in context["articles"])
        for position, article in enumerate(context["articles"]):
            # The first row of cards on a desktop: loaded at once (one of them is the page's largest
            # paint); the rest when scrolled to.
            article.above_the_fold = position < ABOVE_THE_FOLD
        return context


class ArticleDetailView(DetailView):
    template_name = "articles/article_detail.html"
    context_object_name = "article"

    def get_queryset(self):
        return Article.objects.published().with_gallery()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["placeholder_photos"] = with_placeholder(context["article"].gallery)
        return context


def with_placeholder(photos):
    """The page's photos that have a placeholder, once each: base.html gives each a CSS rule."""
    return list({photo.pk: photo for photo in photos if photo is not None and photo.colour}.values())


@never_cache
def healthz(request):
    """Render's health check: the web process and its database answer. Never touches the photo store, so a
    store outage does not make Render restart a healthy site."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means "not healthy"
        return JsonResponse({"status": "error", "database": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok"})
