"""URL parts shared by the apps' URL patterns (registered once, on import)."""

from django.urls import register_converter


class RowId:
    """A database row's id in a URL: at most 18 digits, so it always fits the 64-bit
    integer column. A longer number (a tampered link) is no page: a 404, where Django's
    `int` converter would pass it on to overflow the database driver (a 500)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RowId, "row_id")
