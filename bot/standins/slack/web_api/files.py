"""files.*: Slack's external upload (get a URL, send the bytes there, complete) and files.info."""

from __future__ import annotations

from collections.abc import Callable

from bot.standins.slack.model import JSON, SlackError
from bot.standins.slack.web_api.common import Call


def get_upload_url(call: Call) -> JSON:
    filename = call.required("filename")
    length = call.number("length", 0)
    if length <= 0:
        raise SlackError("invalid_arguments")
    file = call.workspace.reserve_file(filename, length, call.workspace.identity.bot_user_id)
    return {"upload_url": f"{call.workspace.base_url}_standin/upload/{file.id}", "file_id": file.id}


def complete_upload(call: Call) -> JSON:
    files = call.json("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, dict) and "id" in f for f in files):
        raise SlackError("invalid_arguments")
    # Sharing is optional; without a channel the files stay private to the bot.
    channel_ref = call.text("channel_id") or (call.text("channels") or "").split(",")[0]
    channel_id = None
    if channel_ref:
        channel = call.workspace.channel(channel_ref)
        if channel is None:
            raise SlackError("channel_not_found")
        call.bot_in(channel)
        channel_id = channel.id
    titles = {str(f["id"]): str(f.get("title") or "") for f in files}
    shared = call.workspace.share_files(
        titles, channel_id, thread_ts=call.text("thread_ts"), initial_comment=call.text("initial_comment")
    )
    return {"files": [f.to_api(call.workspace.base_url) for f in shared]}


def files_info(call: Call) -> JSON:
    file = call.workspace.file(call.required("file", "file_not_found"))
    if file is None or file.data is None:
        raise SlackError("file_not_found")
    file_json = file.to_api(call.workspace.base_url)
    return {"file": file_json, "comments": [], "response_metadata": {"next_cursor": ""}}


METHODS: dict[str, Callable[[Call], JSON]] = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
    "files.info": files_info,
}
