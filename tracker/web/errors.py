"""Error pages in the user's language; JSON for the API."""
from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from ..storage import StorageUnavailable


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register(app) -> None:
    """Install the handlers."""

    def page(status, title, message):
        if _wants_json():
            return jsonify(error=title, message=message), status
        return render_template("error.html", status=status, title=title, message=message), status

    @app.errorhandler(403)
    def forbidden(_e):
        return page(403, _("권한 없음"), _("이 페이지를 볼 권한이 없습니다."))

    @app.errorhandler(404)
    def not_found(_e):
        return page(404, _("찾을 수 없음"), _("요청한 페이지나 자료가 없습니다."))

    @app.errorhandler(405)
    def not_allowed(_e):
        return page(405, _("허용되지 않은 요청"), _("이 주소에서는 그 방식의 요청을 받지 않습니다."))

    @app.errorhandler(413)
    def too_large(_e):
        mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return page(413, _("파일이 너무 큽니다"), _("올린 파일이 %(mb)sMB 제한을 넘습니다.", mb=mb))

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        from .inspect import rescue_expired_form
        rescued = rescue_expired_form()
        if rescued is not None:
            return rescued
        return page(400, _("보안 토큰 오류"),
                    _("양식이 만료되었거나 보안 토큰이 없습니다. 페이지를 새로 고친 뒤 다시 시도하세요."))

    @app.errorhandler(StorageUnavailable)
    def storage_down(exc):
        app.logger.warning("photo store unavailable: %s", exc)
        return page(503, _("사진 저장소에 연결할 수 없음"),
                    _("사진 저장소에 지금 연결할 수 없습니다. 잠시 후 다시 시도하세요."))

    @app.errorhandler(500)
    def server_error(_e):
        return page(500, _("서버 오류"), _("처리 중 오류가 발생했습니다. 잠시 후 다시 시도하세요."))
