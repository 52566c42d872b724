from django.db import models


class Course(models.Model):
    course_key = models.CharField(max_length=255, unique=True)
    org = models.CharField(max_length=255)
    title = models.CharField(max_length=255)

    class Meta:
        app_label = "testapp"
