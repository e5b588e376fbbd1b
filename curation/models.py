"""Projects, their members and items, and the job runs that work on them."""

from django.conf import settings
from django.contrib.postgres.indexes import HashIndex
from django.db import models
from django.db.models import Q
from django.urls import reverse


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    LEAD = "lead", "Lead"


# Higher rank includes the rights of the lower ones.
ROLE_RANK = {Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.LEAD: 3}


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Annotation guidelines in Markdown.")
    annotators_per_item = models.PositiveSmallIntegerField(default=3)
    # Share of "next item" calls that hand out a gold (honeypot) item the annotator has not done.
    gold_rate = models.FloatField(default=0.0)
    # The project's thresholds for the item checks (curation.quality.checks.CheckSettings) and
    # the quality jobs to run after each import: {"checks": {...}, "after_import": [kinds]}.
    quality_settings = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(annotators_per_item__gte=1, annotators_per_item__lte=50),
                name="project_annotators_per_item_1_to_50",
            ),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0.0, gold_rate__lte=0.5), name="project_gold_rate_0_half"
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("curation:project_detail", kwargs={"slug": self.slug})


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="membership_user_project"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} is {self.role} of {self.project}"

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


class Split(models.TextChoices):
    UNASSIGNED = "unassigned", "Unassigned"
    TRAIN = "train", "Train"
    DEV = "dev", "Dev"
    TEST = "test", "Test"


class Item(models.Model):
    # No index of its own: the unique index and all but the content-hash one start with it.
    # No database constraint either: PostgreSQL checks one row at a time, a million checks at
    # the commit of a large import (a sixth of its time). The ORM cascades deletes itself, and
    # the import holds the project row (FOR KEY SHARE) while it writes, as the check would.
    project = models.ForeignKey(
        Project,
        on_delete=models.CASCADE,
        related_name="items",
        db_index=False,
        db_constraint=False,
    )
    external_id = models.CharField(max_length=255)
    data = models.JSONField(help_text='The text or fields to label, e.g. {"text": "..."}.')
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, db_index=False)
    split = models.CharField(max_length=16, choices=Split.choices, default=Split.UNASSIGNED)
    source = models.CharField(
        max_length=32, blank=True, help_text="Where the item came from: production, vendor, …"
    )
    priority = models.IntegerField(default=0)
    # Labeling progress, kept by annotation.assignment under a row lock: submitted annotations,
    # live leases, and where the item stands in the queue (QueueRank).
    annotation_count = models.PositiveIntegerField(default=0, db_default=0)
    lease_count = models.PositiveIntegerField(default=0, db_default=0)
    queue_rank = models.PositiveSmallIntegerField(default=2, db_default=2)
    prediction = models.JSONField(
        null=True,
        blank=True,
        help_text='A model\'s label and/or probabilities: {"label", "scores"}.',
    )
    # The known answer of a gold (honeypot) item, set by a lead; None for other items. Gold items
    # are offered to every annotator at the project's gold_rate, outside the overlap queue.
    gold = models.JSONField(null=True, blank=True)
    # Set when a lead drops the item (a duplicate, a leaked test item): it stays in the database
    # with its annotations but leaves the labeling queue, exports and quality jobs.
    dropped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="item_external_id_unique_per_project"
            ),
            models.CheckConstraint(condition=Q(split__in=Split.values), name="item_split_valid"),
        ]
        indexes = [
            # Exact duplicates are found by equality only. A hash index costs a large import
            # 2 µs a row where a btree on the 64-character hash cost 5 (random inserts into a
            # wide index); the duplicates page groups by a scan, faster than the btree was.
            HashIndex(fields=["content_hash"], name="item_content_hash"),
            # Items put in a split, for the split views and leakage checks. Unassigned items, all
            # of a fresh import, stay out: each index costs an import about 1.4 µs a row, and
            # queries for unassigned items pick most of a project, where a scan serves as well.
            models.Index(
                fields=["project", "split"],
                condition=~Q(split=Split.UNASSIGNED),
                name="item_project_split",
            ),
            # "Next item": open items of a project, started ones first, by priority, oldest first.
            models.Index(
                "project",
                "queue_rank",
                models.F("priority").desc(),
                "id",
                condition=Q(queue_rank__gt=0),
                name="item_queue",
            ),
        ]

    def __str__(self):
        return f"{self.project.slug}/{self.external_id}"

    @property
    def text(self) -> str:
        value = self.data.get("text") if isinstance(self.data, dict) else None
        return value if isinstance(value, str) else ""


class QueueRank(models.IntegerChoices):
    """Where an item stands for assignment; lower ranks are handed out first."""

    FULL = 0, "No capacity left"
    STARTED = 1, "Started, needs more labels"
    NEW = 2, "Not started"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_JOB_STATUSES = [JobStatus.QUEUED, JobStatus.RUNNING]


