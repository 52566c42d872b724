from django.urls import path

from . import views

urlpatterns = [
    path("api/courses/", views.CourseList.as_view()),
    path("api/courses/<int:pk>/", views.CourseEdit.as_view()),
    path("api/outline/<str:course_key>/", views.CourseOutline.as_view()),
    path("courses/<str:course_key>/", views.course_page),
]
