from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from provost_client.django import filter_queryset_by_scopes, provost_for, provost_required
from provost_client.drf import ProvostPermission

from .models import Course


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "course_key", "org", "title"]


class CourseOutline(APIView):
    """View-level: the scope comes from the URL."""

    permission_classes = [
        ProvostPermission.for_action(
            "courses.view_course", scope=lambda request, view: view.kwargs["course_key"]
        )
    ]

    def get(self, request: Request, course_key: str) -> Response:
        return Response({"course_key": course_key})


class CourseEdit(generics.RetrieveUpdateAPIView):
    """Object-level: the scope comes from the row."""

    queryset = Course.objects.all()
    serializer_class = CourseSerializer
    permission_classes = [
        IsAuthenticated,
        ProvostPermission.for_action(
            "courses.edit_course_content", object_scope=lambda request, view, obj: obj.course_key
        ),
    ]


class CourseList(generics.ListAPIView):
    """Only the courses the caller may view: one lookup, one query."""

    serializer_class = CourseSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> Any:
        return filter_queryset_by_scopes(
            Course.objects.order_by("course_key"),
            self.request.user,
            "courses.view_course",
            field="course_key",
            scope_type="course",
            request=self.request,
        )


@provost_required("courses.view_course", scope=lambda request, course_key: course_key)
def course_page(request: HttpRequest, course_key: str) -> HttpResponse:
    # Asking again in the view costs nothing: the decorator's answer is in the request's cache.
    again = provost_for(request).allowed(request.user, "courses.view_course", course_key)
    return JsonResponse({"course_key": course_key, "asked_again": again})
