"""The REST API for machine clients. Views parse and answer; curation.services do the writes.

Every project is reached through `project_for_member` (the `HasProjectRole` permission), so a
non-member gets 404 and a member below the needed role 403, whatever the endpoint (AUTHZ-1/2).
Query parameters are checked against each view's allowlist before anything reads them (QRY-1).
"""

from django.contrib.auth import get_user_model
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import (
    APIException,
    NotFound,
    ParseError,
    PermissionDenied,
    ValidationError,
)
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response

from curation import serializers as s
from curation.access import project_for_member, projects_for
from curation.exporting import export_start
from curation.forms import declared_too_big, import_limit, limit_uploads, too_big_message
from curation.importing.files import ImportBusy, import_start
from curation.models import ROLE_RANK, Item, JobRun, Membership, Role
from curation.permissions import CanCreateProjectsOnPost, HasProjectRole
from curation.selectors import project_members, projects_with_progress
from curation.services import (
    items_create,
    membership_add,
    membership_change_role,
    membership_remove,
    project_create,
    project_update,
    user_create,
)
from curation.storage import StorageQuotaExceeded, declared_upload_size, project_quota
from curation.views import DOWNLOAD_TYPES, export_file_response

User = get_user_model()

MAX_ITEMS_PER_REQUEST = 10_000
ERRORS = {400: s.ErrorSerializer, 403: s.ErrorSerializer, 404: s.ErrorSerializer}


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, with over-deep nesting ("[[[[…") a 400 instead of a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("The JSON is nested too deeply.") from None


class ApiPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class ConcordApi(GenericAPIView):
    """Shared behaviour: JSON only, page-number pagination, an allowlist of query parameters.

    `query_serializer_class` declares the parameters a view reads; list views also accept the
    pagination parameters on GET. Anything else is a 400 naming the parameter. The check runs
    after authentication and permissions, so an outsider still sees only 404.
    """

    parser_classes = [JSONBodyParser]
    pagination_class = ApiPagination
    metadata_class = None  # OPTIONS answers 405: the OpenAPI schema is the description
    query_serializer_class = None
    is_list = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.query = self._validated_query(request)

    def _validated_query(self, request) -> dict:
        reads = request.method in ("GET", "HEAD")
        query_class = self.query_serializer_class if reads else None
        allowed = set(query_class().fields) if query_class else set()
        paging = {"page", "page_size"} if reads and self.is_list else set()
        errors = {}
        for key in request.query_params:
            if key not in allowed | paging:
                names = ", ".join(sorted(allowed | paging)) or "none"
                errors[key] = [f"Unknown query parameter; this endpoint accepts: {names}."]
            elif len(request.query_params.getlist(key)) > 1:
                errors[key] = ["Give this parameter once."]
        if errors:
            raise ValidationError(errors)
        if query_class is None:
            return {}
        params = {k: v for k, v in request.query_params.items() if k not in paging}
        return self.validated(query_class, params)

    @staticmethod
    def validated(serializer_class, data, **kwargs):
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def paginated(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


def _project_read(*, user, slug: str):
    """The project as the list shows it (role and counts), re-read through the caller's scope."""
    return projects_with_progress(projects_for(user=user)).get(slug=slug)


# --- projects ---------------------------------------------------------------------------------


class ProjectListCreateApi(ConcordApi):
    """List: the projects you are a member of. Create: needs the `curation.add_project` right."""

    permission_classes = [IsAuthenticated, CanCreateProjectsOnPost]
    serializer_class = s.ProjectSerializer
    is_list = True

    def get_queryset(self):
        return projects_with_progress(projects_for(user=self.request.user)).order_by("name", "id")

    @extend_schema(summary="Projects you are a member of", responses=s.ProjectSerializer(many=True))
    def get(self, request):
        return self.paginated(self.get_queryset(), s.ProjectSerializer)

    @extend_schema(
        summary="Create a project (you become its lead)",
        request=s.ProjectCreateSerializer,
        responses={201: s.ProjectSerializer, **ERRORS},
    )
    def post(self, request):
        data = self.validated(s.ProjectCreateSerializer, request.data)
        project = project_create(user=request.user, **data)
        body = s.ProjectSerializer(_project_read(user=request.user, slug=project.slug)).data
        return Response(body, status=status.HTTP_201_CREATED)


class ProjectDetailApi(ConcordApi):
    """Read: any member. Update: lead. Non-members get 404."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.ANNOTATOR, "PATCH": Role.LEAD}
    serializer_class = s.ProjectSerializer

    @extend_schema(summary="One project", responses={200: s.ProjectSerializer, **ERRORS})
    def get(self, request, slug):
        return Response(s.ProjectSerializer(_project_read(user=request.user, slug=slug)).data)

    @extend_schema(
        summary="Update a project (lead)",
        request=s.ProjectUpdateSerializer,
        responses={200: s.ProjectSerializer, **ERRORS},
    )
    def patch(self, request, slug):
        data = self.validated(s.ProjectUpdateSerializer, request.data)
        project_update(project=self.project, **data)
        return Response(s.ProjectSerializer(_project_read(user=request.user, slug=slug)).data)


# --- members ----------------------------------------------------------------------------------


class MembershipListCreateApi(ConcordApi):
    """List: any member. Add: lead. Non-members get 404."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.ANNOTATOR, "POST": Role.LEAD}
    serializer_class = s.MembershipSerializer
    is_list = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return Membership.objects.none()
        return project_members(project=self.project)

    @extend_schema(summary="Members of a project", responses=s.MembershipSerializer(many=True))
    def get(self, request, slug):
        return self.paginated(self.get_queryset(), s.MembershipSerializer)

    @extend_schema(
        summary="Add a member (lead)",
        request=s.MembershipCreateSerializer,
        responses={201: s.MembershipSerializer, **ERRORS},
    )
    def post(self, request, slug):
        data = self.validated(s.MembershipCreateSerializer, request.data)
        user = User.objects.filter(username=data["username"]).first()
        if user is None:
            raise ValidationError({"username": ["No account has this username."]})
        membership = membership_add(
            project=self.project, user=user, role=data["role"], actor=request.user
        )
        return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MembershipDetailApi(ConcordApi):
    """Change role or remove: lead. Nobody raises their own role; the last lead stays."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"PATCH": Role.LEAD, "DELETE": Role.LEAD}
    serializer_class = s.MembershipSerializer

    def get_membership(self, username: str) -> Membership:
        membership = project_members(project=self.project).filter(user__username=username).first()
        if membership is None:
            raise NotFound
        return membership

    @extend_schema(
        summary="Change a member's role (lead)",
        request=s.MembershipUpdateSerializer,
        responses={200: s.MembershipSerializer, **ERRORS},
    )
    def patch(self, request, slug, username):
        data = self.validated(s.MembershipUpdateSerializer, request.data)
        membership = self.get_membership(username)
        if (
            membership.user_id == request.user.pk
            and ROLE_RANK[data["role"]] > ROLE_RANK[membership.role]
        ):
            raise PermissionDenied("Nobody can raise their own role (AUTHZ-6).")
        membership = membership_change_role(
            membership=membership, role=data["role"], actor=request.user
        )
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(summary="Remove a member (lead)", responses={204: None, **ERRORS})
    def delete(self, request, slug, username):
        membership_remove(membership=self.get_membership(username), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- items ------------------------------------------------------------------------------------


class ItemListCreateApi(ConcordApi):
    """List with filters: any member. Bulk create, all or none: lead. Non-members get 404."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.ANNOTATOR, "POST": Role.LEAD}
    serializer_class = s.ItemSerializer
    query_serializer_class = s.ItemFilterSerializer
    is_list = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return Item.objects.none()
        items = self.project.items.all()
        query = self.query
        # Each allowlisted parameter maps to one fixed lookup; no user string names a field.
        if "split" in query:
            items = items.filter(split=query["split"])
        if "source" in query:
            items = items.filter(source=query["source"])
        if "external_id" in query:
            items = items.filter(external_id=query["external_id"])
        if "q" in query:
            items = items.filter(data__text__icontains=query["q"])
        return items.order_by(*s.ITEM_ORDERINGS[query["ordering"]])

    @extend_schema(
        summary="Items of a project",
        parameters=[s.ItemFilterSerializer],
        responses=s.ItemSerializer(many=True),
    )
    def get(self, request, slug):
        return self.paginated(self.get_queryset(), s.ItemSerializer)

    @extend_schema(
        summary=f"Add up to {MAX_ITEMS_PER_REQUEST} items, all or none (lead)",
        request=s.ItemCreateSerializer(many=True),
        responses={201: s.ItemBulkCreatedSerializer, **ERRORS},
    )
    def post(self, request, slug):
        rows = request.data
        if not isinstance(rows, list):
            raise ValidationError({"rows": ['Send a JSON list of items: [{"data": {...}}, ...].']})
        if not rows:
            raise ValidationError({"rows": ["The list is empty."]})
        if len(rows) > MAX_ITEMS_PER_REQUEST:
            raise ValidationError(
                {
                    "rows": [
                        f"At most {MAX_ITEMS_PER_REQUEST} items per request; this one has "
                        f"{len(rows)}. Send them in several requests."
                    ]
                }
            )
        serializer = s.ItemCreateSerializer(data=rows, many=True)
        if not serializer.is_valid():
            raise ValidationError({"rows": serializer.errors})
        items = items_create(project=self.project, rows=serializer.validated_data)
        body = {"count": len(items), "ids": [item.pk for item in items]}
        return Response(body, status=status.HTTP_201_CREATED)


class ItemDetailApi(ConcordApi):
    """One item of the project: any member. Non-members get 404."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.ANNOTATOR}
    serializer_class = s.ItemSerializer

    @extend_schema(summary="One item", responses={200: s.ItemSerializer, **ERRORS})
    def get(self, request, slug, item_id):
        item = self.project.items.filter(pk=item_id).first()
        if item is None:
            raise NotFound
        return Response(s.ItemSerializer(item).data)


# --- jobs -------------------------------------------------------------------------------------


class JobRunDetailApi(ConcordApi):
    """A job run's state, for reviewers and leads of its project: 404 for non-members, 403 for
    annotators (an import's report quotes the file's annotations)."""

    permission_classes = [IsAuthenticated]
    serializer_class = s.JobRunSerializer

    @extend_schema(summary="State of a job run", responses={200: s.JobRunSerializer, **ERRORS})
    def get(self, request, job_id):
        runs = JobRun.objects.filter(project__in=projects_for(user=request.user))
        run = runs.select_related("project").filter(pk=job_id).first()
        if run is None:
            raise NotFound
        # 403 below reviewer, as every project route says it.
        project_for_member(user=request.user, slug=run.project.slug, role=Role.REVIEWER)
        return Response(s.JobRunSerializer(run).data)


# --- import and export ------------------------------------------------------------------------


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"


class MalformedUpload(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request body is not valid multipart/form-data."
    default_code = "malformed_upload"


class UploadParser(MultiPartParser):
    """DRF's multipart parser, whose errors say multipart (the API's handler speaks of JSON)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError:
            raise MalformedUpload from None


