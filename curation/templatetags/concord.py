from django import template

from curation.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text):
    return render_markdown(text)


@register.filter
def percent(value, total):
    """Whole-number percentage of value in total, 0 when total is 0."""
    return round(100 * value / total) if total else 0
