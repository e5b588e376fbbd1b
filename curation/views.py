from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from curation.access import projects_for
from curation.selectors import projects_with_progress


@require_GET
@login_required
def project_list(request):
    projects = projects_with_progress(projects_for(user=request.user))
    return render(request, "curation/project_list.html", {"projects": projects})
