from django.contrib import admin
from django.urls import include, path

from articles import views

admin.site.site_header = "CMTCH — administration du site"
admin.site.site_title = "CMTCH"
admin.site.index_title = "Gestion des actualités"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("", include("articles.urls")),
]