def _accepted(run: JobRun) -> Response:
    """202 with the run and where to follow it."""
    location = reverse("api:job-detail", kwargs={"job_id": run.pk})
    return Response(s.JobRunSerializer(run).data, status=202, headers={"Location": location})


class UploadGuard:
    """For API views that take a file upload on POST: the declared size is checked first (413,
    before anything reads the body or signs the caller in), and the body is read through the
    upload limit from then on, authentication's CSRF check included. Once the project is known
    (after sign-in and role, so an outsider learns nothing of it) the declared size plus what
    the project stores is checked against its storage quota (413), and the limit is lowered to
    the room left. The view calls `refuse_oversize` once it has read the body."""

    def initial(self, request, *args, **kwargs):
        if request.method == "POST":
            if declared_too_big(request):
                raise UploadTooLarge(too_big_message(import_limit()))
            self.upload_limit = limit_uploads(request._request)
        try:
            super().initial(request, *args, **kwargs)
        except MultiPartParserError:
            raise MalformedUpload from None
        if request.method == "POST":
            self.quota = project_quota(project=self.project)
            if self.quota.refuses(declared_upload_size(request)):
                raise UploadTooLarge(self.quota.message())
            self.quota.cap(self.upload_limit)

    def refuse_oversize(self) -> None:
        """413 when the body read was over the storage quota or the import limit. A signed-in
        browser's body was read by the CSRF check before the project was known: this is where
        its size meets the quota, before anything is stored."""
        if self.quota.refuses(self.upload_limit.received):
            raise UploadTooLarge(self.quota.message())
        if self.upload_limit.exceeded:
            raise UploadTooLarge(too_big_message(import_limit()))