class JobRun(models.Model):
    """One run of a background job. The Celery message carries only its id."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="job_runs")
    kind = models.CharField(max_length=40)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    progress = models.FloatField(default=0.0)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Starting the same job twice returns the active one (JOB-6).
            models.UniqueConstraint(
                fields=["project", "kind"],
                condition=Q(status__in=["queued", "running"]),
                name="jobrun_one_active_per_project_kind",
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0.0, progress__lte=1.0), name="jobrun_progress_0_1"
            ),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


class AuditKind(models.TextChoices):
    LOGIN_OK = "login_ok", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOGIN_LOCKED = "login_locked", "Sign-in refused: locked out"
    PROJECT_CREATED = "project_created", "Project created"
    MEMBER_ADDED = "member_added", "Member added"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member role changed"
    MEMBER_REMOVED = "member_removed", "Member removed"
    IMPORT_COMMITTED = "import_committed", "Import committed"
    EXPORT_CREATED = "export_created", "Export created"
    EXPORT_DOWNLOADED = "export_downloaded", "Export downloaded"
    ITEM_ADJUDICATED = "item_adjudicated", "Item adjudicated"
    ITEM_REQUEUED = "item_requeued", "Item sent back for review"
    GOLD_CHANGED = "gold_changed", "Gold answer changed"
    ITEMS_DROPPED = "items_dropped", "Items dropped"
    ITEMS_MOVED = "items_moved", "Items moved to another split"
    FINDING_RESOLVED = "finding_resolved", "Quality finding resolved"
    QUALITY_SETTINGS_CHANGED = "quality_settings_changed", "Quality settings changed"
    SPLITS_APPLIED = "splits_applied", "Splits applied"
    VERSION_FROZEN = "version_frozen", "Dataset version frozen"
    VERSION_CARD_EDITED = "version_card_edited", "Dataset card edited"
    SAMPLE_AUDIT_CREATED = "sample_audit_created", "Sample audit drawn"
    SYNTHETIC_BATCH_CHANGED = "synthetic_batch_changed", "Synthetic batch threshold changed"
    DISTRIBUTION_REFERENCE_ADDED = "distribution_reference_added", "Reference sample added"
    DISTRIBUTION_REFERENCE_DELETED = "distribution_reference_deleted", "Reference sample deleted"


class AuditEvent(models.Model):
    """A security-relevant event (LOG-1). Never holds passwords, tokens or item text."""

    kind = models.CharField(max_length=32, choices=AuditKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="As typed, for sign-ins.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["kind", "username", "created_at"], name="audit_kind_user_time"),
            models.Index(fields=["kind", "ip", "created_at"], name="audit_kind_ip_time"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.username or self.actor_id})"


class FindingKind(models.TextChoices):
    NEAR_DUPLICATE = "near_duplicate", "Near-duplicates"
    LEAKAGE = "leakage", "Leakage between splits"
    ITEM_CHECK = "item_check", "Item check"
    WRONG_LABEL = "wrong_label", "Likely wrong label"
    ANNOTATOR = "annotator", "Annotator far below the team"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    FIXED = "fixed", "Fixed"
    DROPPED = "dropped", "Dropped"
    NOT_A_PROBLEM = "not_a_problem", "Not a problem"


class Finding(models.Model):
    """One thing a quality job found: a cluster of near-duplicates, a leaked test item, an item
    that fails a check, a likely wrong label, an annotator far below the team.

    `key` identifies the finding across runs (the cluster's first item, the item and rule, …),
    so a rerun updates what it found before instead of adding it twice (JOB-4), and a finding a
    lead resolved keeps its resolution.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=32, choices=FindingKind.choices)
    key = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
    )
    items = models.JSONField(default=list, blank=True)  # ids of the other items involved
    rule = models.CharField(max_length=64, blank=True)  # the check or the split pair
    message = models.TextField()
    score = models.FloatField(null=True, blank=True)  # higher is worse (Jaccard, coverage, …)
    detail = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-score", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["project", "kind", "key"], name="finding_once"),
            models.CheckConstraint(
                condition=Q(kind__in=FindingKind.values), name="finding_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=FindingStatus.values), name="finding_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["project", "kind", "status"], name="finding_list")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.message[:60]}"


