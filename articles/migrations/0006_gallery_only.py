from django.db import migrations, models


class Migration(migrations.Migration):
    """The single photo's fields go, now that 0005 has copied them into Photo rows."""

    dependencies = [
        ("articles", "0005_gallery_from_single_photos"),
    ]

    operations = [
        migrations.RemoveField(model_name="article", name="image"),
        migrations.RemoveField(model_name="article", name="image_width"),
        migrations.RemoveField(model_name="article", name="image_height"),
        migrations.RemoveField(model_name="article", name="image_alt"),
        migrations.RemoveField(model_name="pendingupload", name="article"),
        migrations.AlterField(
            model_name="pendingupload",
            name="photo",
            field=models.OneToOneField(on_delete=models.deletion.CASCADE, related_name="pending_upload",
                                       to="articles.photo"),
        ),
    ]
