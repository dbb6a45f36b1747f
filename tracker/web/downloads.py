"""File downloads of the exports: a CSV streamed as it is written, an XLSX from its temporary file."""
from urllib.parse import quote

from flask import Response, send_file, stream_with_context

MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def download(body, fmt: str, name: str) -> Response:
    """An attachment named `name` (Korean kept for browsers that read filename*): body is bytes, a generator of
    byte chunks (streamed, reading the database as it goes), or a file object."""
    if hasattr(body, "read"):
        return send_file(body, mimetype=MIME[fmt], as_attachment=True, download_name=name)
    if not isinstance(body, bytes):
        body = stream_with_context(body)
    return Response(body, mimetype=MIME[fmt], headers={
        "Content-Disposition": f"attachment; filename=\"{name.encode('ascii', 'ignore').decode()}\"; "
                               f"filename*=UTF-8''{quote(name)}"})
