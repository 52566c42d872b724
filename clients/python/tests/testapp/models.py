from django.db import models


class Course(models.Model):
    course_key = models.CharField(max_length=255, unique=True)
    org = models.CharField(max_length=255)
    title = models.CharField(max_length=255)

    class Meta:
        app_label = "testapp"


class Program(models.Model):
    """A program's key does not name its org: an `org:` answer matches it by `org`."""

    program_key = models.CharField(max_length=255, unique=True)
    org = models.CharField(max_length=255)

    class Meta:
        app_label = "testapp"