class SignatureBlock(models.Model):
    """MinHash band keys of a block of items under one set of parameters, kept so that a later
    run signs only new items (curation.quality.dedup). One row per signed chunk, not per item:
    a row per item cost an index entry, two foreign-key checks and a rewrite to mark it checked,
    most of the near-duplicate job's time at a million items. An item deleted or dropped since
    is left out when the blocks are read."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    params = models.CharField(max_length=64)  # DedupParams.key()
    first_item = models.BigIntegerField()  # the least and greatest id in `items`
    last_item = models.BigIntegerField()
    items = models.BinaryField()  # item ids, little-endian int64, ascending
    bands = models.BinaryField()  # their band keys, little-endian uint64, one row of bands each
    # Set when a run has verified the candidate pairs of these items and stored them.
    checked = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["project", "params"], name="signatureblock_project")]


class TextHashBlock(models.Model):
    """For a block of items, the hash of each one's normalised text and its distinct word
    n-gram hashes, kept so that the split leakage job hashes only new items
    (curation.quality.leakage). One row per block, not a row per n-gram: 70 million ItemHash rows
    for a million items took minutes to COPY and index; these are read back and joined in numpy.
    An item deleted, dropped or moved out of the splits since is left out when read."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    params = models.CharField(max_length=64)  # the n-gram hashing and n, leakage.block_key()
    first_item = models.BigIntegerField()  # the least and greatest id in `items`
    last_item = models.BigIntegerField()
    items = models.BinaryField()  # item ids, little-endian int64, ascending
    exact = models.BinaryField()  # leakage.exact_hash of each, little-endian int64
    counts = models.BinaryField()  # how many n-gram hashes each has, little-endian int32
    ngrams = models.BinaryField()  # their distinct n-gram hashes, one item after the other

    class Meta:
        indexes = [models.Index(fields=["project", "params"], name="texthashblock_project")]


class ItemHash(models.Model):
    """Hashes of an item's normalised text and of its word n-grams, in an indexed integer column
    so that the leakage check joins splits in SQL (curation.quality.leakage)."""

    class Kind(models.IntegerChoices):
        EXACT = 0, "Normalised text"
        NGRAM = 1, "Word n-gram"

    # A derived cache written with COPY by the million: the composite indexes below serve every
    # lookup, so the foreign keys get neither their own index nor a database constraint (each
    # halved the COPY rate); deleting an item or project still deletes its rows, through Django.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    value = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "kind", "value"], name="itemhash_lookup"),
            models.Index(fields=["item", "kind"], name="itemhash_item"),
        ]


class JobChunk(models.Model):
    """A slice of a job's work that any worker may claim: the items of one id range. A claim
    lasts a while; a worker that dies leaves its claim to expire, and another takes the slice."""

    run = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    first_item = models.BigIntegerField()
    last_item = models.BigIntegerField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="jobchunk_once")]


class DuplicatePair(models.Model):
    """Two items whose shingle sets were verified to have a Jaccard of at least the threshold
    they were checked against, under one set of parameters; kept so that a later run only
    verifies pairs with a new item."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    params = models.CharField(max_length=64)
    first = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    jaccard = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "params", "first", "second"], name="duplicatepair_once"
            ),
            models.CheckConstraint(
                condition=Q(first__lt=models.F("second")), name="duplicatepair_ordered"
            ),
        ]


class ReferenceSet(models.Model):
    """An external evaluation set (a public benchmark) uploaded by a lead, to check whether its
    texts appear in the project's training data (curation.quality.reference_leakage)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reference_sets")
    name = models.CharField(max_length=200)
    filename = models.CharField(max_length=255)  # as the user named it, for display only
    text_field = models.CharField(max_length=200)
    count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.count} texts)"


class ReferenceText(models.Model):
    """One text of a reference set, with the hash of its normalised text
    (curation.quality.leakage.exact_hash) in an indexed column."""

    reference_set = models.ForeignKey(ReferenceSet, on_delete=models.CASCADE, related_name="texts")
    external_id = models.CharField(max_length=255)
    text = models.TextField()
    exact = models.BigIntegerField(db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference_set", "external_id"], name="referencetext_id_once_per_set"
            )
        ]

    def __str__(self):
        return f"{self.reference_set_id}/{self.external_id}"


