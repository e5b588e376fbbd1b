"""Reference sets and the `reference_leakage` job: an uploaded benchmark is stored whole or not at
all with its problems named by line and field; planted exact, 13-gram and near copies of its
texts in train and dev are found, and nothing else; the findings of the split leakage job and of
other sets stay as they were; only leads upload, check and delete, reviewers read."""

import io
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from curation.models import (
    AuditEvent,
    Finding,
    FindingStatus,
    JobStatus,
    ReferenceSet,
    ReferenceText,
    Role,
)
from curation.quality.findings import finding_resolve
from curation.quality.leakage import exact_hash
from curation.quality.registry import quality_job_start
from curation.references import reference_upload_start, upload_dir
from tests.conftest import jobs_in_process
from tests.curation.quality_support import make_set
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
GOOD = (b'{"id": "q-1", "text": "What is the capital of France?"}\n'
        b'{"id": "q-2", "text": "Name the largest planet."}\n')  # fmt: skip


def words(prefix: str, count: int) -> str:
    """`count` distinct tokens, so every window of them is a distinct n-gram."""
    return " ".join(f"{prefix}{i}" for i in range(count))


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks, in_process_jobs, media):
    """Within `with run_jobs():` jobs dispatched on commit run when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def check(django_capture_on_commit_callbacks):
    """check(project, reference_set, expect="done", **params) runs the job; returns the run."""

    @contextmanager
    def running():
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            yield

    def run(project, reference_set, expect="done", kind="reference_leakage", **params):
        if kind == "reference_leakage":
            params["reference_set"] = reference_set.pk if reference_set else 0
        with running():
            job = quality_job_start(project=project, kind=kind, params=params)
        job.refresh_from_db()
        assert job.status == expect, job.message
        return job

    return run


def url(name, project, **kwargs):
    return reverse(f"curation:{name}", kwargs={"slug": project.slug, **kwargs})


def upload(client, project, content, filename="bench.jsonl", extra=None, **fields):
    data = {"file": SimpleUploadedFile(filename, content), **fields}
    return client.post(url("reference_sets", project), data, **(extra or {}))


def latest_upload(project):
    return project.job_runs.filter(kind="reference_import").latest("id")


def lead_of(project):
    lead = UserFactory()
    MembershipFactory(project=project, user=lead, role=Role.LEAD)
    return lead


def reference_findings(project, reference: ReferenceSet) -> dict[str, Finding]:
    texts = dict(reference.texts.values_list("pk", "external_id"))
    found = Finding.objects.filter(
        project=project, kind="leakage", rule=f"reference:{reference.pk}"
    )
    return {texts[int(f.key.rsplit(":", 1)[1])]: f for f in found}


# --- upload -----------------------------------------------------------------------------------


class TestUpload:
    def test_a_good_file_is_stored_whole_and_its_upload_deleted(self, team, client_for, run_jobs):
        client = client_for(team.lead)
        with run_jobs():
            response = upload(client, team.project, GOOD, filename="mmlu.jsonl", id_field="id")
        run = latest_upload(team.project)
        assert response.status_code == 302
        assert response["Location"] == url("job_status", team.project, job_id=run.pk)
        assert run.status == JobStatus.DONE, run.message
        stored = team.project.reference_sets.get()
        assert (stored.name, stored.filename, stored.text_field, stored.count) == (
            "mmlu.jsonl", "mmlu.jsonl", "text", 2)  # fmt: skip
        assert stored.created_by == team.lead
        texts = {t.external_id: t for t in stored.texts.all()}
        assert set(texts) == {"q-1", "q-2"}
        assert texts["q-1"].exact == exact_hash("what is the capital of france")
        assert list(upload_dir().iterdir()) == []  # read, then deleted
        assert AuditEvent.objects.filter(kind="import_committed", project=team.project).exists()
        page = client.get(url("reference_sets", team.project)).content.decode()
        assert "mmlu.jsonl" in page and "Check training data" in page

    def test_without_an_id_field_each_text_is_named_by_its_line(self, team, client_for, run_jobs):
        with run_jobs():
            upload(client_for(team.lead), team.project, GOOD, name="Bench set")
        names = team.project.reference_sets.get().texts.values_list("external_id", flat=True)
        assert sorted(names) == ["line 1", "line 2"]

    @pytest.mark.parametrize("fmt", ["csv", "parquet"])
    def test_csv_and_parquet_with_other_field_names(self, team, client_for, run_jobs, fmt):
        if fmt == "csv":
            content = b'qid,question\nq-7,"What is 2 + 2, really?"\nq-8,Why?\n'
        else:
            buffer = io.BytesIO()
            table = pa.table({"qid": [7, 8], "question": ["What is 2 + 2, really?", "Why?"]})
            pq.write_table(table, buffer)
            content = buffer.getvalue()
        with run_jobs():
            upload(client_for(team.lead), team.project, content, filename=f"b.{fmt}",
                   text_field="question", id_field="qid")  # fmt: skip
        run = latest_upload(team.project)
        assert run.status == JobStatus.DONE, run.errors
        texts = dict(team.project.reference_sets.get().texts.values_list("external_id", "text"))
        assert texts == {f"{'q-' if fmt == 'csv' else ''}7": "What is 2 + 2, really?",
                         f"{'q-' if fmt == 'csv' else ''}8": "Why?"}  # fmt: skip

    def test_bad_lines_are_named_by_line_and_field_and_nothing_is_stored(
        self, team, client_for, run_jobs
    ):
        content = GOOD + (
            b'{"id": "q-3", "question": "No text field"}\n'
            b'{"id": "q-4", "text": \n'
            b'{"id": "q-1", "text": "A repeated id"}\n'
            b'{"id": "q-6", "text": 42}\n'
            b'{"id": "q-7", "text": "  ?!  "}\n'
        )
        client = client_for(team.lead)
        with run_jobs():
            upload(client, team.project, content, id_field="id")
        run = latest_upload(team.project)
        assert run.status == JobStatus.FAILED
        assert not ReferenceSet.objects.exists() and not ReferenceText.objects.exists()
        assert "Nothing was stored: 5 rows of bench.jsonl have problems" in run.message
        problems = {(e["line"], e["field"]): e["message"] for e in run.errors}
        assert problems[(3, "text")] == "line 3: field `text` missing (found fields: id, question)."
        assert "is not valid JSON" in problems[(4, "")]
        assert problems[(5, "id")] == "line 5: id 'q-1' repeats the one on line 1."
        assert problems[(6, "text")] == "line 6: field `text` must be text, not a number."
        assert "is empty" in problems[(7, "text")]
        html = client.get(url("job_status", team.project, job_id=run.pk)).content.decode()
        assert '<th scope="row">line 3</th>' in html
        assert list(upload_dir().iterdir()) == []

    def test_an_upload_over_the_limit_gets_413_and_nothing_is_kept(
        self, team, client_for, media, settings
    ):
        settings.IMPORT_MAX_UPLOAD_BYTES = 200
        response = upload(client_for(team.lead), team.project, GOOD * 10)
        assert response.status_code == 413
        assert "larger than the import limit of 200 bytes" in response.content.decode()
        assert not team.project.job_runs.exists()
        assert not (media / "references").exists() or not any((media / "references").iterdir())

    def test_more_texts_than_the_limit_stores_nothing(self, team, client_for, run_jobs, settings):
        settings.REFERENCE_MAX_TEXTS = 3
        content = b"".join(b'{"text": "Question %d"}\n' % i for i in range(5))
        with run_jobs():
            upload(client_for(team.lead), team.project, content)
        run = latest_upload(team.project)
        assert run.status == JobStatus.FAILED
        assert "more than 3 texts, the limit for one reference set" in run.message
        assert not ReferenceSet.objects.exists()

    def test_a_file_name_is_never_a_path(self, team, media, tmp_path):
        source = tmp_path / "source.jsonl"
        source.write_bytes(GOOD)
        run = reference_upload_start(project=team.project, user=team.lead, source=source,
                                     filename="../../etc/passwd.jsonl")  # fmt: skip
        assert run.params["filename"] == "passwd.jsonl"
        stored = list(upload_dir().iterdir())
        assert [p.name for p in stored] == [run.params["stored_name"]]
        assert len(run.params["stored_name"]) == 32 and "/" not in run.params["stored_name"]

    def test_an_unknown_format_names_the_format_field_in_the_htmx_form(
        self, team, client_for, media
    ):
        response = upload(client_for(team.lead), team.project, GOOD, filename="b.txt", extra=HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<form id="reference-upload"')
        assert "cannot tell the format" in html and not team.project.job_runs.exists()

    def test_names_render_escaped(self, team, client_for):
        make_set(team.project, {"q-1": "x y z"}, name="<script>alert(1)</script>")
        html = client_for(team.reviewer).get(url("reference_sets", team.project)).content.decode()
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


# --- the check --------------------------------------------------------------------------------

PASSAGE = words("bench", 30)  # a 30-token benchmark question
SHORT = words("near", 12)  # too short for a 13-gram: only exact or near can find it


@pytest.fixture
def planted():
    """A project whose train and dev items hold planted copies of a benchmark's texts, and the
    benchmark: three copied texts, and texts found only in test, in a dropped item, in an item
    of no split, or nowhere."""
    project = ProjectFactory()
    for i in range(20):
        ItemFactory(project=project, split="train", data={"text": words(f"own{i}x", 40)})
    items = {
        "exact": ItemFactory(project=project, split="train",
                             data={"text": "  what is the CAPITAL of   france "}),
        "ngram": ItemFactory(project=project, split="train",
                             data={"text": f"{words('pre', 15)} {words('bench', 20)} tail end"}),
        "near": ItemFactory(project=project, split="dev",
                            data={"text": f"{words('near', 11)} changed"}),
        "test_only": ItemFactory(project=project, split="test",
                                 data={"text": "Which gas do plants breathe in?"}),
        "dropped": ItemFactory(project=project, split="train",
                               data={"text": "Who wrote Hamlet?"}),
        "unassigned": ItemFactory(project=project, data={"text": "How far is the moon?"}),
    }  # fmt: skip
    items["dropped"].dropped_at = items["dropped"].created_at
    items["dropped"].save(update_fields=["dropped_at"])
    reference = make_set(project, {
        "q-1": "What is the capital of France?", "q-2": PASSAGE, "q-3": SHORT,
        "q-4": "Which gas do plants breathe in?", "q-5": "Who wrote Hamlet?",
        "q-6": "How far is the moon?", "q-7": words("clean", 25),
    })  # fmt: skip
    return project, reference, items


class TestCheck:
    def test_planted_exact_ngram_and_near_copies_are_found_and_nothing_else(self, planted, check):
        project, reference, items = planted
        run = check(project, reference)
        found = reference_findings(project, reference)
        assert set(found) == {"q-1", "q-2", "q-3"}
        exact, ngram, near = found["q-1"], found["q-2"], found["q-3"]
        assert exact.item_id == items["exact"].pk and exact.score == 1.0
        assert exact.detail["exact"] == [items["exact"].pk]
        assert exact.message == ("Benchmark text 'q-1' appears in training: the same text as 1 "
                                 "training item.")  # fmt: skip
        assert exact.rule == f"reference:{reference.pk}" and exact.kind == "leakage"
        assert ngram.item_id == items["ngram"].pk
        assert ngram.detail["ngram"] == [{"item": items["ngram"].pk, "shared": 8}]
        assert ngram.detail["covered_token_share"] == pytest.approx(20 / 30)
        assert "67% of its tokens in 13-grams shared with 1 training item" in ngram.message
        assert near.item_id == items["near"].pk  # a dev item counts as training data
        assert near.detail["near"] == [{"item": items["near"].pk, "jaccard": 0.8182}]
        assert "a near-duplicate (Jaccard 0.82) of 1 training item" in near.message
        assert near.detail["reference_id"] == "q-3" and near.detail["reference_text"] == SHORT
        assert run.counts["contaminated"] == 3 and run.counts["texts"] == 7
        assert (run.counts["exact"], run.counts["ngram"], run.counts["near"]) == (1, 1, 1)

    def test_a_clean_reference_set_finds_nothing(self, planted, check):
        project, _, _ = planted
        clean = make_set(project, {"c-1": words("fresh", 30), "c-2": "Is water wet?"})
        run = check(project, clean)
        assert run.counts["contaminated"] == 0
        assert not Finding.objects.filter(rule=f"reference:{clean.pk}").exists()

    def test_a_template_shared_by_many_texts_is_boilerplate(self, check):
        project = ProjectFactory()
        template = ("answer the following multiple choice question about the subject below and "
                    "explain briefly why")  # fmt: skip
        ItemFactory(project=project, split="train", data={"text": f"{template} train only"})
        texts = {f"q-{i}": f"{template} {words(f'topic{i}x', 10)}" for i in range(6)}
        reference = make_set(project, texts)
        run = check(project, reference)
        assert run.counts["frequent_ngrams_left_out"] >= 1
        assert not Finding.objects.filter(project=project).exists()

    def test_the_split_job_and_other_sets_keep_their_findings(self, planted, check):
        project, reference, items = planted
        train = ItemFactory(project=project, split="train", data={"text": "Reset my password"})
        ItemFactory(project=project, split="test", data={"text": "reset MY password"})
        check(project, None, kind="leakage")
        other = make_set(project, {"o-1": "Reset my password."}, name="Other")
        check(project, other)
        before = {f.pk: (f.key, f.rule, f.updated_at) for f in Finding.objects.all()}
        assert {rule for _, rule, _ in before.values()} == {"train_vs_test",
                                                            f"reference:{other.pk}"}  # fmt: skip
        check(project, reference)
        after = {f.pk: (f.key, f.rule, f.updated_at) for f in Finding.objects.all()}
        assert {pk: after[pk] for pk in before} == before
        # The planted copy is dropped: a rerun removes that set's finding, and only that one.
        items["exact"].dropped_at = items["exact"].created_at
        items["exact"].save(update_fields=["dropped_at"])
        check(project, reference)
        assert set(reference_findings(project, reference)) == {"q-2", "q-3"}
        kept = Finding.objects.in_bulk(list(before))
        assert {pk: (f.key, f.rule, f.updated_at) for pk, f in kept.items()} == before
        assert train.pk in reference_findings(project, other)["o-1"].detail["exact"]

    def test_a_later_split_leakage_run_keeps_the_reference_findings(self, planted, check):
        project, reference, _ = planted
        check(project, reference)
        check(project, None, kind="leakage")
        assert set(reference_findings(project, reference)) == {"q-1", "q-2", "q-3"}

    def test_a_rerun_keeps_the_findings_and_a_leads_resolution(self, planted, check):
        project, reference, _ = planted
        check(project, reference)
        first = reference_findings(project, reference)
        finding_resolve(finding=first["q-1"], user=None, status=FindingStatus.NOT_A_PROBLEM)
        second = check(project, reference)
        again = reference_findings(project, reference)
        assert {k: f.pk for k, f in again.items()} == {k: f.pk for k, f in first.items()}
        assert again["q-1"].status == FindingStatus.NOT_A_PROBLEM
        assert second.counts["hashed"] == 0 and second.counts["new"] == 0

    def test_a_set_of_another_project_or_none_is_refused(self, planted, check):
        project, _, _ = planted
        foreign = make_set(ProjectFactory(), {"f-1": "What is the capital of France?"})
        assert "not in this project" in check(project, foreign, expect="failed").message
        assert "Choose the reference set" in check(project, None, expect="failed").message
        assert not Finding.objects.filter(project=project).exists()

    def test_queries_do_not_grow_with_the_number_of_texts(self, check):
        def queries(size: int) -> int:
            """40 train and dev items, of which `size` copy a text of the reference set."""
            project = ProjectFactory()
            texts = {f"q-{i}": words(f"t{i}x", 20) for i in range(size)}
            copies = [text.upper() for text in texts.values()]
            for i in range(40):
                text = copies[i] if i < size else words(f"filler{i}x", 20)
                ItemFactory(project=project, split="train" if i % 2 else "dev",
                            data={"text": text})  # fmt: skip
            reference = make_set(project, texts)
            with CaptureQueriesContext(connection) as captured:
                run = check(project, reference)
            assert run.counts["contaminated"] == size
            return len(captured)

        assert queries(2) == queries(40)


# --- the page and deletion --------------------------------------------------------------------


class TestPage:
    def test_reviewer_reads_the_list_without_upload_or_actions(self, team, client_for):
        make_set(team.project, {"q-1": "x y z"}, name="GSM8K")
        response = client_for(team.reviewer).get(url("reference_sets", team.project))
        html = response.content.decode()
        assert response.status_code == 200
        assert "GSM8K" in html and 'name="file"' not in html and "Delete" not in html

    def test_annotator_gets_403_and_outsider_404_on_every_route(self, team, client_for, media):
        reference = make_set(team.project, {"q-1": "x y z"})
        page = url("reference_sets", team.project)
        delete = url("reference_set_delete", team.project, set_id=reference.pk)
        for user, status in [(team.annotator, 403), (team.outsider, 404),
                             (team.other_lead, 404)]:  # fmt: skip
            client = client_for(user)
            assert client.get(page).status_code == status
            assert upload(client, team.project, GOOD).status_code == status
            assert client.post(delete).status_code == status
        assert ReferenceSet.objects.filter(pk=reference.pk).exists()
        assert not team.project.job_runs.exists()

    def test_a_set_of_another_project_cannot_be_deleted_through_this_one(self, team, client_for):
        foreign = make_set(team.other_project, {"q-1": "x y z"})
        address = url("reference_set_delete", team.project, set_id=foreign.pk)
        assert client_for(team.lead).post(address).status_code == 404
        assert ReferenceSet.objects.filter(pk=foreign.pk).exists()

    def test_deleting_a_set_removes_its_texts_and_open_findings_only(
        self, planted, check, client_for
    ):
        project, reference, _ = planted
        check(project, reference)
        found = reference_findings(project, reference)
        finding_resolve(finding=found["q-1"], user=None, status=FindingStatus.FIXED)
        response = client_for(lead_of(project)).post(
            url("reference_set_delete", project, set_id=reference.pk)
        )
        assert response.status_code == 302
        assert response["Location"] == url("reference_sets", project)
        assert not ReferenceSet.objects.filter(pk=reference.pk).exists()
        assert not ReferenceText.objects.filter(reference_set_id=reference.pk).exists()
        left = Finding.objects.filter(rule=f"reference:{reference.pk}")
        assert list(left.values_list("pk", flat=True)) == [found["q-1"].pk]

    def test_the_check_button_starts_the_job_for_that_set(
        self, planted, client_for, django_capture_on_commit_callbacks
    ):
        project, reference, _ = planted
        client = client_for(lead_of(project))
        page = client.get(url("reference_sets", project)).content.decode()
        form = page.split(f'id="reference-set-{reference.pk}"')[1].split("</form>")[0]
        fields = {
            part.split('name="')[1].split('"')[0]: part.split('value="')[1].split('"')[0]
            for part in form.split("<input")[1:]
        }
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            response = client.post(url("quality_run", project), fields)
        assert response.status_code == 302
        run = project.job_runs.get(kind="reference_leakage")
        assert run.params["reference_set"] == reference.pk and run.params["n"] == 13
        run.refresh_from_db()
        assert run.status == JobStatus.DONE, run.message
        page = client.get(url("reference_sets", project)).content.decode()
        row = page.split(f'id="reference-set-{reference.pk}"')[1].split("</tr>")[0]
        assert '?kind=leakage&amp;status=open">3</a>' in row

    def test_a_finding_opens_with_the_benchmark_text_and_its_training_twin(
        self, planted, check, client_for
    ):
        project, reference, items = planted
        check(project, reference)
        finding = reference_findings(project, reference)["q-2"]
        address = reverse("curation:finding", kwargs={"slug": project.slug,
                                                      "finding_id": finding.pk})  # fmt: skip
        html = client_for(lead_of(project)).get(address).content.decode()
        assert "Benchmark text &#x27;q-2&#x27; appears in training" in html
        assert PASSAGE in html and items["ngram"].external_id in html