class ImportCreateApi(UploadGuard, ConcordApi):
    """Upload a file to import (lead). Checks run in this order: the declared size (413, before
    anything reads the body or signs the caller in), sign-in (401), the project and role (404,
    403), the declared size against the project's storage quota (413), the size actually
    received (413), the fields (400), an import under way (409)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.LEAD}
    parser_classes = [UploadParser]
    serializer_class = s.ImportCreateSerializer

    @extend_schema(
        summary="Import a file of items (lead)",
        request={"multipart/form-data": s.ImportCreateSerializer},
        responses={
            202: s.JobRunSerializer,
            **ERRORS,
            409: s.JobRunConflictSerializer,
            413: s.ErrorSerializer,
        },
    )
    def post(self, request, slug):
        data = request.data
        self.refuse_oversize()
        serializer = s.ImportCreateSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        try:
            run = import_start(
                project=self.project,
                user=request.user,
                source=upload,
                filename=upload.name,
                options=serializer.options(),
            )
        except StorageQuotaExceeded as exc:  # another upload of the project got there first
            raise UploadTooLarge(exc.reason) from None
        except ImportBusy as busy:
            body = {"detail": str(busy), "job": s.JobRunSerializer(busy.run).data}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return _accepted(run)


class ExportCreateApi(ConcordApi):
    """Start an export job: reviewers and leads (an export names every annotator)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.REVIEWER}
    serializer_class = s.ExportCreateSerializer

    @extend_schema(
        summary="Export a project as a file, in a job (reviewer, lead)",
        request=s.ExportCreateSerializer,
        responses={202: s.JobRunSerializer, **ERRORS, 409: s.JobRunConflictSerializer},
    )
    def post(self, request, slug):
        data = self.validated(s.ExportCreateSerializer, request.data)
        run = export_start(
            project=self.project, user=request.user, fmt=data["format"], mode=data["mode"]
        )
        # One export at a time per project: the same one again is that run, another is a 409.
        if (run.params.get("format"), run.params.get("mode")) != (data["format"], data["mode"]):
            detail = f"Export #{run.pk} of this project is still {run.status}; wait for it."
            body = {"detail": detail, "job": s.JobRunSerializer(run).data}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return _accepted(run)


class JobRunDownloadApi(ConcordApi):
    """A finished export's file: reviewers and leads of its project (404 for non-members)."""

    permission_classes = [IsAuthenticated]
    serializer_class = None

    @extend_schema(
        summary="Download a finished export (reviewer, lead)",
        responses={
            **{(200, kind.split(";")[0]): OpenApiTypes.BINARY for kind in DOWNLOAD_TYPES.values()},
            **ERRORS,
        },
    )
    def get(self, request, job_id):
        runs = JobRun.objects.filter(project__in=projects_for(user=request.user))
        run = runs.select_related("project").filter(pk=job_id).first()
        if run is None:
            raise NotFound
        project_for_member(user=request.user, slug=run.project.slug, role=Role.REVIEWER)
        return export_file_response(run, user=request.user)


# --- users ------------------------------------------------------------------------------------


class UserListCreateApi(ConcordApi):
    """Accounts, for staff only. Staff see accounts, never project data they are not members of."""

    permission_classes = [IsAuthenticated, IsAdminUser]
    serializer_class = s.UserSerializer
    is_list = True

    def get_queryset(self):
        return User.objects.order_by("username")

    @extend_schema(summary="Accounts (staff)", responses=s.UserSerializer(many=True))
    def get(self, request):
        return self.paginated(self.get_queryset(), s.UserSerializer)

    @extend_schema(
        summary="Create an account (staff)",
        request=s.UserCreateSerializer,
        responses={201: s.UserSerializer, **ERRORS},
    )
    def post(self, request):
        data = self.validated(s.UserCreateSerializer, request.data)
        user = user_create(
            username=data["username"],
            password=data.get("password"),
            email=data["email"],
            is_staff=data["is_staff"],
        )
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)
