"""Authorization-matrix entries kept beside the features they cover; the matrix merges them."""

from tests.conftest import PERSONAS


def S(anonymous, outsider, annotator, reviewer, other_lead, lead):  # noqa: N802 - a table row
    """Expected statuses for the six personas, in the matrix's order."""
    return dict(
        zip(PERSONAS, [anonymous, outsider, annotator, reviewer, other_lead, lead], strict=True)
    )
