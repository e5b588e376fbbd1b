"""What a dataset version records from annotation (registered in curation.extensions'
VERSION_SUMMARIES): the project's label schema as it is when the version is frozen. Reads
only."""

from annotation.models import LabelSchema


def version_summary(project, item_ids: list[int]) -> dict:
    """{"schema": {"kind", "config", "version"}}, or {"schema": None} without a schema."""
    schema = LabelSchema.objects.filter(project=project).first()
    if schema is None:
        return {"schema": None}
    return {"schema": {"kind": schema.kind, "config": schema.config, "version": schema.version}}
