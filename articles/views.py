from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.generic import DetailView, ListView

from articles.models import Article


class ArticleListView(ListView):
    template_name = "articles/article_list.html"
    context_object_name = "articles"
    paginate_by = 12

    def get_queryset(self):
        # The body is not shown on cards; the gallery prefetch gives every card its cover in one
        # more query for the whole page (DESIGN: at most 4 queries for the list).
        return Article.objects.published().with_gallery().defer("body")


class ArticleDetailView(DetailView):
    template_name = "articles/article_detail.html"
    context_object_name = "article"

    def get_queryset(self):
        return Article.objects.published().with_gallery()


@never_cache
def healthz(request):
    """Render's health check: the web process and its database answer. Never touches FTP, so a
    HostGator outage does not make Render restart a healthy site."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means "not healthy"
        return JsonResponse({"status": "error", "database": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok"})
