"""A loopback Hugging Face Hub for tests: stdlib ``http.server`` in a thread on 127.0.0.1.

It answers the calls ``huggingface_hub`` 2.4.0 makes for

* ``HfApi.create_repo``: ``POST /api/repos/create``;
* ``HfApi.upload_folder`` on the plain-LFS path (Xet disabled on the client):
  ``POST /api/validate-yaml`` (README front matter), ``POST /api/models/{repo}/preupload/{rev}``,
  ``POST /{repo}.git/info/lfs/objects/batch``, ``PUT`` to the upload ``href`` it returns,
  ``POST`` to the ``verify`` ``href``, and ``POST /api/models/{repo}/commit/{rev}`` (NDJSON);
* ``HfApi.repo_info`` (used by an upload that changes nothing): ``GET /api/models/{repo}[/revision/{rev}]``;
* ``hf_hub_download``: ``HEAD``/``GET /{repo}/resolve/{rev}/{filename}`` with ``X-Repo-Commit``,
  ``ETag`` (git blob sha1) and ``Content-Length``; LFS files answer, as on the Hub, a 302 to a
  storage host (``localhost`` instead of ``127.0.0.1``, same server) with ``X-Linked-Etag`` (sha256)
  and ``X-Linked-Size``, and the bytes come from ``GET /__lfs__/{sha256}`` there. Xet is never advertised (no ``X-Xet-*`` headers,
  batch ``transfer`` is ``basic``).

Errors use the Hub's ``X-Error-Code`` header (``RepoNotFound``, ``EntryNotFound``,
``RevisionNotFound``) so that ``huggingface_hub`` raises its usual exception types.

Everything is kept in memory. ``requests`` records ``(method, path)`` of every call so that tests
can assert which endpoints were reached.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

CDN_HOST = "localhost"  # same server, another host name: huggingface_hub treats it as a storage CDN
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".npz", ".onnx")
LFS_MIN_SIZE = 10 * 1024 * 1024  # the Hub stores big files in LFS whatever their name


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob holding ``data`` (what the Hub uses as a regular file's ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class StoredFile:
    """One file at the head of a branch: its bytes and, for LFS files, its sha256."""

    data: bytes
    lfs_sha256: str | None = None

    @property
    def etag(self) -> str:
        return self.lfs_sha256 or git_blob_sha1(self.data)


@dataclass
class Repo:
    """An in-memory model repository with one branch, ``main``."""

    repo_id: str
    private: bool = False
    commits: list[str] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)

    @property
    def head(self) -> str:
        return self.commits[-1] if self.commits else "0" * 40


class HubState:
    """Repositories, LFS objects and the request log, shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.repos: dict[str, Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[str | None] = []
        self.hosts: list[str] = []


class HubHandler(BaseHTTPRequestHandler):
    """Routes the Hub API subset described in the module docstring."""

    server: "LoopbackHub._Server"
    protocol_version = "HTTP/1.0"  # one request per connection: a stopped server really is gone

    # --- plumbing -------------------------------------------------------------------------------

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silence the default stderr access log."""

    @property
    def state(self) -> HubState:
        return self.server.state

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False) -> None:
        """Send a response; for ``head`` the declared ``Content-Length`` is kept and no body is written."""
        headers = dict(headers or {})
        declared = headers.pop("Content-Length", None)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", declared if head and declared is not None else str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, head: bool = False) -> None:
        extra = {"X-Error-Code": code, "X-Error-Message": message, **(headers or {})}
        if head:
            self._send(status, b"", extra, head=True)
        else:
            self._json(status, {"error": message}, extra)

    def _log(self) -> None:
        with self.state.lock:
            self.state.requests.append((self.command, urlsplit(self.path).path))
            self.state.authorizations.append(self.headers.get("Authorization"))
            self.state.hosts.append((self.headers.get("Host") or "").rsplit(":", 1)[0])

    def _require_token(self) -> bool:
        if not (self.headers.get("Authorization") or "").startswith("Bearer "):
            self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            return False
        return True

    # --- verbs ----------------------------------------------------------------------------------

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._log()
        if match := re.fullmatch(r"/__lfs__/([0-9a-f]{64})", urlsplit(self.path).path):
            return self._cdn_object(match.group(1), head=True)
        self._resolve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._log()
        path = unquote(urlsplit(self.path).path)
        if match := re.fullmatch(r"/api/models/(.+?)(?:/revision/([^/]+))?", path):
            return self._repo_info(match.group(1), match.group(2) or "main")
        if match := re.fullmatch(r"/__lfs__/([0-9a-f]{64})", path):
            return self._cdn_object(match.group(1), head=False)
        self._resolve(head=False)

    def do_PUT(self) -> None:  # noqa: N802
        self._log()
        body = self._read_body()
        match = re.fullmatch(r"/__lfs__/upload/([0-9a-f]{64})", urlsplit(self.path).path)
        if not match:
            return self._error(404, "NotFound", f"No route for PUT {self.path}")
        oid = match.group(1)
        if hashlib.sha256(body).hexdigest() != oid:
            return self._error(400, "BadRequest", "Uploaded content does not match its sha256 oid")
        with self.state.lock:
            self.state.lfs_objects[oid] = body
        self._send(200)

    def do_POST(self) -> None:  # noqa: N802
        self._log()
        path = unquote(urlsplit(self.path).path)
        body = self._read_body()
        if path == "/api/repos/create":
            return self._create_repo(body)
        if path == "/api/validate-yaml":
            return self._json(200, {"errors": [], "warnings": []})
        if match := re.fullmatch(r"/api/models/(.+)/preupload/([^/]+)", path):
            return self._preupload(match.group(1), body)
        if match := re.fullmatch(r"/api/models/(.+)/commit/([^/]+)", path):
            return self._commit(match.group(1), match.group(2), body)
        if match := re.fullmatch(r"/(.+)\.git/info/lfs/objects/batch", path):
            return self._lfs_batch(match.group(1), body)
        if match := re.fullmatch(r"/(.+)\.git/info/lfs/objects/verify", path):
            return self._lfs_verify(body)
        self._error(404, "NotFound", f"No route for POST {path}")

    # --- API ------------------------------------------------------------------------------------

    def _repo(self, repo_id: str, head: bool = False) -> Repo | None:
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository Not Found for url: {self.base_url}/{repo_id}.", head=head)
        return repo

    def _create_repo(self, body: bytes) -> None:
        if not self._require_token():
            return
        payload = json.loads(body or b"{}")
        name, organization = payload.get("name"), payload.get("organization")
        repo_id = f"{organization}/{name}" if organization else f"user/{name}"
        with self.state.lock:
            if repo_id in self.state.repos:  # the Hub's 409 body carries the url too
                message = "You already created this model repo"
                return self._json(409, {"error": message, "url": f"{self.base_url}/{repo_id}"},
                                  {"X-Error-Code": "Conflict", "X-Error-Message": message})
            self.state.repos[repo_id] = Repo(repo_id, private=payload.get("visibility") == "private")
        self._json(200, {"url": f"{self.base_url}/{repo_id}", "name": repo_id, "id": repo_id})

    def _preupload(self, repo_id: str, body: bytes) -> None:
        if not self._require_token() or (repo := self._repo(repo_id)) is None:
            return
        files = []
        for item in json.loads(body)["files"]:
            lfs = item["path"].endswith(LFS_SUFFIXES) or item["size"] >= LFS_MIN_SIZE
            stored = repo.files.get(item["path"])
            files.append(
                {
                    "path": item["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": stored.etag if stored is not None else None,
                }
            )
        self._json(200, {"files": files, "commitOid": repo.head})

    def _lfs_batch(self, repo_id: str, body: bytes) -> None:
        if not self._require_token() or self._repo(repo_id) is None:
            return
        payload = json.loads(body)
        objects = []
        for obj in payload["objects"]:
            entry: dict = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.state.lfs_objects:
                entry["actions"] = {
                    "upload": {"href": f"{self.base_url}/__lfs__/upload/{obj['oid']}", "expires_in": 900},
                    "verify": {"href": f"{self.base_url}/{repo_id}.git/info/lfs/objects/verify"},
                }
            objects.append(entry)
        self._json(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                   {"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_verify(self, body: bytes) -> None:
        payload = json.loads(body)
        data = self.state.lfs_objects.get(payload["oid"])
        if data is None or len(data) != payload["size"]:
            return self._error(404, "EntryNotFound", f"LFS object {payload['oid']} was not uploaded")
        self._json(200, {"success": True})

    def _commit(self, repo_id: str, revision: str, body: bytes) -> None:
        if not self._require_token() or (repo := self._repo(repo_id)) is None:
            return
        if revision != "main":
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return self._error(400, "BadRequest", "The commit payload must start with a header line")
        changes: dict[str, StoredFile | None] = {}
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                changes[value["path"]] = StoredFile(base64.b64decode(value["content"]))
            elif line["key"] == "lfsFile":
                data = self.state.lfs_objects.get(value["oid"])
                if data is None:
                    return self._error(400, "BadRequest", f"LFS object {value['oid']} of {value['path']} is missing")
                changes[value["path"]] = StoredFile(data, lfs_sha256=value["oid"])
            elif line["key"] == "deletedFile":
                changes[value["path"]] = None
            else:
                return self._error(400, "BadRequest", f"Unsupported commit operation {line['key']!r}")
        with self.state.lock:
            for path, stored in changes.items():
                if stored is None:
                    repo.files.pop(path, None)
                else:
                    repo.files[path] = stored
            oid = hashlib.sha1((repo.head + json.dumps(lines)).encode()).hexdigest()
            repo.commits.append(oid)
        self._json(200, {"success": True, "commitOid": oid, "commitUrl": f"{self.base_url}/{repo_id}/commit/{oid}"})

    def _repo_info(self, repo_id: str, revision: str) -> None:
        if (repo := self._repo(repo_id)) is None:
            return
        if revision not in ("main", *repo.commits):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        siblings = [{"rfilename": path} for path in sorted(repo.files)]
        self._json(200, {"id": repo_id, "modelId": repo_id, "sha": repo.head, "private": repo.private, "siblings": siblings})

    def _resolve(self, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        match = re.fullmatch(r"/(.+?/.+?)/resolve/([^/]+)/(.+)", path)
        if not match:
            return self._error(404, "NotFound", f"No route for {self.command} {path}", head=head)
        repo_id, revision, filename = match.groups()
        if (repo := self._repo(repo_id, head=head)) is None:
            return
        if revision not in ("main", *repo.commits):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head=head)
        stored = repo.files.get(filename)
        if stored is None:
            return self._error(404, "EntryNotFound", f"{filename} does not exist on {revision}",
                               {"X-Repo-Commit": repo.head}, head=head)
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(len(stored.data)),
            "ETag": f'"{stored.etag}"',
            "X-Repo-Commit": repo.head,
            "Accept-Ranges": "bytes",
        }
        if stored.lfs_sha256 is not None:
            headers.update({"X-Linked-Etag": f'"{stored.lfs_sha256}"', "X-Linked-Size": str(len(stored.data))})
            if self.server.owner.cdn_redirects:  # like the Hub: 302 to a storage host, metadata on the 302 itself
                port = self.server.server_address[1]
                headers.update({"Location": f"http://{CDN_HOST}:{port}/__lfs__/{stored.lfs_sha256}", "Content-Length": "0"})
                return self._send(302, b"", headers, head=True)
        self._send(200, b"" if head else stored.data, headers, head=head)

    def _cdn_object(self, oid: str, head: bool) -> None:
        data = self.state.lfs_objects.get(oid)
        if data is None:
            return self._error(404, "EntryNotFound", f"No LFS object {oid}", head=head)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(data)), "ETag": f'"{oid}"'}
        self._send(200, b"" if head else data, headers, head=head)


class LoopbackHub:
    """Start/stop a loopback Hub; ``url`` is what ``HF_ENDPOINT`` should point at."""

    class _Server(ThreadingHTTPServer):
        daemon_threads = True
        state: HubState
        owner: "LoopbackHub"

    def __init__(self, cdn_redirects: bool = True) -> None:
        """``cdn_redirects``: resolve LFS files with a 302 to ``http://localhost:<port>/__lfs__/<sha256>``
        (another host to ``huggingface_hub``, so it drops the token), as the Hub does; else answer 200.
        It may be changed while the server runs."""
        self.cdn_redirects = cdn_redirects
        self.state = HubState()
        self._server: LoopbackHub._Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> "LoopbackHub":
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        self._server = self._Server(("127.0.0.1", 0), HubHandler)
        self._server.state = self.state
        self._server.owner = self
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (later connections are refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def calls(self, method: str | None = None) -> list[str]:
        """Paths of the requests received so far (optionally only those of ``method``)."""
        with self.state.lock:
            return [path for verb, path in self.state.requests if method is None or verb == method]

    def __enter__(self) -> "LoopbackHub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
