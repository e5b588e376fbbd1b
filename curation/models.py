"""Projects, their members and items, and the job runs that work on them."""

from django.conf import settings
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
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
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
            models.Index(fields=["project", "content_hash"], name="item_project_hash"),
            models.Index(fields=["project", "split"], name="item_project_split"),
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


class ItemSignature(models.Model):
    """An item's MinHash band keys under one set of parameters, kept so that a later run signs
    only new items (curation.quality.dedup)."""

    # Covered by the unique constraint and the index below (see ItemHash).
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    params = models.CharField(max_length=64)  # DedupParams.key()
    bands = models.BinaryField()  # one 64-bit key per band
    shingles = models.PositiveIntegerField(default=0)
    # Set when a run has verified this item's candidate pairs and stored them (with its findings).
    checked = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "params"], name="itemsignature_once")
        ]
        indexes = [models.Index(fields=["project", "params"], name="itemsignature_project")]


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