class DatasetVersion(models.Model):
    """An immutable snapshot of a project's dataset (curation.versions): its items' export
    records as they were when frozen, with a content hash over them, so that the version's
    export is byte-for-byte the same whatever happens to the project later. Only the dataset
    card's lead-written sections (`card_sections`) may change after freezing."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    content_hash = models.CharField(max_length=64)  # sha256 of the records, in order
    item_count = models.PositiveIntegerField(default=0)
    # Figures at freezing time: per split counts, label distribution, sources, agreement with
    # its interval, adjudication rate, duplicate and leakage results, guidelines hash, schema.
    summary = models.JSONField(default=dict, blank=True)
    # The dataset card's sections the lead writes: motivation, collection, limitations, uses,
    # out_of_scope (Markdown each).
    card_sections = models.JSONField(default=dict, blank=True)
    card_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="datasetversion_number")
        ]

    def __str__(self):
        return f"{self.project.slug} v{self.number}"


class VersionRecord(models.Model):
    """One item of a frozen version: its export record as JSON text, kept exactly as frozen.
    `item_id` is not a foreign key: the item may be deleted later and the version must stay."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="records")
    position = models.PositiveIntegerField()
    item_id = models.BigIntegerField()
    external_id = models.CharField(max_length=255)
    split = models.CharField(max_length=16)
    # The final label as a short display name ("positive", "A", "4", "ORG+PER") and as the
    # canonical JSON of the final value ("" when the item has none), for diffs and
    # distributions.
    label = models.CharField(max_length=255, blank=True)
    label_key = models.TextField(blank=True)
    rule = models.CharField(max_length=32, blank=True)
    record = models.TextField()

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="versionrecord_position"),
            models.UniqueConstraint(
                fields=["version", "external_id"], name="versionrecord_external_id"
            ),
        ]

    def __str__(self):
        return f"{self.version} #{self.position} {self.external_id}"


class BatchStatus(models.TextChoices):
    HELD = "held", "Held back until audited"
    PASSED = "passed", "Audit passed"
    FAILED = "failed", "Audit failed"


class SyntheticBatch(models.Model):
    """Items with source "synthetic" that arrived in one import. They stay out of dataset
    versions until a sample audit of the batch estimates an error rate at or below
    `max_error_rate` (curation.batches)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="synthetic_batches")
    run = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=255, blank=True)  # the import's file name, for display
    item_count = models.PositiveIntegerField(default=0)
    max_error_rate = models.FloatField(default=0.05)
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.HELD)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_error_rate__gte=0.0, max_error_rate__lte=1.0),
                name="syntheticbatch_rate_0_1",
            ),
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="syntheticbatch_status_valid"
            ),
        ]

    def __str__(self):
        return f"Synthetic batch {self.pk} of {self.project.slug} ({self.status})"


class BatchItem(models.Model):
    """An item's synthetic batch; an item is in at most one."""

    batch = models.ForeignKey(SyntheticBatch, on_delete=models.CASCADE, related_name="members")
    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="synthetic_batch")

    def __str__(self):
        return f"{self.batch_id}/{self.item_id}"


class SampleAudit(models.Model):
    """A seeded random sample of a version's labels (or of a synthetic batch's items) that
    reviewers mark correct or incorrect, to estimate the error rate with a Wilson interval."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sample_audits")
    version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="audits"
    )
    batch = models.ForeignKey(
        SyntheticBatch, null=True, blank=True, on_delete=models.CASCADE, related_name="audits"
    )
    size = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    stratified = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(version__isnull=False, batch__isnull=True)
                | Q(version__isnull=True, batch__isnull=False),
                name="sampleaudit_version_or_batch",
            )
        ]

    def __str__(self):
        return f"Audit {self.pk} of {self.project.slug}"


class Verdict(models.TextChoices):
    PENDING = "", "Not judged yet"
    CORRECT = "correct", "Correct"
    INCORRECT = "incorrect", "Incorrect"


class AuditSample(models.Model):
    """One sampled item of an audit, with the label as it was shown and the reviewer's
    verdict. Judging checks the `revision` column: a stale verdict gets 409 (ASG-6)."""

    audit = models.ForeignKey(SampleAudit, on_delete=models.CASCADE, related_name="samples")
    position = models.PositiveIntegerField()
    item_id = models.BigIntegerField()
    external_id = models.CharField(max_length=255)
    label = models.CharField(max_length=255, blank=True)
    value = models.JSONField(null=True, blank=True)  # the final value under audit
    verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True, default="")
    correct_value = models.JSONField(null=True, blank=True)
    comment = models.TextField(blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    judged_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["audit", "position"]
        constraints = [
            models.UniqueConstraint(fields=["audit", "position"], name="auditsample_position"),
            models.UniqueConstraint(fields=["audit", "item_id"], name="auditsample_item_once"),
            models.CheckConstraint(
                condition=Q(verdict__in=Verdict.values), name="auditsample_verdict_valid"
            ),
        ]

    def __str__(self):
        return f"{self.audit_id}#{self.position} {self.verdict or 'pending'}"


class DistributionReference(models.Model):
    """A reference distribution uploaded by a lead (for example production traffic): counts
    of the values of one field, to compare the dataset's distribution with
    (curation.distribution)."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="distribution_references"
    )
    name = models.CharField(max_length=200)
    filename = models.CharField(max_length=255)  # as the user named it, for display only
    field = models.CharField(max_length=200)  # "label" or a metadata key
    counts = models.JSONField(default=dict)  # value -> count
    total = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.field}, {self.total})"
