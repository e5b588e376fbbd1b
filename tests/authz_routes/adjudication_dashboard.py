"""Route entries for the authorization matrix (tests/test_authz_matrix.py): the agreement
dashboard is for reviewers and leads; annotators get 403 (blind annotation: they never see
others' labels or figures), outsiders and other projects' leads 404. Only a lead may ask for a
recomputation."""

from tests.authz_routes import S

READ = S(302, 404, 403, 200, 404, 200)


def prepare(team):
    """Figures to show: two annotators label the first item, and the figures are computed."""
    from adjudication.models import AgreementSnapshot
    from adjudication.report import agreement_report
    from annotation.models import LabelSchema
    from annotation.services import annotation_submit

    LabelSchema.objects.get_or_create(
        project=team.project,
        defaults={"kind": "single_choice", "config": {"labels": [{"value": "x"}, {"value": "y"}]}},
    )
    item = team.project.items.first()
    for annotator, label in zip(team.annotators[:2], "xy", strict=True):
        annotation_submit(item=item, annotator=annotator, value={"label": label})
    AgreementSnapshot.objects.update_or_create(
        project=team.project, defaults={"data": agreement_report(project=team.project)}
    )


ROUTES: dict = {
    "adjudication:agreement": [("get", None, READ)],
    "adjudication:agreement_recompute": [
        ("get", None, S(*[405] * 6)),
        ("post", {}, S(302, 404, 403, 403, 404, 302)),
    ],
    "adjudication:agreement_csv": [("get", None, READ)],
    "adjudication:agreement_confusion": [("get", None, READ)],
    "adjudication:agreement_items": [("get", None, READ)],
}
